"""Multi-head attention with separate q/k/v projections, plain and with axial RoPE.

Key names (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``) match the official
checkpoints.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from .position_encoding import axial_rope_angles


@functools.lru_cache(maxsize=4)
def _rope_tables(head_dim: int, side: int, theta: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D axial RoPE of a ``side`` x ``side`` grid as per-channel tables (side * side, head_dim).

    ``cos`` repeats each pair's cosine on both channels; ``sin`` holds (-sin, sin) per pair,
    so that rotating pairs is ``x * cos + swap_pairs(x) * sin`` (:func:`_rotate`). Shared by
    every attention of one head size and grid, never saved.
    """
    angles = axial_rope_angles(head_dim, side, side, theta).to(device)
    sin = angles.sin()
    return angles.cos().repeat_interleave(2, -1), torch.stack((-sin, sin), -1).flatten(-2)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs of x (..., L, D) by tables (L, D) of :func:`_rope_tables`.

    Computed in fp32 and returned in x's dtype, bit for bit what ``apply_rope`` gives (a * c +
    b * -s rounds as a * c - b * s, and the sums commute), in three passes over contiguous
    channels instead of strided halves, repeated tables and a stack.
    """
    x32 = x.float()
    swapped = x32.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)  # (b, a) for each pair (a, b); a copy
    return (x32 * cos).add_(swapped.mul_(sin)).to(x.dtype)


class Attention(nn.Module):
    """Attention whose internal width may be ``embedding_dim // downsample_rate``.

    Args:
        embedding_dim: width of queries and of the output.
        num_heads: attention heads; must divide the internal width.
        downsample_rate: shrink factor of the internal width.
        dropout: attention dropout (training only).
        kv_in_dim: width of keys/values if it differs from ``embedding_dim``.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        *,
        downsample_rate: int = 1,
        dropout: float = 0.0,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads:
            raise ValueError("num_heads must divide embedding_dim // downsample_rate")
        kv_in_dim = embedding_dim if kv_in_dim is None else kv_in_dim
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(kv_in_dim, self.internal_dim)
        self.v_proj = nn.Linear(kv_in_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)
        self.dropout_p = dropout

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)  # (B, heads, N, C/heads)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Softmax attention per head: q (B, heads, Nq, c), k and v (B, heads, Nk, c) -> (B, heads, Nq, c)."""
        return F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout_p if self.training else 0.0)

    def _output(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.attend(q, k, v).transpose(1, 2).flatten(2))  # (B, Nq, C)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q (B, Nq, C), k and v (B, Nk, C_kv) -> (B, Nq, C)."""
        q = self._heads(self.q_proj(q))
        k = self._heads(self.k_proj(k))
        v = self._heads(self.v_proj(v))
        return self._output(q, k, v)


class RoPEAttention(Attention):
    """Attention with 2-D axial rotary encoding of queries and keys.

    Queries are a square grid of image tokens (row-major). With ``rope_k_repeat``
    the keys are several such grids back to back (one per memory frame), each
    rotated like the queries; the last ``num_k_exclude_rope`` keys (object
    pointers) are not rotated.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        *,
        rope_theta: float = 10000.0,
        rope_k_repeat: bool = False,
        downsample_rate: int = 1,
        dropout: float = 0.0,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__(
            embedding_dim,
            num_heads,
            downsample_rate=downsample_rate,
            dropout=dropout,
            kv_in_dim=kv_in_dim,
        )
        self.rope_theta = rope_theta
        self.rope_k_repeat = rope_k_repeat

    def _rope(self, num_tokens: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The tables of :func:`_rope_tables` for a square grid of ``num_tokens`` queries."""
        side = int(math.isqrt(num_tokens))
        if side * side != num_tokens:
            raise ValueError(f"RoPE needs a square token grid, got {num_tokens} tokens")
        return _rope_tables(self.internal_dim // self.num_heads, side, self.rope_theta, device)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0) -> torch.Tensor:
        q = self._heads(self.q_proj(q))
        cos, sin = self._rope(q.shape[-2], q.device)
        q = _rotate(q, cos, sin)
        k = self._rotated_keys(k, num_k_exclude_rope, cos, sin)
        return self._output_from_values(q, k, v)

    def _rope_repeats(self, num_k_rope: int, num_q: int) -> int:
        """How many query grids the rotated keys span."""
        repeats = num_k_rope // num_q
        if repeats * num_q != num_k_rope:
            raise ValueError(f"{num_k_rope} rotated keys are no whole number of {num_q}-token grids")
        if repeats != 1 and not self.rope_k_repeat:
            raise ValueError("keys and queries differ in length but rope_k_repeat is off")
        return repeats

    def _rotated_keys(
        self, k: torch.Tensor, num_k_exclude_rope: int, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        """Projected keys (B, heads, Nk, C/heads) of k (B, Nk, C_kv); the last ``num_k_exclude_rope`` stay unrotated."""
        k = self._heads(self.k_proj(k))
        num_k_rope = k.shape[-2] - num_k_exclude_rope
        if num_k_rope > 0:
            # One grid of keys per memory frame, each rotated like the query grid (broadcast, not repeated).
            frames = k[:, :, :num_k_rope].unflatten(2, (self._rope_repeats(num_k_rope, cos.shape[0]), -1))
            k = torch.cat([_rotate(frames, cos, sin).flatten(2, 3), k[:, :, num_k_rope:]], dim=2)
        return k

    def _output_from_values(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Output for rotated q and k (B, heads, N, C/heads) and unprojected values v (B, Nk, C_kv)."""
        return self._output(q, k, self._heads(self.v_proj(v)))
