"""Object ids as SAM 2's own API uses them: ``add_points(..., obj_id=1)`` on a fresh widget makes
object 1 (images and clips alike); an id that belonged to a deleted object is refused clearly,
and nothing changes then."""

from __future__ import annotations

import time

import pytest

from sam2_widget import Sam2Widget
from tests.clips import make_clip
from tests.images import synthetic_image
from tests.models import tiny_model


@pytest.fixture(scope="module")
def video_model():
    return tiny_model(128)


def _widgets(model, video_model):
    yield Sam2Widget(synthetic_image(48, 64), model=model)
    yield Sam2Widget(make_clip(3), model=video_model)


@pytest.mark.parametrize("kind", ["image", "clip"])
def test_an_unused_id_makes_that_object(model, video_model, kind):
    w = list(_widgets(model, video_model))[kind == "clip"]
    try:
        masks = w.add_points([[20, 20]], [1], obj_id=1)
        assert [(o["id"], o["name"]) for o in w.objects] == [(1, "object 1")] and masks[1].any()
        w.add_box([5, 5, 30, 30], obj_id=7)
        assert [o["id"] for o in w.objects] == [1, 7] and w.selected_id == 7
        assert w.add_object() == 8  # ids go on after the highest one given
        w.undo()
        w.undo()
        assert [o["id"] for o in w.objects] == [1]
    finally:
        w.close()


@pytest.mark.parametrize("kind", ["image", "clip"])
def test_the_id_of_a_deleted_object_is_refused_and_nothing_changes(model, video_model, kind):
    w = list(_widgets(model, video_model))[kind == "clip"]
    try:
        w.add_points([[20, 20]], [1], obj_id=2)
        w.add_points([[40, 30]], [1], obj_id=3)
        w.delete_object(2)
        before = {k: v.copy() for k, v in w.masks.items()}
        with pytest.raises(KeyError, match="object id 2 was used by an object that no longer exists"):
            w.add_points([[10, 10]], [1], obj_id=2)
        assert w.masks.keys() == before.keys() == {3}
        assert [o["id"] for o in w.objects] == [3]
        w.add_points([[10, 10]], [1], obj_id=4)  # a new id still works
        assert set(w.masks) == {3, 4}
    finally:
        w.close()


@pytest.mark.parametrize("ids", [list(range(1, 100_001)), [1, 2] * 50_000, [1] + ["x"] * 100_000])
def test_a_merge_of_100000_ids_is_refused_at_once(model, ids):
    w = Sam2Widget(synthetic_image(48, 64), model=model)
    try:
        w.add_points([[20, 20]], [1])
        w.add_points([[40, 30]], [1], obj_id=2)
        start = time.perf_counter()
        with pytest.raises((KeyError, ValueError, TypeError)) as error:
            w.merge_objects(ids)
        assert time.perf_counter() - start < 2.0, "the checks must be linear in the number of ids"
        assert len(str(error.value)) < 400  # a short message, not the whole list
        assert set(w.masks) == {1, 2}
    finally:
        w.close()
