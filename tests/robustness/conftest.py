"""Fixtures of the robustness catalogue: the tiny random-weight model of the image tests."""

import pytest

from sam2_backend import SAM2Model
from tests.models import tiny_model


@pytest.fixture(scope="module")
def model() -> SAM2Model:
    return tiny_model()


@pytest.fixture(scope="module")
def video_model() -> SAM2Model:
    return tiny_model(128)
