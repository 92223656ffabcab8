"""ImagePredictor against the official SAM2ImagePredictor on the same random weights."""

import numpy as np
import pytest
import torch

from sam2_backend import ImagePredictor
from tests.backend.reference import PARITY_TOL, assert_masks_match, build_reference, ours_like
from tests.images import synthetic_image

SIZES = ["sam2.1-hiera-tiny", "sam2.1-hiera-small", "sam2.1-hiera-base-plus", "sam2.1-hiera-large"]
LOGIT_TOL = PARITY_TOL


def _reference_predictor(ref_model, image_size):
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    pred = SAM2ImagePredictor(ref_model)
    # The reference hard-codes the feature sizes of a 1024 input.
    s = image_size
    pred._bb_feat_sizes = [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]
    return pred


class Pair:
    """Reference and ours on the same weights and the same image."""

    def __init__(self, name, image_size, image):
        self.ref_model = build_reference(name, image_size=image_size)
        self.ref = _reference_predictor(self.ref_model, image_size)
        self.ours = ImagePredictor(ours_like(self.ref_model, name, image_size=image_size))
        with torch.inference_mode():
            self.ref.set_image(image)
        self.ours.set_image(image)

    def compare(self, **prompt):
        ref_kwargs = dict(
            point_coords=prompt.get("points"),
            point_labels=prompt.get("labels"),
            box=prompt.get("box"),
            mask_input=prompt.get("mask_input"),
            multimask_output=prompt.get("multimask", True),
        )
        with torch.inference_mode():
            r_masks, r_scores, r_logits = self.ref.predict(**ref_kwargs)
            r_full, _, _ = self.ref.predict(**ref_kwargs, return_logits=True)
        o = self.ours.predict(**prompt)
        o_full = self.ours.predict(**prompt, return_logits=True)
        assert o.masks.dtype == np.bool_
        assert o.masks.shape == r_masks.shape
        np.testing.assert_allclose(o.logits, r_logits, atol=LOGIT_TOL, rtol=0)
        np.testing.assert_allclose(o.scores, r_scores, atol=LOGIT_TOL, rtol=0)
        np.testing.assert_allclose(o_full.masks, r_full, atol=LOGIT_TOL, rtol=0)
        assert_masks_match(o.masks, r_masks, r_full)
        return o


IMAGE = synthetic_image(180, 240)
POINT = dict(points=[[70, 72]], labels=[1])
POINTS = dict(points=[[70, 72], [200, 140], [180, 40]], labels=[1, 0, 1])
BOX = dict(box=[130, 95, 220, 165])
BOX_POINTS = dict(box=[130, 95, 220, 165], points=[[170, 130], [60, 60]], labels=[1, 0])
BOXES = dict(box=[[130, 95, 220, 165], [20, 20, 120, 130], [140, 15, 230, 60]])


@pytest.fixture(scope="module", params=SIZES)
def pair(request):
    return Pair(request.param, 256, IMAGE)


@pytest.mark.parametrize(
    "prompt", [POINT, POINTS, BOX, BOX_POINTS, BOXES], ids=["point", "points", "box", "box+points", "boxes"]
)
@pytest.mark.parametrize("multimask", [True, False])
def test_predict_matches_reference(pair, prompt, multimask):
    out = pair.compare(**prompt, multimask=multimask)
    expected_batch = 3 if prompt is BOXES else None
    assert (out.masks.shape[0] == expected_batch) if expected_batch else out.masks.ndim == 3


def test_mask_input_matches_reference(pair):
    first = pair.ours.predict(**POINT)
    best = first.logits[np.argmax(first.scores)][None]
    pair.compare(**POINTS, mask_input=best, multimask=False)
    pair.compare(mask_input=best, multimask=True)


def test_full_resolution_tiny_matches_reference():
    big = synthetic_image(300, 400, seed=1)
    p = Pair("sam2.1-hiera-tiny", 1024, big)
    with torch.inference_mode():
        ref_embed = p.ref.get_image_embedding()
        ref_high = p.ref._features["high_res_feats"]
    feats = p.ours._features[0]
    torch.testing.assert_close(feats.image_embed, ref_embed, atol=LOGIT_TOL, rtol=0)
    for ours, ref in zip(feats.high_res_feats, ref_high):
        torch.testing.assert_close(ours, ref, atol=LOGIT_TOL, rtol=0)
    p.compare(points=[[110, 120], [300, 230]], labels=[1, 0])
    p.compare(box=[[220, 150, 370, 280], [30, 30, 200, 210]], multimask=False)


def test_sam20_config_matches_reference():
    p = Pair("sam2-hiera-tiny", 256, IMAGE)
    p.compare(**POINTS)
    p.compare(**BOX_POINTS, multimask=False)


def test_set_image_batch_matches_reference():
    ref_model = build_reference("sam2.1-hiera-tiny", image_size=256)
    ref = _reference_predictor(ref_model, 256)
    ours = ImagePredictor(ours_like(ref_model, "sam2.1-hiera-tiny", image_size=256))
    images = [IMAGE, synthetic_image(120, 90, seed=3)]
    with torch.inference_mode():
        ref.set_image_batch(images)
        r = ref.predict_batch([[[50, 60]], [[40, 30]]], [[1], [1]], multimask_output=True)
    ours.set_image_batch(images)
    o = ours.predict_batch([[[50, 60]], [[40, 30]]], [[1], [1]])
    for i in range(2):
        np.testing.assert_array_equal(o[i].masks, r[0][i].astype(bool))
        np.testing.assert_allclose(o[i].logits, r[2][i], atol=LOGIT_TOL, rtol=0)
