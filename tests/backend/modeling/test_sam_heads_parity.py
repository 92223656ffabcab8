"""Parity of our SAM heads (prompt encoder, two-way transformer, mask decoder)
with the official ones.

The reference (``sam2==1.1.0``) is built with random weights; its
``sam_prompt_encoder.*`` and ``sam_mask_decoder.*`` entries are loaded strictly
into ours and both run on the same random image features and prompts (drawn on the CPU),
in exact fp32 on the test device.
"""

from __future__ import annotations

import pytest
import torch

from sam2_backend.configs import get_config
from sam2_backend.modeling.mask_decoder import DecoderOutput, MaskDecoder
from sam2_backend.modeling.prompt_encoder import PromptEncoder
from sam2_backend.modeling.sam2 import build_sam_heads
from sam2_backend.modeling.two_way_transformer import TwoWayTransformer
from tests.backend.reference import PARITY_TOL, build_reference, randomize_
from tests.models import TEST_DEVICE, on_test_device

TOL = PARITY_TOL
NAMES = ["sam2.1-hiera-tiny", "sam2-hiera-tiny"]


def _sub_state_dict(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in model.state_dict().items() if k.startswith(prefix)}


def _ours_like(ref, name: str) -> tuple[PromptEncoder, MaskDecoder]:
    """Our heads for ``name`` (as ``build_sam2`` makes them) with the reference weights."""
    prompt_encoder, decoder = build_sam_heads(get_config(name).replace(image_size=ref.image_size))
    prompt_encoder.load_state_dict(_sub_state_dict(ref, "sam_prompt_encoder."), strict=True)
    decoder.load_state_dict(_sub_state_dict(ref, "sam_mask_decoder."), strict=True)
    return prompt_encoder.to(TEST_DEVICE).eval(), decoder.to(TEST_DEVICE).eval()


@pytest.fixture(scope="module", params=NAMES)
def heads(request):
    """(reference prompt encoder, reference decoder, ours, ours) for one config."""
    ref = build_reference(request.param, image_size=1024)
    assert ref.sam_mask_decoder.dynamic_multimask_via_stability
    pe, dec = _ours_like(ref, request.param)
    return ref.sam_prompt_encoder, ref.sam_mask_decoder, pe, dec


def _features(batch: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    image = torch.randn(batch, 256, 64, 64, generator=gen)
    high_res = [torch.randn(batch, 32, 256, 256, generator=gen), torch.randn(batch, 64, 128, 128, generator=gen)]
    return image, high_res


def _points(batch: int, n: int, labels: list[int], gen: torch.Generator):
    coords = torch.rand(batch, n, 2, generator=gen) * 1023
    return coords, torch.tensor(labels, dtype=torch.int32).expand(batch, -1).clone()


def _prompts(case: str, batch: int):
    """(points, boxes, masks) for a named prompt combination."""
    gen = torch.Generator().manual_seed(CASES.index(case))
    box = torch.tensor([[100.0, 200.0, 600.0, 700.0]]).repeat(batch, 1)
    box += torch.rand(batch, 4, generator=gen) * 50
    corner_labels = torch.tensor([[2, 3]], dtype=torch.int32).repeat(batch, 1)
    box_pts = (box.reshape(batch, 2, 2), corner_labels)  # a box as the predictors pass it
    mask = torch.randn(batch, 1, 256, 256, generator=gen) * 4
    if case == "one_point":
        return _points(batch, 1, [1], gen), None, None
    if case == "pos_neg_points":
        coords, labels = _points(batch, 5, [1, 0, 1, 0, 0], gen)
        labels[0, -1] = -1  # one prompt padded to the common length
        return (coords, labels), None, None
    if case == "box_as_points":
        return box_pts, None, None
    if case == "box_and_points_as_points":
        coords, labels = _points(batch, 2, [1, 0], gen)
        return (torch.cat([box_pts[0], coords], 1), torch.cat([box_pts[1], labels], 1)), None, None
    if case == "box_arg":
        return None, box, None
    if case == "box_arg_and_points":
        return _points(batch, 2, [1, 0], gen), box, None
    if case == "points_and_mask":
        return _points(batch, 2, [1, 1], gen), None, mask
    if case == "mask_only":
        return None, None, mask
    if case == "no_prompt":
        return None, None, None
    raise ValueError(case)


CASES = [
    "one_point",
    "pos_neg_points",
    "box_as_points",
    "box_and_points_as_points",
    "box_arg",
    "box_arg_and_points",
    "points_and_mask",
    "mask_only",
    "no_prompt",
]


def _on_device(*inputs):
    """Inputs drawn on the CPU (the same values everywhere) -> the test device; None and nesting kept."""
    if len(inputs) != 1:
        return tuple(_on_device(x) for x in inputs)
    x = inputs[0]
    if isinstance(x, (tuple, list)):
        return type(x)(_on_device(v) for v in x)
    return None if x is None else on_test_device(x)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item() if a.numel() else 0.0


def _run_both(ref_pe, ref_dec, pe, dec, points, boxes, masks, *, image, high_res, multimask: bool, repeat_image: bool):
    points, boxes, masks, image, high_res = _on_device(points, boxes, masks, image, high_res)
    with torch.no_grad():
        ref_sparse, ref_dense = ref_pe(points=points, boxes=boxes, masks=masks)
        sparse, dense = pe(points, boxes, masks)
        assert _max_diff(sparse, ref_sparse) <= TOL
        assert _max_diff(dense, ref_dense) <= TOL
        assert _max_diff(pe.get_dense_pe(), ref_pe.get_dense_pe()) <= TOL
        ref_out = ref_dec(
            image_embeddings=image,
            image_pe=ref_pe.get_dense_pe(),
            sparse_prompt_embeddings=ref_sparse,
            dense_prompt_embeddings=ref_dense,
            multimask_output=multimask,
            repeat_image=repeat_image,
            high_res_features=high_res,
        )
        out = dec(
            image_embeddings=image,
            image_pe=pe.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=repeat_image,
            high_res_features=high_res,
        )
    assert isinstance(out, DecoderOutput)
    diffs = {f: _max_diff(o, r) for f, o, r in zip(DecoderOutput._fields, out, ref_out)}
    assert all(d <= TOL for d in diffs.values()), diffs
    return out


def test_key_sets_match(heads):
    ref_pe, ref_dec, pe, dec = heads
    for ours, theirs in ((pe, ref_pe), (dec, ref_dec)):
        ours_sd, ref_sd = ours.state_dict(), theirs.state_dict()
        assert set(ours_sd) == set(ref_sd)
        assert all(ours_sd[k].shape == ref_sd[k].shape for k in ref_sd)
    assert pe.mask_input_size == ref_pe.mask_input_size


@pytest.mark.parametrize("multimask", [True, False], ids=["multi", "single"])
@pytest.mark.parametrize("case", CASES)
def test_prompt_combinations(heads, case, multimask):
    batch = 1 if case == "no_prompt" else 2
    image, high_res = _features(batch)
    points, boxes, masks = _prompts(case, batch)
    out = _run_both(
        *heads, points, boxes, masks, image=image, high_res=high_res, multimask=multimask, repeat_image=False
    )
    assert out.masks.shape == (batch, 3 if multimask else 1, 256, 256)
    assert out.sam_tokens.shape == (batch, 3 if multimask else 1, 256)


@pytest.mark.parametrize("multimask", [True, False], ids=["multi", "single"])
def test_several_prompts_one_image(heads, multimask):
    image, high_res = _features(1, seed=1)
    gen = torch.Generator().manual_seed(3)
    points = _points(4, 3, [1, 0, 1], gen)
    out = _run_both(*heads, points, None, None, image=image, high_res=high_res, multimask=multimask, repeat_image=True)
    assert out.masks.shape[0] == 4


def _single_mask_stability(dec: MaskDecoder, pe: PromptEncoder, points, image, high_res):
    """Stability score of the single-mask output and all 1 + K raw outputs."""
    points, image, high_res = _on_device(points, image, high_res)
    with torch.no_grad():
        sparse, dense = pe(points, None, None)
        masks, iou, _, _ = dec._predict(image, pe.get_dense_pe(), sparse, dense, True, high_res)
    return dec._stability_scores(masks[:, :1])[:, 0], masks, iou


def _expected_single_masks(stable, all_masks, all_iou):
    """Per item: the single mask if stable, else the multimask output with the best IoU."""
    best = all_iou[:, 1:].argmax(-1) + 1
    pick = torch.where(stable, 0, best)
    return all_masks[torch.arange(len(pick), device=pick.device), pick][:, None]


def test_dynamic_multimask_both_branches(heads):
    """Threshold set between the items' stability scores so some items keep the
    single mask and others fall back to their best multimask output."""
    ref_pe, ref_dec, pe, dec = heads
    image, high_res = _features(1, seed=2)
    gen = torch.Generator().manual_seed(5)
    points = _points(6, 1, [1], gen)
    scores, all_masks, all_iou = _single_mask_stability(dec, pe, points, image, high_res)
    ordered = scores.sort().values
    gaps = ordered[1:] - ordered[:-1]
    split = int(gaps.argmax())  # widest gap: robust to tiny numeric differences
    thresh = float(ordered[split] + ordered[split + 1]) / 2
    stable = scores >= thresh
    assert stable.any() and (~stable).any()

    original = dec.dynamic_multimask_stability_thresh
    try:
        dec.dynamic_multimask_stability_thresh = ref_dec.dynamic_multimask_stability_thresh = thresh
        out = _run_both(*heads, points, None, None, image=image, high_res=high_res, multimask=False, repeat_image=True)
    finally:
        dec.dynamic_multimask_stability_thresh = ref_dec.dynamic_multimask_stability_thresh = original

    assert torch.equal(out.masks, _expected_single_masks(stable, all_masks, all_iou))
    # The sam token stays the single-mask token even when the mask was swapped.
    assert out.sam_tokens.shape == (6, 1, 256)


def test_dynamic_multimask_default_threshold_and_off(heads):
    """At the shipped threshold (0.98) and with the fallback switched off.

    With random weights no single mask reaches 0.98 stability, so at the shipped
    threshold every item falls back to its best multimask output.
    """
    ref_pe, ref_dec, pe, dec = heads
    image, high_res = _features(1, seed=2)
    points = _points(6, 1, [1], torch.Generator().manual_seed(5))
    scores, all_masks, all_iou = _single_mask_stability(dec, pe, points, image, high_res)
    out = _run_both(*heads, points, None, None, image=image, high_res=high_res, multimask=False, repeat_image=True)
    stable = scores >= dec.dynamic_multimask_stability_thresh
    assert not stable.any()
    assert torch.equal(out.masks, _expected_single_masks(stable, all_masks, all_iou))

    try:
        dec.dynamic_multimask_via_stability = ref_dec.dynamic_multimask_via_stability = False
        out = _run_both(*heads, points, None, None, image=image, high_res=high_res, multimask=False, repeat_image=True)
    finally:
        dec.dynamic_multimask_via_stability = ref_dec.dynamic_multimask_via_stability = True
    assert torch.equal(out.masks, all_masks[:, :1])


@pytest.mark.parametrize(
    "flags",
    [
        dict(
            use_high_res_features=False,
            iou_prediction_use_sigmoid=False,
            pred_obj_scores=False,
            pred_obj_scores_mlp=False,
            use_multimask_token_for_obj_ptr=False,
        ),
        dict(
            use_high_res_features=False,
            iou_prediction_use_sigmoid=True,
            pred_obj_scores=True,
            pred_obj_scores_mlp=False,
            use_multimask_token_for_obj_ptr=False,
        ),
    ],
    ids=["plain_sam", "linear_obj_head"],
)
@pytest.mark.parametrize("multimask", [True, False], ids=["multi", "single"])
def test_decoder_flag_variants(flags, multimask):
    """Decoder options no official config switches off, on a small 16x16 embedding."""
    from sam2.modeling.sam.mask_decoder import MaskDecoder as RefMaskDecoder
    from sam2.modeling.sam.transformer import TwoWayTransformer as RefTwoWayTransformer

    extra = dict(
        dynamic_multimask_via_stability=False,
        dynamic_multimask_stability_delta=0.05,
        dynamic_multimask_stability_thresh=0.98,
    )
    ref = RefMaskDecoder(
        transformer_dim=256,
        transformer=RefTwoWayTransformer(depth=2, embedding_dim=256, num_heads=8, mlp_dim=2048),
        **flags,
        **extra,
    )
    randomize_(ref, seed=7).to(TEST_DEVICE).eval()
    ours = MaskDecoder(
        transformer_dim=256,
        transformer=TwoWayTransformer(depth=2, embedding_dim=256, num_heads=8, mlp_dim=2048),
        **flags,
        **extra,
    )
    ours.load_state_dict(ref.state_dict(), strict=True)
    ours.to(TEST_DEVICE).eval()

    gen = torch.Generator().manual_seed(11)
    args = dict(
        image_embeddings=on_test_device(torch.randn(3, 256, 16, 16, generator=gen)),
        image_pe=on_test_device(torch.randn(1, 256, 16, 16, generator=gen)),
        sparse_prompt_embeddings=on_test_device(torch.randn(3, 4, 256, generator=gen)),
        dense_prompt_embeddings=on_test_device(torch.randn(3, 256, 16, 16, generator=gen)),
        multimask_output=multimask,
        repeat_image=False,
        high_res_features=None,
    )
    with torch.no_grad():
        ref_out = ref(**args)
        out = ours(**args)
    for field, o, r in zip(DecoderOutput._fields, out, ref_out):
        d = _max_diff(o, r)
        assert d <= TOL, (field, d)
