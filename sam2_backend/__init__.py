"""SAM 2 / 2.1 in pure PyTorch: official checkpoints by name, image and video prediction."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .build import build_model, load_model
from .configs import ModelConfig, config_names, get_config
from .image import ImagePredictor, Prediction
from .modeling.sam2 import SAM2Model

if TYPE_CHECKING:
    from .automask import AutomaticMaskGenerator
    from .video import TrackResults, VideoTracker

# Video tracking and segment-everything are imported on first access (PEP 562): a
# session that only clicks on images never loads them.
_LAZY = {"AutomaticMaskGenerator": ".automask", "TrackResults": ".video", "VideoTracker": ".video"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AutomaticMaskGenerator",
    "ImagePredictor",
    "ModelConfig",
    "Prediction",
    "SAM2Model",
    "TrackResults",
    "VideoTracker",
    "build_model",
    "config_names",
    "get_config",
    "load_model",
]
