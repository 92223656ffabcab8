"""Build SAM 2 / 2.1 and EdgeTAM models: with official (or your own) weights, or random ones.

``load_model`` accepts a model name (``"tiny"``, ``"sam2.1-hiera-large"``,
``"facebook/sam2-hiera-small"``, ``"edgetam"``, ``"facebook/EdgeTAM"``), a :class:`~sam2_backend.configs.ModelConfig`,
or the path of a local ``.pt`` file in the official format (a ``torch.save``'d
``{"model": state_dict}``). Names are downloaded by :mod:`sam2_backend.hub` into the
standard Hugging Face cache; files are read and loaded strictly by
:mod:`sam2_backend.checkpoint`.

The precision is chosen here, once (``precision=``), and read by every predictor
and tracker from ``model.precision``. A ``"bf16"`` model on a CPU gets the fast CPU
path installed (:func:`~sam2_backend.modeling.fast_cpu.prepare_bf16_cpu`, or for EdgeTAM
:func:`~sam2_backend.modeling.fast_cpu_edgetam.prepare_edgetam_bf16_cpu`).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch

from .checkpoint import as_config, config_for_filename, infer_config, load_strict, read_state_dict
from .configs import HieraConfig, ModelConfig, get_config, resolve_name
from .devices import DeviceLike, PrecisionLike, resolve_device, resolve_precision
from .hub import download
from .modeling.fast_cpu import prepare_bf16_cpu
from .modeling.precision import AUTOCAST_DTYPES, Precision, store_compute_weights
from .modeling.sam2 import SAM2Model, build_sam2

__all__ = ["build_model", "load_model"]

logger = logging.getLogger(__name__)

# File suffixes that make a string a path rather than a model name.
_FILE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")


def build_model(
    name_or_config: str | ModelConfig = "sam2.1-hiera-tiny",
    device: DeviceLike = "auto",
    precision: PrecisionLike = "auto",
    *,
    dtype: PrecisionLike = None,
) -> SAM2Model:
    """A SAM 2 model with random weights (nothing is downloaded), in eval mode.

    Args:
        name_or_config: a model name (``"tiny"``, ``"sam2-hiera-small"``,
            ``"facebook/sam2.1-hiera-large"``, ...) or a ``ModelConfig``
            (e.g. ``get_config("tiny").replace(image_size=512)``).
        device: where the model is moved after being built on the CPU; see
            :func:`~sam2_backend.devices.resolve_device`.
        precision: what it computes in; see :func:`load_model`.
        dtype: the former name of ``precision`` (deprecated).
    """
    config = as_config(name_or_config)
    dev = resolve_device(device)
    model = _build_on_cpu(config, resolve_precision(_renamed_dtype(precision, dtype), dev, stacklevel=3))
    return _place(model, dev)


def load_model(
    name_or_path: str | os.PathLike | ModelConfig = "sam2.1-hiera-tiny",
    device: DeviceLike = "auto",
    precision: PrecisionLike = "auto",
    *,
    dtype: PrecisionLike = None,
    revision: str | None = None,
    config: str | ModelConfig | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> SAM2Model:
    """A SAM 2 / 2.1 or EdgeTAM model with official (or your own) weights, in eval mode.

    Args:
        name_or_path: what to load. One of
            - a model name: short (``"tiny"``, ``"small"``, ``"base-plus"``,
              ``"large"``, all SAM 2.1), canonical (``"sam2.1-hiera-large"``,
              ``"sam2-hiera-small"``, ``"edgetam"``) or a hub id
              (``"facebook/sam2.1-hiera-base-plus"``, ``"facebook/EdgeTAM"``): the official file is
              downloaded from the Hugging Face Hub, or taken from its cache;
            - a ``ModelConfig``: downloads ``config.filename`` from
              ``config.hub_repo`` and builds exactly that config;
            - the path of a local checkpoint (``str`` or ``Path``) in the
              official format ``{"model": state_dict}`` (a bare state dict is
              accepted too). Its architecture comes from ``config=`` if given,
              else from its file name if that is an official file name
              (``sam2.1_hiera_tiny.pt``), else it is inferred from the weights.
        device: where the model runs; see :func:`~sam2_backend.devices.resolve_device`.
        precision: what it computes in, read by every predictor and tracker:
            ``"auto"`` (bf16 autocast on CUDA GPUs with native bf16, sm_80 and
            newer, as the official code; exact fp32 elsewhere, T4 and V100
            included), ``"fp32"`` (exact; on CUDA without TF32), ``"bf16"`` (on a
            CPU: the fast CPU path) or ``"fp16"`` (fast on a T4, not verified for
            SAM 2); see :func:`~sam2_backend.devices.resolve_precision`.
        dtype: the former name of ``precision`` (deprecated).
        revision: hub only: a branch, tag or commit hash of the hub repo
            (default: ``"main"``).
        config: the architecture to build, as a name or a ``ModelConfig``;
            overrides the file-name / weight-based choice for local files, and
            the architecture (not the download) for model names. Use it for
            e.g. ``get_config("tiny").replace(image_size=512)``.
        cache_dir: hub only: the Hugging Face cache folder to use instead of the
            default (``HF_HUB_CACHE``, or ``$HF_HOME/hub``).

    Returns:
        The model; ``model.config`` is the config it was built from,
        ``model.precision`` what it computes in and ``model.checkpoint_path`` the
        file its weights came from.

    Raises:
        ValueError: unknown model name (the message lists the valid ones), bad
            ``device`` / ``precision``, or ``revision`` / ``cache_dir`` given with a
            local file.
        FileNotFoundError: a local checkpoint path that does not exist.
        CheckpointDownloadError: the weights could not be downloaded and are
            not cached (offline, no network, unknown revision, ...).
        CheckpointError: the file is corrupt or truncated, is not a SAM 2
            checkpoint, or its keys or shapes do not fit the chosen config.
    """
    dev = resolve_device(device)
    # Fail on a bad precision before any download.
    chosen_precision = resolve_precision(_renamed_dtype(precision, dtype), dev, stacklevel=3)
    override = as_config(config) if config is not None else None

    kind, target = classify_source(name_or_path)
    if kind == "hub":
        hub_config: ModelConfig = target
        path = download(hub_config, revision=revision, cache_dir=cache_dir)
        state_dict = read_state_dict(path, from_hub=True)
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
        state_dict = read_state_dict(path, from_hub=False)
        by_name = config_for_filename(path)
        if override is not None:
            chosen, how = override, "given as config="
        elif by_name is not None:
            chosen, how = by_name, f"from the file name {path.name!r}"
        else:
            chosen, how = infer_config(state_dict, source=str(path)), "inferred from the weights"

    model = _build_on_cpu(chosen, chosen_precision)
    load_strict(model, state_dict, path, how)
    del state_dict
    model = _place(model, dev)
    logger.info("Loaded %s (%s) from %s onto %s", chosen.name, how, path, dev)
    return model


def _renamed_dtype(precision: PrecisionLike, dtype: PrecisionLike) -> PrecisionLike:
    """``precision``, or the value of its former name ``dtype=`` (with a DeprecationWarning)."""
    if dtype is None:
        return precision
    if not (isinstance(precision, str) and precision == "auto"):
        raise ValueError(f"Pass the precision once: precision={precision!r} and dtype={dtype!r} were both given.")
    warnings.warn(f"dtype= is now called precision=: pass precision={dtype!r}.", DeprecationWarning, stacklevel=3)
    return dtype


def _build_on_cpu(config: ModelConfig, precision: Precision) -> SAM2Model:
    # An explicit CPU context: nothing lands on an accelerator even if the caller
    # has set torch.set_default_device("cuda").
    with torch.device("cpu"):
        return build_sam2(config, precision=precision)


def _place(model: SAM2Model, device: torch.device) -> SAM2Model:
    """Move a built (and loaded) model to ``device`` in eval mode, specialised for its precision there."""
    model = model.to(device=device).eval()
    _specialise(model, device.type)
    return model


def _specialise(model: SAM2Model, device_type: str) -> None:
    """What a model of its precision needs on a device of ``device_type``: on a CPU the fast bf16
    path; on CUDA, Linear and Conv weights stored in the autocast dtype, so autocast does not cast
    them again on every call (the first call of a tracked frame or a click would otherwise re-read
    every fp32 weight: 0.85 GiB per frame for large)."""
    if model.precision == "fp32":
        return
    if device_type == "cuda":
        store_compute_weights(model, AUTOCAST_DTYPES[model.precision])
    elif device_type == "cpu" and model.precision == "bf16":
        # The warning for CPUs without bf16 names the caller of load_model / build_model.
        if isinstance(model.config.trunk, HieraConfig):
            prepare_bf16_cpu(model, stacklevel=5)
        else:
            from .modeling.fast_cpu_edgetam import prepare_edgetam_bf16_cpu  # imports timm, as EdgeTAM does

            prepare_edgetam_bf16_cpu(model, stacklevel=5)


def classify_source(name_or_path) -> tuple[str, object]:
    """What :func:`load_model` would load for ``name_or_path``: ``("hub", ModelConfig)`` for a model name
    or config, ``("file", Path)`` for a checkpoint file; raises for unknown names and missing files."""
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
    if not text:
        raise ValueError(
            "The model name is empty (an unset environment variable such as $SAM2_MODEL?). Pass a model "
            "name such as 'sam2.1-hiera-tiny' or 'edgetam', or the path of a checkpoint file."
        )
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
            hint = f" To download the official weights instead, pass the model name: load_model({canonical!r})."
        shown = repr(str(path))
        if not path.is_absolute():
            shown += f" (looked for {str(path.absolute())!r})"
        raise FileNotFoundError(f"SAM 2 checkpoint file not found: {shown}. Check the path.{hint}")
    if path.is_dir():
        raise IsADirectoryError(
            f"{str(path)!r} is a directory; pass the path of the checkpoint file inside it "
            "(e.g. .../sam2.1_hiera_tiny.pt)."
        )
    if not path.is_file():  # a named pipe or a device would block or never end when read
        raise ValueError(f"{str(path)!r} is not a regular file (a pipe, socket or device?); pass a checkpoint file.")
    return path
