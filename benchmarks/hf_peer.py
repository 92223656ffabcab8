"""transformers' SAM 2 (``Sam2Model``, ``Sam2VideoModel``) as a benchmark peer, on our weights.

The benchmarks time three implementations on the same random SAM 2.1 tiny weights: ours, the
official ``sam2`` package and transformers. Our state dict uses the official parameter names;
transformers renames most modules, splits the 3-layer MLPs into ``proj_in`` / ``layers`` /
``proj_out``, keeps the four point embeddings in one table and holds the prompt encoder's
Gaussian matrix twice. :func:`to_transformers` maps one onto the other, and the builders load the
result strictly: every parameter of their model filled, every one of ours used (the image model
has no memory modules, so it takes all but those). A silently wrong mapping would make every
timing meaningless, so the benchmarks and ``tests/backend/test_hf_peer.py`` compare the peer's
logits with ours before trusting it (:func:`image_logits`, :func:`VideoPeer`).

The peer's fast path is the model cast to bf16 (what ``from_pretrained(..., dtype=torch.bfloat16)``
gives) with bf16 inputs, as transformers' SAM 2 documentation runs it. On a 2-core Xeon with AMX
that was as fast as bf16 autocast on the fp32 model for the image embeddings (758 vs 790 ms) and
faster for a click (40 vs 48 ms), with the same deviation from fp32.
"""

from __future__ import annotations

import re

import numpy as np
import torch

# (pattern, replacement) applied in order to each official name. Grouped by module; the
# transformer-block rules are written so they touch nothing outside the module they name.
_RENAMES = [
    # Image encoder: the Hiera trunk becomes the "backbone", the FPN convs lose a ".conv" level.
    (r"^image_encoder\.trunk\.", "vision_encoder.backbone."),
    (r"^image_encoder\.neck\.convs\.(\d+)\.conv\.", r"vision_encoder.neck.convs.\1."),
    (r"^(vision_encoder\.backbone)\.patch_embed\.proj\.", r"\1.patch_embed.projection."),
    (r"^(vision_encoder\.backbone\.blocks\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    (r"^(vision_encoder\.backbone\.blocks\.\d+\.mlp)\.layers\.0\.", r"\1.proj_in."),
    (r"^(vision_encoder\.backbone\.blocks\.\d+\.mlp)\.layers\.1\.", r"\1.proj_out."),
    # Prompt encoder (the point embeddings are merged after renaming, see to_transformers).
    (r"^sam_prompt_encoder\.", "prompt_encoder."),
    (
        r"^prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$",
        "prompt_encoder.shared_embedding.positional_embedding",
    ),
    (r"^prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"^prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"^prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"^prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"^prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    # Mask decoder.
    (r"^sam_mask_decoder\.", "mask_decoder."),
    (r"^mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"^mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_layer_norm."),
    (r"^mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
    (r"^(mask_decoder\.transformer\.layers\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    (r"^(mask_decoder\.transformer\.layers\.\d+\.mlp)\.layers\.0\.", r"\1.proj_in."),
    (r"^(mask_decoder\.transformer\.layers\.\d+\.mlp)\.layers\.1\.", r"\1.proj_out."),
    (r"^mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.layer_norm_final_attn."),
    # Memory attention.
    (r"^memory_attention\.norm\.", "memory_attention.layer_norm."),
    (r"^(memory_attention\.layers\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    # Memory encoder: the mask downsampler's Sequential (conv, norm, GELU) x 4 + a 1x1 conv.
    (r"^(memory_encoder\.mask_downsampler)\.encoder\.12\.", r"\1.final_conv."),
    (r"^memory_encoder\.fuser\.", "memory_encoder.memory_fuser."),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.dwconv\.", r"\1.depthwise_conv."),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.pwconv(\d)\.", r"\1.pointwise_conv\2."),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.norm\.", r"\1.layer_norm."),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.gamma$", r"\1.scale"),
    (r"^memory_encoder\.pix_feat_proj\.", "memory_encoder.feature_projection."),
    (r"^memory_encoder\.out_proj\.", "memory_encoder.projection."),
    # Attention output projections, in every attention module that remains.
    (r"\.out_proj\.", ".o_proj."),
    # The model's own tensors.
    (r"^maskmem_tpos_enc$", "memory_temporal_positional_encoding"),
    (r"^no_mem_embed$", "no_memory_embedding"),
    (r"^no_mem_pos_enc$", "no_memory_positional_encoding"),
    (r"^no_obj_embed_spatial$", "occlusion_spatial_embedding_parameter"),
    (r"^no_obj_ptr$", "no_object_pointer"),
    (r"^obj_ptr_tpos_proj\.", "temporal_positional_encoding_projection_layer."),
    (r"^obj_ptr_proj\.", "object_pointer_proj."),
]

# The 3-layer MLPs: transformers names their first and last linear proj_in and proj_out and
# keeps the middle one as layers.0.
_THREE_LAYER_MLPS = (
    r"mask_decoder\.iou_prediction_head",
    r"mask_decoder\.output_hypernetworks_mlps\.\d+",
    r"mask_decoder\.pred_obj_score_head",
    r"object_pointer_proj",
)
_MLP_LAYER = {"0": "proj_in", "1": "layers.0", "2": "proj_out"}

# Modules of the official model that transformers' image model (Sam2Model) does not have.
VIDEO_ONLY = (
    "memory_attention.",
    "memory_encoder.",
    "memory_temporal_positional_encoding",
    "no_memory_positional_encoding",
    "occlusion_spatial_embedding_parameter",
    "no_object_pointer",
    "temporal_positional_encoding_projection_layer.",
    "object_pointer_proj.",
    "mask_downsample.",
)


def _rename(name: str) -> str:
    for pattern, replacement in _RENAMES:
        name = re.sub(pattern, replacement, name)
    downsampler = re.match(r"^(memory_encoder\.mask_downsampler)\.encoder\.(\d+)\.(.*)$", name)
    if downsampler:  # Sequential index 3k is the k-th conv, 3k + 1 its norm (3k + 2 is the GELU)
        prefix, index, rest = downsampler.groups()
        part = "conv" if int(index) % 3 == 0 else "layer_norm"
        name = f"{prefix}.layers.{int(index) // 3}.{part}.{rest}"
    for mlp in _THREE_LAYER_MLPS:
        layer = re.match(rf"^({mlp})\.layers\.(\d)\.(.*)$", name)
        if layer:
            name = f"{layer[1]}.{_MLP_LAYER[layer[2]]}.{layer[3]}"
    return name


def to_transformers(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An official / our SAM 2 state dict under transformers' ``Sam2VideoModel`` names."""
    out: dict[str, torch.Tensor] = {}
    points = {}
    for name, tensor in state_dict.items():
        point = re.match(r"^sam_prompt_encoder\.point_embeddings\.(\d+)\.weight$", name)
        if point:
            points[int(point[1])] = tensor
            continue
        new = _rename(name)
        if new in out:
            raise ValueError(f"two parameters map to {new}")
        out[new] = tensor
    # One (4, C) embedding table instead of four (1, C) embeddings.
    out["prompt_encoder.point_embed.weight"] = torch.cat([points[i] for i in sorted(points)])
    # transformers holds the Gaussian matrix of the positional encoding in two modules.
    out["shared_image_embedding.positional_embedding"] = out["prompt_encoder.shared_embedding.positional_embedding"]
    return out


def _configs(image_size: int):
    """transformers' image and video configs of SAM 2.1 tiny at ``image_size``."""
    from transformers import Sam2Config, Sam2HieraDetConfig, Sam2VideoConfig, Sam2VisionConfig

    # Their defaults are SAM 2.1 tiny's (Hiera stages, windows, global blocks, memory settings);
    # only the input size and what follows from it are set here.
    backbone = Sam2HieraDetConfig(image_size=[image_size, image_size])
    vision = Sam2VisionConfig(
        backbone_config=backbone,
        backbone_feature_sizes=[[image_size // s, image_size // s] for s in (4, 8, 16)],
    )
    prompt = {"image_size": image_size}
    image = Sam2Config(vision_config=vision, prompt_encoder_config=prompt)
    video = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=prompt,
        image_size=image_size,
        memory_attention_rope_feat_sizes=[image_size // 16, image_size // 16],
    )
    return image, video


def _load_strict(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing, unexpected = set(expected) - set(weights), set(weights) - set(expected)
    if missing or unexpected:
        raise ValueError(f"mapping mismatch: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    wrong = [k for k, v in weights.items() if v.shape != expected[k].shape]
    if wrong:
        raise ValueError(f"shape mismatch: {[(k, tuple(weights[k].shape), tuple(expected[k].shape)) for k in wrong]}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in weights.items()}, strict=True)


def build_image_peer(state_dict: dict[str, torch.Tensor], image_size: int = 1024, dtype: torch.dtype = torch.float32):
    """transformers' ``Sam2Model`` with our weights, cast to ``dtype``: all of them but the memory modules'."""
    from transformers import Sam2Model

    mapped = to_transformers(state_dict)
    model = Sam2Model(_configs(image_size)[0]).eval()
    keep = set(model.state_dict())
    left_out = sorted(k for k in mapped if k not in keep)
    stray = [k for k in left_out if not k.startswith(VIDEO_ONLY)]
    if stray:
        raise ValueError(f"weights the image model should have taken: {stray}")
    _load_strict(model, {k: v for k, v in mapped.items() if k in keep})
    return model.to(dtype)


def build_video_peer(state_dict: dict[str, torch.Tensor], image_size: int = 1024, dtype: torch.dtype = torch.float32):
    """transformers' ``Sam2VideoModel`` with every one of our weights, cast to ``dtype``."""
    from transformers import Sam2VideoModel

    model = Sam2VideoModel(_configs(image_size)[1]).eval()
    _load_strict(model, to_transformers(state_dict))
    return model.to(dtype)


# --------------------------------------------------------------------------- running the peer


def image_processor(image_size: int = 1024):
    """transformers' SAM 2 image processor (resize to the model's square input, normalise)."""
    from transformers import Sam2ImageProcessor

    return Sam2ImageProcessor(size={"height": image_size, "width": image_size})


def image_logits(model, pixel_values: torch.Tensor, point_xy: tuple[float, float]) -> torch.Tensor:
    """Low-res multimask logits (1, 3, s, s) for one positive click at ``point_xy`` in model-input pixels."""
    with torch.inference_mode():
        embeddings = model.get_image_embeddings(pixel_values)
        out = model(
            image_embeddings=embeddings,
            input_points=torch.tensor([[[point_xy]]], dtype=torch.float32),
            input_labels=torch.tensor([[[1]]]),
        )
    return out.pred_masks[0].float()


class ImagePeer:
    """transformers' image pipeline as its documentation runs it: the processor resizes and
    normalises the image and scales the clicks, ``get_image_embeddings`` embeds it once, each click
    runs the prompt encoder and mask decoder on those embeddings, and the processor upscales the
    masks to the image's size (ours and the official predictor return them at that size too)."""

    def __init__(self, model, image_size: int = 1024) -> None:
        from transformers import Sam2Processor

        self.model = model
        self.dtype = next(model.parameters()).dtype
        self.processor = Sam2Processor(image_processor=image_processor(image_size))

    def set_image(self, image: np.ndarray) -> None:
        with torch.inference_mode():
            inputs = self.processor(images=image, return_tensors="pt")
            self.original_sizes = inputs["original_sizes"]
            self.embeddings = self.model.get_image_embeddings(inputs["pixel_values"].to(self.dtype))

    def click(self, points: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        """(3, s, s) low-res multimask logits for one object's clicks (x, y) in image pixels."""
        with torch.inference_mode():
            prompt = self.processor(
                input_points=[[points.tolist()]],
                input_labels=[[labels.tolist()]],
                original_sizes=self.original_sizes,
                return_tensors="pt",
            )
            out = self.model(
                image_embeddings=self.embeddings,
                input_points=prompt["input_points"].to(self.dtype),
                input_labels=prompt["input_labels"],
            )
            self.masks = self.processor.post_process_masks(out.pred_masks, self.original_sizes)
        return out.pred_masks[0, 0].float()


class VideoPeer:
    """transformers' video session, driven as its documentation drives it.

    ``frames``: a list of (H, W, 3) uint8 frames that the video processor prepares (for timing),
    or (T, 3, S, S) pixel values already normalised, with ``hw`` the frames' original (H, W), for
    comparing with ours on exactly the same input.
    """

    def __init__(self, model, frames, *, hw=None, dtype: torch.dtype = torch.float32, image_size: int = 1024) -> None:
        from transformers import Sam2VideoInferenceSession, Sam2VideoProcessor, Sam2VideoVideoProcessor

        self.model = model
        self.processor = Sam2VideoProcessor(
            image_processor=image_processor(image_size),
            video_processor=Sam2VideoVideoProcessor(size={"height": image_size, "width": image_size}),
        )
        if isinstance(frames, torch.Tensor):
            self.hw = tuple(hw)
            self.session = Sam2VideoInferenceSession(video=frames, video_height=hw[0], video_width=hw[1], dtype=dtype)
        else:
            self.hw = tuple(frames[0].shape[:2])
            self.session = self.processor.init_video_session(video=frames, dtype=dtype)

    def add_clicks(self, clicks) -> None:
        """One positive click per object on frame 0: ``[(obj_id, (x, y)), ...]`` in the frames' pixels."""
        self.processor.add_inputs_to_inference_session(
            inference_session=self.session,
            frame_idx=0,
            obj_ids=[obj_id for obj_id, _ in clicks],
            input_points=[[[[float(x), float(y)]] for _, (x, y) in clicks]],
            input_labels=[[[1] for _ in clicks]],
        )
        with torch.inference_mode():
            self.model(inference_session=self.session, frame_idx=0)

    def propagate(self):
        """Yields (frame index, (objects, 1, s, s) low-res mask logits) forward from frame 0."""
        with torch.inference_mode():
            for out in self.model.propagate_in_video_iterator(self.session):
                yield out.frame_idx, out.pred_masks

    def to_frame_size(self, low_res: torch.Tensor) -> torch.Tensor:
        """(objects, H, W) mask logits at the frames' size, as ours and the official code return them."""
        return self.processor.post_process_masks([low_res], original_sizes=[self.hw], binarize=False)[0][:, 0]


def max_abs_diff(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).max())
