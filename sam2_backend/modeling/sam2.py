"""The SAM 2 model: the parts that hold weights, composed, plus the image path.

``SAM2Model`` owns every tensor of an official checkpoint under the official
names, so ``load_state_dict(strict=True)`` works on the files from the hub.
Tracking logic (memory bank, per-frame steps) lives in ``sam2_backend.video``
and only calls into the parts here.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch
from torch import nn

from ..configs import ModelConfig
from .common import MLP
from .hiera import Hiera
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention
from .memory_encoder import MemoryEncoder
from .neck import FpnNeck, ImageEncoder
from .position_encoding import PositionEmbeddingSine
from .prompt_encoder import PromptEncoder
from .two_way_transformer import TwoWayTransformer


class ImageFeatures(NamedTuple):
    """Per-image features the prompt decoder needs.

    image_embed: (B, 256, S/16, S/16), with the "no memory" embedding added.
    high_res_feats: [(B, 32, S/4, S/4), (B, 64, S/8, S/8)], already projected.
    """

    image_embed: torch.Tensor
    high_res_feats: list[torch.Tensor]


class SAM2Model(nn.Module):
    """All SAM 2 / 2.1 weights, under the official state-dict names.

    Built by :func:`build_sam2` from a :class:`ModelConfig`; the config stays
    available as ``model.config``.
    """

    def __init__(
        self,
        *,
        config: ModelConfig,
        image_encoder: ImageEncoder,
        memory_attention: MemoryAttention,
        memory_encoder: MemoryEncoder,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
    ) -> None:
        super().__init__()
        self.config = config
        # Precision the predictors compute in (None: bf16 autocast on CUDA, else fp32).
        self.compute_dtype: torch.dtype | None = None
        hidden, mem = config.d_model, config.mem_dim
        self.image_encoder = image_encoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        self.sam_prompt_encoder = prompt_encoder
        self.sam_mask_decoder = mask_decoder

        # Learned embeddings of the tracker; random init only matters for tests.
        self.maskmem_tpos_enc = nn.Parameter(_trunc_normal(config.num_maskmem, 1, 1, mem))
        self.no_mem_embed = nn.Parameter(_trunc_normal(1, 1, hidden))
        self.no_mem_pos_enc = nn.Parameter(_trunc_normal(1, 1, hidden))
        self.no_obj_ptr = nn.Parameter(_trunc_normal(1, hidden))
        if config.no_obj_embed_spatial:
            self.no_obj_embed_spatial = nn.Parameter(_trunc_normal(1, mem))
        else:
            self.no_obj_embed_spatial = None
        # Turns a mask prompt (image resolution) into decoder-scale logits.
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.obj_ptr_proj = MLP(hidden, hidden, hidden, 3)
        if config.proj_tpos_enc_in_obj_ptrs:
            self.obj_ptr_tpos_proj: nn.Module = nn.Linear(hidden, mem)
        else:
            self.obj_ptr_tpos_proj = nn.Identity()

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    def autocast(self, precision: str | bool | None = None):
        """The autocast context predictors run in.

        ``precision`` overrides the model's ``compute_dtype``: ``"bf16"`` forces bf16
        autocast, ``False`` exact fp32; ``None`` follows the model (automatic: bf16 on
        CUDA, as the official code, exact fp32 elsewhere).
        """
        device = self.device.type
        if precision == "bf16":
            return torch.autocast(device, dtype=torch.bfloat16)
        if precision is False:
            return contextlib.nullcontext()
        if precision is not None:
            raise ValueError(f"precision must be None, False or 'bf16'; got {precision!r}.")
        dtype = self.compute_dtype
        if dtype is None and device == "cuda":
            dtype = torch.bfloat16
        if dtype is None or dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device, dtype=dtype)

    def forward_image(self, images: torch.Tensor):
        """Run the image encoder on normalised images (B, 3, S, S).

        Returns the encoder's ``BackboneOutput`` with the two high-resolution
        levels already projected by the decoder's ``conv_s0``/``conv_s1``, so
        repeated clicks do not recompute them. An encoder stored in a low precision
        (the fast CPU path of ``load_model(dtype="bf16")``) runs outside autocast in
        its own dtype, as do the two projections; the outputs come back as fp32 like
        the others, and the position encodings are the exact fp32 ones.
        """
        heads = {0: self.sam_mask_decoder.conv_s0, 1: self.sam_mask_decoder.conv_s1}
        encoder_dtype = next(self.image_encoder.parameters()).dtype
        if encoder_dtype == torch.float32:
            return self.image_encoder(images, heads)
        with torch.autocast(images.device.type, enabled=False):
            out = self.image_encoder(images.to(encoder_dtype), heads)
        fpn = [f.float() for f in out.backbone_fpn]
        encode = self.image_encoder.neck.position_encoding
        pos = [encode(p, torch.float32) for p in out.vision_pos_enc]
        return type(out)(vision_features=fpn[-1], vision_pos_enc=pos, backbone_fpn=fpn)

    def compile_parts(self, *, video: bool = False) -> None:
        """``torch.compile`` the image encoder and the mask decoder (and with ``video``
        the other per-frame tracking parts) in place. The first call of each part is
        slow (tens of seconds on CPU).

        On CPU, weights are frozen into the compiled graphs (inductor ``freezing``),
        which lets oneDNN pre-pack them: load weights before compiling, not after.
        A bf16 image encoder on a CPU stays eager: its own kernels
        (``cpu_kernels.py``) are faster than what inductor makes of it.
        """
        cpu = self.device.type == "cpu"
        options = {"freezing": True} if cpu else None
        if not (cpu and next(self.image_encoder.parameters()).dtype == torch.bfloat16):
            self.image_encoder.compile(dynamic=False, options=options)
        # The number of prompt tokens changes from click to click.
        self.sam_mask_decoder.compile(dynamic=True, options=options)
        if video:
            self.memory_encoder.compile(dynamic=False, options=options)
            # The number of memories varies from frame to frame.
            self.memory_attention.compile(dynamic=True, options=options)

    def image_features(self, images: torch.Tensor) -> ImageFeatures:
        """Features for prompting single images (no memory): see :class:`ImageFeatures`."""
        out = self.forward_image(images)
        embed = out.backbone_fpn[-1]
        # A frame without memory gets the learned "no memory" embedding at every position.
        embed = embed + self.no_mem_embed.view(1, -1, 1, 1)
        return ImageFeatures(embed, list(out.backbone_fpn[:-1]))


def _trunc_normal(*shape: int) -> torch.Tensor:
    return nn.init.trunc_normal_(torch.empty(shape), std=0.02)


def build_sam2(config: ModelConfig) -> SAM2Model:
    """Compose a SAM 2 model with random weights for ``config`` (on CPU, fp32)."""
    d = config.d_model
    trunk = Hiera.from_config(config.trunk)
    neck = FpnNeck(
        position_encoding=PositionEmbeddingSine(d),
        d_model=d,
        backbone_channel_list=list(config.trunk.channel_list),
        fpn_top_down_levels=list(config.fpn_top_down_levels),
    )
    embed_size = config.image_size // config.backbone_stride
    prompt_encoder = PromptEncoder(
        embed_dim=d,
        image_embedding_size=(embed_size, embed_size),
        input_image_size=(config.image_size, config.image_size),
        mask_in_chans=16,
    )
    mask_decoder = MaskDecoder(
        transformer_dim=d,
        transformer=TwoWayTransformer(depth=2, embedding_dim=d, num_heads=8, mlp_dim=2048),
        num_multimask_outputs=3,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
        use_high_res_features=config.use_high_res_features_in_sam,
        iou_prediction_use_sigmoid=config.iou_prediction_use_sigmoid,
        pred_obj_scores=config.pred_obj_scores,
        pred_obj_scores_mlp=config.pred_obj_scores_mlp,
        use_multimask_token_for_obj_ptr=config.use_multimask_token_for_obj_ptr,
        dynamic_multimask_via_stability=config.dynamic_multimask_via_stability,
        dynamic_multimask_stability_delta=config.dynamic_multimask_stability_delta,
        dynamic_multimask_stability_thresh=config.dynamic_multimask_stability_thresh,
    )
    memory_attention = MemoryAttention(
        d_model=d,
        num_layers=config.memory_attention_layers,
        dim_feedforward=config.memory_attention_ffn_dim,
        kv_in_dim=config.mem_dim,
        rope_theta=config.rope_theta,
    )
    memory_encoder = MemoryEncoder(in_dim=d, out_dim=config.mem_dim)
    return SAM2Model(
        config=config,
        image_encoder=ImageEncoder(trunk=trunk, neck=neck, scalp=config.scalp),
        memory_attention=memory_attention,
        memory_encoder=memory_encoder,
        prompt_encoder=prompt_encoder,
        mask_decoder=mask_decoder,
    )
