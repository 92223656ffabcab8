"""SAM 2 / 2.1 in pure PyTorch: official checkpoints by name, image and video prediction."""

from .automask import AutomaticMaskGenerator
from .build import build_model, load_model
from .configs import ModelConfig, config_names, get_config
from .image import ImagePredictor, Prediction
from .modeling.sam2 import SAM2Model
from .video import TrackResults, VideoTracker

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
