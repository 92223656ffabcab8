"""Existing labels in: COCO (compressed and uncompressed RLE, polygons, crowd), PNG label maps
and masks given in Python become objects per image; masks equal pycocotools' decoding; every
bad label is reported and the rest loads."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_api

from sam2_widget.coco_segmentation import SegmentationError, decode_segmentation, string_counts
from sam2_widget.dataset import open_dataset
from sam2_widget.images import ImageSet
from sam2_widget.label_changes import label_changes
from sam2_widget.objects import ObjectInfo
from sam2_widget.results import ImageSetResults
from sam2_widget.session import MaskEntry
from tests.widget.dataset_files import NAMES, SIZES, blob, coco_document, pycocotools_mask, write_images


@pytest.fixture
def folder(tmp_path):
    write_images(tmp_path / "images")
    return tmp_path / "images"


def test_coco_masks_equal_pycocotools_decoding(folder):
    doc = coco_document()
    data = open_dataset(folder, doc)
    ann = data.annotations
    assert ann.report.ok and ann.report.loaded == 6, str(ann.report)
    assert [data.images.name(i) for i in range(3)] == NAMES
    by_id = {a["id"]: a for a in doc["annotations"]}
    seen = []
    for i, (h, w) in enumerate(SIZES):
        for obj in ann.objects(i):
            expected = pycocotools_mask(by_id[obj.ann_id], h, w)
            np.testing.assert_array_equal(obj.mask((h, w)), expected)
            assert obj.category == {3: "cat", 5: "dog"}[by_id[obj.ann_id]["category_id"]]
            seen.append(obj.ann_id)
    assert seen == [101, 102, 205, 206, 300, 301]
    crowd = ann.objects(1)[0]
    assert crowd.iscrowd == 1 and crowd.record["source"] == "labeller-2"  # extra fields kept
    assert [o.obj_id for i in range(3) for o in ann.objects(i)] == [1, 2, 3, 4, 5, 6]
    assert ann.mask_count(1) == 2 and ann.categories(0) == ["cat", "dog"] and ann.category_names == ["cat", "dog"]
    assert ann.max_obj_id == 6


def test_random_rle_strings_decode_as_pycocotools():
    rng = np.random.default_rng(1)
    for t in range(300):
        h, w = (int(v) for v in rng.integers(1, 70, 2))
        m = rng.random((h, w)) < rng.random()
        if t % 5 == 0:
            m = rng.random((h, w)) < 0.999  # long runs: several 5-bit groups per count
        rle = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
        seg = {"size": [h, w], "counts": rle["counts"].decode("ascii")}
        np.testing.assert_array_equal(decode_segmentation(seg, h, w), mask_api.decode(rle).astype(bool))
    # a count that needs the sign bit: a difference going down
    m = np.zeros((50, 50), dtype=bool)
    m[:, :3] = True
    m[40:, 10:] = True
    rle = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
    assert (string_counts(rle["counts"]) >= 0).all()
    np.testing.assert_array_equal(decode_segmentation({"size": [50, 50], "counts": rle["counts"]}, 50, 50), m)


def test_every_bad_label_is_reported_and_the_rest_loads(folder):
    doc = coco_document()
    good = len(doc["annotations"])
    bad = [
        {"id": 900, "image_id": 7, "category_id": 3, "segmentation": [[1, 1, 5, 5]]},  # 2 points
        {"id": 901, "image_id": 7, "category_id": 3, "segmentation": {"size": [10, 10], "counts": "PP"}},  # size
        {"id": 902, "image_id": 99, "category_id": 3, "segmentation": [[1, 1, 5, 1, 5, 5]]},  # no such image
        {"id": 903, "image_id": 8, "category_id": 42, "segmentation": [[1, 1, 5, 1, 5, 5]]},  # no such category
        {"id": 904, "image_id": 8, "category_id": 3, "segmentation": {"size": [24, 32], "counts": [5, 3]}},  # sum
        {"id": 905, "image_id": 9, "category_id": 3, "segmentation": {"size": [30, 40], "counts": "0"}},  # short
        {"id": 906, "image_id": [7], "category_id": 3, "segmentation": [[1, 1, 5, 1, 5, 5]]},  # not an id
    ]
    doc["annotations"] += bad
    data = open_dataset(folder, doc)
    report = data.annotations.report
    found_up_front = {p.label: p.kind for p in report.problems}
    assert found_up_front == {
        900: "polygon",
        901: "rle_size",
        902: "no_image",
        903: "category",
        904: "rle",
        906: "no_image",
    }
    assert report.loaded == good + 1  # 905's string is only decoded with its image
    assert len(data.annotations.objects(2)) == 2  # the good ones of image 2 load
    kinds = {p.label: p.kind for p in data.annotations.check().problems}
    assert kinds[905] == "rle" and report.loaded == good and len(report.problems) == len(bad)
    text = str(report)
    assert f"{good} labels loaded, {len(bad)} not loaded" in text
    for label in (900, 901, 902, 903, 904, 905, 906):
        assert f"label {label}" in text
    assert "polygon with too few points" in text and "category id not in categories" in text
    data.annotations.objects(2)
    assert len(report.problems) == len(bad)  # reported once however often decoded


def test_coco_with_paths_matches_by_file_name_and_reports_the_rest(folder):
    doc = coco_document()
    doc["images"][0]["file_name"] = "sub/a.png"  # base name matches
    paths = [folder / "c.png", folder / "a.png"]  # b.png is not given
    data = open_dataset(paths, doc)
    assert data.annotations.index_of == {9: 0, 7: 1}
    assert [o.ann_id for o in data.annotations.objects(1)] == [101, 102]
    assert {p.label for p in data.annotations.report.problems if p.kind == "unmatched_image"} == {205, 206}
    assert "1 of the file's 3 images are not among the images given" in str(data.annotations.report)


def test_coco_file_on_disk_and_a_lazy_sequence_by_order(folder, tmp_path):
    import json

    path = tmp_path / "labels.json"
    path.write_text(json.dumps(coco_document()))
    data = open_dataset(folder, path)
    assert str(data.annotations.report).startswith(f"COCO {path}: 6 labels loaded, 0 not loaded.")
    assert data.images.known_size(1) == SIZES[1]  # from the file, nothing opened
    items = [np.zeros((*hw, 3), dtype=np.uint8) for hw in SIZES]
    lazy = open_dataset(items, path)
    assert [o.ann_id for o in lazy.annotations.objects(2)] == [300, 301]
    with pytest.raises(ValueError, match="matching by order needs"):
        open_dataset(items[:2], path)


def test_a_file_without_categories_names_objects_generically(folder):
    doc = coco_document()
    del doc["categories"]
    doc["annotations"][0].pop("category_id")
    ann = open_dataset(folder, doc).annotations
    assert ann.report.ok
    assert [o.category for o in ann.objects(0)] == ["object", "category 5"]


def test_decoding_refuses_what_would_overrun_pycocotools():
    with pytest.raises(SegmentationError, match="cover"):
        decode_segmentation({"size": [4, 4], "counts": [3, 20]}, 4, 4)
    with pytest.raises(SegmentationError, match="ends inside"):
        decode_segmentation({"size": [4, 4], "counts": "1P"}, 4, 4)


def test_label_maps_in_and_out(folder, tmp_path):
    maps = tmp_path / "maps"
    maps.mkdir()
    (h0, w0), (h1, w1), _ = SIZES
    first = np.zeros((h0, w0), dtype=np.uint8)
    first[2:10, 3:9] = 4
    first[15:, 20:] = 1
    second = np.zeros((h1, w1), dtype=np.uint16)
    second[:5] = 300  # a 16-bit label map
    Image.fromarray(first).save(maps / "a.png")
    Image.fromarray(second).save(maps / "b.png")
    Image.fromarray(np.zeros((5, 5), dtype=np.uint8)).save(maps / "stray.png")
    data = open_dataset(folder, maps, names={4: "car"})
    ann = data.annotations
    assert ann.mask_count(0) is None and ann.mask_count(2) == 0  # not read yet; c.png has none
    objs = ann.objects(0)
    assert [(o.obj_id, o.category) for o in objs] == [(1, "object 1"), (4, "car")]
    np.testing.assert_array_equal(objs[1].mask((h0, w0)), first == 4)
    assert ann.mask_count(0) == 2 and ann.categories(0) == ["object 1", "car"]
    assert [o.obj_id for o in ann.objects(1)] == [300]
    text = str(ann.report)
    assert "1 of 3 images have no label map" in text and "1 label maps match no image: stray" in text
    assert ann.report.ok

    # out again, through the results' label map writer: the same pixels
    entries = [{o.obj_id: MaskEntry(o.runs, 1.0, None) for o in ann.objects(i)} for i in range(3)]
    objects = [ObjectInfo(v, f"object {v}", "#000000") for v in (1, 4, 300)]
    images = ImageSet.from_source([folder / n for n in NAMES])
    out = ImageSetResults(images, objects, entries).save(tmp_path / "out")
    np.testing.assert_array_equal(np.asarray(Image.open(out[0])), first)
    np.testing.assert_array_equal(np.asarray(Image.open(out[1])), second)
    assert not np.asarray(Image.open(out[2])).any()

    # what a review of label maps changed: object 4 deleted, object 1 grown by a row
    grown = first == 1
    grown[14, 20:] = True
    changes = label_changes(ann, {0: {1: ("object 1", grown)}}, NAMES, data.images.size)
    assert changes.counts() == {"added": 0, "deleted": 1, "edited": 1}
    [edit] = changes.images[0].edited
    assert edit.obj_id == 1 and edit.iou == pytest.approx((first == 1).sum() / grown.sum())
    line = f"  a.png: edited object 1 (object 1, IoU {edit.iou:.3f}); deleted object 4 (car)"
    assert str(changes).splitlines()[1] == line


def test_a_label_map_of_another_size_is_reported(folder, tmp_path):
    maps = tmp_path / "maps"
    maps.mkdir()
    Image.fromarray(np.ones((10, 10), dtype=np.uint8)).save(maps / "a.png")
    (maps / "b.png").write_bytes(b"not a png")
    ann = open_dataset(folder, maps).annotations
    assert ann.objects(0) == [] and ann.objects(1) == []
    assert {p.kind for p in ann.report.problems} == {"label_map_size", "label_map"}
    assert "a.png is 10x10, its image 30x40" in str(ann.report)


def test_masks_given_in_python(folder):
    hw = SIZES[0]
    good = blob(hw, 1, 1, 5, 5)
    given = {0: {2: good, 3: np.zeros((4, 4), dtype=bool)}, "c.png": {2: blob(SIZES[2], 0, 0, 3, 3)}, "zz": {}}
    ann = open_dataset(folder, given, names={2: "tree"}).annotations
    assert ann.report.loaded == 3 and [p.kind for p in ann.report.problems] == ["unmatched_image"]
    objs = ann.objects(0)
    assert [(o.obj_id, o.category) for o in objs] == [(2, "tree")]
    np.testing.assert_array_equal(objs[0].mask(hw), good)
    assert [p.label for p in ann.report.problems] == ["zz", 3] and ann.report.loaded == 2
    assert [o.obj_id for o in ann.objects(2)] == [2] and ann.max_obj_id == 3


def test_the_document_is_not_changed(folder):
    doc = coco_document()
    before = copy.deepcopy(doc)
    ann = open_dataset(folder, doc).annotations
    ann.check()
    assert doc == before


def test_the_shipped_sample_labels_load_with_their_four_mistakes():
    """sam2_widget/data/set_labels.json (scripts/make_sample_media.py) for examples/03."""
    from sam2_widget.samples import DATA, sample_image_folder

    data = open_dataset(sample_image_folder(), DATA / "set_labels.json")
    ann = data.annotations
    assert ann.check().ok and ann.report.loaded == 9
    assert [data.images.name(i) for i in range(4)] == [f"table_{i}.jpg" for i in range(1, 5)]
    assert [o.category for o in ann.objects(3)] == ["ball", "doughnut"]  # the can, labelled a ball
    doughnut = ann.objects(1)[0].mask((240, 320))
    assert doughnut[120:140, 150:170].all()  # its hole labelled doughnut
