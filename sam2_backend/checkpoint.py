"""Build SAM 2 / 2.1 models and load official checkpoints.

``load_model`` accepts a model name (``"tiny"``, ``"sam2.1-hiera-large"``,
``"facebook/sam2-hiera-small"``), a :class:`~sam2_backend.configs.ModelConfig`,
or the path of a local ``.pt`` file in the official format (a ``torch.save``'d
``{"model": state_dict}``). Names are downloaded with
``huggingface_hub.hf_hub_download`` into the standard Hugging Face cache, so
``HF_HOME``, ``HF_HUB_CACHE``, ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` work as
they do for every other Hugging Face library.

A model is only returned once every tensor of the checkpoint has been loaded
into a freshly built module (strict: no missing, unexpected or mis-shaped
keys); any problem raises an error that names the file and says what to do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Union

import torch

from .configs import CONFIGS, ModelConfig, config_names, get_config, resolve_name
from .modeling.cpu_kernels import onednn_bf16
from .modeling.sam2 import SAM2Model, build_sam2

__all__ = [
    "CheckpointDownloadError",
    "CheckpointError",
    "build_model",
    "infer_config",
    "load_model",
    "resolve_device",
    "resolve_dtype",
    "verify_sha256",
]

logger = logging.getLogger(__name__)

DeviceLike = Union[str, torch.device, int, None]
DTypeLike = Union[str, torch.dtype, None]
PathLike = Union[str, os.PathLike]

# File suffixes that make a string a path rather than a model name.
_FILE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")
_TRUNK_KEY = "image_encoder.trunk.patch_embed.proj.weight"
_BLOCK_KEY = re.compile(r"^image_encoder\.trunk\.blocks\.(\d+)\.")
_MAX_LISTED = 5


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, or does not fit the model."""


class CheckpointDownloadError(RuntimeError):
    """Official weights could neither be downloaded nor found in the local cache."""


# --------------------------------------------------------------------------- device / dtype


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """The ``torch.device`` to run on.

    Args:
        device: ``"auto"`` (or ``None``) picks CUDA if available, else Apple MPS,
            else the CPU. Otherwise a device string (``"cpu"``, ``"cuda"``,
            ``"cuda:1"``, ``"mps"``), a ``torch.device``, or a CUDA index.

    Raises:
        ValueError: the device string is malformed, or the device is not
            available on this machine (the message says what to pass instead).
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(
            f"Invalid device {device!r}. Use 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'."
        ) from e

    if dev.type == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda
            why = (
                f"this PyTorch ({torch.__version__}) was built with CUDA {built} but finds no usable GPU "
                "(check the NVIDIA driver and CUDA_VISIBLE_DEVICES)"
                if built
                else f"this PyTorch ({torch.__version__}) was built without CUDA support "
                "(install a CUDA build of PyTorch)"
            )
            raise ValueError(
                f"Device {str(dev)!r} was requested but CUDA is not available: {why}. "
                "Pass device='cpu', or device='auto' to use the best available device."
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"Device {str(dev)!r} was requested but only {count} CUDA device(s) are visible "
                f"(valid: {', '.join(f'cuda:{i}' for i in range(count))}). "
                "Pass one of those, or device='auto'."
            )
    elif dev.type == "mps":
        if not _mps_available():
            raise ValueError(
                "Device 'mps' was requested but Apple Metal (MPS) is not available on this machine. "
                "Pass device='cpu', or device='auto' to use the best available device."
            )
    elif dev.type != "cpu":
        backend = getattr(torch, dev.type, None)
        is_available = getattr(backend, "is_available", None)
        if callable(is_available) and not is_available():
            raise ValueError(
                f"Device {str(dev)!r} was requested but it is not available on this machine. "
                "Pass device='cpu', or device='auto' to use the best available device."
            )
    return dev


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


_DTYPES = {
    "fp32": torch.float32, "float32": torch.float32, "float": torch.float32,
    "fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
}


def resolve_dtype(dtype: DTypeLike = None) -> torch.dtype:
    """The floating dtype named by ``dtype``.

    Args:
        dtype: ``None`` (fp32), ``torch.float32`` / ``torch.float16`` /
            ``torch.bfloat16``, or one of the strings ``"fp32"``, ``"fp16"``,
            ``"bf16"`` (also ``"float32"``, ``"float16"``, ``"half"``,
            ``"bfloat16"``, optionally prefixed with ``"torch."``).

    Raises:
        ValueError: any other value.
    """
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float32, torch.float16, torch.bfloat16):
            return dtype
    elif isinstance(dtype, str):
        key = dtype.strip().lower().removeprefix("torch.")
        if key in _DTYPES:
            return _DTYPES[key]
    raise ValueError(
        f"Unsupported dtype {dtype!r}. Use None or 'fp32' (float32), 'bf16' (bfloat16) or 'fp16' (float16)."
    )


# --------------------------------------------------------------------------- building


def _as_config(name_or_config: Union[str, ModelConfig]) -> ModelConfig:
    if isinstance(name_or_config, ModelConfig):
        return name_or_config
    if isinstance(name_or_config, str):
        return get_config(name_or_config)  # ValueError listing the valid names
    raise TypeError(
        f"Expected a model name or a ModelConfig, got {type(name_or_config).__name__}: {name_or_config!r}."
    )


def _build_on_cpu(config: ModelConfig) -> SAM2Model:
    # An explicit CPU context: nothing lands on an accelerator even if the caller
    # has set torch.set_default_device("cuda").
    with torch.device("cpu"):
        return build_sam2(config)


def build_model(
    name_or_config: Union[str, ModelConfig] = "sam2.1-hiera-tiny",
    device: DeviceLike = "auto",
    dtype: DTypeLike = None,
) -> SAM2Model:
    """A SAM 2 model with random weights (nothing is downloaded), in eval mode.

    Args:
        name_or_config: a model name (``"tiny"``, ``"sam2-hiera-small"``,
            ``"facebook/sam2.1-hiera-large"``, ...) or a ``ModelConfig``
            (e.g. ``get_config("tiny").replace(image_size=512)``).
        device: where the model is moved after being built on the CPU; see
            :func:`resolve_device`.
        dtype: compute precision; see :func:`_with_precision`.
    """
    config = _as_config(name_or_config)
    dev = resolve_device(device)
    model = _build_on_cpu(config)
    return _with_precision(model.to(device=dev).eval(), dtype)


def _with_precision(model: SAM2Model, dtype: DTypeLike) -> SAM2Model:
    """Set the precision the predictors compute in: ``None`` is automatic (bf16
    autocast on CUDA as the official code, exact fp32 elsewhere); ``"fp32"`` is
    exact everywhere; ``"bf16"``/``"fp16"`` autocast everywhere. Weights stay fp32,
    as autocast expects, so norms and softmaxes keep full precision.

    One exception, the fast CPU path: with ``"bf16"`` on a CPU the image encoder's
    own weights, and those of the decoder's two projections of its high-resolution
    maps (``conv_s0``/``conv_s1``, used on nothing else), are stored in bf16 and run
    without autocast (see ``SAM2Model.forward_image``), with the bf16 kernels of
    ``modeling/cpu_kernels.py``. CPU autocast re-casts every weight on every call and
    runs the norms in fp32 with extra copies (benchmarks/README.md)."""
    model.compute_dtype = None if dtype is None else resolve_dtype(dtype)
    if model.compute_dtype == torch.bfloat16 and model.device.type == "cpu":
        if not onednn_bf16():
            warnings.warn(
                "This CPU has no native bf16 arithmetic (oneDNN reports none), so "
                "dtype='bf16' will run slower than fp32 here; leave dtype unset for exact fp32.",
                RuntimeWarning,
                stacklevel=3,
            )
        for part in (model.image_encoder, model.sam_mask_decoder.conv_s0, model.sam_mask_decoder.conv_s1):
            part.to(torch.bfloat16)
    return model


# --------------------------------------------------------------------------- loading


def load_model(
    name_or_path: Union[str, os.PathLike, ModelConfig] = "sam2.1-hiera-tiny",
    device: DeviceLike = "auto",
    dtype: DTypeLike = None,
    *,
    revision: str | None = None,
    config: Union[str, ModelConfig, None] = None,
    cache_dir: Union[str, os.PathLike, None] = None,
) -> SAM2Model:
    """A SAM 2 / 2.1 model with official (or your own) weights, in eval mode.

    Args:
        name_or_path: what to load. One of
            - a model name: short (``"tiny"``, ``"small"``, ``"base-plus"``,
              ``"large"``, all SAM 2.1), canonical (``"sam2.1-hiera-large"``,
              ``"sam2-hiera-small"``) or a hub id
              (``"facebook/sam2.1-hiera-base-plus"``): the official file is
              downloaded from the Hugging Face Hub, or taken from its cache;
            - a ``ModelConfig``: downloads ``config.filename`` from
              ``config.hub_repo`` and builds exactly that config;
            - the path of a local checkpoint (``str`` or ``Path``) in the
              official format ``{"model": state_dict}`` (a bare state dict is
              accepted too). Its architecture comes from ``config=`` if given,
              else from its file name if that is an official file name
              (``sam2.1_hiera_tiny.pt``), else it is inferred from the weights.
        device: where the model runs; see :func:`resolve_device`.
        dtype: compute precision; see :func:`_with_precision` (``None``: bf16
            autocast on CUDA, exact fp32 elsewhere).
        revision: hub only: a branch, tag or commit hash of the hub repo
            (default: ``"main"``).
        config: the architecture to build, as a name or a ``ModelConfig``;
            overrides the file-name / weight-based choice for local files, and
            the architecture (not the download) for model names. Use it for
            e.g. ``get_config("tiny").replace(image_size=512)``.
        cache_dir: hub only: the Hugging Face cache folder to use instead of the
            default (``HF_HUB_CACHE``, or ``$HF_HOME/hub``).

    Returns:
        The model; ``model.config`` is the config it was built from and
        ``model.checkpoint_path`` the file its weights came from.

    Raises:
        ValueError: unknown model name (the message lists the valid ones), bad
            ``device`` / ``dtype``, or ``revision`` / ``cache_dir`` given with a
            local file.
        FileNotFoundError: a local checkpoint path that does not exist.
        CheckpointDownloadError: the weights could not be downloaded and are
            not cached (offline, no network, unknown revision, ...).
        CheckpointError: the file is corrupt or truncated, is not a SAM 2
            checkpoint, or its keys or shapes do not fit the chosen config.
    """
    dev = resolve_device(device)
    resolve_dtype(dtype)  # fail on a bad dtype before any download
    override = _as_config(config) if config is not None else None

    kind, target = _classify_source(name_or_path)
    if kind == "hub":
        hub_config: ModelConfig = target
        path = _download(hub_config, revision=revision, cache_dir=cache_dir)
        state_dict = _read_state_dict(path, from_hub=True)
        if override is not None:
            chosen, how = override, "given as config="
        else:
            named = isinstance(name_or_path, str)
            chosen, how = hub_config, (f"from the model name {name_or_path!r}" if named else "given as a ModelConfig")
    else:
        path = target
        if revision is not None or cache_dir is not None:
            raise ValueError(
                f"revision= and cache_dir= only apply to downloads from the Hugging Face Hub, "
                f"but {str(path)!r} is a local file. Drop them, or pass a model name instead of a path."
            )
        state_dict = _read_state_dict(path, from_hub=False)
        by_name = _config_for_filename(path)
        if override is not None:
            chosen, how = override, "given as config="
        elif by_name is not None:
            chosen, how = by_name, f"from the file name {path.name!r}"
        else:
            chosen, how = infer_config(state_dict, source=str(path)), "inferred from the weights"

    model = _load_into_fresh_model(chosen, state_dict, path, how)
    del state_dict
    model = _with_precision(model.to(device=dev).eval(), dtype)
    model.checkpoint_path = str(path)
    logger.info("Loaded %s (%s) from %s onto %s", chosen.name, how, path, dev)
    return model


def _classify_source(name_or_path) -> tuple[str, object]:
    """("hub", ModelConfig) or ("file", Path); raises for unknown names / missing files."""
    if isinstance(name_or_path, ModelConfig):
        return "hub", name_or_path
    if isinstance(name_or_path, os.PathLike):
        return "file", _existing_file(Path(name_or_path))
    if not isinstance(name_or_path, str):
        raise TypeError(
            "name_or_path must be a model name, a ModelConfig or a file path, "
            f"got {type(name_or_path).__name__}: {name_or_path!r}."
        )
    text = name_or_path.strip()
    path = Path(text).expanduser()
    if path.exists():
        return "file", _existing_file(path)
    looks_like_path = (
        text.lower().endswith(_FILE_SUFFIXES)
        or text.startswith((".", "~", os.sep))
        or (os.altsep is not None and os.altsep in text)
        or text.count("/") > 1
    )
    if looks_like_path:
        return "file", _existing_file(path)  # raises FileNotFoundError with a hint
    if resolve_name(text) is not None:
        return "hub", get_config(text)
    try:
        get_config(text)
    except ValueError as e:
        raise ValueError(f"{e} Or pass the path of a local SAM 2 checkpoint (.pt); no file {text!r} exists.") from e
    raise AssertionError("unreachable")  # pragma: no cover


def _existing_file(path: Path) -> Path:
    path = path.expanduser()
    if not path.exists():
        hint = ""
        canonical = resolve_name(path.name)
        if canonical is not None:
            hint = (
                f" To download the official weights instead, pass the model name: "
                f"load_model({canonical!r})."
            )
        shown = repr(str(path))
        if not path.is_absolute():
            shown += f" (looked for {str(path.absolute())!r})"
        raise FileNotFoundError(f"SAM 2 checkpoint file not found: {shown}. Check the path.{hint}")
    if path.is_dir():
        raise IsADirectoryError(
            f"{str(path)!r} is a directory; pass the path of the checkpoint file inside it "
            "(e.g. .../sam2.1_hiera_tiny.pt)."
        )
    return path


def _config_for_filename(path: Path) -> ModelConfig | None:
    name = path.name.lower()
    for cfg in CONFIGS.values():
        if cfg.filename == name:
            return cfg
    return None


# --------------------------------------------------------------------------- hub download


def _download(config: ModelConfig, *, revision: str | None, cache_dir) -> Path:
    """Path of ``config.filename`` from ``config.hub_repo``, downloaded or from the HF cache."""
    try:
        import huggingface_hub
    except ImportError as e:
        raise ImportError(
            f"Downloading {config.name!r} needs the huggingface_hub package: `pip install huggingface_hub`. "
            f"Or download {config.filename} from the Hugging Face repo {config.hub_repo} yourself "
            f"and pass its path: load_model('/path/to/{config.filename}')."
        ) from e

    def fail(reason: str) -> CheckpointDownloadError:
        where = f" at revision {revision!r}" if revision is not None else ""
        return CheckpointDownloadError(
            f"Could not load the SAM 2 weights {config.name!r}: {config.filename} from the Hugging Face repo "
            f"{config.hub_repo}{where} could not be downloaded and is not in the local cache "
            f"({_cache_location(cache_dir)}). Reason: {reason} "
            f"To use a local file instead, download {config.filename} from the Hugging Face repo "
            f"{config.hub_repo} and pass its path: load_model('/path/to/{config.filename}')."
        )

    try:
        from huggingface_hub import errors as hf_errors
    except ImportError:  # huggingface_hub < 0.25 keeps its exceptions in .utils
        from huggingface_hub import utils as hf_errors
    local_missing = hf_errors.LocalEntryNotFoundError
    # huggingface_hub >= 1.0 splits remote from local "entry not found"; older versions have one class.
    remote_missing = getattr(hf_errors, "RemoteEntryNotFoundError", hf_errors.EntryNotFoundError)
    offline = _hub_offline()
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id=config.hub_repo,
            filename=config.filename,
            revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            library_name="sam2_backend",
        )
    except local_missing as e:
        reason = (
            "offline mode is on (HF_HUB_OFFLINE is set) and the file is not cached; "
            "unset HF_HUB_OFFLINE to download it."
            if offline
            else f"the Hub could not be reached ({_root_cause(e)}) and the file is not cached. "
            "Check your network connection, proxy settings and HF_ENDPOINT."
        )
        raise fail(reason) from e
    except hf_errors.RevisionNotFoundError as e:
        raise fail(f"the revision {revision!r} does not exist in {config.hub_repo}.") from e
    except remote_missing as e:
        raise fail(f"the repo has no file {config.filename} at this revision.") from e
    except hf_errors.RepositoryNotFoundError as e:
        raise fail(
            f"the repo {config.hub_repo} was not found or is not accessible (check HF_ENDPOINT and your token)."
        ) from e
    except (hf_errors.HfHubHTTPError, OSError) as e:
        # Other HTTP errors (401, 403, ...), an incomplete download, a full disk.
        raise fail(f"{type(e).__name__}: {e}") from e
    except _transport_errors() as e:
        raise fail(f"the connection failed during the download ({type(e).__name__}: {e}).") from e
    return Path(path)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network exception bases of the HTTP client huggingface_hub uses (httpx2, httpx or requests)."""
    found: list[type[BaseException]] = []
    for module, attr in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(__import__(module), attr))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _hub_offline() -> bool:
    from huggingface_hub import constants

    is_offline = getattr(constants, "is_offline_mode", None)
    return bool(is_offline() if callable(is_offline) else getattr(constants, "HF_HUB_OFFLINE", False))


def _cache_location(cache_dir) -> str:
    if cache_dir is not None:
        return f"cache_dir={str(cache_dir)!r}"
    from huggingface_hub import constants

    return f"Hugging Face cache {constants.HF_HUB_CACHE!r}"


def _root_cause(e: BaseException) -> str:
    while e.__cause__ is not None:
        e = e.__cause__
    return f"{type(e).__name__}: {e}"


# --------------------------------------------------------------------------- reading files


def _read_state_dict(path: Path, *, from_hub: bool) -> dict[str, torch.Tensor]:
    """The ``{name: tensor}`` of an official checkpoint file, validated."""
    real = Path(os.path.realpath(path))
    shown = str(path) if real == Path(path).absolute() else f"{path} (-> {real})"
    redownload = (
        f"Delete the cached file {str(real)!r} and load again to re-download it."
        if from_hub
        else "Download it again (the official files are on the Hugging Face Hub, e.g. facebook/sam2.1-hiera-tiny)."
    )

    def corrupt(detail: str) -> CheckpointError:
        return CheckpointError(f"The checkpoint {shown} is corrupt or truncated ({detail}). {redownload}")

    size = real.stat().st_size
    with open(real, "rb") as f:
        head = f.read(64)
    if size == 0:
        raise corrupt("the file is empty")
    if head.startswith(b"version https://git-lfs"):
        raise CheckpointError(
            f"{shown} is a Git LFS pointer file, not the weights (it was cloned without `git lfs`). "
            "Run `git lfs pull` in that repository, or download the file itself from the Hugging Face Hub."
        )
    if head.lstrip()[:1] in (b"<", b"{"):
        raise CheckpointError(
            f"{shown} is a text/HTML/JSON file, not a PyTorch checkpoint (an error page saved by a failed "
            f"download?). {redownload}"
        )

    is_zip = head.startswith(b"PK\x03\x04")
    if is_zip and not zipfile.is_zipfile(real):
        raise corrupt(f"the zip archive has no central directory, {size} bytes")
    if not is_zip and not head.startswith(b"\x80"):
        raise CheckpointError(
            f"{shown} is not a PyTorch checkpoint saved with torch.save (unrecognised file header "
            f"{head[:8]!r}); it may be corrupt or in another format. {redownload}"
        )

    try:
        # mmap keeps a large file out of RAM until each tensor is copied into the model.
        obj = torch.load(real, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as e:
        if "Unsupported global" in str(e) or "Unsupported class" in str(e):
            raise CheckpointError(
                f"{shown} contains Python objects other than tensors, so it cannot be loaded safely "
                "(weights_only=True). Re-save just the weights: "
                'torch.save({"model": model.state_dict()}, path).'
            ) from e
        raise corrupt(f"unpickling failed: {_first_line(e)}") from e
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise corrupt(f"{type(e).__name__}: {_first_line(e)}") from e

    if isinstance(obj, dict) and "model" in obj:
        state_dict = obj["model"]
        if not isinstance(state_dict, dict):
            raise CheckpointError(
                f"{shown} is not a SAM 2 checkpoint: its 'model' entry is a {type(state_dict).__name__}, "
                "expected a state dict of tensors."
            )
    elif isinstance(obj, dict) and _TRUNK_KEY in obj:
        state_dict = obj  # a bare state dict, saved without the {"model": ...} wrapper
    else:
        found = f"a dict with keys {_listing(sorted(map(str, obj)))}" if isinstance(obj, dict) else (
            f"a {type(obj).__name__}")
        raise CheckpointError(
            f"{shown} is not a SAM 2 checkpoint: expected a dict with a 'model' state dict "
            f"(the official format), found {found}."
        )
    bad = [k for k, v in state_dict.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(
            f"{shown} is not a SAM 2 checkpoint: {len(bad)} entries of its state dict are not "
            f"name -> tensor pairs ({_listing(map(repr, bad))})."
        )
    return state_dict


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _listing(items, limit: int = _MAX_LISTED) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


# --------------------------------------------------------------------------- architecture inference


def _signature(state_dict: dict[str, torch.Tensor]) -> tuple[int, int, str] | None:
    """(trunk embed dim, trunk blocks, "2.0"/"2.1") of a state dict, or None if it has no Hiera trunk."""
    weight = state_dict.get(_TRUNK_KEY)
    if weight is None or weight.ndim != 4:
        return None
    blocks = {int(m.group(1)) for k in state_dict if (m := _BLOCK_KEY.match(k))}
    num_blocks = max(blocks) + 1 if blocks else 0
    version = "2.1" if "no_obj_embed_spatial" in state_dict else "2.0"
    return int(weight.shape[0]), num_blocks, version


def _config_signature(cfg: ModelConfig) -> tuple[int, int, str]:
    return cfg.trunk.embed_dim, sum(cfg.trunk.stages), cfg.version


def infer_config(state_dict: dict[str, torch.Tensor], *, source: str = "the checkpoint") -> ModelConfig:
    """The official config whose architecture a state dict has.

    Uses the Hiera trunk's width (``patch_embed`` channels) and depth (number of
    ``blocks.N``) to tell the size, and the SAM 2.1-only ``no_obj_embed_spatial``
    parameter to tell 2.1 from 2.0.

    Args:
        state_dict: the checkpoint's ``"model"`` dict.
        source: how to name the checkpoint in error messages.

    Raises:
        CheckpointError: no Hiera trunk weights, or a trunk no official model has.
    """
    sig = _signature(state_dict)
    if sig is None:
        raise CheckpointError(
            f"Cannot tell which SAM 2 model {source} is: it has no {_TRUNK_KEY!r} tensor, so it does not look "
            f"like a SAM 2 checkpoint. If it is one, pass config= with one of: {', '.join(config_names())}."
        )
    for cfg in CONFIGS.values():
        if _config_signature(cfg) == sig:
            return cfg
    known = "; ".join(
        f"{c.name}: {d}-dim, {b} blocks" for c in CONFIGS.values() for d, b, _ in [_config_signature(c)]
        if c.version == "2.1"
    )
    raise CheckpointError(
        f"Cannot tell which SAM 2 model {source} is: its Hiera trunk is {sig[0]}-dim with {sig[1]} blocks "
        f"(SAM {sig[2]}), which matches no official model ({known}). Pass config= with a matching ModelConfig."
    )


def _load_into_fresh_model(config: ModelConfig, state_dict, path: Path, how: str) -> SAM2Model:
    """Build ``config`` on the CPU and load ``state_dict`` strictly, or raise a CheckpointError."""
    model = _build_on_cpu(config)
    expected = model.state_dict()

    def hint() -> str:
        try:
            guess = infer_config(state_dict)
        except CheckpointError:
            return "Check that the file is an official SAM 2 / 2.1 checkpoint, or pass config= with the right model."
        if _config_signature(guess) != _config_signature(config):
            return (
                f"The weights look like {guess.name}: pass config={guess.name!r} "
                f"(or name the file {guess.filename})."
            )
        return "Pass config= with the ModelConfig these weights were trained with."

    head = f"The checkpoint {path} does not fit the model config {config.name!r} ({how})"
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({_listing(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_listing(unexpected)})")
        raise CheckpointError(f"{head}: {' and '.join(parts)}. {hint()}")
    mismatched = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if state_dict[k].shape != v.shape
    ]
    if mismatched:
        raise CheckpointError(
            f"{head}: {len(mismatched)} tensors have the wrong shape ({_listing(mismatched)}). {hint()}"
        )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:  # e.g. a dtype that cannot be copied
        raise CheckpointError(f"{head}: {e}") from e
    return model


# --------------------------------------------------------------------------- integrity


def verify_sha256(path: PathLike, config: Union[str, ModelConfig, None] = None) -> str:
    """Check a file against the sha256 of the official hub file (reads the whole file).

    Args:
        path: the checkpoint file.
        config: the model it should be (name or ``ModelConfig``); ``None`` takes
            it from the file name, which must then be an official one.

    Returns:
        The file's sha256 hex digest.

    Raises:
        CheckpointError: the digest differs (the file is corrupt, modified or a different model).
        ValueError: ``config`` is None and the file name is not an official one.
    """
    path = Path(path)
    cfg = _as_config(config) if config is not None else _config_for_filename(path)
    if cfg is None:
        raise ValueError(
            f"Cannot tell which official file {path.name!r} should be; pass config= "
            f"(one of: {', '.join(config_names())})."
        )
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != cfg.sha256:
        raise CheckpointError(
            f"{path} is not the official {cfg.filename}: its sha256 is {actual}, expected {cfg.sha256}. "
            "It may be corrupt, modified, or another model. Download it again."
        )
    return actual
