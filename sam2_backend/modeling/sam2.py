"""The SAM 2 model: the parts that hold weights, composed, plus the image path.

``SAM2Model`` owns every tensor of an official checkpoint under the official
names, so ``load_state_dict(strict=True)`` works on the files from the hub.
EdgeTAM is the same model with a RepViT trunk (``repvit.py``), two memory-attention
layers and a spatial perceiver (``perceiver.py``) that compresses each memory.
Tracking logic (memory bank, per-frame steps) lives in ``sam2_backend.video``
and only calls into the parts here.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
from torch import nn

from ..configs import HieraConfig, ModelConfig
from .common import MLP
from .hiera import Hiera
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention
from .memory_encoder import MemoryEncoder
from .neck import BackboneOutput, FpnNeck, ImageEncoder
from .perceiver import SpatialPerceiver
from .position_encoding import PositionEmbeddingSine
from .precision import AUTOCAST_DTYPES, Precision, precision_context
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
    """All SAM 2 / 2.1 (or EdgeTAM) weights, under the official state-dict names.

    Built by :func:`build_sam2` from a :class:`ModelConfig`; the config stays
    available as ``model.config``, the precision it computes in as ``model.precision``.

    Args:
        precision: ``"fp32"`` (exact), or ``"bf16"`` / ``"fp16"``: the predictors and
            the tracker run the model under autocast to that dtype (weights stay fp32).
            ``load_model`` gives a ``"bf16"`` model on a CPU the fast CPU path
            (``fast_cpu.prepare_bf16_cpu``), and a bf16 / fp16 model on CUDA its Linear
            and Conv weights in that dtype (``precision.store_compute_weights``).
        spatial_perceiver: EdgeTAM's memory compressor (``None`` for SAM 2).
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
        precision: Precision = "fp32",
        spatial_perceiver: SpatialPerceiver | None = None,
    ) -> None:
        super().__init__()
        if precision != "fp32" and precision not in AUTOCAST_DTYPES:
            raise ValueError(f"precision must be 'fp32', 'bf16' or 'fp16'; got {precision!r}.")
        self.config = config
        self._precision = precision
        self._checkpoint_path: str | None = None
        self._compiled: set[str] = set()  # the parts compile_parts has compiled, by attribute name
        hidden, mem = config.d_model, config.mem_dim
        self.image_encoder = image_encoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        self.sam_prompt_encoder = prompt_encoder
        self.sam_mask_decoder = mask_decoder
        self.spatial_perceiver = spatial_perceiver

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

    @property
    def precision(self) -> Precision:
        """What the model computes in, chosen when it is built or loaded (``load_model(precision=...)``)."""
        return self._precision

    @property
    def checkpoint_path(self) -> str | None:
        """The file the weights came from (see :meth:`load_checkpoint_state`); ``None`` for random weights."""
        return self._checkpoint_path

    def load_checkpoint_state(self, state_dict: dict[str, torch.Tensor], path: str) -> None:
        """Load a checkpoint's tensors strictly and remember the file they came from."""
        self.load_state_dict(state_dict, strict=True)
        self._checkpoint_path = path

    def autocast(self):
        """The context the predictors and the tracker run the model in: autocast to the
        model's precision on its device for ``"bf16"`` / ``"fp16"``; for ``"fp32"`` on CUDA,
        TF32 off for the duration (exact fp32, see ``modeling/precision.py``), else nothing."""
        return precision_context(self.precision, self.device)

    def forward_image(self, images: torch.Tensor) -> BackboneOutput:
        """Run the image encoder on normalised images (B, 3, S, S).

        Returns the encoder's ``BackboneOutput`` with the two high-resolution levels
        projected by the decoder's ``conv_s0``/``conv_s1``, as the official model does,
        so repeated clicks do not recompute them.
        """
        out = self.image_encoder(images)
        if not self.sam_mask_decoder.use_high_res_features:
            return out
        fpn = list(out.backbone_fpn)
        fpn[0] = self.sam_mask_decoder.conv_s0(fpn[0])
        fpn[1] = self.sam_mask_decoder.conv_s1(fpn[1])
        return out._replace(backbone_fpn=fpn)

    def compile_parts(self, *, video: bool = False) -> None:
        """``torch.compile`` the image encoder and the mask decoder (and with ``video``
        the memory encoder and memory attention) in place. The first call of each part is
        slow (tens of seconds on CPU).

        Each part is compiled once: every predictor and tracker made with ``compile=True``
        shares the parts compiled before. The mask decoder is compiled for fixed shapes, as
        the official code does (it measured an accuracy loss with dynamic ones): each new
        number of prompt tokens compiles once more, up to torch's recompile limit, past
        which that call runs eager. The memory attention takes dynamic shapes (the number
        of memories changes from frame to frame).

        On CPU, weights are frozen into the compiled graphs (inductor ``freezing``),
        which lets oneDNN pre-pack them: load weights before compiling, not after. On MPS
        (no stable inductor backend) and for bf16 on a CUDA GPU without native bf16
        (Triton cannot generate bf16 code there) it warns and leaves the model eager.
        """
        refusal = self._compile_refusal()
        if refusal is not None:
            warnings.warn(f"compile=True is ignored: {refusal}; the model runs eager.", RuntimeWarning, stacklevel=3)
            return
        options = {"freezing": True} if self.device.type == "cpu" else None
        names = {id(module): name for name, module in self.named_children()}
        for part, dynamic in self._compiled_parts(video):
            name = names[id(part)]
            if name not in self._compiled:
                part.compile(dynamic=dynamic, options=options)
                self._compiled.add(name)

    def _compiled_parts(self, video: bool) -> list[tuple[nn.Module, bool]]:
        """(part, dynamic shapes) for :meth:`compile_parts`."""
        parts = [(self.image_encoder, False), (self.sam_mask_decoder, False)]
        if video:
            parts += [(self.memory_encoder, False), (self.memory_attention, True)]
        return parts

    def _compile_refusal(self) -> str | None:
        """Why this model should not be compiled where it is, or None."""
        if self.device.type == "mps":
            return "torch.compile has no stable backend for Apple GPUs (MPS)"
        if self.device.type == "cuda" and self.precision == "bf16":
            major, minor = torch.cuda.get_device_capability(self.device)
            if major < 8:
                return f"Triton cannot generate bf16 kernels for this GPU (compute capability {major}.{minor})"
        return None

    def image_features(self, images: torch.Tensor) -> ImageFeatures:
        """Features for prompting single images (no memory): see :class:`ImageFeatures`."""
        out = self.forward_image(images)
        embed = out.backbone_fpn[-1]
        # A frame without memory gets the learned "no memory" embedding at every position.
        embed = embed + self.no_mem_embed.view(1, -1, 1, 1)
        return ImageFeatures(embed, list(out.backbone_fpn[:-1]))


def _trunc_normal(*shape: int) -> torch.Tensor:
    return nn.init.trunc_normal_(torch.empty(shape), std=0.02)


def build_image_encoder(config: ModelConfig) -> ImageEncoder:
    """The trunk (Hiera, or EdgeTAM's RepViT) and FPN neck of ``config``, random weights
    (keys ``trunk.*``, ``neck.*``)."""
    if isinstance(config.trunk, HieraConfig):
        trunk: nn.Module = Hiera.from_config(config.trunk)
    else:
        from .repvit import RepViTTrunk  # imports timm: only when an EdgeTAM model is built

        trunk = RepViTTrunk(config.trunk)
    neck = FpnNeck(
        position_encoding=PositionEmbeddingSine(config.d_model),
        d_model=config.d_model,
        backbone_channel_list=list(config.trunk.channel_list),
        fpn_top_down_levels=list(config.fpn_top_down_levels),
    )
    return ImageEncoder(trunk=trunk, neck=neck, scalp=config.scalp)


def build_sam_heads(config: ModelConfig) -> tuple[PromptEncoder, MaskDecoder]:
    """The prompt encoder and mask decoder of ``config``, random weights."""
    d = config.d_model
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
    return prompt_encoder, mask_decoder


def build_sam2(config: ModelConfig, *, precision: Precision = "fp32") -> SAM2Model:
    """Compose a SAM 2 (or EdgeTAM) model with random weights for ``config`` (on CPU, fp32 weights).

    The parts are made in a fixed order (encoder, heads, memory attention, memory
    encoder, then EdgeTAM's perceiver), so a seeded build always draws the same random
    weights: tests, examples and benchmarks pick seeds whose random masks suit them."""
    image_encoder = build_image_encoder(config)
    prompt_encoder, mask_decoder = build_sam_heads(config)
    perceiver = config.spatial_perceiver
    memory_attention = MemoryAttention(
        d_model=config.d_model,
        num_layers=config.memory_attention_layers,
        dim_feedforward=config.memory_attention_ffn_dim,
        kv_in_dim=config.mem_dim,
        rope_theta=config.rope_theta,
        memory_latents=None if perceiver is None else (perceiver.num_latents, perceiver.grid_side),
    )
    memory_encoder = MemoryEncoder(in_dim=config.d_model, out_dim=config.mem_dim)
    return SAM2Model(
        config=config,
        image_encoder=image_encoder,
        memory_attention=memory_attention,
        memory_encoder=memory_encoder,
        prompt_encoder=prompt_encoder,
        mask_decoder=mask_decoder,
        precision=precision,
        spatial_perceiver=None if perceiver is None else SpatialPerceiver(perceiver),
    )
