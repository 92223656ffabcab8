"""Memory attention: conditions the current frame's image features on past memories.

The current frame's stride-16 tokens attend to themselves, then to the memory bank
(spatial memories of earlier frames, each an H*W grid of ``mem_dim`` channels,
followed by object-pointer tokens). Both attentions use 2-D axial RoPE; object
pointers have no spatial position and are left unrotated. In EdgeTAM each memory
frame is a set of perceiver latents instead of the grid, and the cross-attention
rotates them on their own grid (:class:`~.latent_rope_attention.LatentRoPEAttention`).

Key names match the official checkpoints (``layers.N.self_attn.*``,
``layers.N.cross_attn_image.*``, ``layers.N.linear1`` ... ``norm3``, ``norm``).
Inference only: the official dropout layers have no weights and are not built.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import RoPEAttention
from .latent_rope_attention import LatentRoPEAttention


class MemoryAttentionLayer(nn.Module):
    """Pre-norm block: RoPE self-attention, RoPE cross-attention to memory, ReLU FFN.

    Args:
        d_model: width of the image tokens.
        dim_feedforward: hidden width of the feed-forward network.
        kv_in_dim: width of the memory tokens (keys/values of the cross-attention).
        num_heads: attention heads of both attentions.
        rope_theta: RoPE frequency base.
        memory_latents: ``None`` when memory frames are image grids (SAM 2); for
            perceiver memories (EdgeTAM), (unrotated global latents, side of the grid
            of local latents) per frame.
    """

    def __init__(
        self,
        *,
        d_model: int = 256,
        dim_feedforward: int = 2048,
        kv_in_dim: int = 64,
        num_heads: int = 1,
        rope_theta: float = 10000.0,
        memory_latents: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.self_attn = RoPEAttention(d_model, num_heads, rope_theta=rope_theta)
        if memory_latents is None:
            # Memory holds several frames back to back, so the query grid's rotation is
            # repeated once per frame along the keys.
            self.cross_attn_image: nn.Module = RoPEAttention(
                d_model, num_heads, rope_theta=rope_theta, rope_k_repeat=True, kv_in_dim=kv_in_dim
            )
        else:
            num_global, grid = memory_latents
            self.cross_attn_image = LatentRoPEAttention(
                d_model, num_heads, num_global=num_global, grid=grid, rope_theta=rope_theta, kv_in_dim=kv_in_dim
            )
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(
        self,
        x: torch.Tensor,
        memory_keys: torch.Tensor,
        memory: torch.Tensor,
        num_k_exclude_rope: int = 0,
    ) -> torch.Tensor:
        """x (B, HW, C); memory_keys = memory + its pos enc and memory, both (B, M, C_kv).

        The last ``num_k_exclude_rope`` memory tokens (object pointers) skip RoPE.
        Returns (B, HW, C).
        """
        # No position encoding on self-attention or cross-attention queries: RoPE
        # alone carries the position there (official config).
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h)
        h = self.norm2(x)
        x = x + self.cross_attn_image(h, memory_keys, memory, num_k_exclude_rope=num_k_exclude_rope)
        h = self.norm3(x)
        return x + self.linear2(F.relu(self.linear1(h)))


class MemoryAttention(nn.Module):
    """A stack of :class:`MemoryAttentionLayer` with a final LayerNorm.

    Args:
        d_model: width of the image tokens.
        num_layers: number of layers.
        dim_feedforward: hidden width of each feed-forward network.
        kv_in_dim: width of the memory tokens (``mem_dim``).
        num_heads: attention heads.
        rope_theta: RoPE frequency base.
        memory_latents: see :class:`MemoryAttentionLayer` (EdgeTAM only).
    """

    def __init__(
        self,
        *,
        d_model: int = 256,
        num_layers: int = 4,
        dim_feedforward: int = 2048,
        kv_in_dim: int = 64,
        num_heads: int = 1,
        rope_theta: float = 10000.0,
        memory_latents: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(
                d_model=d_model,
                dim_feedforward=dim_feedforward,
                kv_in_dim=kv_in_dim,
                num_heads=num_heads,
                rope_theta=rope_theta,
                memory_latents=memory_latents,
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self,
        curr: torch.Tensor,
        memory: torch.Tensor,
        curr_pos: torch.Tensor,
        memory_pos: torch.Tensor,
        num_obj_ptr_tokens: int = 0,
    ) -> torch.Tensor:
        """Condition current-frame tokens on the memory bank.

        Inputs are sequence-first, as the tracker keeps them:
        curr and curr_pos (HW, B, C); memory and memory_pos (M, B, C_kv): the spatial
        memories frame after frame, then ``num_obj_ptr_tokens`` object-pointer tokens.
        Returns (HW, B, C), sequence-first.
        """
        if curr.shape[1] != memory.shape[1]:
            raise ValueError(f"batch size differs: curr has {curr.shape[1]}, memory has {memory.shape[1]}")
        # The image position encoding enters once, scaled down, at the input only.
        x = (curr + 0.1 * curr_pos).transpose(0, 1)  # (B, HW, C)
        # Keys and values are the same for every layer, so build them once.
        memory_keys = (memory + memory_pos).transpose(0, 1)  # (B, M, C_kv)
        memory = memory.transpose(0, 1)
        for layer in self.layers:
            x = layer(x, memory_keys, memory, num_k_exclude_rope=num_obj_ptr_tokens)
        return self.norm(x).transpose(0, 1)
