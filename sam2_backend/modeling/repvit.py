"""EdgeTAM's image trunk: a RepViT from timm, as a four-level feature extractor.

timm builds the network (``features_only=True``), so the parameter names under
``body.`` and the numerics are timm's by construction, as in the official EdgeTAM
checkpoint (``image_encoder.trunk.body.*``). timm is imported only here, when an
EdgeTAM model is built, so SAM 2 users never pay for importing it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..configs import RepViTConfig


class RepViTTrunk(nn.Module):
    """(B, 3, S, S) image -> four feature maps at strides 4, 8, 16, 32, highest resolution first.

    Random weights (timm's initialisation); load a checkpoint to use it. Exposes
    ``channel_list`` (lowest resolution first), as the neck expects.
    """

    def __init__(self, config: RepViTConfig) -> None:
        super().__init__()
        try:
            import timm
        except ImportError as e:
            raise ImportError("EdgeTAM's RepViT trunk is built by timm: `pip install timm` (>= 1.0).") from e
        levels = tuple(range(len(config.channels)))
        self.body = timm.create_model(
            config.timm_name, pretrained=False, in_chans=3, features_only=True, out_indices=levels
        )
        channels = tuple(self.body.feature_info.channels())
        if channels != tuple(config.channels):
            raise ValueError(f"timm's {config.timm_name} has channels {channels}, the config says {config.channels}")
        self.channel_list = list(config.channel_list)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.body(x))
