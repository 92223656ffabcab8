"""The review state: statuses and notes, next / filter, the table, and a JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam2_widget.dataset import open_dataset
from sam2_widget.review import ReviewState
from tests.widget.dataset_files import coco_document, write_images


def test_mark_notes_and_counts():
    r = ReviewState(5)
    assert r.counts() == {"unreviewed": 5, "reviewed": 0, "flagged": 0} and r.status(4) == "unreviewed"
    r.mark(1, "reviewed")
    r.mark(3, "flagged", "  mask misses the tail ")
    r.mark(3, "reviewed")  # the note stays unless given
    assert r.note(3) == "mask misses the tail" and r.status(3) == "reviewed"
    r.set_note(3, "")
    assert r.note(3) == "" and r.counts() == {"unreviewed": 3, "reviewed": 2, "flagged": 0}
    assert r.indices("reviewed") == [1, 3] and r.indices(["unreviewed", "flagged"]) == [0, 2, 4]
    with pytest.raises(ValueError, match="status must be one of"):
        r.mark(0, "done")
    with pytest.raises(ValueError, match="out of range"):
        r.mark(5, "reviewed")
    with pytest.raises(TypeError, match="a note must be a string"):
        r.set_note(0, 3)


def test_next_in_both_directions_with_and_without_wrap():
    r = ReviewState(8)
    for i in (2, 5):
        r.mark(i, "flagged")
    assert r.next(0, "flagged") == 2 and r.next(2, "flagged") == 5 and r.next(5, "flagged") == 2
    assert r.next(5, "flagged", wrap=False) is None
    assert r.next(5, "flagged", direction=-1) == 2 and r.next(1, "flagged", direction=-1) == 5
    assert r.next(1, "flagged", direction=-1, wrap=False) is None
    assert r.next(0) == 1 and r.next(7) == 0  # unreviewed by default
    r2 = ReviewState(3)
    r2.mark(1, "flagged")
    assert r2.next(1, "flagged") == 1 and r2.next(0, "reviewed") is None
    with pytest.raises(ValueError, match="direction"):
        r.next(0, direction=2)


def test_filter_and_table_from_loaded_labels(tmp_path):
    write_images(tmp_path)
    data = open_dataset(tmp_path, coco_document())
    ann = data.annotations
    r = ReviewState(len(data.images))
    r.mark(1, "flagged", "crowd looks wrong")
    assert r.filter(category="dog", categories_of=ann.categories) == [0, 1, 2]
    assert r.filter(status="flagged", category=["dog", "bird"], categories_of=ann.categories) == [1]
    assert r.filter(category="bird", categories_of=ann.categories) == []
    assert r.filter(category="cat", categories_of=lambda i: None) == []  # not known yet: left out
    with pytest.raises(ValueError, match="categories_of"):
        r.filter(category="cat")
    names = [data.images.name(i) for i in range(3)]
    table = r.table(names, ann.mask_count, ann.categories)
    assert len(table) == 3 and table[1].status == "flagged" and table[1].masks == 2
    assert table.records()[1] == {
        "index": 1,
        "name": "b.png",
        "status": "flagged",
        "note": "crowd looks wrong",
        "masks": 2,
        "categories": ["cat", "dog"],
    }
    text = repr(table)
    assert text.splitlines()[0].split() == ["index", "name", "status", "masks", "categories", "note"]
    assert "b.png  flagged" in text and "crowd looks wrong" in text
    assert "?" in repr(r.table(names, lambda i: None, lambda i: None, indices=[0]))


def test_json_round_trip_and_bad_saves():
    r = ReviewState(10_000)
    r.mark(3, "reviewed")
    r.mark(9_999, "flagged", "check the edges")
    r.mark(17, "unreviewed", "note without a status")
    saved = json.loads(json.dumps(r.to_dict()))  # what a session file's JSON meta holds
    assert (
        saved["reviewed"] == [3]
        and saved["flagged"] == [9999]
        and saved["notes"]
        == {
            "17": "note without a status",
            "9999": "check the edges",
        }
    )
    back = ReviewState.from_dict(saved, 10_000)
    assert back.to_dict() == r.to_dict() and back.note(9999) == "check the edges"
    assert np.array_equal(back._codes, r._codes)
    with pytest.raises(ValueError, match="saved for 10000 images, the set has 9"):
        ReviewState.from_dict(saved, 9)
    with pytest.raises(ValueError, match="two statuses"):
        ReviewState.from_dict({**saved, "flagged": [3]}, 10_000)
    with pytest.raises(ValueError, match="out of range"):
        ReviewState.from_dict({**saved, "reviewed": [10_000]}, 10_000)
    with pytest.raises(ValueError, match="not a saved review"):
        ReviewState.from_dict({"reviewed": []}, 10_000)
    with pytest.raises(ValueError, match="newer"):
        ReviewState.from_dict({**saved, "version": 2}, 10_000)
