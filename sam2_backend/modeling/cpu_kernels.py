"""Faster kernels for bf16 inference on CPUs: attention and linear + activation.

They serve the fast CPU path (``load_model(precision="bf16")`` on a CPU, installed by
``fast_cpu.py``): its image encoder holds bf16 weights, the rest runs under CPU bf16
autocast. Anywhere else, fp32, CUDA, training and ``torch.compile`` included, the
same functions fall back to the plain PyTorch ops.

Why: PyTorch's CPU flash-attention kernel runs no faster in bf16 than in fp32
(~150 ms per 4096-token global block of the tiny trunk on a 2-core AVX-512
machine), while a bf16 batched matmul runs at twice the fp32 rate. Attention as
two matmuls and a softmax, in chunks of queries so the score matrix stays in
cache, takes ~95 ms there, and ~half the kernel's time on the trunk's small
windows. The scores are rounded to bf16 before the softmax (the flash kernel
keeps them in fp32); benchmarks/README.md reports what that adds to the deviation.
A fused linear + GELU (oneDNN post-op) saves a pass over the widest activations.
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


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Softmax attention without mask or dropout: q (..., Nq, c), k and v (..., Nk, c)."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        # What autocast would do for scaled_dot_product_attention.
        dtype = torch.get_autocast_dtype("cpu")
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
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


# The activations oneDNN can fuse into a linear layer, by module type.
_FUSABLE = {nn.GELU: "gelu", nn.ReLU: "relu"}


def linear_act(x: torch.Tensor, layer: nn.Linear, act: nn.Module) -> torch.Tensor:
    """``act(layer(x))``, as one oneDNN call on the bf16 CPU path."""
    name = _FUSABLE.get(type(act))
    if (
        name is None
        or getattr(act, "approximate", "none") != "none"
        or not fast_bf16_cpu(x, layer.weight)
        or not onednn_bf16()
    ):
        return act(layer(x))
    algorithm = "none" if name == "gelu" else ""
    return torch.ops.mkldnn._linear_pointwise(x, layer.weight, layer.bias, name, [], algorithm)
