"""Memory encoder: fuses a frame's image features with its predicted mask into a
compact spatial memory (``mem_dim`` channels at stride 16) plus its position encoding.

Key names match the official checkpoints' ``memory_encoder.*`` entries.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .common import LayerNorm2d
from .position_encoding import PositionEmbeddingSine


class MemoryEncoderOutput(NamedTuple):
    vision_features: torch.Tensor  # (B, out_dim, h, w)
    vision_pos_enc: torch.Tensor  # (B, out_dim, h, w)


class MaskDownSampler(nn.Module):
    """Shrink a full-resolution mask to the feature grid with strided convs.

    Each step divides H and W by ``stride`` and multiplies channels by ``stride**2``
    (conv -> channel LayerNorm -> GELU), until the total stride is reached; a 1x1 conv
    then maps to ``embed_dim``. With the official numbers (stride 2, total 16) the
    keys are ``encoder.{0,1,3,4,6,7,9,10,12}`` (GELUs hold no weights).

    Args:
        embed_dim: output channels.
        kernel_size, stride, padding: of each downsampling conv.
        total_stride: overall downsampling factor; must be a power of ``stride``.
    """

    def __init__(
        self,
        *,
        embed_dim: int = 256,
        kernel_size: int = 3,
        stride: int = 2,
        padding: int = 1,
        total_stride: int = 16,
    ) -> None:
        super().__init__()
        num_steps = round(math.log(total_stride, stride))
        if stride**num_steps != total_stride:
            raise ValueError(f"total_stride {total_stride} is not a power of stride {stride}")
        layers: list[nn.Module] = []
        channels = 1
        for _ in range(num_steps):
            out_channels = channels * stride**2
            layers += [
                nn.Conv2d(channels, out_channels, kernel_size, stride=stride, padding=padding),
                LayerNorm2d(out_channels),
                nn.GELU(),
            ]
            channels = out_channels
        layers.append(nn.Conv2d(channels, embed_dim, kernel_size=1))
        self.encoder = nn.Sequential(*layers)

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, embed_dim, H / total_stride, W / total_stride)."""
        return self.encoder(mask)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise conv, channel LayerNorm, pointwise MLP, layer scale, residual.

    Args:
        dim: channels.
        kernel_size, padding: of the depthwise conv.
    """

    def __init__(self, *, dim: int = 256, kernel_size: int = 7, padding: int = 3) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=padding, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        # Pointwise convs as linear layers on channels-last tensors (checkpoint layout).
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        h = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)  # (B, H, W, C)
        h = self.gamma * self.pwconv2(self.act(self.pwconv1(h)))
        return x + h.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """``num_layers`` :class:`CXBlock` applied in sequence (keys ``layers.N.*``)."""

    def __init__(self, *, dim: int = 256, num_layers: int = 2, kernel_size: int = 7, padding: int = 3) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            CXBlock(dim=dim, kernel_size=kernel_size, padding=padding) for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """Encode (image features, mask) into one frame's spatial memory.

    Args:
        in_dim: channels of the image features (``d_model``).
        out_dim: channels of the memory (``mem_dim``).
        mask_stride: total downsampling of the mask (the image features' stride).
        fuser_layers: ConvNeXt blocks in the fuser.
    """

    def __init__(
        self,
        *,
        in_dim: int = 256,
        out_dim: int = 64,
        mask_stride: int = 16,
        fuser_layers: int = 2,
    ) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(embed_dim=in_dim, total_stride=mask_stride)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(dim=in_dim, num_layers=fuser_layers)
        # Every official model shrinks 256 -> 64 here, so out_proj is always a conv.
        self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.position_encoding = PositionEmbeddingSine(out_dim)

    def forward(
        self, pix_feat: torch.Tensor, masks: torch.Tensor, skip_mask_sigmoid: bool = False
    ) -> MemoryEncoderOutput:
        """pix_feat (B, in_dim, h, w) and mask logits (B, 1, H, W), H = mask_stride * h.

        ``skip_mask_sigmoid=True`` when the caller already turned logits into the
        (scaled) probabilities the encoder expects, as the tracker does.
        """
        if not skip_mask_sigmoid:
            # Probabilities look more like the binary masks seen in training than logits.
            masks = torch.sigmoid(masks)
        x = self.pix_feat_proj(pix_feat) + self.mask_downsampler(masks)
        x = self.out_proj(self.fuser(x))  # (B, out_dim, h, w)
        pos = self.position_encoding(x).to(x.dtype)
        return MemoryEncoderOutput(x, pos)
