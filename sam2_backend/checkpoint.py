"""Official SAM 2 / 2.1 and EdgeTAM checkpoint files: reading, telling their model, loading them strictly.

A file is read with ``torch.load(weights_only=True)`` after checks that name the
usual accidents (an empty or truncated file, a Git LFS pointer, an HTML error page
saved by a failed download). Its tensors are only loaded into a model when every key
and shape fits (no missing, unexpected or mis-shaped keys); any problem raises a
:class:`CheckpointError` that names the file and says what to do.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import zipfile
from pathlib import Path

import torch

from .configs import CONFIGS, HieraConfig, ModelConfig, RepViTConfig, config_names, get_config
from .modeling.sam2 import SAM2Model

__all__ = [
    "CheckpointError",
    "as_config",
    "config_for_filename",
    "infer_config",
    "load_strict",
    "read_state_dict",
    "verify_sha256",
]

PathLike = str | os.PathLike

_TRUNK_KEY = "image_encoder.trunk.patch_embed.proj.weight"
# EdgeTAM: the first conv of timm's RepViT stem, and the perceiver's global latents.
_REPVIT_KEY = "image_encoder.trunk.body.stem.conv1.c.weight"
_PERCEIVER_KEY = "spatial_perceiver.latents"
_BLOCK_KEY = re.compile(r"^image_encoder\.trunk\.blocks\.(\d+)\.")
_MAX_LISTED = 5


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, or does not fit the model."""


def as_config(name_or_config: str | ModelConfig) -> ModelConfig:
    """The ``ModelConfig`` named (see ``configs.get_config``) or given."""
    if isinstance(name_or_config, ModelConfig):
        return name_or_config
    if isinstance(name_or_config, str):
        return get_config(name_or_config)  # ValueError listing the valid names
    raise TypeError(f"Expected a model name or a ModelConfig, got {type(name_or_config).__name__}: {name_or_config!r}.")


def config_for_filename(path: Path) -> ModelConfig | None:
    """The official config whose file name ``path`` has, if any."""
    name = path.name.lower()
    for cfg in CONFIGS.values():
        if cfg.filename == name:
            return cfg
    return None


# --------------------------------------------------------------------------- reading files


def read_state_dict(path: Path, *, from_hub: bool) -> dict[str, torch.Tensor]:
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

    obj = _unwrapped(obj)
    if isinstance(obj, dict) and "model" in obj:
        state_dict = _unwrapped(obj["model"])
        if not isinstance(state_dict, dict):
            raise CheckpointError(
                f"{shown} is not a SAM 2 checkpoint: its 'model' entry is a {type(state_dict).__name__}, "
                "expected a state dict of tensors."
            )
    elif isinstance(obj, dict) and (_TRUNK_KEY in obj or _REPVIT_KEY in obj):
        state_dict = obj  # a bare state dict, saved without the {"model": ...} wrapper
    else:
        found = (
            f"a dict with keys {_listing(sorted(map(str, obj)))}"
            if isinstance(obj, dict)
            else (f"a {type(obj).__name__}")
        )
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


def _unwrapped(obj: object) -> object:
    """A state dict saved from ``nn.DataParallel`` / ``DistributedDataParallel`` (every name starts
    with ``module.``) with the wrapper's prefix removed; anything else as it is."""
    prefix = "module."
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and k.startswith(prefix) for k in obj):
        return {k[len(prefix) :]: v for k, v in obj.items()}
    return obj


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _listing(items, limit: int = _MAX_LISTED) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


# --------------------------------------------------------------------------- architecture inference


# What tells official models apart: (trunk embed dim, trunk blocks, "2.0"/"2.1") for Hiera,
# ("repvit", has a spatial perceiver) for EdgeTAM.
Signature = tuple[int, int, str] | tuple[str, bool]


def _signature(state_dict: dict[str, torch.Tensor]) -> Signature | None:
    """The :data:`Signature` of a state dict, or None if it has neither a Hiera nor a RepViT trunk."""
    if _REPVIT_KEY in state_dict:
        return "repvit", _PERCEIVER_KEY in state_dict
    weight = state_dict.get(_TRUNK_KEY)
    if weight is None or weight.ndim != 4:
        return None
    blocks = {int(m.group(1)) for k in state_dict if (m := _BLOCK_KEY.match(k))}
    num_blocks = max(blocks) + 1 if blocks else 0
    version = "2.1" if "no_obj_embed_spatial" in state_dict else "2.0"
    return int(weight.shape[0]), num_blocks, version


def _config_signature(cfg: ModelConfig) -> Signature:
    if isinstance(cfg.trunk, RepViTConfig):
        return "repvit", cfg.spatial_perceiver is not None
    return cfg.trunk.embed_dim, sum(cfg.trunk.stages), cfg.version


def infer_config(state_dict: dict[str, torch.Tensor], *, source: str = "the checkpoint") -> ModelConfig:
    """The official config whose architecture a state dict has.

    Uses the Hiera trunk's width (``patch_embed`` channels) and depth (number of
    ``blocks.N``) to tell the size, and the SAM 2.1-only ``no_obj_embed_spatial``
    parameter to tell 2.1 from 2.0. A RepViT trunk (``trunk.body.stem``) with a
    spatial perceiver is EdgeTAM.

    Args:
        state_dict: the checkpoint's ``"model"`` dict.
        source: how to name the checkpoint in error messages.

    Raises:
        CheckpointError: no Hiera trunk weights, or a trunk no official model has.
    """
    sig = _signature(state_dict)
    if sig is None:
        raise CheckpointError(
            f"Cannot tell which SAM 2 model {source} is: it has no {_TRUNK_KEY!r} (Hiera) or {_REPVIT_KEY!r} "
            f"(EdgeTAM) tensor, so it does not look like a SAM 2 checkpoint. If it is one, pass config= with "
            f"one of: {', '.join(config_names())}."
        )
    for cfg in CONFIGS.values():
        if _config_signature(cfg) == sig:
            return cfg
    if sig[0] == "repvit":
        raise CheckpointError(
            f"Cannot tell which SAM 2 model {source} is: it has a RepViT trunk like EdgeTAM but no "
            f"{_PERCEIVER_KEY!r}, which matches no official model. Pass config= with a matching ModelConfig."
        )
    known = "; ".join(
        f"{c.name}: {c.trunk.embed_dim}-dim, {sum(c.trunk.stages)} blocks"
        for c in CONFIGS.values()
        if isinstance(c.trunk, HieraConfig) and c.version == "2.1"
    )
    raise CheckpointError(
        f"Cannot tell which SAM 2 model {source} is: its Hiera trunk is {sig[0]}-dim with {sig[1]} blocks "
        f"(SAM {sig[2]}), which matches no official model ({known}). Pass config= with a matching ModelConfig."
    )


# --------------------------------------------------------------------------- strict loading


def load_strict(model: SAM2Model, state_dict: dict[str, torch.Tensor], path: Path, how: str) -> None:
    """Load ``state_dict`` into ``model`` strictly, or raise a CheckpointError that says what does not fit.

    Args:
        model: a freshly built model.
        state_dict: the checkpoint's tensors.
        path: the file they came from (kept as ``model.checkpoint_path``).
        how: how the model's config was chosen, for the messages ("from the file name ...").
    """
    config = model.config
    expected = model.state_dict()

    def hint() -> str:
        try:
            guess = infer_config(state_dict)
        except CheckpointError:
            return "Check that the file is an official SAM 2 / 2.1 checkpoint, or pass config= with the right model."
        if _config_signature(guess) != _config_signature(config):
            return (
                f"The weights look like {guess.name}: pass config={guess.name!r} (or name the file {guess.filename})."
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
        model.load_checkpoint_state(state_dict, str(path))
    except RuntimeError as e:  # e.g. a dtype that cannot be copied
        raise CheckpointError(f"{head}: {e}") from e


# --------------------------------------------------------------------------- integrity


def verify_sha256(path: PathLike, config: str | ModelConfig | None = None) -> str:
    """Check a file against the sha256 of the official hub file (reads the whole file).

    Args:
        path: the checkpoint file.
        config: the model it should be (name or ``ModelConfig``); ``None`` takes
            it from the file name, which must then be an official one.

    Returns:
        The file's sha256 hex digest.

    Raises:
        CheckpointError: the digest differs (the file is corrupt, modified or a different model).
        ValueError: ``config`` is None and the file name is not an official one, or the
            config has no recorded digest (``sha256=None``: EdgeTAM).
    """
    path = Path(path)
    cfg = as_config(config) if config is not None else config_for_filename(path)
    if cfg is None:
        raise ValueError(
            f"Cannot tell which official file {path.name!r} should be; pass config= "
            f"(one of: {', '.join(config_names())})."
        )
    if cfg.sha256 is None:
        raise ValueError(
            f"No sha256 of the official {cfg.filename} is recorded for {cfg.name!r}, so {path} cannot be verified "
            f"here; compare it with the digest the Hugging Face repo {cfg.hub_repo} shows for that file."
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
