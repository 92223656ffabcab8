"""The bf16 CPU kernels of the fast path (modeling/cpu_kernels.py and the strips and
folded projections built on them) compute what the plain ops compute."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sam2_backend import ImagePredictor, build_model
from sam2_backend.configs import get_config
from sam2_backend.modeling import cpu_kernels, hiera
from sam2_backend.modeling.cpu_kernels import attention, linear_act
from sam2_backend.modeling.hiera import MultiScaleBlock
from tests.conftest import synthetic_image

BF16 = torch.bfloat16
_SDPA = F.scaled_dot_product_attention  # before any test replaces it


def _qkv(*shape: int, scale: float = 1.0, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen) * s for s in (scale, scale, 1.0)]


def _exact(q, k, v):
    q, k, v = q.double(), k.double(), v.double()
    return ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).softmax(-1).matmul(v).float()


@pytest.fixture
def no_flash(monkeypatch):
    """Fail any call of the SDPA kernel: the bf16 CPU path must not reach it."""

    def refuse(*args, **kwargs):
        raise AssertionError("scaled_dot_product_attention was called on the bf16 CPU path")

    monkeypatch.setattr(cpu_kernels.F, "scaled_dot_product_attention", refuse)


@pytest.mark.parametrize(
    "shape",
    [
        (25, 4, 196, 196, 96),  # stage-3 windows: one product
        (1, 4, 4096, 4096, 96),  # a global block at 1024: chunks of 256 queries
        (2, 3, 1000, 3000, 32),  # chunks that do not divide the queries
        (1, 8, 4096, 8, 16),  # the decoder's image-to-token attention
    ],
)
def test_bf16_attention_matches_exact_attention(shape, no_flash):
    batch, heads, n_q, n_k, c = shape
    q, _, _ = _qkv(batch, heads, n_q, c, scale=2.0)
    _, k, v = _qkv(batch, heads, n_k, c, scale=2.0, seed=1)
    want = _exact(q, k, v)
    with torch.inference_mode():
        got = attention(q.to(BF16), k.to(BF16), v.to(BF16))
    assert got.dtype == BF16 and got.shape == want.shape
    # Scores with a standard deviation of 4 (peaked, like trained attention) are rounded
    # to bf16 before the softmax, where PyTorch's kernel keeps them in fp32.
    err = (got.float() - want).abs()
    kernel_err = (_SDPA(q.to(BF16), k.to(BF16), v.to(BF16)).float() - want).abs()
    # Measured: twice the kernel's mean error (0.0046 vs 0.0023, outputs of size ~1).
    assert err.mean() < 3 * kernel_err.mean() and err.max() < 4 * kernel_err.max()


def test_attention_falls_back_to_sdpa_off_the_bf16_cpu_path():
    q, k, v = _qkv(2, 4, 50, 16)
    with torch.inference_mode():
        assert torch.equal(attention(q, k, v), F.scaled_dot_product_attention(q, k, v))  # fp32
    qb, kb, vb = (t.to(BF16) for t in (q, k, v))
    # With autograd on (training), the plain op runs.
    assert torch.equal(attention(qb, kb, vb), F.scaled_dot_product_attention(qb, kb, vb))


def test_attention_under_cpu_autocast_takes_the_bf16_path(no_flash):
    q, k, v = _qkv(1, 1, 300, 64)
    with torch.inference_mode(), torch.autocast("cpu", dtype=BF16):
        got = attention(q, k, v)  # fp32 inputs, as after RoPE: cast like autocast would
    assert got.dtype == BF16
    assert (got.float() - _exact(q, k, v)).abs().max() < 0.03


@pytest.mark.parametrize("act", [nn.GELU(), nn.ReLU()])
def test_fused_linear_activation_matches_the_two_ops(act):
    layer = nn.Linear(96, 384).to(BF16)
    x = torch.randn(2, 16, 16, 96).to(BF16)
    with torch.inference_mode():
        got = linear_act(x, layer, act)
        want = act(F.linear(x.float(), layer.weight.float(), layer.bias.float()))
    assert got.dtype == BF16 and got.shape == want.shape
    # One bf16 rounding of the output (the two-op path rounds twice).
    torch.testing.assert_close(got.float(), want, atol=0.02, rtol=0.01)


def test_linear_activation_without_a_fused_form_runs_the_two_ops(monkeypatch):
    layer = nn.Linear(8, 4).to(BF16)
    x = torch.randn(3, 8).to(BF16)
    tanh_gelu = nn.GELU(approximate="tanh")
    with torch.inference_mode():
        assert torch.equal(linear_act(x, layer, tanh_gelu), tanh_gelu(layer(x)))
        fp32 = nn.Linear(8, 4)
        assert torch.equal(linear_act(x.float(), fp32, nn.GELU()), F.gelu(fp32(x.float())))
        # A CPU where oneDNN refuses bf16 (no AVX-512): the plain ops, not an error.
        monkeypatch.setattr(cpu_kernels, "onednn_bf16", lambda: False)
        assert torch.equal(linear_act(x, layer, nn.GELU()), F.gelu(layer(x)))


@pytest.mark.parametrize("q_stride", [None, 2])
def test_windowed_block_in_strips_equals_the_whole_map(monkeypatch, q_stride):
    torch.manual_seed(0)
    block = MultiScaleBlock(dim=32, dim_out=64 if q_stride else 32, num_heads=2, window_size=8, q_stride=q_stride)
    block = block.to(BF16).eval()
    x = torch.randn(1, 37, 20, 32).to(BF16)  # neither side a multiple of the window
    monkeypatch.setattr(hiera, "_STRIP_TOKENS", 160)  # one row of windows per strip
    with torch.inference_mode():
        assert block._strip_rows(x) == 8
        strips = block(x)
        whole = block._forward(x)
    assert strips.shape == whole.shape == ((1, 18, 10, 64) if q_stride else (1, 37, 20, 32))
    # The same sums; a matmul over fewer rows may round some outputs by one bf16 step.
    diff = (strips.float() - whole.float()).abs()
    assert diff.max() <= 0.05 and diff.mean() < 2e-3, (diff.max(), diff.mean())


def test_fast_cpu_predictor_stays_close_to_fp32(monkeypatch):
    """The whole fast path at the full 1024 input (chunked global attention, strips,
    folded high-resolution projections) against the exact fp32 path."""
    cfg = get_config("tiny")
    exact = build_model(cfg, device="cpu")
    fast = build_model(cfg, device="cpu", dtype="bf16")
    fast.load_state_dict(exact.state_dict())
    image = synthetic_image(600, 800, seed=3)
    outs = []
    for model in (exact, fast):
        pred = ImagePredictor(model)
        pred.set_image(image)
        out = pred.predict(points=[[300, 200], [500, 420]], labels=[1, 0], multimask=True)
        outs.append((pred._features[0], out))
    (f_exact, p_exact), (f_fast, p_fast) = outs
    for a, b in zip(f_exact.high_res_feats + [f_exact.image_embed], f_fast.high_res_feats + [f_fast.image_embed]):
        assert b.dtype == torch.float32 and a.shape == b.shape
        rel = (a - b).abs().mean() / a.abs().mean()
        assert 0 < rel < 0.02, rel  # bf16 ran; mean error ~1 % of the features' size
    diff = np.abs(p_exact.logits - p_fast.logits)
    scale = np.abs(p_exact.logits).max()
    assert 0 < diff.max() < 0.05 * scale, (diff.max(), scale)
    assert (p_exact.masks == p_fast.masks).mean() > 0.99
