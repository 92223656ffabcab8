"""Faster kernels for inference on CPUs: bf16 attention and linear + activation.

They serve the fast CPU path (``load_model(precision="bf16")`` on a CPU, installed by
``fast_cpu.py``): its image encoder holds bf16 weights, the rest runs under CPU bf16
autocast. The linear + activation also serves fp32 CPU inference. Anywhere
else (CUDA, training, ``torch.compile``) the same functions fall back to the plain
PyTorch ops.

Why: PyTorch's CPU flash-attention kernel runs no faster in bf16 than in fp32
(~150 ms per 4096-token global block of the tiny trunk on a 2-core AVX-512
machine), while a bf16 batched matmul runs at twice the fp32 rate. Attention as
two matmuls and a softmax, in chunks of queries so the score matrix stays in
cache, takes ~95 ms there, and ~half the kernel's time on the trunk's small
windows. The scores are rounded to bf16 before the softmax (the flash kernel
keeps them in fp32); benchmarks/README.md reports what that adds to the deviation.
A fused linear + GELU (oneDNN post-op) saves a pass over the widest activations (the
image encoder's MLPs, ``hiera.py``); in fp32 the GELU runs in place instead, which
keeps the exact path's bits.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

# Scores computed at once: 8 MiB in bf16, e.g. 4 heads x 256 queries x 4096 keys.
_CHUNK_SCORES = 1 << 22


def fast_bf16_cpu(*tensors: torch.Tensor) -> bool:
    """Whether the bf16 CPU kernels apply: bf16 CPU tensors, no autograd, not tracing."""
    return (
        all(t.dtype == torch.bfloat16 and t.device.type == "cpu" for t in tensors)
        and not torch.is_grad_enabled()
        and not torch.compiler.is_compiling()
    )


def _autocast_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype CPU autocast gives ``t`` in scaled_dot_product_attention (its own outside autocast)."""
    if t.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        return torch.get_autocast_dtype("cpu")
    return t.dtype


def attention_is_bf16(q: torch.Tensor) -> bool:
    """Whether :func:`attention` takes the bf16 kernel for queries ``q`` (and keys and values alike)."""
    return (
        q.device.type == "cpu"
        and _autocast_dtype(q) == torch.bfloat16
        and not torch.is_grad_enabled()
        and not torch.compiler.is_compiling()
    )


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention without mask or dropout: q (..., Nq, c), k (..., Nk, c), v (..., Nk, c_v).

    On the bf16 kernel the values may be narrower than the queries (``c_v != c``) and
    broadcast over heads (v (B, 1, Nk, c_v) with q (B, heads, Nq, c)).
    """
    dtype = _autocast_dtype(q)
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)  # what autocast would do for the plain op
    if not fast_bf16_cpu(q, k, v):
        return F.scaled_dot_product_attention(q, k, v)
    q = q * q.shape[-1] ** -0.5
    keys_t = k.transpose(-2, -1)
    n_q, n_k = q.shape[-2], k.shape[-2]
    scores_per_query = q[..., 0, 0].numel() * n_k
    if n_q * scores_per_query <= _CHUNK_SCORES:
        return torch.matmul(torch.matmul(q, keys_t).softmax(-1), v)
    # Transpose the keys once, not once per chunk.
    keys_t = keys_t.contiguous()
    v = v.contiguous()
    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    chunk = max(1, _CHUNK_SCORES // scores_per_query)
    for start in range(0, n_q, chunk):
        rows = slice(start, start + chunk)
        scores = torch.matmul(q[..., rows, :], keys_t)
        torch.matmul(scores.softmax(-1), v, out=out[..., rows, :])
    return out


@functools.cache
def onednn_bf16() -> bool:
    """Whether oneDNN runs bf16 here (it refuses on CPUs without AVX-512 or AVX-NE-CONVERT)."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


# The activations oneDNN can fuse into a linear layer, by module type, and their in-place ops.
_FUSABLE = {nn.GELU: "gelu", nn.ReLU: "relu"}
_IN_PLACE = {nn.GELU: torch.ops.aten.gelu_, nn.ReLU: torch.relu_}


def _cpu_inference(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """CPU tensors of one dtype, no autograd, not tracing, no CPU autocast."""
    return (
        x.device.type == weight.device.type == "cpu"
        and x.dtype == weight.dtype
        and not torch.is_grad_enabled()
        and not torch.compiler.is_compiling()
        and not torch.is_autocast_enabled("cpu")
    )


def linear_act(x: torch.Tensor, layer: nn.Linear, act: nn.Module) -> torch.Tensor:
    """``act(layer(x))``, sparing a pass over its output in CPU inference.

    bf16: one oneDNN call with the activation fused. fp32: the activation in place on the
    linear layer's output, which leaves every bit as the two ops do (oneDNN's fused fp32
    call sums in another order, and the exact path keeps the reference's sums).
    """
    kind = type(act)
    if kind not in _FUSABLE or getattr(act, "approximate", "none") != "none" or not _cpu_inference(x, layer.weight):
        return act(layer(x))
    if x.dtype == torch.float32:
        return _IN_PLACE[kind](layer(x))
    if x.dtype != torch.bfloat16 or not onednn_bf16():
        return act(layer(x))
    algorithm = "none" if kind is nn.GELU else ""
    return torch.ops.mkldnn._linear_pointwise(x, layer.weight, layer.bias, _FUSABLE[kind], [], algorithm)
