"""The eight official SAM 2 / 2.1 checkpoints and EdgeTAM as plain frozen dataclasses.

Every architecture number and behaviour flag of the official yaml files (plus the
overrides the official builders apply) is a visible field here, so no config
framework is needed to build a model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class HieraConfig:
    """The Hiera trunk: channels, heads and blocks per stage, attention windows."""

    embed_dim: int
    num_heads: int
    stages: tuple[int, ...]
    global_att_blocks: tuple[int, ...]
    window_pos_embed_bkg_spatial_size: tuple[int, int]
    window_spec: tuple[int, ...] = (8, 4, 14, 7)
    q_pool: int = 3
    q_stride: tuple[int, int] = (2, 2)
    dim_mul: float = 2.0
    head_mul: float = 2.0

    @property
    def channel_list(self) -> tuple[int, ...]:
        """Output channels per stage, lowest resolution first (as the neck expects)."""
        dims = [int(self.embed_dim * self.dim_mul**i) for i in range(len(self.stages))]
        return tuple(reversed(dims))


@dataclass(frozen=True)
class RepViTConfig:
    """EdgeTAM's trunk: a timm RepViT, built by timm as a 4-level feature extractor.

    ``channels`` are timm's output channels per level, highest resolution first
    (strides 4, 8, 16, 32); the weights live under ``image_encoder.trunk.body.*``.
    """

    timm_name: str = "repvit_m1.dist_in1k"
    channels: tuple[int, ...] = (48, 96, 192, 384)

    @property
    def channel_list(self) -> tuple[int, ...]:
        """Output channels per level, lowest resolution first (as the neck expects)."""
        return tuple(reversed(self.channels))


@dataclass(frozen=True)
class PerceiverConfig:
    """EdgeTAM's spatial perceiver: compresses each frame's memory into latent tokens.

    ``num_latents`` global latents attend to the whole memory map; ``num_latents_2d``
    local latents (a square grid) each attend to one window of it. A memory becomes
    ``num_latents + num_latents_2d`` tokens of ``dim`` channels.
    """

    depth: int = 2
    dim: int = 64
    dim_head: int = 64
    heads: int = 1
    ff_mult: int = 4
    num_latents: int = 256
    num_latents_2d: int = 256
    use_self_attn: bool = True

    @property
    def grid_side(self) -> int:
        """Side of the square grid of 2-D latents."""
        return math.isqrt(self.num_latents_2d)

    @property
    def tokens_per_memory(self) -> int:
        return self.num_latents + self.num_latents_2d


# Flags of the official yaml files that every official checkpoint sets to the same value.
# They stay visible fields, so a config reads like its yaml, but only this value is built;
# another one is refused when the config is made: {name: (the value, what it means)}.
_FIXED_FLAGS = {
    "directly_add_no_mem_embed": (True, "a frame with no memories adds no_mem_embed to its features"),
    "use_obj_ptrs_in_encoder": (True, "memory attention reads the object pointers of other frames"),
    "use_mlp_for_obj_ptr_proj": (True, "object pointers are projected by a 3-layer MLP"),
    "non_overlap_masks_for_mem_enc": (False, "objects are encoded one by one, so there is no overlap to remove"),
}


@dataclass(frozen=True)
class ModelConfig:
    """One SAM 2 / 2.1 or EdgeTAM checkpoint: architecture, tracking flags and where to get it.

    ``sha256`` is ``None`` where the official file's digest is not recorded here (EdgeTAM):
    such a file is loaded unverified. ``spatial_perceiver`` is set for EdgeTAM only.

    ``directly_add_no_mem_embed``, ``use_obj_ptrs_in_encoder``, ``use_mlp_for_obj_ptr_proj``
    and ``non_overlap_masks_for_mem_enc`` accept only their default (the value of every
    official checkpoint); ``binarize_mask_from_pts_for_mem_enc`` may be switched off.
    """

    name: str
    hub_repo: str
    filename: str
    sha256: str | None
    trunk: HieraConfig | RepViTConfig
    # SAM 2.1 only: a learned "object is absent" embedding added to spatial memories
    # and a signed, projected temporal encoding of object pointers.
    no_obj_embed_spatial: bool
    add_tpos_enc_to_obj_ptrs: bool
    proj_tpos_enc_in_obj_ptrs: bool
    use_signed_tpos_enc_to_obj_ptrs: bool
    image_size: int = 1024
    backbone_stride: int = 16
    d_model: int = 256
    mem_dim: int = 64
    num_maskmem: int = 7
    scalp: int = 1
    fpn_top_down_levels: tuple[int, ...] = (2, 3)
    memory_attention_layers: int = 4
    memory_attention_ffn_dim: int = 2048
    rope_theta: float = 10000.0
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    use_mask_input_as_output_without_sam: bool = True
    directly_add_no_mem_embed: bool = True
    use_high_res_features_in_sam: bool = True
    multimask_output_in_sam: bool = True
    iou_prediction_use_sigmoid: bool = True
    use_obj_ptrs_in_encoder: bool = True
    max_obj_ptrs_in_encoder: int = 16
    only_obj_ptrs_in_the_past_for_eval: bool = True
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    fixed_no_obj_ptr: bool = True
    soft_no_obj_ptr: bool = False
    multimask_output_for_tracking: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    use_mlp_for_obj_ptr_proj: bool = True
    max_cond_frames_in_attn: int = -1
    memory_temporal_stride_for_eval: int = 1
    non_overlap_masks_for_mem_enc: bool = False
    # The official builders switch these on ("apply_postprocessing"). Binarizing: a prompted
    # frame's memory is encoded from its binary mask instead of the sigmoid of its logits.
    binarize_mask_from_pts_for_mem_enc: bool = True
    dynamic_multimask_via_stability: bool = True
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98
    # EdgeTAM: every memory is compressed to perceiver latents before it is stored.
    spatial_perceiver: PerceiverConfig | None = None

    def __post_init__(self) -> None:
        for name, (supported, why) in _FIXED_FLAGS.items():
            value = getattr(self, name)
            if value != supported:
                raise ValueError(
                    f"ModelConfig.{name}={value!r} is not supported: every official SAM 2 / 2.1 checkpoint "
                    f"uses {supported!r} ({why}), the only value this backend implements. Keep the default."
                )
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 32:
            raise ValueError(f"image_size must be a positive multiple of 32 (e.g. 1024), got {size!r}.")
        perceiver = self.spatial_perceiver
        if perceiver is not None:
            side = size // self.backbone_stride
            grid = perceiver.grid_side
            if grid * grid != perceiver.num_latents_2d or side % grid or size % self.backbone_stride:
                raise ValueError(
                    f"image_size={size} does not fit the perceiver: its {perceiver.num_latents_2d} "
                    f"2-D latents need a square grid that divides the {side}x{side} memory map; "
                    f"use a multiple of {self.backbone_stride * max(grid, 1)}."
                )
        if size % 32:
            raise ValueError(
                f"image_size={size} is not supported: the image encoder halves the image five times, "
                f"so it must be a positive multiple of 32 (e.g. {round(size / 32) * 32 or 32})."
            )

    @property
    def version(self) -> str:
        """ "2.1" or "2.0": which generation's tracking flags it has (EdgeTAM's are 2.0's)."""
        return "2.1" if self.name.startswith("sam2.1") else "2.0"

    @property
    def is_edgetam(self) -> bool:
        return self.spatial_perceiver is not None

    def replace(self, **changes) -> ModelConfig:
        """A copy with some fields changed (e.g. a smaller ``image_size`` for tests)."""
        return dataclasses.replace(self, **changes)


_TRUNKS = {
    "tiny": HieraConfig(
        embed_dim=96,
        num_heads=1,
        stages=(1, 2, 7, 2),
        global_att_blocks=(5, 7, 9),
        window_pos_embed_bkg_spatial_size=(7, 7),
    ),
    "small": HieraConfig(
        embed_dim=96,
        num_heads=1,
        stages=(1, 2, 11, 2),
        global_att_blocks=(7, 10, 13),
        window_pos_embed_bkg_spatial_size=(7, 7),
    ),
    "base-plus": HieraConfig(
        embed_dim=112,
        num_heads=2,
        stages=(2, 3, 16, 3),
        global_att_blocks=(12, 16, 20),
        window_pos_embed_bkg_spatial_size=(14, 14),
    ),
    "large": HieraConfig(
        embed_dim=144,
        num_heads=2,
        stages=(2, 6, 36, 4),
        global_att_blocks=(23, 33, 43),
        window_pos_embed_bkg_spatial_size=(7, 7),
        window_spec=(8, 4, 16, 8),
    ),
}

# sha256 of the files on the hub (git-LFS object ids).
_SHA256 = {
    "sam2_hiera_tiny.pt": "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125",
    "sam2_hiera_small.pt": "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3",
    "sam2_hiera_base_plus.pt": "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071",
    "sam2_hiera_large.pt": "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b",
    "sam2.1_hiera_tiny.pt": "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69",
    "sam2.1_hiera_small.pt": "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38",
    "sam2.1_hiera_base_plus.pt": "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
    "sam2.1_hiera_large.pt": "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318",
}


def _make(version: str, size: str) -> ModelConfig:
    prefix = "sam2.1" if version == "2.1" else "sam2"
    filename = f"{prefix}_hiera_{size.replace('-', '_')}.pt"
    is_21 = version == "2.1"
    return ModelConfig(
        name=f"{prefix}-hiera-{size}",
        hub_repo=f"facebook/{prefix}-hiera-{size}",
        filename=filename,
        sha256=_SHA256[filename],
        trunk=_TRUNKS[size],
        no_obj_embed_spatial=is_21,
        add_tpos_enc_to_obj_ptrs=is_21,
        proj_tpos_enc_in_obj_ptrs=is_21,
        use_signed_tpos_enc_to_obj_ptrs=is_21,
    )


SIZES = ("tiny", "small", "base-plus", "large")

# EdgeTAM (facebook/EdgeTAM): a RepViT trunk, two memory-attention layers and a spatial
# perceiver, with SAM 2.0's tracking flags. The digest of edgetam.pt is not recorded here.
EDGETAM = ModelConfig(
    name="edgetam",
    hub_repo="facebook/EdgeTAM",
    filename="edgetam.pt",
    sha256=None,
    trunk=RepViTConfig(),
    no_obj_embed_spatial=False,
    add_tpos_enc_to_obj_ptrs=False,
    proj_tpos_enc_in_obj_ptrs=False,
    use_signed_tpos_enc_to_obj_ptrs=False,
    memory_attention_layers=2,
    spatial_perceiver=PerceiverConfig(),
)

CONFIGS: dict[str, ModelConfig] = {cfg.name: cfg for cfg in (_make(v, s) for v in ("2.1", "2.0") for s in SIZES)}
CONFIGS[EDGETAM.name] = EDGETAM

# Short names people type; SAM 2.1 is the default generation.
_ALIASES = {
    "tiny": "sam2.1-hiera-tiny",
    "t": "sam2.1-hiera-tiny",
    "small": "sam2.1-hiera-small",
    "s": "sam2.1-hiera-small",
    "base-plus": "sam2.1-hiera-base-plus",
    "base_plus": "sam2.1-hiera-base-plus",
    "b+": "sam2.1-hiera-base-plus",
    "large": "sam2.1-hiera-large",
    "l": "sam2.1-hiera-large",
}


def config_names() -> list[str]:
    """Every accepted canonical name, SAM 2.1 first, EdgeTAM last."""
    return list(CONFIGS)


def resolve_name(name: str) -> str | None:
    """Canonical config name for a short name, canonical name, hub id or file name."""
    key = name.strip().lower()
    key = key.removeprefix("facebook/").removesuffix(".pt")
    key = key.replace("_hiera_", "-hiera-").replace("base_plus", "base-plus")
    if key in CONFIGS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    return None


def get_config(name: str) -> ModelConfig:
    """The config for ``name`` (``"tiny"``, ``"sam2-hiera-small"``, ``"facebook/sam2.1-hiera-large"``,
    ``"edgetam"``, ``"facebook/EdgeTAM"``).

    Raises ``ValueError`` listing the valid names when ``name`` is unknown.
    """
    canonical = resolve_name(name)
    if canonical is None:
        valid = ", ".join(config_names() + sorted(_ALIASES))
        raise ValueError(f"Unknown SAM 2 model {name!r}. Valid names: {valid}.")
    return CONFIGS[canonical]
