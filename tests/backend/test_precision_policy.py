"""The precision policy per device, checked on the CPU with fakes: a GPU's compute capability,
MPS's macOS and torch versions, and the TF32 flags a model call runs under.

What only a GPU can confirm: that cuDNN and cuBLAS really skip TF32 under these flags (the
flags are what PyTorch documents), and the speed and agreement of bf16 / fp16 on each GPU.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.torch_version import TorchVersion

from sam2_backend import ImagePredictor, SAM2Model, VideoTracker
from sam2_backend.build import _specialise
from sam2_backend.devices import resolve_precision
from sam2_backend.modeling import precision as precision_module
from sam2_backend.modeling.precision import exact_fp32, precision_context, store_compute_weights
from sam2_backend.modeling.sam2 import build_sam2
from tests.clips import make_clip
from tests.images import synthetic_image
from tests.models import tiny_model

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
NEW_API = precision_module._new_precision_api()


def fake_gpu(monkeypatch, capability: tuple[int, int]) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)


def fake_mac(monkeypatch, macos_14: bool, torch_version: str) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: macos_14 and major <= 14)
    monkeypatch.setattr(torch, "__version__", TorchVersion(torch_version))


# --------------------------------------------------------------------------- precision per device


@pytest.mark.parametrize("capability, auto", [((7, 0), "fp32"), ((7, 5), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_auto_precision_on_cuda_follows_native_bf16(monkeypatch, capability, auto):
    fake_gpu(monkeypatch, capability)
    assert resolve_precision("auto", CUDA) == resolve_precision(None, CUDA) == auto
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision("fp16", CUDA) == "fp16"  # by choice, on any GPU
        assert resolve_precision("fp32", CUDA) == "fp32"


def test_bf16_on_a_gpu_without_it_is_kept_but_warned_of(monkeypatch):
    fake_gpu(monkeypatch, (7, 5))  # a T4
    with pytest.warns(RuntimeWarning, match=r"capability 7\.5\) has no native bf16.*'fp32'.*'fp16'") as record:
        assert resolve_precision("bf16", CUDA) == "bf16"
    assert record[0].filename == __file__  # names the caller's line
    fake_gpu(monkeypatch, (8, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision(torch.bfloat16, CUDA) == "bf16"


def test_mps_is_fp32_by_default_and_bf16_only_where_supported(monkeypatch):
    fake_mac(monkeypatch, macos_14=True, torch_version="2.7.0")
    assert resolve_precision("auto", MPS) == "fp32"
    assert resolve_precision("bf16", MPS) == "bf16"
    assert resolve_precision("fp16", MPS) == "fp16"
    fake_mac(monkeypatch, macos_14=False, torch_version="2.7.0")
    with pytest.raises(ValueError, match=r"needs macOS 14 or newer\. Use precision='fp32'"):
        resolve_precision("bf16", MPS)
    fake_mac(monkeypatch, macos_14=True, torch_version="2.5.1")
    with pytest.raises(ValueError, match=r"needs torch 2\.6 or newer \(this is 2\.5\.1\)"):
        resolve_precision("bf16", MPS)
    assert resolve_precision("auto", MPS) == "fp32"


def test_cpu_keeps_its_policy(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", _no_gpu)  # the CPU never asks
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    with pytest.raises(ValueError, match="Unsupported precision"):
        resolve_precision("int8", CPU)


def _no_gpu(device=None):
    raise AssertionError("asked for a GPU's capability")


# --------------------------------------------------------------------------- exact means exact


@pytest.fixture
def tf32_allowed():
    """The process's TF32 flags as a user may have set them (TF32 on for both), put back afterwards."""
    saved = precision_module._tf32_flags()
    precision_module._set_tf32_flags(("tf32", "tf32" if NEW_API else "high"))
    yield precision_module._tf32_flags()
    precision_module._set_tf32_flags(saved)


def _exact_flags() -> tuple[str, str]:
    return ("ieee", "ieee") if NEW_API else ("ieee", "highest")


def test_exact_model_calls_on_cuda_run_without_tf32(tf32_allowed, monkeypatch):
    model = tiny_model(128, device="cpu")
    monkeypatch.setattr(SAM2Model, "device", property(lambda self: CUDA))  # as if the model were on a GPU
    with model.autocast():
        assert precision_module._tf32_flags() == _exact_flags()
        assert not torch.is_autocast_enabled("cuda")
    assert precision_module._tf32_flags() == tf32_allowed  # the user's settings are back


def test_autocast_model_calls_leave_tf32_alone(tf32_allowed, monkeypatch):
    model = build_sam2(tiny_model(128, device="cpu").config, precision="bf16")
    monkeypatch.setattr(SAM2Model, "device", property(lambda self: CUDA))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available, disabling autocast" on this machine
        with model.autocast():
            assert precision_module._tf32_flags() == tf32_allowed


def test_exact_fp32_elsewhere_changes_nothing(tf32_allowed):
    with precision_context("fp32", CPU), precision_context("fp32", MPS):
        assert precision_module._tf32_flags() == tf32_allowed


def test_exact_blocks_in_several_threads_restore_the_flags_when_the_last_ends(tf32_allowed):
    entered, release = threading.Event(), threading.Event()
    seen = []

    def other_worker():
        with exact_fp32():
            entered.set()
            release.wait(10)
            seen.append(precision_module._tf32_flags())

    thread = threading.Thread(target=other_worker)
    with exact_fp32():
        thread.start()
        assert entered.wait(10)
    assert precision_module._tf32_flags() == _exact_flags()  # the other thread's model still runs
    release.set()
    thread.join(10)
    assert seen == [_exact_flags()]
    assert precision_module._tf32_flags() == tf32_allowed


def test_exact_fp32_with_the_older_flags(monkeypatch):
    """torch before 2.9 has only ``cudnn.allow_tf32`` and the float32 matmul precision."""
    monkeypatch.setattr(precision_module, "_new_precision_api", lambda: False)
    saved = precision_module._tf32_flags()
    try:
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        with exact_fp32():
            assert torch.backends.cudnn.allow_tf32 is False
            assert torch.get_float32_matmul_precision() == "highest"
        assert torch.backends.cudnn.allow_tf32 is True
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        precision_module._set_tf32_flags(saved)


# --------------------------------------------------------------------------- weights in the compute dtype


def _autocast_twins(precision: str = "bf16") -> tuple[SAM2Model, SAM2Model]:
    """Two plain autocast models with the same weights: the second stored as on a CUDA GPU."""
    base = tiny_model(128, device="cpu")
    plain = build_sam2(base.config, precision=precision).eval()
    stored = build_sam2(base.config, precision=precision).eval()
    for model in (plain, stored):
        model.load_state_dict(base.state_dict())
    _specialise(stored, "cuda")  # what load_model does for a bf16 model on a CUDA GPU
    return plain, stored


def test_a_cuda_autocast_model_stores_linear_and_conv_weights_in_its_dtype():
    plain, stored = _autocast_twins("fp16")
    layers = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Conv1d)
    compute = {
        f"{name}.{p}" for name, m in stored.named_modules() if isinstance(m, layers) for p, _ in m.named_parameters()
    }
    dtypes = {name: t.dtype for name, t in stored.named_parameters()}
    assert compute and {dtypes[n] for n in compute} == {torch.float16}
    kept = {n: d for n, d in dtypes.items() if n not in compute}
    assert set(kept.values()) == {torch.float32}
    # norms, learned embeddings and tokens, position tables stay fp32, as under autocast
    for name in (
        "no_mem_embed",
        "maskmem_tpos_enc",
        "image_encoder.trunk.pos_embed",
        "sam_mask_decoder.iou_token.weight",
    ):
        assert kept[name] == torch.float32, name
    assert any(".norm" in n for n in kept) and list(stored.state_dict()) == list(plain.state_dict())
    assert {t.dtype for t in plain.state_dict().values()} == {torch.float32}
    exact = tiny_model(128, device="cpu")
    _specialise(exact, "cuda")  # an exact model is left as it is
    assert {t.dtype for t in exact.state_dict().values()} == {torch.float32}


def test_stored_weights_give_what_autocast_gives_on_images():
    """Autocast rounds fp32 weights to bf16 on every call; rounding them once gives the same logits
    (on the CPU, where both run; CUDA's kernels are the same for both too, but unchecked here)."""
    plain, stored = _autocast_twins()
    image = synthetic_image(100, 120)
    logits = []
    for model in (plain, stored):
        pred = ImagePredictor(model)
        pred.set_image(image)
        logits.append(pred.predict(points=[[50, 40]], labels=[1]).logits)
    assert not (logits[0] == 0).all()
    np.testing.assert_array_equal(logits[0], logits[1])  # the same roundings, the same sums


def test_stored_weights_give_what_autocast_gives_when_tracking():
    plain, stored = _autocast_twins()
    outs = []
    for model in (plain, stored):
        trk = VideoTracker(model, make_clip(4))
        trk.add_points(0, 1, [[20, 40]], [1])
        tracked = [masks[1] for _, masks in trk.propagate()]
        outs.append((tracked, [trk.frame_output(f, 1)[0] for f in range(4)]))
        trk.close()
    (masks0, logits0), (masks1, logits1) = outs
    assert sum(m.any() for m in masks0) > 0
    for a, b in zip(logits0, logits1):
        np.testing.assert_array_equal(a, b)


def test_store_compute_weights_touches_only_those_layers():
    block = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Embedding(3, 4), nn.Conv2d(1, 1, 1))
    store_compute_weights(block, torch.bfloat16)
    assert [p.dtype for p in block.parameters()] == [torch.bfloat16] * 2 + [torch.float32] * 3 + [torch.bfloat16] * 2
