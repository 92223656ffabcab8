"""The precision policy on a real CUDA GPU (collected with SAM2_TEST_DEVICE=cuda; never run yet).

The CPU proves the policy with fakes (tests/backend/test_precision_policy.py); these check what
the fakes cannot: the GPU's own capability, that cuDNN and cuBLAS really compute in IEEE fp32
inside an exact model call, and that weights stored in bf16 on the GPU give autocast's answers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sam2_backend import ImagePredictor, VideoTracker, build_model, get_config
from sam2_backend.modeling import precision
from sam2_backend.modeling.precision import exact_fp32
from sam2_backend.modeling.sam2 import build_sam2
from tests.backend.reference import randomize_
from tests.clips import make_clip
from tests.images import synthetic_image
from tests.models import TEST_DEVICE

DEVICE = torch.device(TEST_DEVICE)
CONFIG = get_config("tiny").replace(image_size=256)


def test_auto_follows_this_gpus_capability():
    # Asked here, not at import: benchmarks/gpu.sh --dry-run collects this module without a GPU.
    native_bf16 = torch.cuda.get_device_capability(DEVICE) >= (8, 0)
    assert build_model(CONFIG, device=DEVICE).precision == ("bf16" if native_bf16 else "fp32")


@pytest.fixture
def tf32_allowed():
    """TF32 allowed for convolutions and matmuls (tests/conftest.py turns it off for the whole run)."""
    saved = precision._tf32_flags()
    precision._set_tf32_flags(("tf32", "tf32" if precision._new_precision_api() else "high"))
    yield
    precision._set_tf32_flags(saved)


def test_exact_calls_compute_in_ieee_fp32(tf32_allowed):
    """TF32 keeps 10 mantissa bits: relative errors near 1e-3 against float64; IEEE fp32 near 1e-6."""
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(1, 64, 64, 64, generator=gen), torch.randn(128, 64, 3, 3, generator=gen)
    a, b = torch.randn(512, 1024, generator=gen), torch.randn(1024, 512, generator=gen)
    conv_ref = F.conv2d(x.double(), w.double(), padding=1)
    mm_ref = a.double() @ b.double()
    with exact_fp32():
        conv = F.conv2d(x.to(DEVICE), w.to(DEVICE), padding=1).cpu().double()
        mm = (a.to(DEVICE) @ b.to(DEVICE)).cpu().double()
    for name, got, ref in (("conv", conv, conv_ref), ("matmul", mm, mm_ref)):
        err = ((got - ref).abs().max() / ref.abs().max()).item()
        print(f"{name} inside exact_fp32 on {torch.cuda.get_device_name(DEVICE)}: relative error {err:.2g}")
        assert err < 1e-5, name


@pytest.fixture(scope="module")
def twins():
    """bf16 models with the same weights: as load_model places them (Linear/Conv weights stored in
    bf16) and as plain autocast would run them (every weight fp32)."""
    base = randomize_(build_model(CONFIG, device="cpu", precision="fp32"), seed=0)
    stored = build_model(CONFIG, device=DEVICE, precision="bf16")
    plain = build_sam2(CONFIG, precision="bf16").to(DEVICE).eval()  # not placed by build_model: fp32 weights
    for model in (stored, plain):
        model.load_state_dict(base.state_dict())
    return stored, plain


def test_bf16_weights_are_stored_in_bf16_on_the_gpu(twins):
    stored, plain = twins
    linear = {m.weight.dtype for m in stored.modules() if isinstance(m, (nn.Linear, nn.Conv2d))}
    norms = {m.weight.dtype for m in stored.modules() if isinstance(m, nn.LayerNorm)}
    assert linear == {torch.bfloat16} and norms == {torch.float32}
    assert stored.no_mem_embed.dtype == torch.float32
    assert {p.dtype for p in plain.parameters()} == {torch.float32}


def test_stored_weights_give_autocasts_masks(twins):
    image = synthetic_image(180, 240)
    logits = []
    for model in twins:
        pred = ImagePredictor(model)
        pred.set_image(image)
        logits.append(pred.predict(points=[[70, 72]], labels=[1]).logits)
    diff = np.abs(logits[0] - logits[1]).max()
    print(f"stored bf16 weights vs autocast's casts: max |logit difference| {diff:.3g}")
    assert diff < 1e-2  # CALIBRATE: the same roundings; only kernel choices may differ


def test_tracking_with_stored_bf16_weights(twins):
    trk = VideoTracker(twins[0], make_clip(6))
    trk.add_points(0, 1, [[20, 40]], [1])
    assert any(masks[1].any() for _, masks in trk.propagate())
    trk.close()
