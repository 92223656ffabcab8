"""Multi-head attention with separate q/k/v projections, plain and with axial RoPE.

Key names (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``) match the official
checkpoints.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .position_encoding import apply_rope, axial_rope_angles


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
        # Angles depend only on the grid size; cached per (tokens, device), never saved.
        self._rope_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _rope(self, num_tokens: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (num_tokens, device)
        if key not in self._rope_cache:
            side = int(math.isqrt(num_tokens))
            if side * side != num_tokens:
                raise ValueError(f"RoPE needs a square token grid, got {num_tokens} tokens")
            angles = axial_rope_angles(self.internal_dim // self.num_heads, side, side, self.rope_theta).to(device)
            self._rope_cache[key] = (angles.cos(), angles.sin())
        return self._rope_cache[key]

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0) -> torch.Tensor:
        q = self._heads(self.q_proj(q))
        k = self._heads(self.k_proj(k))
        v = self._heads(self.v_proj(v))
        cos, sin = self._rope(q.shape[-2], q.device)
        q = apply_rope(q, cos, sin)
        num_k_rope = k.shape[-2] - num_k_exclude_rope
        if num_k_rope > 0:
            repeats = num_k_rope // q.shape[-2]
            if repeats != 1 and not self.rope_k_repeat:
                raise ValueError("keys and queries differ in length but rope_k_repeat is off")
            k_rope = apply_rope(k[:, :, :num_k_rope], cos.repeat(repeats, 1), sin.repeat(repeats, 1))
            k = torch.cat([k_rope, k[:, :, num_k_rope:]], dim=2)
        return self._output(q, k, v)
