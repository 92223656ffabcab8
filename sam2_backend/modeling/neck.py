"""The FPN neck and the image encoder (trunk + neck) of SAM 2.

The neck projects every trunk stage to ``d_model`` channels with a 1x1 conv and,
for a chosen subset of levels, adds the 2x nearest-upsampled result of the level
below (coarser) it. Each output level also gets a fixed sine position encoding.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class BackboneOutput(NamedTuple):
    """What the image encoder hands to the rest of SAM 2.

    ``backbone_fpn`` and ``vision_pos_enc`` are lists of (B, d_model, H_i, W_i),
    highest resolution first; ``vision_features`` is the last (coarsest kept) level.
    """

    vision_features: torch.Tensor
    vision_pos_enc: list[torch.Tensor]
    backbone_fpn: list[torch.Tensor]


class FpnNeck(nn.Module):
    """Feature pyramid over the trunk outputs, without output convs.

    Args:
        position_encoding: module mapping a (B, C, H, W) map to its (B, d_model, H, W) encoding.
        d_model: output channels of every level.
        backbone_channel_list: trunk channels per level, lowest resolution first.
        fpn_top_down_levels: output levels (0 = highest resolution) that receive the
            upsampled coarser features; the others keep only their lateral projection.
    """

    def __init__(
        self,
        *,
        position_encoding: nn.Module,
        d_model: int,
        backbone_channel_list: list[int],
        fpn_top_down_levels: tuple[int, ...],
    ) -> None:
        super().__init__()
        self.position_encoding = position_encoding
        self.d_model = d_model
        self.backbone_channel_list = list(backbone_channel_list)
        self.fpn_top_down_levels = tuple(fpn_top_down_levels)
        # convs[j] projects the j-th coarsest level; the Sequential wrapper only
        # exists so the keys read ``convs.N.conv.*`` as in the checkpoints.
        self.convs = nn.ModuleList(
            nn.Sequential(OrderedDict(conv=nn.Conv2d(dim, d_model, kernel_size=1)))
            for dim in self.backbone_channel_list
        )

    def forward(self, xs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Trunk maps (highest resolution first) -> (features, position encodings), same order."""
        if len(xs) != len(self.convs):
            raise ValueError(f"expected {len(self.convs)} trunk levels, got {len(xs)}")
        n = len(xs)
        features: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        pos: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        coarser = None
        for level in reversed(range(n)):  # coarsest first, so the top-down path is ready
            lateral = self.convs[n - 1 - level].conv(xs[level])  # (B, d_model, H_l, W_l)
            if coarser is not None and level in self.fpn_top_down_levels:
                # Upsample in fp32 so half-precision runs keep the same sums.
                coarser = lateral + F.interpolate(coarser.float(), scale_factor=2.0, mode="nearest")
            else:
                coarser = lateral
            features[level] = coarser
            pos[level] = self.position_encoding(coarser).to(coarser.dtype)
        return features, pos


class ImageEncoder(nn.Module):
    """Trunk + FPN neck: (B, 3, H, W) image -> :class:`BackboneOutput`.

    Args:
        trunk: the Hiera trunk (exposes ``channel_list``).
        neck: the :class:`FpnNeck`.
        scalp: how many of the coarsest levels to drop from the output.
    """

    def __init__(self, *, trunk: nn.Module, neck: FpnNeck, scalp: int = 0) -> None:
        super().__init__()
        if list(trunk.channel_list) != list(neck.backbone_channel_list):
            raise ValueError(
                f"trunk channels {trunk.channel_list} do not match neck channels {neck.backbone_channel_list}"
            )
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp

    def forward(self, image: torch.Tensor) -> BackboneOutput:
        features, pos = self.neck(self.trunk(image))
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return BackboneOutput(vision_features=features[-1], vision_pos_enc=pos, backbone_fpn=features)
