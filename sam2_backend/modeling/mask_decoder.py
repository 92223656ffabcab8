"""Mask decoder of the SAM heads: image embedding + prompt tokens -> mask logits.

Learned output tokens (optional object-score token, IoU token, 1 + K mask
tokens) are prepended to the prompt tokens and run through the two-way
transformer together with the image. Each mask token then becomes, through its
own MLP, a set of weights that is dotted with the 4x upsampled image features
to give one mask.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .common import MLP, LayerNorm2d


class DecoderOutput(NamedTuple):
    """What the mask decoder returns.

    masks: (B, M, 4h, 4w) mask logits; M = K with multimask output, else 1.
    iou_pred: (B, M) predicted IoU of each mask.
    sam_tokens: (B, K or 1, C) mask-token outputs used for object pointers.
    object_score_logits: (B, 1) logit that the object is present.
    """

    masks: torch.Tensor
    iou_pred: torch.Tensor
    sam_tokens: torch.Tensor
    object_score_logits: torch.Tensor


class MaskDecoder(nn.Module):
    """Predicts masks, their IoU and an object score from image and prompt embeddings.

    Args:
        transformer_dim: width C of tokens and image embedding.
        transformer: the two-way transformer (``TwoWayTransformer``).
        num_multimask_outputs: K, masks returned in multimask mode; one more
            token predicts the single-mask output.
        iou_head_depth / iou_head_hidden_dim: the IoU prediction MLP.
        use_high_res_features: add stride-4/8 backbone features while upsampling
            (``conv_s0``/``conv_s1`` project them; the caller applies them).
        iou_prediction_use_sigmoid: squash IoU predictions into (0, 1).
        pred_obj_scores: predict an object-presence logit from an extra token.
        pred_obj_scores_mlp: use a 3-layer MLP instead of a linear layer for it.
        use_multimask_token_for_obj_ptr: in multimask mode return the K
            multimask tokens as ``sam_tokens`` instead of the single-mask token.
        dynamic_multimask_via_stability: in single-mask mode, replace an
            unstable single mask with the best-scoring multimask output.
        dynamic_multimask_stability_delta: logit offset of the stability score.
        dynamic_multimask_stability_thresh: stability below this triggers the fallback.
    """

    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
        use_high_res_features: bool,
        iou_prediction_use_sigmoid: bool,
        pred_obj_scores: bool,
        pred_obj_scores_mlp: bool,
        use_multimask_token_for_obj_ptr: bool,
        dynamic_multimask_via_stability: bool,
        dynamic_multimask_stability_delta: float,
        dynamic_multimask_stability_thresh: float,
    ) -> None:
        super().__init__()
        dim = transformer_dim
        self.transformer_dim = dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        self.num_mask_tokens = num_multimask_outputs + 1

        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.pred_obj_scores = pred_obj_scores
        if pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, dim)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr

        # Two transposed convs: (B, C, h, w) -> (B, C/8, 4h, 4w).
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
            self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)

        self.output_hypernetworks_mlps = nn.ModuleList(MLP(dim, dim, dim // 8, 3) for _ in range(self.num_mask_tokens))
        self.iou_prediction_head = MLP(
            dim,
            iou_head_hidden_dim,
            self.num_mask_tokens,
            iou_head_depth,
            sigmoid_output=iou_prediction_use_sigmoid,
        )
        if pred_obj_scores:
            self.pred_obj_score_head = MLP(dim, dim, 1, 3) if pred_obj_scores_mlp else nn.Linear(dim, 1)

        self.dynamic_multimask_via_stability = dynamic_multimask_via_stability
        self.dynamic_multimask_stability_delta = dynamic_multimask_stability_delta
        self.dynamic_multimask_stability_thresh = dynamic_multimask_stability_thresh

    def forward(
        self,
        *,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool,
        repeat_image: bool,
        high_res_features: list[torch.Tensor] | None = None,
    ) -> DecoderOutput:
        """Predict masks for a batch of prompts.

        Args:
            image_embeddings: (B_img, C, h, w); B_img = B unless ``repeat_image``.
            image_pe: (1, C, h, w) from ``PromptEncoder.get_dense_pe()``.
            sparse_prompt_embeddings: (B, N, C) prompt tokens.
            dense_prompt_embeddings: (B, C, h, w) mask-prompt embedding.
            multimask_output: return the K multimask outputs instead of one mask.
            repeat_image: repeat each image for every prompt in the batch
                (several prompts on one image).
            high_res_features: [(B_img, C/8, 4h, 4w), (B_img, C/4, 2h, 2w)],
                already projected by ``conv_s0``/``conv_s1``; required when
                ``use_high_res_features``.
        """
        masks, iou_pred, mask_tokens_out, object_score_logits = self._predict(
            image_embeddings,
            image_pe,
            sparse_prompt_embeddings,
            dense_prompt_embeddings,
            repeat_image,
            high_res_features,
        )

        if multimask_output:
            masks, iou_pred = masks[:, 1:], iou_pred[:, 1:]
        elif self.dynamic_multimask_via_stability:
            masks, iou_pred = self._stable_single_mask(masks, iou_pred)
        else:
            masks, iou_pred = masks[:, :1], iou_pred[:, :1]

        # The single-mask token serves as object memory unless configured otherwise,
        # even when the single mask itself was swapped for a multimask output.
        if multimask_output and self.use_multimask_token_for_obj_ptr:
            sam_tokens = mask_tokens_out[:, 1:]  # (B, K, C)
        else:
            sam_tokens = mask_tokens_out[:, :1]  # (B, 1, C)
        return DecoderOutput(masks, iou_pred, sam_tokens, object_score_logits)

    def _predict(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        repeat_image: bool,
        high_res_features: list[torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs of all 1 + K mask tokens.

        Returns masks (B, 1+K, 4h, 4w), IoUs (B, 1+K), mask tokens (B, 1+K, C)
        and object-score logits (B, 1).
        """
        learned = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            learned.insert(0, self.obj_score_token.weight)
        first = 1 if self.pred_obj_scores else 0  # index of the IoU token
        batch = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat(learned).unsqueeze(0).expand(batch, -1, -1)
        tokens = torch.cat([output_tokens, sparse_prompt_embeddings], dim=1)  # (B, T, C)

        if repeat_image:
            src = torch.repeat_interleave(image_embeddings, batch, dim=0)
        else:
            if image_embeddings.shape[0] != batch:
                raise ValueError("image and prompt batch sizes differ; use repeat_image=True")
            src = image_embeddings
        src = src + dense_prompt_embeddings  # (B, C, h, w)
        if image_pe.shape[0] != 1:
            raise ValueError("image_pe must have batch size 1 (from get_dense_pe())")
        pos_src = image_pe.expand(batch, -1, -1, -1)
        b, c, h, w = src.shape

        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, first]  # (B, C)
        mask_tokens_out = hs[:, first + 1 : first + 1 + self.num_mask_tokens]  # (B, 1+K, C)

        src = src.transpose(1, 2).reshape(b, c, h, w)
        up1, norm1, act1, up2, act2 = self.output_upscaling
        x = up1(src)  # (B, C/4, 2h, 2w)
        if self.use_high_res_features:
            feat_s0, feat_s1 = high_res_features
            x = x + feat_s1
        x = up2(act1(norm1(x)))  # (B, C/8, 4h, 4w)
        if self.use_high_res_features:
            x = x + feat_s0
        upscaled = act2(x)

        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )  # (B, 1+K, C/8)
        masks = (hyper_in @ upscaled.flatten(2)).unflatten(2, upscaled.shape[-2:])

        iou_pred = self.iou_prediction_head(iou_token_out)
        if self.pred_obj_scores:
            object_score_logits = self.pred_obj_score_head(hs[:, 0])
        else:
            # Without a score head the object is taken as present (sigmoid(10) ~ 1).
            object_score_logits = iou_pred.new_full((iou_pred.shape[0], 1), 10.0)
        return masks, iou_pred, mask_tokens_out, object_score_logits

    def _stability_scores(self, mask_logits: torch.Tensor) -> torch.Tensor:
        """IoU between the masks thresholded at +delta and -delta: (B, M, H, W) -> (B, M)."""
        logits = mask_logits.flatten(-2)
        delta = self.dynamic_multimask_stability_delta
        inner = (logits > delta).sum(-1).float()
        outer = (logits > -delta).sum(-1).float()
        return torch.where(outer > 0, inner / outer, 1.0)

    def _stable_single_mask(self, masks: torch.Tensor, iou_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Single-mask output, replaced per item by the multimask output with the
        highest predicted IoU when the single mask is unstable.
        (B, 1+K, H, W), (B, 1+K) -> (B, 1, H, W), (B, 1)."""
        multi_iou = iou_pred[:, 1:]
        best = multi_iou.argmax(dim=-1, keepdim=True)  # (B, 1)
        best_masks = masks[:, 1:].gather(1, best[:, :, None, None].expand(-1, -1, *masks.shape[-2:]))  # (B, 1, H, W)
        best_iou = multi_iou.gather(1, best)  # (B, 1)

        single_masks, single_iou = masks[:, :1], iou_pred[:, :1]
        stability = self._stability_scores(single_masks)  # (B, 1)
        stable = stability >= self.dynamic_multimask_stability_thresh
        masks_out = torch.where(stable[..., None, None], single_masks, best_masks)
        iou_out = torch.where(stable, single_iou, best_iou)
        return masks_out, iou_out
