"""Codecs, colours and results exports (no model needed)."""

from __future__ import annotations

import io
import json

import matplotlib
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_api

from sam2_backend.video import TrackResults
from sam2_widget import ImageSet, ImageSetResults, ObjectInfo, codecs, color_for
from sam2_widget.colors import PALETTE
from sam2_widget.session import make_entry

matplotlib.use("Agg")


def random_masks(rng, hw, ids):
    yy, xx = np.mgrid[: hw[0], : hw[1]]
    masks = {}
    for obj_id in ids:
        cy, cx, r = rng.uniform(0, hw[0]), rng.uniform(0, hw[1]), rng.uniform(3, 15)
        masks[obj_id] = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    return masks


def test_label_rle_round_trips_and_follows_the_protocol():
    rng = np.random.default_rng(0)
    for ids in ([1], [1, 2, 3], [300, 7, 70000]):
        label = codecs.masks_to_label_map(random_masks(rng, (37, 53), ids), (37, 53))
        data = codecs.encode_label_rle(label)
        np.testing.assert_array_equal(codecs.decode_label_rle(data, 37, 53), label)
        pairs = np.frombuffer(data, dtype="<u4").reshape(-1, 2)
        assert pairs[:, 1].sum() == 37 * 53 and (pairs[:, 1] > 0).all()
        assert (pairs[1:, 0] != pairs[:-1, 0]).all()  # runs are maximal
    assert codecs.encode_label_rle(np.zeros((4, 5), np.uint8)) == b""
    one = np.zeros((2, 3), np.uint16)
    one[1, 2] = 9
    assert codecs.encode_label_rle(one) == np.array([[0, 5], [9, 1]], "<u4").tobytes()
    with pytest.raises(ValueError, match="pairs"):
        codecs.decode_label_rle(b"\x00" * 12, 2, 3)
    with pytest.raises(ValueError, match="covers"):
        codecs.decode_label_rle(np.array([[0, 5]], "<u4").tobytes(), 2, 3)


def test_label_maps_let_the_first_listed_object_win_overlaps():
    a = np.zeros((3, 3), bool)
    a[:2] = True
    b = np.zeros((3, 3), bool)
    b[1:] = True
    assert codecs.masks_to_label_map({1: a, 2: b}, (3, 3)).tolist() == [[1] * 3, [1] * 3, [2] * 3]
    assert codecs.masks_to_label_map({2: b, 1: a}, (3, 3)).tolist() == [[1] * 3, [2] * 3, [2] * 3]
    assert codecs.masks_to_label_map({300: a}, (3, 3)).dtype == np.uint16


def test_jpeg_is_downscaled_to_the_longest_side():
    pixels = np.random.default_rng(0).integers(0, 255, (100, 3000, 3), dtype=np.uint8)
    with Image.open(io.BytesIO(codecs.encode_jpeg(pixels))) as im:
        assert im.format == "JPEG" and im.size == (2048, 68)
    with Image.open(io.BytesIO(codecs.encode_jpeg(pixels[:, :500]))) as im:
        assert im.size == (500, 100)


def test_colours_are_stable_distinct_and_cycle():
    assert len(set(PALETTE)) == len(PALETTE) == 20
    assert color_for(1) == PALETTE[0] and color_for(21) == color_for(1) and color_for(2) != color_for(1)
    with pytest.raises(ValueError):
        color_for(0)


@pytest.fixture
def results(tmp_path):
    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 255, (30, 40, 3), dtype=np.uint8) for _ in range(2)]
    Image.fromarray(arrays[1]).save(tmp_path / "second.png")
    images = ImageSet.from_source([arrays[0], tmp_path / "second.png"])
    objects = [ObjectInfo(5, "cat", color_for(5)), ObjectInfo(300, "dog", color_for(300))]
    masks = [random_masks(rng, (30, 40), [5, 300]), random_masks(rng, (30, 40), [300])]
    masks[1][5] = np.zeros((30, 40), bool)  # an empty mask: no annotation
    entries = [{o: make_entry(m, 0.5 + o / 1000, None) for o, m in per.items()} for per in masks]
    return ImageSetResults(images, objects, entries), masks


def test_results_read_as_masks_label_maps_boxes_and_scores(results):
    res, masks = results
    assert len(res) == 2 and res.names == ["image 1", "second.png"]
    for i in range(2):
        assert res.masks(i).keys() == masks[i].keys()
        for o in masks[i]:
            np.testing.assert_array_equal(res.masks(i)[o], masks[i][o])
            ys, xs = np.nonzero(masks[i][o])
            box = res.boxes(i)[o]
            assert box == ((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else None)
    assert res.scores(0) == {5: 0.505, 300: 0.8}
    label = res.label_map(1)
    assert label.dtype == np.uint16 and set(np.unique(label)) == {0, 300}
    with pytest.raises(ValueError, match="out of range"):
        res.masks(2)


def test_coco_export_decodes_to_the_masks(results):
    res, masks = results
    coco = json.loads(json.dumps(res.to_coco()))  # JSON-ready
    assert coco["images"] == [
        {"id": 1, "file_name": "image_00000.png", "width": 40, "height": 30},
        {"id": 2, "file_name": "second.png", "width": 40, "height": 30},
    ]
    assert coco["categories"] == [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    assert [(a["image_id"], a["obj_id"]) for a in coco["annotations"]] == [(1, 5), (1, 300), (2, 300)]
    for ann in coco["annotations"]:
        mask = masks[ann["image_id"] - 1][ann["obj_id"]]
        rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"].encode()}
        np.testing.assert_array_equal(mask_api.decode(rle).astype(bool), mask)
        assert ann["area"] == mask.sum()
        x0, y0, x1, y1 = res.boxes(ann["image_id"] - 1)[ann["obj_id"]]
        assert ann["bbox"] == [x0, y0, x1 - x0, y1 - y0]


def test_image_sets_and_clips_give_the_same_label_maps():
    rng = np.random.default_rng(2)
    arrays = [rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)]
    for ids, dtype in (([5, 255], np.uint8), ([5, 300], np.uint16), ([5, 70000], np.uint32)):
        masks = random_masks(rng, (30, 40), ids)
        objects = [ObjectInfo(o, f"o{o}", color_for(o)) for o in ids]
        image_set = ImageSetResults(
            ImageSet.from_source(arrays), objects, [{o: make_entry(m, 0.9, None) for o, m in masks.items()}]
        )
        clip = TrackResults(30, 40)
        for o, m in masks.items():
            clip.set(0, o, m, 1.0)
        label = image_set.label_map(0)
        assert label.dtype == clip.labels().dtype == codecs.masks_to_label_map(masks, (30, 40)).dtype == dtype
        np.testing.assert_array_equal(label, clip.label_map(0))


def test_image_sets_and_clips_export_the_same_coco_annotations(results):
    res, masks = results
    clip = TrackResults(30, 40)
    for i, per_image in enumerate(masks):
        for o, m in per_image.items():
            clip.set(i, o, m, 0.0)
    shared = ("image_id", "obj_id", "segmentation", "area", "bbox", "iscrowd")
    from_set = [{k: a[k] for k in shared} for a in res.to_coco()["annotations"]]
    from_clip = [{k: a[k] for k in shared} for a in clip.to_coco()["annotations"]]
    assert from_set == from_clip and len(from_set) == 3


def test_save_writes_one_png_label_map_per_image(results, tmp_path):
    res, _ = results
    paths = res.save(tmp_path / "labels")
    assert [p.name for p in paths] == ["image_00000.png", "second.png"]
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            np.testing.assert_array_equal(np.asarray(im), res.label_map(i))


def test_plot_draws_masks_in_the_widget_colours(results):
    import matplotlib.pyplot as plt

    res, masks = results
    fig, ax = plt.subplots()
    assert res.plot(0, ax=ax) is ax
    drawn = ax.get_images()[0].get_array()
    only_cat = masks[0][5] & ~masks[0][300]
    if only_cat.any():  # the cat's pixels moved towards its colour
        y, x = np.argwhere(only_cat)[0]
        colour = np.array([int(color_for(5)[k : k + 2], 16) for k in (1, 3, 5)])
        original = res.images.pixels(0)[y, x].astype(int)
        assert np.abs(drawn[y, x] - colour).sum() < np.abs(original - colour).sum()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat", "dog"]
    plt.close(fig)
