"""Position encodings: 2-D sine (image features), random Fourier (prompts),
1-D sine (object-pointer time) and axial rotary encodings (memory attention).

Nothing here is allocated on a device at construction time; caches are keyed by
device so a CPU model never touches CUDA.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionEmbeddingSine(nn.Module):
    """Fixed 2-D sine/cosine encoding of a feature map's grid (DETR style).

    Args:
        num_pos_feats: output channels; half encode y, half encode x.
        temperature: frequency base.
        normalize: scale grid positions to (0, ``scale``].
        scale: the normalisation range, ``2 * pi`` by default.
    """

    def __init__(
        self,
        num_pos_feats: int,
        *,
        temperature: float = 10000,
        normalize: bool = True,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError("num_pos_feats must be even")
        if scale is not None and not normalize:
            raise ValueError("scale is only used when normalize=True")
        self.num_pos_feats = num_pos_feats // 2
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: dict[tuple, torch.Tensor] = {}

    @torch.no_grad()
    def _grid(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        """The (C, H, W) encoding of an (h, w) grid, in fp32; it depends on nothing else,
        so it is computed once per grid and device."""
        key = (h, w, device)
        if key not in self._cache:
            y = torch.arange(1, h + 1, dtype=torch.float32, device=device)
            x = torch.arange(1, w + 1, dtype=torch.float32, device=device)
            if self.normalize:
                eps = 1e-6
                y = y / (h + eps) * self.scale
                x = x / (w + eps) * self.scale
            dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=device)
            dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats)
            pos_y = _interleave_sin_cos(y[:, None] / dim_t)  # (H, C/2)
            pos_x = _interleave_sin_cos(x[:, None] / dim_t)  # (W, C/2)
            pe = torch.cat(
                (pos_y[:, None, :].expand(h, w, -1), pos_x[None, :, :].expand(h, w, -1)),
                dim=-1,
            )
            self._cache[key] = pe.permute(2, 0, 1).contiguous()  # (C, H, W)
        return self._cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encoding for feature map ``x`` (B, C, H, W): (B, num_pos_feats, H, W) in fp32,
        whatever ``x``'s dtype (the neck casts it, as the official one does)."""
        pe = self._grid(x.shape[-2], x.shape[-1], x.device)
        return pe[None].expand(x.shape[0], -1, -1, -1)


def _interleave_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    """sin of even columns and cos of odd columns, interleaved back in order."""
    return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of normalised (x, y) coordinates, as in SAM."""

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        scale = 1.0 if scale is None or scale <= 0.0 else scale
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _encode(self, coords: torch.Tensor) -> torch.Tensor:
        """Coordinates in [0, 1], shape (..., 2) -> (..., 2 * num_pos_feats)."""
        coords = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        coords = 2 * math.pi * coords
        return torch.cat([coords.sin(), coords.cos()], dim=-1)

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """Encoding of every cell centre of an (H, W) grid: (C, H, W)."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        grid = torch.stack((xs[None, :].expand(h, w), ys[:, None].expand(h, w)), dim=-1)  # (H, W, 2) as (x, y)
        return self._encode(grid).permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """Encode pixel coordinates (B, N, 2) as (x, y) in an image of (H, W)."""
        h, w = image_size
        # Python scalars, not a tensor of them: on a GPU that would be a host -> device copy per call.
        x, y = coords.float().unbind(-1)
        return self._encode(torch.stack((x * (1.0 / w), y * (1.0 / h)), dim=-1))


def get_1d_sine_pe(positions: torch.Tensor, dim: int, temperature: float = 10000) -> torch.Tensor:
    """Transformer-style sine encoding of scalar positions: (...,) -> (..., dim)."""
    half = dim // 2
    dim_t = torch.arange(half, dtype=torch.float32, device=positions.device)
    dim_t = temperature ** (2 * (dim_t // 2) / half)
    angles = positions.unsqueeze(-1) / dim_t
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def axial_rope_angles(dim: int, end_x: int, end_y: int, theta: float = 10000.0) -> torch.Tensor:
    """Rotation angles of 2-D axial RoPE for an (end_y, end_x) grid, row-major.

    Returns (end_x * end_y, dim // 2): the first dim // 4 columns rotate by the
    x position, the rest by the y position; column j rotates channel pair (2j, 2j+1).
    """
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 4)[: dim // 4].float() / dim))
    idx = torch.arange(end_x * end_y, dtype=torch.float32)
    t_x = idx % end_x
    t_y = torch.div(idx, end_x, rounding_mode="floor")
    return torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs of ``x`` (..., L, D) by angles given as cos/sin (L, D/2).

    Real-valued (no complex tensors), so it runs on MPS and exports cleanly.
    """
    x_pairs = x.float().unflatten(-1, (-1, 2))  # (..., L, D/2, 2)
    x_even, x_odd = x_pairs[..., 0], x_pairs[..., 1]
    out = torch.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)
    return out.flatten(-2).type_as(x)
