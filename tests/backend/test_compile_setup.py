"""How ``SAM2Model.compile_parts`` calls ``torch.compile``, recorded instead of compiling: which parts,
with which shapes, once each, and where it declines (MPS; bf16 on a GPU without native bf16).

What only a GPU can confirm: that the compiled parts give the eager answers there, how many
graphs a session compiles, and the speed (``tests/backend/video/test_compiled.py`` checks the
answers on the CPU with real compilation).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from sam2_backend import ImagePredictor, SAM2Model, VideoTracker
from tests.models import tiny_model

CUDA = torch.device("cuda")


@pytest.fixture
def compiles(monkeypatch) -> list[tuple[str, dict]]:
    """Each ``torch.compile`` call as (the compiled module's class, its keywords); nothing is compiled."""
    calls: list[tuple[str, dict]] = []

    def fake_compile(fn, **kwargs):
        calls.append((type(fn.__self__).__name__, kwargs))
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    return calls


def _shapes(calls) -> dict[str, bool]:
    return {part: kwargs["dynamic"] for part, kwargs in calls}


def test_each_part_is_compiled_once_with_the_official_shapes(compiles):
    model = tiny_model(128, device="cpu")
    clip = np.zeros((2, 40, 50, 3), np.uint8)
    ImagePredictor(model, compile=True)
    ImagePredictor(model, compile=True)  # a second predictor does not wrap the parts again
    assert _shapes(compiles) == {"ImageEncoder": False, "MaskDecoder": False}  # the decoder static, as official
    assert len(compiles) == 2
    for _ in range(2):
        VideoTracker(model, clip, compile=True).close()
    # the tracker adds the memory parts; the memory attention sees a varying number of memories
    assert _shapes(compiles) == {
        "ImageEncoder": False,
        "MaskDecoder": False,
        "MemoryEncoder": False,
        "MemoryAttention": True,
    }
    assert len(compiles) == 4
    assert all(kwargs["options"] == {"freezing": True} for _, kwargs in compiles)  # on CPU
    assert model.image_encoder._compiled_call_impl is not None  # wrapped in place, once


def test_a_tracker_first_then_a_predictor_compiles_nothing_more(compiles):
    model = tiny_model(128, device="cpu")
    VideoTracker(model, np.zeros((2, 40, 50, 3), np.uint8), compile=True).close()
    ImagePredictor(model, compile=True)
    assert len(compiles) == 4


def test_on_cuda_the_options_are_inductors_defaults(compiles, monkeypatch):
    model = tiny_model(128, device="cpu")
    monkeypatch.setattr(SAM2Model, "device", property(lambda self: CUDA))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    model.compile_parts(video=True)
    assert len(compiles) == 4 and all(kwargs["options"] is None for _, kwargs in compiles)


def test_on_mps_it_warns_and_stays_eager(compiles, monkeypatch):
    model = tiny_model(128, device="cpu")
    monkeypatch.setattr(SAM2Model, "device", property(lambda self: torch.device("mps")))
    with pytest.warns(RuntimeWarning, match=r"compile=True is ignored: .*MPS.*runs eager") as record:
        ImagePredictor(model, compile=True)
    assert record[0].filename == __file__  # names the caller's line
    assert not compiles and model.image_encoder._compiled_call_impl is None


@pytest.mark.parametrize(
    "capability, precision, compiled", [((7, 5), "bf16", False), ((7, 5), "fp16", True), ((9, 0), "bf16", True)]
)
def test_bf16_on_a_gpu_without_native_bf16_stays_eager(compiles, monkeypatch, capability, precision, compiled):
    model = tiny_model(128, device="cpu", precision=precision)
    monkeypatch.setattr(SAM2Model, "device", property(lambda self: CUDA))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.compile_parts()
    assert bool(compiles) == compiled
    assert any("Triton cannot generate bf16" in str(w.message) for w in record) == (not compiled)
