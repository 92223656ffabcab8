"""The bf16 CPU kernels of the fast path (modeling/cpu_kernels.py) compute what the plain ops compute."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sam2_backend.modeling import cpu_kernels
from sam2_backend.modeling.cpu_kernels import attention, linear_act

pytestmark = pytest.mark.cpu_only("the CPU attention and linear kernels (oneDNN / AMX)")

BF16 = torch.bfloat16
_SDPA = F.scaled_dot_product_attention  # before any test replaces it


def _qkv(*shape: int, scale: float = 1.0, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen) * s for s in (scale, scale, 1.0)]


def _exact(q, k, v):
    q, k, v = q.double(), k.double(), v.double()
    return ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).softmax(-1).matmul(v).float()


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


@pytest.mark.parametrize("act", [nn.GELU(), nn.ReLU()])
def test_fp32_linear_activation_keeps_every_bit_of_the_two_ops(act):
    layer = nn.Linear(96, 384)
    x = torch.randn(2, 32, 32, 96)
    with torch.inference_mode():
        assert torch.equal(linear_act(x, layer, act), act(layer(x)))
    with torch.enable_grad():  # training: the plain ops, gradients intact
        got = linear_act(x, layer, act)
    assert got.requires_grad and torch.equal(got, act(layer(x)))


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
