"""The widgets' constructor options: their defaults and checks, the model, and which widget a source gets."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sam2_backend import AutomaticMaskGenerator, ModelConfig, SAM2Model
from sam2_backend.devices import resolve_device
from sam2_backend.video.memory_policies import POLICIES
from sam2_backend.video.sources import VIDEO_EXTENSIONS

from . import codecs
from .frame_cache import DEFAULT_MAX_MB
from .model_cache import ReleasedModel, shared_model

OPTIONS: dict[str, Any] = {
    "opacity": 0.5,  # mask fill opacity, 0..1
    "outline": True,  # draw mask outlines
    "cache_size": 8,  # image embeddings kept (LRU)
    "display_max_side": codecs.DISPLAY_MAX_SIDE,  # longest side of the JPEG sent for display
    "jpeg_quality": codecs.JPEG_QUALITY,
    "amg_options": None,  # AutomaticMaskGenerator options of the front end's "segment everything"
    "autosave": None,  # a file kept current after every action (sam2_widget/autosave.py)
    "frame_cache_mb": DEFAULT_MAX_MB,  # video: MiB of frame JPEGs kept in the kernel (frame_cache.py)
    "memory": "sam2",  # video: the tracker's memory policy (sam2_backend/video/memory_policies)
    "memory_options": None,  # video: that policy's options (the papers' defaults for those not given)
}

ModelArg = str | os.PathLike | ModelConfig | SAM2Model


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Every option, the given ones over the defaults; TypeError naming each unknown keyword,
    TypeError/ValueError naming an option whose value is of the wrong type or out of range."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, OPTIONS, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(
            f"Sam2Widget() got unexpected keyword argument(s) {', '.join(hints)}. "
            f"Valid options: source, model, device, video, {', '.join(OPTIONS)}."
        )
    return {**OPTIONS, **{name: _checked_value(name, value) for name, value in options.items()}}


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    """An int or a finite float (NaN and infinities are not numbers an option can take)."""
    return _is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


def is_clip(source: Any, video: bool | None) -> bool:
    """Whether ``Sam2Widget(source, video=video)`` shows a clip: always for a video file
    (by extension), for anything else only with ``video=True``."""
    if video is not None:
        return bool(video)
    return isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in VIDEO_EXTENSIONS


def resolve_model(model: Any, device: str, precision: str = "auto") -> SAM2Model:
    """A loaded model as given (its device must agree with ``device``), or one loaded by name or path
    (any name ``sam2_backend.load_model`` takes: ``"tiny"``, ``"sam2.1-hiera-large"``, ``"edgetam"``, ...),
    shared with the other widgets that load it on the same device in the same precision (model_cache.py)."""
    if isinstance(model, SAM2Model):
        if device != "auto" and resolve_device(device).type != model.device.type:
            raise ValueError(
                f"device={device!r} does not match the given model, which is on {model.device}; "
                "move the model with model.to(device) or leave device out."
            )
        return model
    if isinstance(model, (str, os.PathLike, ModelConfig)):
        return shared_model(model, device, precision)
    raise TypeError(f"model must be a model name, a checkpoint path or a SAM2Model, got {type(model).__name__}.")


def mask_generator(model: SAM2Model | ReleasedModel, amg_options: Mapping[str, Any]) -> AutomaticMaskGenerator:
    """The generator for "segment everything"; bad options raise here, before any work is queued."""
    if isinstance(model, ReleasedModel):
        raise RuntimeError("the widget was closed; create a new one.")  # as every other action says
    if amg_options.get("output_mode", "binary_mask") != "binary_mask":
        raise ValueError("segment everything needs binary masks; leave output_mode out of its options.")
    return AutomaticMaskGenerator(model, **amg_options)


# option -> (what it must be, its type test, its range test); numbers are never bools.
_VALUES = {
    "opacity": ("a number from 0 to 1", _is_number, lambda v: 0 <= v <= 1),
    "outline": ("True or False", lambda v: isinstance(v, bool), None),
    "cache_size": ("an int >= 1", _is_int, lambda v: v >= 1),
    "display_max_side": ("an int from 64 to 16384 (pixels)", _is_int, lambda v: 64 <= v <= 16384),
    "jpeg_quality": ("an int from 1 to 100", _is_int, lambda v: 1 <= v <= 100),
    "amg_options": (
        "None or a dict of AutomaticMaskGenerator options",
        lambda v: v is None or isinstance(v, Mapping),
        None,
    ),
    "autosave": ("None or a file path", lambda v: v is None or isinstance(v, (str, os.PathLike)), None),
    "frame_cache_mb": ("a number of MiB >= 0", _is_number, lambda v: v >= 0),
    "memory": (f"one of {', '.join(map(repr, POLICIES))}", lambda v: isinstance(v, str), lambda v: v in POLICIES),
    "memory_options": (
        "None or a dict of the memory policy's options",
        lambda v: v is None or isinstance(v, Mapping),
        None,
    ),
}


def _checked_value(name: str, value: Any) -> Any:
    """``value`` if it suits option ``name`` (a numpy number as a Python one, as traits need)."""
    what, of_type, in_range = _VALUES[name]
    if not of_type(value):
        raise TypeError(f"Sam2Widget(): {name} must be {what}, got {value!r:.80}.")
    if in_range is not None and not in_range(value):
        raise ValueError(f"Sam2Widget(): {name} must be {what}, got {value!r:.80}.")
    return value.item() if isinstance(value, np.generic) else value
