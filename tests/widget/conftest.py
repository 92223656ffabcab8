"""Fixtures of the widget tests: the tiny random-weight models and the synthetic clip."""

import numpy as np
import pytest

from sam2_backend import SAM2Model
from tests.clips import make_clip
from tests.models import tiny_model
from tests.widget.harness import VIDEO_FRAMES, VIDEO_IMAGE_SIZE


@pytest.fixture(scope="module")
def model() -> SAM2Model:
    """The model of the image tests (image size 256)."""
    return tiny_model()


@pytest.fixture(scope="module")
def video_model() -> SAM2Model:
    """The model of the clip tests, at a smaller image size."""
    return tiny_model(VIDEO_IMAGE_SIZE)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """The synthetic clip of tests/clips.py, VIDEO_FRAMES long."""
    return make_clip(VIDEO_FRAMES)
