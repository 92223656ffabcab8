"""The tiny random-weight model of the tests: nothing is downloaded, and it is fast on a CPU.

A plain function rather than only a fixture: subprocesses (tests/widget/autosave_child.py) and
benchmarks build it too. The fixtures built on it are in the conftest.py files.
"""

from __future__ import annotations

import torch

from sam2_backend import SAM2Model, build_model, get_config


def tiny_model(image_size: int = 256, *, seed: int | None = 0, **options) -> SAM2Model:
    """SAM 2.1 tiny on the CPU at ``image_size`` with random weights, the same for the same ``seed``
    (None: drawn from torch's global generator). ``options``: more keywords of ``build_model``
    (e.g. ``precision="bf16"``)."""
    config = get_config("tiny").replace(image_size=image_size)
    if seed is None:
        return build_model(config, device="cpu", **options)
    with torch.random.fork_rng(devices=[]):  # the seed stays here: the global generator is left as it was
        torch.manual_seed(seed)
        return build_model(config, device="cpu", **options)
