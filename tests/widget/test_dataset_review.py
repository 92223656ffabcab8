"""A labelled set in the widget (issue 15): labels in as objects, review through the messages and
Python, ids kept on the way out, the review in session files and autosave."""

from __future__ import annotations

import copy
import json
import time

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from sam2_widget import Sam2Widget
from tests.widget.dataset_files import NAMES, SIZES, coco_document, pycocotools_mask, write_images
from tests.widget.harness import Frontend, make_widget, ok


@pytest.fixture
def coco_set(tmp_path):
    write_images(tmp_path / "images")
    doc = coco_document()
    return tmp_path / "images", doc


def coco_widget(coco_set, model, **options):
    folder, doc = coco_set
    return make_widget(folder, model, annotations=copy.deepcopy(doc), **options)


def test_coco_labels_become_objects_equal_to_pycocotools(coco_set, model):
    folder, doc = coco_set
    w, front = coco_widget(coco_set, model)
    by_image = {}
    for a in doc["annotations"]:
        by_image.setdefault(a["image_id"] - 7, []).append(a)
    names = {3: "cat", 5: "dog"}
    for index, anns in by_image.items():
        ok(front, front.send("goto", index=index))
        h, w_ = SIZES[index]
        masks = w.masks
        shown = [o for o in w.objects]
        assert [o["name"] for o in shown] == [names[a["category_id"]] for a in anns]
        got = [masks[o["id"]] for o in shown]
        for mask, a in zip(got, anns):
            np.testing.assert_array_equal(mask, pycocotools_mask(a, h, w_))
    assert not w.can_undo  # labels come in outside the undo history
    w.close()


def test_untouched_set_exports_equal_to_its_input_and_edits_change_only_them(coco_set, model, tmp_path):
    folder, doc = coco_set
    w, front = coco_widget(coco_set, model)
    ok(front, front.send("goto", index=1))
    ok(front, front.send("goto", index=2))
    assert w.results.to_coco() == doc  # visited and never-visited images alike
    assert w.results.changes().counts() == {"added": 0, "deleted": 0, "edited": 0}

    ok(front, front.send("goto", index=1))
    dog = next(o["id"] for o in w.objects if o["name"] == "dog")
    ok(front, front.send("delete_object", id=dog))  # annotation 206
    cat = next(o["id"] for o in w.objects if o["name"] == "cat")
    ok(front, front.send("rename_object", id=cat, name="dog"))  # 205 re-categorised
    out = w.results.to_coco()
    assert [a["id"] for a in out["annotations"]] == [101, 102, 205, 300, 301]
    kept = {a["id"]: a for a in doc["annotations"]}
    for a in out["annotations"]:
        if a["id"] != 205:
            assert a == kept[a["id"]]
    assert next(a for a in out["annotations"] if a["id"] == 205)["category_id"] == 5
    changes = w.results.changes()
    assert changes.counts() == {"added": 0, "deleted": 1, "edited": 1}

    path = tmp_path / "out.json"
    w.results.write_coco(path, review=True)
    coco = COCO(str(path))  # pycocotools reads it back
    assert sorted(coco.getAnnIds()) == [101, 102, 205, 300, 301]
    assert json.loads(path.read_text())["images"][0]["review_status"] == "unreviewed"
    w.close()


def test_a_click_refines_a_loaded_mask_and_new_objects_get_fresh_ids(coco_set, model):
    w, front = coco_widget(coco_set, model)
    first = w.objects[0]["id"]
    ok(front, front.send("select_object", id=first))
    ok(front, front.send("add_point", x=10.0, y=8.0, label=1))
    img = w._session.state.images[0]
    assert first in img.seeds and img.masks[first].key[0]  # predicted from the click, with the seed kept
    ok(front, front.send("add_object"))
    ok(front, front.send("add_point", x=30.0, y=20.0, label=1))
    assert w.selected_id > 6  # above every COCO label's id (6 annotations)
    ids = [a["id"] for a in w.results.to_coco()["annotations"]]
    assert ids == [101, 102, 205, 206, 300, 301, 302]  # the new mask: a fresh annotation id
    ok(front, front.send("undo"))
    ok(front, front.send("undo"))
    ok(front, front.send("undo"))
    assert [a["id"] for a in w.results.to_coco()["annotations"]] == [101, 102, 205, 206, 300, 301]
    assert w.results.changes().counts() == {"added": 0, "deleted": 0, "edited": 0}
    w.close()


def test_label_map_folders_in_and_out(tmp_path, model):
    images = write_images(tmp_path / "images")
    maps = tmp_path / "labels"
    maps.mkdir()
    for (h, w_), name in zip(SIZES, NAMES):
        label = np.zeros((h, w_), dtype=np.uint8)
        label[2:10, 3:12] = 4
        label[12:20, 5:25] = 9
        Image.fromarray(label).save(maps / name)
    w, front = make_widget(tmp_path / "images", model, annotations=maps, names={4: "cat", 9: "dog"})
    assert [o["name"] for o in w.objects] == ["cat", "dog"]
    ok(front, front.send("goto", index=1))
    saved = w.results.save(tmp_path / "out")
    for name, path in zip(NAMES, saved):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(maps / name)))
    # An edit shows in the changes; the label map out keeps the other label's value.
    dog = next(o["id"] for o in w.objects if o["name"] == "dog")
    ok(front, front.send("delete_object", id=dog))
    assert w.results.changes().counts()["deleted"] == 1
    out = w.results.label_map(1)
    assert set(np.unique(out)) == {0, 4}
    assert len(images) == 3
    w.close()


class CountingSequence:
    """A lazy data set that records which items were read."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.read: list[int] = []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        self.read.append(i)
        rng = np.random.default_rng(i)
        return {"image": rng.integers(0, 255, (24, 32, 3), dtype=np.uint8), "label": i}


def test_a_lazy_sequence_is_read_only_for_images_shown(model, tmp_path):
    items = CountingSequence(500)
    w, front = make_widget(items, model)
    w.wait_idle(60)
    assert set(items.read) <= {0, 1}  # the shown image (and at most the next, encoded ahead)
    ok(front, front.send("goto", index=7))
    w.wait_idle(60)
    assert set(items.read) <= {0, 1, 7, 8}
    assert w.image_count == 500
    with pytest.raises(ValueError, match="pass the images again"):
        w.save_session(tmp_path / "s.npz")
        Sam2Widget.load_session(tmp_path / "s.npz", model=model)
    w.close()


def review_messages(front: Frontend) -> None:
    ok(front, front.send("mark", status="reviewed"))
    ok(front, front.send("goto", index=2))
    ok(front, front.send("mark", status="flagged"))
    ok(front, front.send("set_note", note="mask of the dog too small"))


def test_review_messages_and_python_api(coco_set, model):
    w, front = coco_widget(coco_set, model)
    version = w.thumbs_version
    review_messages(front)
    assert w.thumbs_version > version
    assert w.review["status"] == "flagged" and w.review["note"] == "mask of the dog too small"
    assert w.review["counts"] == {"unreviewed": 1, "reviewed": 1, "flagged": 1}
    assert w.review["categories"] == ["cat", "dog"]
    ok(front, front.send("next", status="unreviewed", direction=1))
    assert w.image_index == 1
    ok(front, front.send("next", status="flagged", direction=-1))
    assert w.image_index == 2
    seq = front.send("next", status="flagged", direction=1)  # none other: ok, nothing moves
    ok(front, seq)
    assert w.image_index == 2 and "no flagged image" in w.status_text
    assert w.next("reviewed") == 0 and w.image_index == 0
    w.mark("flagged", index=1, note="check")
    table = w.review_table
    assert [r.status for r in table] == ["reviewed", "flagged", "flagged"]
    assert table[1].note == "check" and table[0].masks == 2
    assert w.filter(status="flagged") == [1, 2] and w.image_index == 1  # moved into the filter
    assert w.review["filtered"] == 2 and w.review["position"] == 0
    assert w.filter(category="dog") == [0, 1, 2]
    assert w.filter() == [0, 1, 2]
    w.close()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"type": "mark", "status": "done"}, "status must be one of"),
        ({"type": "mark"}, "missing the field 'status'"),
        ({"type": "set_note", "note": 5}, "note must be a string"),
        ({"type": "set_note", "note": "x" * 2001}, "at most 2000"),
        ({"type": "next", "status": "flagged", "direction": 2}, "direction must be 1 or -1"),
        ({"type": "next", "status": "maybe", "direction": 1}, "status must be one of"),
        ({"type": "set_filter", "status": "odd", "category": None}, "filter status must be one of"),
        ({"type": "set_filter", "status": None, "category": "horse"}, "unknown category 'horse'"),
        ({"type": "set_filter", "status": "flagged", "category": None}, "no image has status flagged"),
        ({"type": "set_filter", "status": None, "category": 3}, "must be a string or null"),
        ({"type": "fetch_thumbnails", "indices": list(range(65))}, "at most 64"),
        ({"type": "fetch_thumbnails", "indices": [0, 3]}, "out of range"),
        ({"type": "fetch_thumbnails", "indices": "0"}, "list of integers"),
    ],
)
def test_bad_review_messages_are_refused_and_change_nothing(coco_set, model, fields, error):
    w, front = coco_widget(coco_set, model)
    ok(front, front.send("mark", status="reviewed"))
    before = (dict(w.review), w.image_index, w.thumbs_version)
    seq = front.send(fields.pop("type"), **fields)
    ack = front.ack(seq)
    assert not ack["ok"] and error in ack["error"], ack
    assert (dict(w.review), w.image_index, w.thumbs_version) == before
    w.close()


def test_fetch_thumbnails_shown_first_then_the_others_then_the_ack(coco_set, model):
    w, _ = coco_widget(coco_set, model)
    sent = []
    w.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    front = Frontend.__new__(Frontend)
    front.widget, front.sent, front._seq = w, [], 0
    w.goto(1)
    w.mark("flagged")
    front.raw({"type": "fetch_thumbnails", "seq": 1, "indices": [0, 2, 1]})
    w.wait_idle(60)
    replies = [c for c, _ in sent if c.get("type") in ("thumbnail", "ack")]
    assert [r.get("index") for r in replies] == [1, 0, 2, None] and replies[-1]["ok"]
    assert replies[0]["status"] == "flagged" and replies[0]["masks"] == 2 and replies[0]["name"] == "b.png"
    buffers = [b for c, b in sent if c.get("type") == "thumbnail"]
    for buf in buffers:
        from io import BytesIO

        assert max(Image.open(BytesIO(buf[0])).size) == 96
    assert w._thumbs.nbytes > 0
    w.close()


def test_a_single_image_has_no_review(model):
    w, front = make_widget(np.zeros((20, 30, 3), dtype=np.uint8), model)
    assert w.review == {}
    ack = front.ack(front.send("mark", status="reviewed"))
    assert not ack["ok"] and "review is for image sets" in ack["error"]
    w.close()


def test_review_survives_a_session_round_trip_and_autosave(coco_set, model, tmp_path):
    folder, doc = coco_set
    auto = tmp_path / "auto.npz"
    w, front = coco_widget(coco_set, model, autosave=auto)
    review_messages(front)
    ok(front, front.send("goto", index=1))
    dog = next(o["id"] for o in w.objects if o["name"] == "dog")
    ok(front, front.send("delete_object", id=dog))
    w.wait_idle(60)
    expected = w.results.to_coco(review=True)
    path = w.save_session(tmp_path / "s.npz")
    w.close()
    for saved in (path, auto):
        back = Sam2Widget.load_session(saved, folder, model=model, annotations=copy.deepcopy(doc))
        assert [r.status for r in back.review_table] == ["reviewed", "unreviewed", "flagged"]
        assert back.review_table[2].note == "mask of the dog too small"
        assert back.results.to_coco(review=True) == expected  # the deletion kept, labels not seeded twice
        back.close()


def _wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_next_image_is_encoded_in_the_background(coco_set, model):
    w, front = coco_widget(coco_set, model)
    assert _wait_for(lambda: 1 in w._cache)  # the neighbour in the direction of travel
    ok(front, front.send("goto", index=2))
    ok(front, front.send("goto", index=1))  # now going back: image 0 next
    w.mark("flagged", index=0)
    assert _wait_for(lambda: 0 in w._cache)
    w.close()


def test_object_ids_only_go_up_and_seeds_outlive_undo(tmp_path):
    from sam2_widget.images import ImageSet
    from sam2_widget.objects import ObjectList, ObjectRegistry
    from sam2_widget.session import Session

    registry = ObjectRegistry()
    registry.add(ObjectList(), obj_id=9)
    registry.add(ObjectList(), obj_id=3)  # a lower id later: the next stays above 9
    assert registry.next_id == 10
    registry.reserve(20)
    assert registry.add(ObjectList())[1] == 21

    session = Session(ImageSet.from_source([np.zeros((8, 8, 3), np.uint8)] * 2))
    first = session.add_object("mine")
    runs = np.array([8, 8, 48], dtype=np.uint32)
    session.add_seed_objects(1, [(first + 1, "cat", runs)])
    assert session.undo() and first + 1 in session.state.object_ids  # the label is no undo step
    assert session.masks(1)[first + 1].sum() == 8
    with pytest.raises(ValueError, match="is taken"):
        session.add_seed_objects(0, [(first, "dog", runs)])


def test_bad_labels_are_reported_when_the_widget_opens_and_the_rest_loads(coco_set, model, capsys):
    folder, doc = coco_set
    doc = copy.deepcopy(doc)
    doc["annotations"][1]["segmentation"] = [[1, 2, 3, 4]]  # a polygon of two points
    doc["annotations"][3]["category_id"] = 99  # not in categories
    w, front = make_widget(folder, model, annotations=doc)
    said = capsys.readouterr().out
    assert "102" in said and "206" in said  # each bad annotation named in one summary
    assert [o["name"] for o in w.objects] == ["cat"]  # image 0 keeps its good label
    ok(front, front.send("goto", index=1))
    assert len(w.objects) == 1
    w.close()
