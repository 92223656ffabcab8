"""One tracking step of one object on one frame, as pure functions of the model.

The official code spreads this over a 900-line base class; here it is four
functions: condition the frame on the object's memory, run the prompt decoder
(or take a mask prompt as the answer), and encode the result as a new memory.
Tensors are batch-first (B, C, h, w) except where the memory attention wants
sequences (HW, B, C).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..device_support import interpolate, store_as_bf16
from ..modeling.position_encoding import get_1d_sine_pe
from ..modeling.sam2 import SAM2Model
from ..transforms import mask_to_logits, mask_to_low_res_logits
from .memory_bank import FrameState, ObjectMemory, select_cond_frames
from .memory_policies import Candidates, MemoryPolicy, MemoryQuery, PolicyState
from .memory_policies.base import sam2_frames

# Logit given to every pixel of an object the model says is absent.
NO_OBJ_SCORE = -1024.0


class FrameFeatures(NamedTuple):
    """Image features of one frame, shared by every object tracked on it.

    vision_feat: (1, 256, h, w) lowest-resolution feature (no memory added).
    vision_pos: (1, 256, h, w) its sine position encoding.
    high_res: [(1, 32, 4h, 4w), (1, 64, 2h, 2w)] decoder skip features.
    """

    vision_feat: torch.Tensor
    vision_pos: torch.Tensor
    high_res: list[torch.Tensor]


class HeadsOutput(NamedTuple):
    """The decoder's answer for one object: the best mask and what tracking keeps.

    low_res: (B, 1, s, s) logits (s = image_size / 4); high_res: (B, 1, S, S);
    obj_ptr: (B, 256); object_score: (B, 1) logit, > 0 when the object is visible;
    iou: (B, 1) the decoder's predicted IoU of the mask kept (1 for a mask given as the answer).
    """

    low_res: torch.Tensor
    high_res: torch.Tensor
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    iou: torch.Tensor


def frame_features(model: SAM2Model, image: torch.Tensor) -> FrameFeatures:
    """Encode one preprocessed frame (1, 3, S, S)."""
    out = model.forward_image(image)
    return FrameFeatures(out.backbone_fpn[-1], out.vision_pos_enc[-1], list(out.backbone_fpn[:-1]))


def _gate_pointer(model: SAM2Model, obj_ptr: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Replace the pointer of an absent object by the learned "no object" pointer."""
    cfg = model.config
    lam = torch.sigmoid(visible) if cfg.soft_no_obj_ptr else visible.float()
    if cfg.fixed_no_obj_ptr:
        obj_ptr = lam * obj_ptr
    return obj_ptr + (1 - lam) * model.no_obj_ptr


def run_heads(
    model: SAM2Model,
    pix_feat: torch.Tensor,
    high_res: list[torch.Tensor],
    points: tuple[torch.Tensor, torch.Tensor] | None,
    mask_logits: torch.Tensor | None,
    multimask: bool,
    choose: Callable[[Candidates], int] | None = None,
    visible_above: float = 0.0,
) -> HeadsOutput:
    """Prompt encoder + mask decoder on (memory-conditioned) features.

    points: (coords (B, N, 2) model pixels, labels (B, N)), or None for a padding
    point; mask_logits: (B, 1, s', s') dense prompt, resized to the decoder's size.
    choose: a memory policy's pick among the candidates (one object, B = 1) instead of the
    highest predicted IoU; visible_above: the object-score logit above which the mask is kept.
    """
    b = pix_feat.shape[0]
    if points is None:
        points = (
            torch.zeros(b, 1, 2, device=pix_feat.device),
            -torch.ones(b, 1, dtype=torch.int32, device=pix_feat.device),
        )
    pe = model.sam_prompt_encoder
    if mask_logits is not None and mask_logits.shape[-2:] != tuple(pe.mask_input_size):
        mask_logits = interpolate(mask_logits.float(), tuple(pe.mask_input_size), "bilinear", antialias=True)
    sparse, dense = pe(points=points, boxes=None, masks=mask_logits)
    out = model.sam_mask_decoder(
        image_embeddings=pix_feat,
        image_pe=pe.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask,
        repeat_image=False,
        high_res_features=high_res,
    )
    masks, ious, tokens, score = out.masks, out.iou_pred, out.sam_tokens, out.object_score_logits
    visible = score > visible_above
    # An absent object is empty everywhere, so its memory says "not here".
    masks = torch.where(visible[:, None, None], masks, NO_OBJ_SCORE).float()
    token = tokens[:, 0]
    iou = ious[:, :1]
    if multimask:
        if choose is None:
            best = torch.argmax(ious, dim=-1)
        else:
            assert b == 1, "a memory policy chooses for one object at a time"
            every = F.interpolate(masks, size=(model.image_size,) * 2, mode="bilinear", align_corners=False)
            best = torch.tensor([choose(Candidates(masks[0], every[0], ious[0]))], device=masks.device)
        rows = torch.arange(b, device=masks.device)
        masks = masks[rows, best].unsqueeze(1)
        iou = ious[rows, best].unsqueeze(1)
        if tokens.shape[1] > 1:
            token = tokens[rows, best]
    high = F.interpolate(masks, size=(model.image_size,) * 2, mode="bilinear", align_corners=False)
    obj_ptr = _gate_pointer(model, model.obj_ptr_proj(token), visible)
    return HeadsOutput(masks, high, obj_ptr, score, iou.float())


def mask_as_output(
    model: SAM2Model, pix_feat: torch.Tensor, high_res: list[torch.Tensor], mask: torch.Tensor
) -> HeadsOutput:
    """Take a mask prompt (B, 1, S, S) in {0, 1} as the answer, without the decoder.

    The decoder still runs on the downsampled mask, only to produce an object pointer.
    """
    high = mask_to_logits(mask)  # +-10 logits: sigmoid is ~0 or ~1
    low = mask_to_low_res_logits(mask, model.image_size)
    ptr = run_heads(model, pix_feat, high_res, None, model.mask_downsample(mask.float()), False).obj_ptr
    visible = torch.any(mask.flatten(1).float() > 0.0, dim=1)[:, None]
    score = visible.float() * 20.0 - 10.0
    return HeadsOutput(low, high, _gate_pointer(model, ptr, visible), score, torch.ones_like(score))


def condition_on_memory(
    model: SAM2Model,
    frame: int,
    feats: FrameFeatures,
    memory: ObjectMemory,
    num_frames: int | None,
    reverse: bool,
    policy: MemoryPolicy | None = None,
    policy_state: PolicyState | None = None,
) -> torch.Tensor:
    """The frame's feature (1, 256, h, w) after attending to the object's memories.

    Memories are every (selected) conditioning frame, the last ``num_maskmem - 1``
    tracked frames in the direction of travel, and object pointers of up to
    ``max_obj_ptrs_in_encoder`` frames; a memory ``policy`` may choose other frames.
    """
    cfg = model.config
    b, c, h, w = feats.vision_feat.shape
    curr = feats.vision_feat.flatten(2).permute(2, 0, 1)  # (HW, B, C)
    curr_pos = feats.vision_pos.flatten(2).permute(2, 0, 1)
    sign = -1 if reverse else 1
    stride = cfg.memory_temporal_stride_for_eval
    max_ptrs = cfg.max_obj_ptrs_in_encoder if num_frames is None else min(num_frames, cfg.max_obj_ptrs_in_encoder)
    query = None
    if policy is None:
        selected, unselected = select_cond_frames(frame, memory.cond, cfg.max_cond_frames_in_attn)
        plan = sam2_frames(frame, reverse, cfg.num_maskmem, stride)
    else:
        assert policy_state is not None
        query = MemoryQuery(
            frame,
            reverse,
            num_frames,
            cfg.num_maskmem,
            stride,
            cfg.max_cond_frames_in_attn,
            max_ptrs,
            memory.cond,
            memory.non_cond.get,
        )
        selected, unselected = policy.select_cond(policy_state, query)
        plan = policy.memory_frames(policy_state, query, selected)
        if plan is None:
            plan = sam2_frames(frame, reverse, cfg.num_maskmem, stride)

    def tracked(t: int) -> FrameState | None:
        if t in selected:  # a policy may attend to a tracked frame as a conditioning one
            return None
        state = memory.non_cond.get(t)
        return state if state is not None else unselected.get(t)

    # Spatial memories: t_pos 0 for conditioning frames, 1..6 for recent frames.
    spatial = [(0, s) for s in selected.values()] + [(t_pos, tracked(t)) for t_pos, t in plan]
    mem_pos_enc = memory_pos_encoding(model, feats)
    tokens, token_pos = [], []
    for t_pos, state in spatial:
        if state is None:
            continue
        tokens.append(_memory_tokens(state.maskmem.float()))
        token_pos.append(mem_pos_enc + model.maskmem_tpos_enc[cfg.num_maskmem - t_pos - 1])

    # Object pointers: past conditioning frames, then recent tracked frames.
    if cfg.only_obj_ptrs_in_the_past_for_eval:
        ptr_cond = {t: s for t, s in selected.items() if (t >= frame if reverse else t <= frame)}
    else:
        ptr_cond = selected
    ptrs = [
        ((frame - t) * sign if cfg.use_signed_tpos_enc_to_obj_ptrs else abs(frame - t), s.obj_ptr)
        for t, s in ptr_cond.items()
    ]
    ptr_plan = None if policy is None else policy.pointer_frames(policy_state, query)
    if ptr_plan is None:  # SAM 2: the frames just before, at their distance
        ptr_plan = []
        for t_diff in range(1, max_ptrs):
            t = frame - sign * t_diff
            if t < 0 or (num_frames is not None and t >= num_frames):
                break
            ptr_plan.append((t_diff, t))
    for t_diff, t in ptr_plan:
        state = tracked(t)
        if state is not None:
            ptrs.append((t_diff, state.obj_ptr))
    num_ptr_tokens = 0
    if ptrs:
        dists, vecs = zip(*ptrs)
        obj_ptrs = torch.stack(vecs, dim=0)  # (P, B, C)
        mem_dim = cfg.mem_dim
        if cfg.add_tpos_enc_to_obj_ptrs:
            rel = _positions(dists, curr.device) / (max_ptrs - 1)
            pe_dim = c if cfg.proj_tpos_enc_in_obj_ptrs else mem_dim
            ptr_pos = model.obj_ptr_tpos_proj(get_1d_sine_pe(rel, dim=pe_dim))
            ptr_pos = ptr_pos.unsqueeze(1).expand(-1, b, mem_dim)
        else:
            ptr_pos = obj_ptrs.new_zeros(len(dists), b, mem_dim)
        # Each C-wide pointer becomes C / mem_dim tokens of the memory's width.
        split = c // mem_dim
        obj_ptrs = obj_ptrs.reshape(-1, b, split, mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
        ptr_pos = ptr_pos.repeat_interleave(split, dim=0)
        tokens.append(obj_ptrs)
        token_pos.append(ptr_pos)
        num_ptr_tokens = obj_ptrs.shape[0]

    out = model.memory_attention(
        curr=curr,
        memory=torch.cat(tokens, 0),
        curr_pos=curr_pos,
        memory_pos=torch.cat(token_pos, 0),
        num_obj_ptr_tokens=num_ptr_tokens,
    )
    return out.permute(1, 2, 0).reshape(b, c, h, w)


# Per device, the integers -r..r (r a power of two), from which ``_positions`` picks rows.
_POSITION_TABLES: dict[torch.device, torch.Tensor] = {}


def _positions(values: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Python ints as an int64 tensor (P,) on ``device``, the same as ``torch.tensor(values)``,
    without a host -> device copy: rows of a table made on the device are picked by index."""
    reach = max(abs(v) for v in values)
    table = _POSITION_TABLES.get(device)
    if table is None or reach > table.shape[0] // 2:
        r = 1 << max(reach, 64).bit_length()
        with torch.inference_mode(False):  # a cache shared by calls inside and outside inference mode
            table = torch.arange(-r, r + 1, device=device)
        _POSITION_TABLES[device] = table
    mid = table.shape[0] // 2
    return torch.stack([table[mid + v] for v in values])


def _memory_tokens(maskmem: torch.Tensor) -> torch.Tensor:
    """A stored memory as (tokens, 1, mem_dim): a SAM 2 map (1, mem_dim, h, w) or EdgeTAM latents (1, L, mem_dim)."""
    if maskmem.ndim == 3:
        return maskmem.transpose(0, 1)
    return maskmem.flatten(2).permute(2, 0, 1)


def memory_pos_encoding(model: SAM2Model, feats: FrameFeatures) -> torch.Tensor:
    """(tokens, 1, mem_dim) position encoding of a spatial memory: the same for every frame.

    SAM 2: the sine encoding of the h*w map; EdgeTAM: that of the perceiver's latents.
    """
    if model.spatial_perceiver is not None:
        return model.spatial_perceiver.latent_pos(1, feats.vision_feat.device).transpose(0, 1)
    h, w = feats.vision_feat.shape[-2:]
    probe = feats.vision_feat.new_zeros(1, model.config.mem_dim, h, w)
    return model.memory_encoder.position_encoding(probe).flatten(2).permute(2, 0, 1)


def encode_memory(
    model: SAM2Model,
    feats: FrameFeatures,
    high_res_logits: torch.Tensor,
    object_score: torch.Tensor,
    prompted: bool,
) -> torch.Tensor:
    """Memory of one frame in bfloat16, as the official tracker stores it: (1, mem_dim, h, w),
    or for EdgeTAM the perceiver's latents (1, L, mem_dim) (L = 512: 1/8 of a 1024 map). On a
    device without bfloat16 (MPS before macOS 14): float32 holding the same bf16-rounded values.

    ``prompted``: the frame's mask answers the person's prompts (not tracking). With the
    config's ``binarize_mask_from_pts_for_mem_enc`` such a frame remembers the binary mask,
    else the sigmoid of its logits, as tracked frames always do.
    """
    cfg = model.config
    if prompted and cfg.binarize_mask_from_pts_for_mem_enc:  # remember exactly the mask the person saw
        mask = (high_res_logits > 0).float()
    else:
        mask = torch.sigmoid(high_res_logits)
    mask = mask * cfg.sigmoid_scale_for_mem_enc + cfg.sigmoid_bias_for_mem_enc
    encoded = model.memory_encoder(feats.vision_feat, mask, skip_mask_sigmoid=True)
    features = encoded.vision_features
    if model.no_obj_embed_spatial is not None:
        absent = 1 - (object_score > 0).float()
        features = features + absent[..., None, None] * model.no_obj_embed_spatial[..., None, None]
    if model.spatial_perceiver is not None:
        features = model.spatial_perceiver(features, encoded.vision_pos_enc)
    return store_as_bf16(features)


def use_multimask(model: SAM2Model, is_init_cond: bool, num_points: int) -> bool:
    """Three candidate masks for zero or one click (a box counts as two points)."""
    cfg = model.config
    return (
        cfg.multimask_output_in_sam
        and (is_init_cond or cfg.multimask_output_for_tracking)
        and cfg.multimask_min_pt_num <= num_points <= cfg.multimask_max_pt_num
    )


def track_step(
    model: SAM2Model,
    frame: int,
    feats: FrameFeatures,
    memory: ObjectMemory,
    *,
    is_init_cond: bool,
    points: tuple[torch.Tensor, torch.Tensor] | None,
    mask: torch.Tensor | None,
    num_frames: int | None,
    reverse: bool,
    prev_logits: torch.Tensor | None = None,
    policy: MemoryPolicy | None = None,
    policy_state: PolicyState | None = None,
) -> HeadsOutput:
    """Predict one object on one frame from its prompts and/or memory; a memory ``policy`` (with
    the object's ``policy_state``) chooses the memories read and, on tracked frames, the mask kept."""
    if mask is not None and model.config.use_mask_input_as_output_without_sam:
        return mask_as_output(model, feats.vision_feat, feats.high_res, mask)
    if is_init_cond:
        # A first prompt has no memory: add the learned "no memory" embedding instead.
        pix_feat = feats.vision_feat + model.no_mem_embed.view(1, -1, 1, 1)
    else:
        pix_feat = condition_on_memory(model, frame, feats, memory, num_frames, reverse, policy, policy_state)
    if prev_logits is not None:
        mask = prev_logits  # a correction refines the frame's previous mask
    num_points = 0 if points is None else points[1].shape[1]
    multimask = use_multimask(model, is_init_cond, num_points)
    if policy is None:
        return run_heads(model, pix_feat, feats.high_res, points, mask, multimask)
    choose = None
    if policy.needs_candidates and points is None and mask is None and not is_init_cond:  # prompts: SAM 2's pick
        assert policy_state is not None

        def choose(candidates: Candidates) -> int:
            return policy.choose_mask(policy_state, frame, reverse, candidates)

    return run_heads(model, pix_feat, feats.high_res, points, mask, multimask, choose, policy.visible_above)
