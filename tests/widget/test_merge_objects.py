"""Merging objects (issue 4): ``merge_objects`` and its message, on a random-weight model."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_widget import Sam2VideoWidget, Sam2Widget, codecs
from sam2_widget.session import seed_logits
from tests.images import synthetic_image
from tests.widget.harness import EncodingGate, Frontend, make_widget, reference_mask

H, W = 60, 80


@pytest.fixture(scope="module")
def images():
    return [synthetic_image(H, W, seed=s) for s in (3, 4)]


def rect(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def add_mask_objects(w: Sam2Widget, index: int, masks: list[np.ndarray]) -> list[int]:
    """Mask-only objects as "segment everything" makes them (its masks are arbitrary on random weights)."""
    return w._call(w._apply, w._session.add_mask_objects, index, [(m, 0.5 + 0.1 * k) for k, m in enumerate(masks)])


def state(w: Sam2Widget) -> dict:
    """Everything merging touches, on every image."""
    w.wait_idle(60)
    results = w.results
    return {
        "objects": list(w.objects),
        "selected": w.selected_id,
        "images": [
            {
                "prompts": [p.to_dict() for p in w._session.prompts(i)],
                "masks": results.masks(i),
                "scores": results.scores(i),
            }
            for i in range(w.image_count)
        ],
    }


def assert_same(a: dict, b: dict) -> None:
    assert (a["objects"], a["selected"]) == (b["objects"], b["selected"])
    for x, y in zip(a["images"], b["images"], strict=True):
        assert x["prompts"] == y["prompts"] and x["scores"] == y["scores"]
        assert list(x["masks"]) == list(y["masks"])
        for k in x["masks"]:
            np.testing.assert_array_equal(x["masks"][k], y["masks"][k])


def build(model, images) -> tuple[Sam2Widget, Frontend]:
    """Two images: 1 clicked on both, 2 a box on image 0, 3 and 4 mask-only on image 1, 5 clicked on image 0."""
    w, fe = make_widget(images, model)
    w.add_points([[20, 20], [30, 25]], [1, 1])
    w.add_object()
    w.add_box([40, 5, 78, 35])
    w.goto(1)
    w.add_points([[50, 40]], [1], obj_id=1)
    add_mask_objects(w, 1, [rect(0, 20, 0, 30), rect(40, 60, 60, 80)])
    w.goto(0)
    w.add_object()
    w.add_points([[70, 50]], [1])
    assert [o["id"] for o in w.objects] == [1, 2, 3, 4, 5]
    return w, fe


def test_merge_by_message_unions_masks_on_every_image_and_undoes_exactly(model, images):
    w, fe = build(model, images)
    before = state(w)
    m0, m1 = before["images"][0]["masks"], before["images"][1]["masks"]
    seq = fe.send("merge_objects", ids=[2, 1, 3])
    assert fe.ack(seq) == {"type": "ack", "seq": seq, "ok": True}
    after = state(w)
    # Merged into 2, which keeps its place, name and colour and is selected; 1 and 3 are gone.
    assert after["objects"] == [o for o in before["objects"] if o["id"] in (2, 4, 5)]
    assert after["selected"] == 2
    img0, img1 = after["images"]
    assert list(img0["masks"]) == [2, 5] and list(img1["masks"]) == [2, 4]
    np.testing.assert_array_equal(img0["masks"][2], m0[1] | m0[2])
    np.testing.assert_array_equal(img1["masks"][2], m1[1] | m1[3])
    np.testing.assert_array_equal(img0["masks"][5], m0[5])
    np.testing.assert_array_equal(img1["masks"][4], m1[4])
    # Prompts of the merged objects are dropped (the union is a mask-only object); 5's stay.
    assert [p["obj_id"] for p in img0["prompts"]] == [5] and img1["prompts"] == []
    assert img0["scores"][2] == min(before["images"][0]["scores"][o] for o in (1, 2))
    assert w.can_undo and not w.can_redo
    label = codecs.decode_label_rle(w.label_rle, H, W)  # the drawn masks follow
    np.testing.assert_array_equal(label, codecs.masks_to_label_map(w.masks, (H, W)))
    assert set(np.unique(label)) <= {0, 2, 5}

    assert fe.ack(fe.send("undo"))["ok"]
    assert_same(state(w), before)
    assert fe.ack(fe.send("redo"))["ok"]
    assert_same(state(w), after)
    assert w.undo() and w.redo()  # the Python side, too
    assert_same(state(w), after)
    w.close()


def test_python_merge_then_clicks_refine_the_union_and_sessions_round_trip(model, images, tmp_path):
    image = images[0]
    w, _fe = make_widget(image, model)
    w.add_points([[20, 20]], [1])
    [seeded] = add_mask_objects(w, 0, [rect(35, 60, 50, 80)])
    union = w.masks[1] | w.masks[seeded]
    assert w.merge_objects([1, seeded]) == 1
    assert list(w.masks) == [1] and w.prompts == [] and w.selected_id == 1
    np.testing.assert_array_equal(w.masks[1], union)

    # Saved and loaded right after the merge: the union comes back as a mask-only object.
    loaded = Sam2Widget.load_session(w.save_session(tmp_path / "merged.npz"), model=model)
    assert_same(state(loaded), state(w))

    # A click refines the union: it goes in as mask_input, like a segment-everything object.
    refined = w.add_points([[40, 30]], [0])[1]
    assert w.prompts == [{"obj_id": 1, "type": "point", "x": 40.0, "y": 30.0, "label": 0}]
    expected = reference_mask(model, image, [[40, 30]], [0], mask_input=seed_logits(union, model.image_size))
    np.testing.assert_array_equal(refined, expected)
    assert not np.array_equal(refined, union)
    # The loaded widget refines the same way.
    np.testing.assert_array_equal(loaded.add_points([[40, 30]], [0])[1], expected)
    loaded.close()

    path = w.save_session(tmp_path / "clicked.npz")
    again = Sam2Widget.load_session(path, model=model)
    assert_same(state(again), state(w))
    again.remove_prompt(0)  # without its clicks the object is the union again
    np.testing.assert_array_equal(again.masks[1], union)
    again.close()

    w.undo()  # the click
    np.testing.assert_array_equal(w.masks[1], union)
    w.undo()  # the merge
    assert [o["id"] for o in w.objects] == [1, seeded] and len(w.prompts) == 1
    np.testing.assert_array_equal(w.masks[1] | w.masks[seeded], union)
    w.close()


BAD_IDS = [
    ([], ValueError, "at least two"),
    ([1], ValueError, "at least two"),
    ([1, 1], ValueError, "repeated ids: 1"),
    ([1, 2, 2], ValueError, "repeated"),
    ([1, 99], KeyError, "unknown object id 99"),
    ([1, "2"], TypeError, "object id must be an int"),
    ([1, 2.0], TypeError, "object id must be an int"),
    ([True, 2], TypeError, "object id must be an int"),
    ("12", TypeError, "list of object ids"),
    (None, TypeError, "list of object ids"),
]


def test_bad_merges_raise_and_change_nothing(model, images):
    w, _fe = make_widget(images[0], model)
    w.add_points([[20, 20]], [1])
    w.add_object()
    w.add_points([[60, 40]], [1])
    before, undo_depth = state(w), w._session._history.depth
    for ids, error, match in BAD_IDS:
        with pytest.raises(error, match=match):
            w.merge_objects(ids)
        assert match.split(":")[0] in w.error, ids
        assert_same(state(w), before)
        assert w._session._history.depth == undo_depth and not w.can_redo
    w.close()


def test_bad_merge_messages_are_refused_and_change_nothing(model, images):
    w, fe = make_widget(images[0], model)
    w.add_points([[20, 20]], [1])
    w.add_object()
    w.add_points([[60, 40]], [1])
    before = state(w)
    for fields, match in [
        ({}, "missing the field 'ids'"),
        ({"ids": 2}, "list of integers"),
        ({"ids": [1, 2.5]}, "list of integers"),
        ({"ids": [1, True]}, "list of integers"),
        ({"ids": [1]}, "at least two"),
        ({"ids": [2, 2]}, "repeated"),
        ({"ids": [1, 7]}, "unknown object id 7"),
    ]:
        ack = fe.ack(fe.send("merge_objects", **fields))
        assert not ack["ok"] and match in ack["error"], (fields, ack)
        assert_same(state(w), before)
    assert fe.ack(fe.send("merge_objects", ids=[2, 1]))["ok"] and w.error == ""
    assert [o["id"] for o in w.objects] == [2]
    w.close()


def test_merge_waits_for_pending_masks_or_is_refused_while_they_are_pending(model, images, monkeypatch):
    gate = EncodingGate(monkeypatch)
    w, fe = make_widget(images[0], model)
    assert gate.started.wait(30)
    fe.send("add_point", x=20.0, y=20.0, label=1)
    fe.send("add_object")
    fe.send("add_point", x=60.0, y=40.0, label=1)
    # Their masks wait for the encoding: a merge now would merge nothing real, so it is refused.
    ack_seq = fe.send("merge_objects", ids=[1, 2])
    assert fe.acks()[ack_seq]["ok"] is False and "not predicted" in fe.acks()[ack_seq]["error"]
    assert [o["id"] for o in w.objects] == [1, 2] and len(w.prompts) == 2
    gate.open()
    # The Python method waits for them, then merges.
    assert w.merge_objects([1, 2]) == 1
    masks = w._session.state.images[0]
    assert w.prompts == [] and list(w.masks) == [1] and masks.seeds[1] is masks.masks[1]
    w.close()


def test_video_widgets_refuse_to_merge(model):
    clip = np.stack([synthetic_image(32, 32, seed=s) for s in range(3)])
    w = Sam2Widget(clip, model=model, video=True)
    assert isinstance(w, Sam2VideoWidget)
    fe = Frontend(w)
    w.add_points([[10, 10]], [1])
    w.add_object()
    w.add_points([[20, 20]], [1])
    with pytest.raises(ValueError, match="not supported for clips"):
        w.merge_objects([1, 2])
    ack = fe.ack(fe.send("merge_objects", ids=[1, 2]))
    assert not ack["ok"] and "not supported for clips" in ack["error"]
    assert [o["id"] for o in w.objects] == [1, 2]
    w.close()


def test_add_mask_makes_a_mask_only_object_that_undo_removes(model, images):
    w, _ = make_widget(images, model)
    w.add_points([[20, 20]], [1])
    before = state(w)
    given = rect(5, 25, 40, 70)
    masks = w.add_mask(given)
    assert sorted(masks) == [1, 2]
    np.testing.assert_array_equal(masks[2], given)  # kept exactly, no prediction
    assert [p.to_dict() for p in w._session.prompts(0)] == before["images"][0]["prompts"]
    for bad, kwargs in ((rect(0, 5, 0, 5)[:10], {}), (given.astype(float) * 0.5, {}), (given, {"obj_id": 1})):
        with pytest.raises(ValueError):
            w.add_mask(bad, **kwargs)
        assert w.error  # shown in the widget too
    assert sorted(w.masks) == [1, 2]
    w.undo()
    assert_same(state(w), before)
    w.close()
