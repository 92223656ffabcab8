"""Fixtures of the backend tests."""

import warnings

import pytest

from tests.backend.reference import scipy_components


@pytest.fixture
def patched_reference(monkeypatch):
    """The reference's ``sam2.utils.misc`` with a CPU stand-in for its CUDA connected components,
    so its hole and sprinkle clean-up really runs instead of being skipped on CPU."""
    import sam2.utils.misc as misc

    monkeypatch.setattr(misc, "get_connected_components", scipy_components)
    with warnings.catch_warnings():
        # The reference only warns when it skips the clean-up; make that a failure.
        warnings.filterwarnings("error", message=".*Skipping the post-processing")
        yield misc
