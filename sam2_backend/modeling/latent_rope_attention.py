"""EdgeTAM's cross-attention from a frame's image tokens to perceiver memories, with axial RoPE.

In SAM 2 every memory frame is an image grid like the queries, so keys are rotated
with the queries' angles repeated per frame (``RoPEAttention(rope_k_repeat=True)``).
An EdgeTAM memory frame is ``num_global`` position-less latents followed by a
``grid x grid`` grid of local latents (``perceiver.py``). So here:

- queries are rotated on their own square grid (``image_size / 16`` per side);
- in each memory frame, the global latents are left as they are and the local
  latents are rotated on the ``grid x grid`` grid, the same angles for every frame;
- the trailing object-pointer tokens (``num_k_exclude_rope``) are not rotated.

Key names are those of :class:`~.attention.Attention` (``q_proj`` ... ``out_proj``).
"""

from __future__ import annotations

import math

import torch

from .attention import Attention
from .position_encoding import apply_rope, axial_rope_angles


class LatentRoPEAttention(Attention):
    """Attention of image tokens (B, HW, C) to perceiver memories with RoPE as described above.

    Args:
        embedding_dim: width of the queries and of the output.
        num_heads: attention heads.
        num_global: leading unrotated latents of each memory frame.
        grid: side of each memory frame's grid of rotated latents.
        rope_theta: RoPE frequency base.
        kv_in_dim: width of the memory tokens.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        *,
        num_global: int,
        grid: int,
        rope_theta: float = 10000.0,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__(embedding_dim, num_heads, kv_in_dim=kv_in_dim)
        self.num_global = num_global
        self.grid = grid
        self.rope_theta = rope_theta
        # cos/sin per (grid side, device); they depend on nothing else and are never saved.
        self._rope_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def tokens_per_frame(self) -> int:
        return self.num_global + self.grid * self.grid

    def _rope(self, side: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (side, device)
        if key not in self._rope_cache:
            head_dim = self.internal_dim // self.num_heads
            angles = axial_rope_angles(head_dim, side, side, self.rope_theta).to(device)
            self._rope_cache[key] = (angles.cos(), angles.sin())
        return self._rope_cache[key]

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0) -> torch.Tensor:
        """q (B, HW, C); k and v (B, M, C_kv): whole memory frames, then ``num_k_exclude_rope`` pointer tokens."""
        q = self._heads(self.q_proj(q))
        k = self._heads(self.k_proj(k))
        v = self._heads(self.v_proj(v))
        side = math.isqrt(q.shape[-2])
        if side * side != q.shape[-2]:
            raise ValueError(f"RoPE needs a square query grid, got {q.shape[-2]} tokens")
        q = apply_rope(q, *self._rope(side, q.device))
        num_frame_tokens = k.shape[-2] - num_k_exclude_rope
        frames, rest = divmod(num_frame_tokens, self.tokens_per_frame)
        if rest:
            raise ValueError(
                f"{num_frame_tokens} memory tokens are not whole frames of {self.tokens_per_frame} perceiver latents"
            )
        if frames:
            b, h, _, c = k.shape
            mem = k[:, :, :num_frame_tokens].reshape(b, h, frames, self.tokens_per_frame, c)
            local = apply_rope(mem[..., self.num_global :, :], *self._rope(self.grid, k.device))
            mem = torch.cat([mem[..., : self.num_global, :], local], dim=-2).reshape(b, h, num_frame_tokens, c)
            k = torch.cat([mem, k[:, :, num_frame_tokens:]], dim=2)
        return self._output(q, k, v)
