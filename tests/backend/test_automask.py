"""Unit tests of the automatic mask generator's helpers and parameter checks.

Helpers are compared with the reference's ``sam2.utils.amg`` and with pycocotools.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask
from sam2.utils import amg as ref

from sam2_backend import mask_utils as mu
from sam2_backend.automask import AutomaticMaskGenerator


def random_masks(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """(b, h, w) bool masks of varied density, including an empty and a full one."""
    gen = torch.Generator().manual_seed(seed)
    density = torch.rand(b, 1, 1, generator=gen)
    masks = torch.rand(b, h, w, generator=gen) < density
    masks[0] = False
    masks[-1] = True
    return masks


@pytest.mark.parametrize("n", [1, 2, 5, 32])
def test_point_grid_matches_reference(n):
    grid = mu.point_grid(n)
    assert grid.shape == (n * n, 2)
    np.testing.assert_array_equal(grid, ref.build_point_grid(n))
    downscale = 2 if n >= 4 else 1
    layers = zip(mu.layer_point_grids(n, 2, downscale), ref.build_all_layer_point_grids(n, 2, downscale))
    for got, want in layers:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("hw", [(96, 128), (1500, 2250), (7, 300), (333, 333)])
@pytest.mark.parametrize("n_layers", [0, 1, 3])
@pytest.mark.parametrize("ratio", [512 / 1500, 0.0, 0.77])
def test_crop_boxes_match_reference(hw, n_layers, ratio):
    assert mu.crop_boxes(hw, n_layers, ratio) == ref.generate_crop_boxes(hw, n_layers, ratio)


def test_masks_to_boxes_matches_reference():
    masks = random_masks(12, 13, 17)
    masks[3] = False
    masks[3, 5, 9] = True  # a single pixel: box (9, 5, 9, 5)
    boxes = mu.masks_to_boxes(masks)
    assert boxes.dtype == torch.int64
    assert boxes[3].tolist() == [9, 5, 9, 5]
    assert boxes[0].tolist() == [0, 0, 0, 0]
    assert torch.equal(boxes, ref.batched_mask_to_box(masks))
    assert torch.equal(mu.masks_to_boxes(masks.reshape(3, 4, 13, 17)), boxes.reshape(3, 4, 4))
    assert mu.masks_to_boxes(torch.zeros(0, 5, 6, dtype=torch.bool)).shape == (0, 4)


def test_rle_round_trip_and_pycocotools():
    masks = random_masks(8, 11, 7, seed=1)
    rles = mu.masks_to_rle(masks)
    assert rles == ref.mask_to_rle_pytorch(masks)
    for mask, rle in zip(masks.numpy(), rles):
        np.testing.assert_array_equal(mu.rle_to_mask(rle), mask)
        assert mu.rle_area(rle) == int(mask.sum())
        coco = mu.rle_to_coco(rle)
        assert isinstance(coco["counts"], str)
        np.testing.assert_array_equal(coco_mask.decode(coco).astype(bool), mask)
        encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert coco == {"size": list(encoded["size"]), "counts": encoded["counts"].decode()}


@pytest.mark.parametrize("offset", [1.0, 0.5])
def test_stability_score(offset):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 3, 20, 24, generator=gen) * 3
    score = mu.stability_score(logits, 0.2, offset)
    assert score.shape == (4, 3) and score.dtype == torch.float32
    assert torch.equal(score, ref.calculate_stability_score(logits, 0.2, offset))
    inner = (logits > 0.2 + offset).sum((-1, -2))
    outer = (logits > 0.2 - offset).sum((-1, -2))
    torch.testing.assert_close(score, inner / outer)


def test_uncrop_and_edge_filter_match_reference():
    crop = [10, 20, 60, 50]
    boxes = torch.tensor([[0, 0, 5, 5], [3, 4, 49, 29], [25, 5, 30, 10]])
    points = torch.tensor([[1.5, 2.5], [0.0, 3.0]])
    assert torch.equal(mu.uncrop_boxes(boxes, crop), ref.uncrop_boxes_xyxy(boxes, crop))
    assert torch.equal(mu.uncrop_points(points, crop), ref.uncrop_points(points, crop))
    masks = random_masks(3, 30, 50)
    assert torch.equal(mu.uncrop_masks(masks, crop, (70, 80)), ref.uncrop_masks(masks, crop, 70, 80))
    assert mu.uncrop_masks(masks, [0, 0, 50, 30], (30, 50)) is masks
    for image_box in ([0, 0, 80, 70], [0, 0, 60, 50]):
        assert torch.equal(
            mu.is_box_near_crop_edge(boxes, crop, image_box), ref.is_box_near_crop_edge(boxes, crop, image_box)
        )


def test_box_xyxy_to_xywh():
    box = torch.tensor([[3, 4, 10, 7]])
    assert mu.box_xyxy_to_xywh(box).tolist() == [[3, 4, 7, 3]]
    assert box.tolist() == [[3, 4, 10, 7]]
    np.testing.assert_array_equal(mu.box_xyxy_to_xywh(np.array([1.0, 2, 3, 5])), [1, 2, 2, 3])


def test_batch_iterator():
    a, b = list(range(7)), np.arange(7) * 2
    batches = list(mu.batch_iterator(3, a, b))
    assert [x for x, _ in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    np.testing.assert_array_equal(batches[-1][1], [12])
    with pytest.raises(ValueError, match="same length"):
        list(mu.batch_iterator(2, a, b[:3]))
    with pytest.raises(ValueError, match="batch_size"):
        list(mu.batch_iterator(0, a))


def test_mask_records_keep_and_extend():
    recs = mu.MaskRecords(t=torch.arange(5), a=np.arange(5) * 10, l=list("abcde"))
    assert len(recs) == 5 and "t" in recs
    recs.keep(torch.tensor([True, False, True, True, False]))
    assert recs["t"].tolist() == [0, 2, 3] and recs["a"].tolist() == [0, 20, 30]
    assert recs["l"] == ["a", "c", "d"]
    recs.keep(torch.tensor([2, 0]))  # indices reorder
    assert recs["t"].tolist() == [3, 0] and recs["l"] == ["d", "a"]
    recs.extend(mu.MaskRecords(t=torch.tensor([9]), a=np.array([90]), l=["z"]))
    assert recs["t"].tolist() == [3, 0, 9] and recs["a"].tolist() == [30, 0, 90]
    assert recs["l"] == ["d", "a", "z"]
    empty = mu.MaskRecords()
    assert len(empty) == 0
    empty.extend(recs)
    assert len(empty) == 3
    del recs["l"]
    assert "l" not in recs
    with pytest.raises(TypeError, match="column"):
        recs["x"] = 3


# --- parameter validation (checked before the model is touched) -------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(output_mode="png"), "output_mode"),
        (dict(points_per_side=None), "exactly one"),
        (dict(point_grids=[mu.point_grid(4)]), "exactly one"),
        (dict(points_per_side=None, point_grids=[mu.point_grid(4)], crop_n_layers=1), "one grid per crop layer"),
        (dict(points_per_side=None, point_grids=[np.zeros((3, 3))]), r"\(N, 2\)"),
        (dict(points_per_side=None, point_grids=[np.full((3, 2), 2.0)]), r"\[0, 1\]"),
        (dict(points_per_side=2, crop_n_layers=2, crop_n_points_downscale_factor=2), "no points"),
        (dict(points_per_batch=0), "points_per_batch"),
        (dict(crop_n_layers=-1), "crop_n_layers"),
        (dict(crop_n_points_downscale_factor=0), "downscale_factor"),
        (dict(min_mask_region_area=-1), "min_mask_region_area"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AutomaticMaskGenerator(object(), **kwargs)


def test_rejects_non_model():
    with pytest.raises(TypeError):
        AutomaticMaskGenerator(object())
