"""Prompt encoder of the SAM heads: points, boxes and mask prompts to embeddings.

Points and box corners become "sparse" tokens (random Fourier position encoding
plus a learned per-label embedding); a low-resolution mask prompt becomes a
"dense" map added to the image embedding by the mask decoder.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import LayerNorm2d
from .position_encoding import PositionEmbeddingRandom

# Point labels understood by the encoder.
LABEL_PAD = -1
LABEL_NEGATIVE = 0
LABEL_POSITIVE = 1
LABEL_BOX_TOP_LEFT = 2
LABEL_BOX_BOTTOM_RIGHT = 3


class PromptEncoder(nn.Module):
    """Embeds point, box and mask prompts for the mask decoder.

    Args:
        embed_dim: width C of every prompt embedding.
        image_embedding_size: (h, w) of the image embedding the decoder sees.
        input_image_size: (H, W) of the model input in pixels; point and box
            coordinates are given in this frame.
        mask_in_chans: hidden channels of the mask-prompt downscaler.
    """

    def __init__(
        self,
        *,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.image_embedding_size = tuple(image_embedding_size)
        self.input_image_size = tuple(input_image_size)
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)

        # One learned embedding per label 0..3 (negative, positive, two box corners).
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)

        # Mask prompts are 4x the embedding resolution; two stride-2 convs bring them down.
        self.mask_input_size = (4 * self.image_embedding_size[0], 4 * self.image_embedding_size[1])
        quarter = mask_in_chans // 4
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, quarter, kernel_size=2, stride=2),
            LayerNorm2d(quarter),
            nn.GELU(),
            nn.Conv2d(quarter, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self) -> torch.Tensor:
        """Position encoding of every image-embedding cell: (1, C, h, w)."""
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def _embed_points(self, coords: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """coords (B, N, 2) pixels (x, y), labels (B, N) -> (B, N or N+1, C)."""
        coords = coords + 0.5  # pixel centres
        if pad:
            # Without a box the decoder was trained to see one extra "not a point" token.
            coords = torch.cat([coords, coords.new_zeros(coords.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), LABEL_PAD)], dim=1)
        emb = self.pe_layer.forward_with_coords(coords, self.input_image_size)  # (B, N, C)
        labels = labels[..., None]  # (B, N, 1)
        # Padding tokens carry no position, only the "not a point" embedding.
        emb = torch.where(labels == LABEL_PAD, self.not_a_point_embed.weight, emb)
        for label, table in enumerate(self.point_embeddings):
            emb = torch.where(labels == label, emb + table.weight, emb)
        return emb

    def _embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """boxes (B, 4) as (x0, y0, x1, y1) pixels -> two corner tokens (B, 2, C)."""
        corners = (boxes + 0.5).reshape(-1, 2, 2)  # pixel centres, (B, 2, 2)
        emb = self.pe_layer.forward_with_coords(corners, self.input_image_size)
        corner_embeds = torch.cat(
            [self.point_embeddings[LABEL_BOX_TOP_LEFT].weight, self.point_embeddings[LABEL_BOX_BOTTOM_RIGHT].weight]
        )  # (2, C)
        return emb + corner_embeds

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed any combination of prompts.

        Args:
            points: coords (B, N, 2) in model-input pixels as (x, y) and labels
                (B, N) int: -1 padding, 0 negative, 1 positive, 2/3 box corners.
            boxes: (B, 4) boxes as (x0, y0, x1, y1) pixels.
            masks: (B, 1, 4h, 4w) mask logits at ``mask_input_size``.

        Returns:
            sparse (B, N', C): point tokens (plus a padding token when no box is
                given), then the two box-corner tokens.
            dense (B, C, h, w): the embedded mask, or the learned "no mask"
                embedding broadcast over the grid.
        """
        if points is not None:
            batch = points[0].shape[0]
        elif boxes is not None:
            batch = boxes.shape[0]
        elif masks is not None:
            batch = masks.shape[0]
        else:
            batch = 1

        tokens = []
        if points is not None:
            tokens.append(self._embed_points(*points, pad=boxes is None))
        if boxes is not None:
            tokens.append(self._embed_boxes(boxes))
        if tokens:
            sparse = torch.cat(tokens, dim=1)
        else:
            sparse = self.no_mask_embed.weight.new_empty(batch, 0, self.embed_dim)

        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            h, w = self.image_embedding_size
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, h, w)
        return sparse, dense
