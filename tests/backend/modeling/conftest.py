"""Fixtures of the modeling tests."""

import pytest
import torch.nn.functional as F


@pytest.fixture
def no_flash(monkeypatch):
    """Fail any call of PyTorch's attention op: the bf16 CPU path must not reach it."""

    def refuse(*args, **kwargs):
        raise AssertionError("scaled_dot_product_attention was called on the bf16 CPU path")

    # The plain blocks and the kernels' fallback both look the op up on torch.nn.functional.
    monkeypatch.setattr(F, "scaled_dot_product_attention", refuse)
