"""Out with ids kept: an untouched set exports equal to its input, an edited one changes
exactly the edited annotations, and changes() says what the review did."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from pycocotools import mask as mask_api
from pycocotools.coco import COCO

from sam2_backend.rle import encode_mask
from sam2_widget.coco_export import CocoExport, to_coco, write_coco
from sam2_widget.dataset import open_dataset
from sam2_widget.review import ReviewState
from tests.widget.dataset_files import SIZES, blob, coco_document, pycocotools_mask, write_images


@pytest.fixture
def labelled(tmp_path):
    write_images(tmp_path / "images")
    doc = coco_document()
    return doc, open_dataset(tmp_path / "images", copy.deepcopy(doc)).annotations, tmp_path / "images"


def as_loaded(ann, index):
    """An image's labels as a session would hold them untouched: ``{obj_id: (category, runs)}``."""
    return {o.obj_id: (o.category, o.runs) for o in ann.objects(index)}


def test_an_untouched_set_exports_equal_to_its_input(labelled):
    doc, ann, _ = labelled
    assert to_coco(ann, {}) == doc
    touched = {i: as_loaded(ann, i) for i in range(3)}  # opened, nothing changed
    assert to_coco(ann, touched) == doc
    assert str(CocoExport(ann, touched).changes()) == "Changes(0 images: 0 added, 0 deleted, 0 edited)"


def test_as_rle_every_annotation_keeps_its_id_and_pixels(labelled):
    doc, ann, _ = labelled
    out = to_coco(ann, {}, segmentation="rle")
    assert [a["id"] for a in out["annotations"]] == [a["id"] for a in doc["annotations"]]
    assert out["categories"] == doc["categories"] and out["images"] == doc["images"]
    for before, after in zip(doc["annotations"], out["annotations"]):
        h, w = SIZES[before["image_id"] - 7]
        assert isinstance(after["segmentation"]["counts"], str)  # polygons come back as RLE
        np.testing.assert_array_equal(pycocotools_mask(after, h, w), pycocotools_mask(before, h, w))
        assert after["area"] == before["area"] and after["bbox"] == pytest.approx(before["bbox"])
        assert {k: v for k, v in after.items() if k not in ("segmentation",)} == {
            k: v for k, v in before.items() if k not in ("segmentation",)
        } | {"bbox": after["bbox"]}


def test_an_edited_set_changes_exactly_the_edited_annotations(labelled, tmp_path):
    doc, ann, _ = labelled
    hw0, _, hw2 = SIZES
    moved = blob(hw0, 4, 3, 14, 20)  # annotation 101 (image 0) redrawn
    current = {
        0: {1: ("cat", moved), 2: ("cat", as_loaded(ann, 0)[2][1])},  # 102 re-categorised dog -> cat
        1: {3: as_loaded(ann, 1)[3]},  # 206 deleted
        2: {**as_loaded(ann, 2), 40: ("bird", encode_mask(blob(hw2, 0, 0, 3, 4))), 41: ("cat", np.zeros(hw2))},
    }
    review = ReviewState(3)
    review.mark(0, "reviewed")
    review.mark(2, "flagged", "the bird is a guess")
    export = CocoExport(ann, current, review)
    out = export.to_dict()
    by_id = {a["id"]: a for a in out["annotations"]}
    assert list(by_id) == [101, 102, 205, 300, 301, 302]  # input order, 206 gone, the new one last
    before = {a["id"]: a for a in doc["annotations"]}
    for same in (205, 300, 301):
        assert by_id[same] == before[same]
    np.testing.assert_array_equal(pycocotools_mask(by_id[101], *hw0), moved)
    rle = {"size": list(hw0), "counts": by_id[101]["segmentation"]["counts"].encode()}
    assert by_id[101]["area"] == float(mask_api.area(rle)) == moved.sum()
    assert by_id[101]["bbox"] == mask_api.toBbox(rle).tolist() == [3.0, 4.0, 17.0, 10.0]
    assert {k: v for k, v in by_id[101].items() if k not in ("segmentation", "area", "bbox")} == {
        k: v for k, v in before[101].items() if k not in ("segmentation", "area", "bbox")
    }
    assert by_id[102]["category_id"] == 3 and isinstance(by_id[102]["segmentation"]["counts"], str)
    assert by_id[302]["image_id"] == 9 and by_id[302]["category_id"] == 6 and by_id[302]["area"] == 12.0
    assert out["categories"] == [*doc["categories"], {"id": 6, "name": "bird"}]
    assert out["info"] == doc["info"] and out["licenses"] == doc["licenses"]
    assert [(e.get("review_status"), e.get("review_note")) for e in out["images"]] == [
        ("reviewed", None),
        ("unreviewed", None),
        ("flagged", "the bird is a guess"),
    ]

    changes = export.changes()
    assert changes.counts() == {"added": 1, "deleted": 1, "edited": 2}
    rows = {(r["change"], r["ann_id"] or r["obj_id"]): r for r in changes.rows()}
    old = pycocotools_mask(before[101], *hw0)
    expected_iou = (old & moved).sum() / (old | moved).sum()
    assert rows["edited", 101]["iou"] == pytest.approx(expected_iou) and expected_iou < 1
    assert rows["edited", 102]["iou"] == 1.0 and rows["edited", 102]["old_category"] == "dog"
    assert rows["deleted", 206]["category"] == "dog" and rows["added", 40]["category"] == "bird"
    text = str(changes)
    assert "a.png: edited annotation 101 (cat, IoU" in text and "annotation 102 (dog -> cat, IoU 1.000)" in text
    assert "b.png: deleted annotation 206 (dog)" in text and "c.png: added object 40 (bird)" in text

    # streamed to a file: the same document, and pycocotools reads it
    path = write_coco(tmp_path / "out.json", ann, current, review)
    assert json.loads(path.read_text()) == out
    api = COCO(str(path))
    np.testing.assert_array_equal(api.annToMask(api.anns[101]).astype(bool), moved)
    assert not (tmp_path / "out.json.part").exists()


def test_labels_that_did_not_load_are_written_as_read(labelled):
    doc, _, folder = labelled
    bad = {"id": 999, "image_id": 7, "category_id": 3, "segmentation": [[1, 1, 2, 2]]}
    doc["annotations"].append(bad)
    ann = open_dataset(folder, copy.deepcopy(doc)).annotations
    assert [p.label for p in ann.report.problems] == [999]
    out = to_coco(ann, {0: {}}, segmentation="rle")  # every label of image 0 deleted
    assert [a["id"] for a in out["annotations"]] == [205, 206, 300, 301, 999]
    assert out["annotations"][-1] == bad


def test_bad_arguments():
    with pytest.raises(ValueError, match="segmentation must be one of"):
        CocoExport(None, {}, segmentation="polygons")


def test_labels_seeded_into_a_session_export_unchanged_and_edits_show(labelled):
    """How the widget will use these pieces: each label becomes a mask-only object of a Session
    (the seed a click refines), named after its category; the session's masks go back out."""
    from sam2_widget.images import ImageSet
    from sam2_widget.session import Session

    doc, ann, folder = labelled
    session = Session(ImageSet.from_source([folder / e["file_name"] for e in doc["images"]]))
    loaded_id = {}  # session object id -> the label's obj_id
    for i in range(3):
        objects = ann.objects(i)
        ids = session.add_mask_objects(i, [(o.mask(SIZES[i]), 1.0) for o in objects])
        for sid, o in zip(ids, objects):
            session.rename_object(sid, o.category)
            loaded_id[sid] = o.obj_id

    def current():
        names = {o.id: o.name for o in session.objects()}
        return {
            i: {loaded_id.get(s, s): (names[s], e.runs) for s, e in session.mask_entries(i).items()} for i in range(3)
        }

    assert to_coco(ann, current()) == doc
    session.delete_object(next(s for s, o in loaded_id.items() if o == 4))  # annotation 206
    out = to_coco(ann, current())
    assert [a["id"] for a in out["annotations"]] == [101, 102, 205, 300, 301]
    session.undo()
    assert to_coco(ann, current()) == doc


def test_an_image_the_file_does_not_list_gets_an_entry_when_labelled(labelled):
    doc, _, folder = labelled
    doc["images"] = doc["images"][:2]
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != 9]
    ann = open_dataset([folder / n for n in ("a.png", "b.png", "c.png")], copy.deepcopy(doc)).annotations
    assert ann.mask_count(2) == 0 and ann.report.ok
    assert to_coco(ann, {2: {}}) == doc  # looked at, nothing drawn: no entry
    review = ReviewState(3)
    review.mark(2, "reviewed")
    out = to_coco(ann, {2: {50: ("bird", blob(SIZES[2], 0, 0, 2, 2))}}, review)
    assert out["images"][:2] == [{**e, "review_status": "unreviewed"} for e in doc["images"]]
    assert out["images"][2] == {"id": 9, "file_name": "c.png", "width": 40, "height": 30, "review_status": "reviewed"}
    new = out["annotations"][-1]
    assert (new["id"], new["image_id"], new["area"]) == (207, 9, 4.0)
    assert out["categories"][-1] == {"id": 6, "name": "bird"}
