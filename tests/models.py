"""The tiny random-weight model of the tests: nothing is downloaded, and it is fast on a CPU.

A plain function rather than only a fixture: subprocesses (tests/widget/autosave_child.py) and
benchmarks build it too. The fixtures built on it are in the conftest.py files.

``TEST_DEVICE`` is where the suite puts its models and inputs: the CPU unless
``SAM2_TEST_DEVICE`` names another (``cuda``, ``cuda:1``, ``mps``); see tests/conftest.py.
"""

from __future__ import annotations

import os

import torch

from sam2_backend import SAM2Model, build_model, get_config

TEST_DEVICE = os.environ.get("SAM2_TEST_DEVICE", "").strip() or "cpu"
# What a model computes in when a test does not choose: "auto" on the CPU (exact fp32 there, as
# always); elsewhere exact fp32 too, where "auto" would pick bf16 on CUDA.
TEST_PRECISION = "auto" if TEST_DEVICE == "cpu" else "fp32"


def on_test_device(x: torch.Tensor) -> torch.Tensor:
    """``x`` on the test device (a test's inputs are drawn on the CPU, so every device sees the same values)."""
    return x.to(TEST_DEVICE)


def host(x):
    """A tensor from the test device, on the CPU (for numpy and comparisons); anything else as it is."""
    return x.detach().cpu() if isinstance(x, torch.Tensor) else x


def tiny_model(image_size: int = 256, *, seed: int | None = 0, **options) -> SAM2Model:
    """SAM 2.1 tiny on the test device at ``image_size`` with random weights, the same for the same
    ``seed`` (None: drawn from torch's global generator). ``options``: more keywords of ``build_model``
    (e.g. ``precision="bf16"``, ``device="cpu"``). The weights are drawn on the CPU (build_model
    builds there), so they are the same on every device."""
    options = {"device": TEST_DEVICE, "precision": TEST_PRECISION, **options}
    config = get_config("tiny").replace(image_size=image_size)
    if seed is None:
        return build_model(config, **options)
    with torch.random.fork_rng(devices=[]):  # the seed stays here: the global generator is left as it was
        torch.manual_seed(seed)
        return build_model(config, **options)
