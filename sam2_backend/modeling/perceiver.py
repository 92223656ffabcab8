"""EdgeTAM's spatial perceiver: a frame's memory map compressed into a few latent tokens.

A SAM 2 memory is the full (mem_dim, h, w) map (4096 tokens at 1024). EdgeTAM
stores instead, per frame, two sets of learned latents after they attended to the map:

- global latents (``latents``) that cross-attend to every position, with the
  map's sine position encoding added to keys and values; they carry no position
  of their own (zeros) and are not rotated in memory attention;
- local latents (``latents_2d``), one per cell of a square grid: each attends only to
  its window of the map, so it keeps a place, encoded as a sine encoding of the grid
  (and RoPE on that grid in memory attention).

Output: (B, num_latents + num_latents_2d, dim) tokens, global first; their
position encoding (``latent_pos``) is the same for every frame. Key names match the official checkpoint
(``spatial_perceiver.layers.N.attn.to_q``, ``...ff.1``, ``...self_attn.to_kv``, ``norm``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..configs import PerceiverConfig
from .position_encoding import PositionEmbeddingSine


def _feed_forward(dim: int, mult: int) -> nn.Sequential:
    # Indices 0, 1, 3 hold the weights (``ff.0``, ``ff.1``, ``ff.3``); no biases in the linears.
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, dim * mult, bias=False),
        nn.GELU(),
        nn.Linear(dim * mult, dim, bias=False),
    )


class _LatentAttention(nn.Module):
    """Single-projection attention of the perceiver: ``to_q`` and a joint ``to_kv``, no biases.

    As cross-attention (``cross=True``) the latents query normalised inputs, and an
    optional position encoding is added to both keys and values after projection.
    As self-attention the latents attend to themselves.
    """

    def __init__(self, dim: int, dim_head: int, heads: int, *, cross: bool) -> None:
        super().__init__()
        inner = dim_head * heads
        self.heads = heads
        if cross:
            self.norm_x = nn.LayerNorm(dim)
            self.norm_latents = nn.LayerNorm(dim)
        else:
            self.norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, heads, N, c)

    def _attend(self, q: torch.Tensor, kv: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
        k, v = self.to_kv(kv).chunk(2, dim=-1)
        q, k, v = self._heads(self.to_q(q)), self._heads(k), self._heads(v)
        if pos is not None:
            pos = self._heads(pos)
            k, v = k + pos, v + pos
        out = F.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).flatten(2))

    def cross(self, latents: torch.Tensor, x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
        """latents (B, L, dim) attend to x (B, N, dim); pos (B, N, dim) or None."""
        return self._attend(self.norm_latents(latents), self.norm_x(x), pos)

    def self_attend(self, latents: torch.Tensor) -> torch.Tensor:
        h = self.norm(latents)
        return self._attend(h, h, None)


class PerceiverLayer(nn.Module):
    """Latents: cross-attention to the memory map, FFN, then (optionally) self-attention and FFN, residual."""

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__()
        c = config
        self.attn = _LatentAttention(c.dim, c.dim_head, c.heads, cross=True)
        self.ff = _feed_forward(c.dim, c.ff_mult)
        if c.use_self_attn:
            self.self_attn = _LatentAttention(c.dim, c.dim_head, c.heads, cross=False)
            self.self_ff = _feed_forward(c.dim, c.ff_mult)
        else:
            self.self_attn = self.self_ff = None

    def forward(self, latents: torch.Tensor, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        latents = latents + self.attn.cross(latents, x, pos)
        latents = latents + self.ff(latents)
        if self.self_attn is not None:
            latents = latents + self.self_attn.self_attend(latents)
            latents = latents + self.self_ff(latents)
        return latents


class SpatialPerceiver(nn.Module):
    """(B, dim, h, w) memory map and its position encoding -> latent tokens and theirs.

    Args:
        config: the perceiver's sizes; ``h`` and ``w`` must be multiples of its grid side.
    """

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__()
        self.config = config
        self.latents = nn.Parameter(torch.randn(config.num_latents, config.dim))
        self.latents_2d = nn.Parameter(torch.randn(config.num_latents_2d, config.dim))
        self.position_encoding = PositionEmbeddingSine(config.dim)
        self.layers = nn.ModuleList(PerceiverLayer(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """x and its position encoding pos (B, dim, h, w) -> latents (B, L, dim), global first.

        Their position encoding depends on nothing but the layout: :meth:`latent_pos`.
        """
        return torch.cat([self._global(x, pos), self._local(x)], dim=1)

    def _global(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        latents = self.latents.expand(x.shape[0], -1, -1)
        x = x.flatten(2).transpose(1, 2)  # (B, hw, dim), row-major
        pos = pos.flatten(2).transpose(1, 2)
        for layer in self.layers:
            latents = layer(latents, x, pos)
        return self.norm(latents)

    def _local(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        side = self.config.grid_side
        wh, ww = h // side, w // side
        if wh * side != h or ww * side != w:
            raise ValueError(f"a {h}x{w} memory map does not split into {side}x{side} windows")
        # One window per grid cell, row-major; each cell's latent attends to its window's pixels.
        windows = x.reshape(b, c, side, wh, side, ww).permute(0, 2, 4, 3, 5, 1).reshape(b * side * side, wh * ww, c)
        latents = self.latents_2d.expand(b, -1, -1).reshape(b * side * side, 1, c)
        for layer in self.layers:
            latents = layer(latents, windows)
        return self.norm(latents.reshape(b, side * side, c))

    def latent_pos(self, batch: int, device: torch.device) -> torch.Tensor:
        """(batch, L, dim) position encoding of the latents: zeros for the global ones,
        the sine encoding of the grid for the local ones (fp32; it depends on nothing else)."""
        c = self.config
        probe = torch.empty(1, c.dim, c.grid_side, c.grid_side, device=device)
        grid_pos = self.position_encoding(probe).flatten(2).transpose(1, 2)  # (1, n2d, dim)
        zeros = grid_pos.new_zeros(1, c.num_latents, c.dim)
        return torch.cat([zeros, grid_pos], dim=1).expand(batch, -1, -1)
