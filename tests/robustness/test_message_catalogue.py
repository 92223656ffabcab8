"""Hostile and careless front-end messages, for every message type of both widgets: huge
payloads, wrong JSON types, out-of-range values and unknown ids. Each is answered with an error
ack naming the field, the widget's state stays as it was, and the next good message works.
(tests/widget/test_widget_bad_input.py holds the first, smaller list.)"""

from __future__ import annotations

import pytest

from tests.clips import make_clip
from tests.images import synthetic_image
from tests.models import tiny_model
from tests.widget.harness import Frontend, assert_same, make_widget, ok, snapshot

H, W = 48, 64
HUGE = 10**6


@pytest.fixture(scope="module")
def image_widget(model):
    w, front = make_widget(synthetic_image(H, W), model)
    ok(front, front.send("add_point", x=20.0, y=20.0, label=1))
    ok(front, front.send("add_object"))
    ok(front, front.send("add_box", x0=30.0, y0=5.0, x1=60.0, y1=40.0))
    yield w
    w.close()


@pytest.fixture(scope="module")
def set_widget(model):
    w, front = make_widget([synthetic_image(H, W), synthetic_image(W, H)], model)
    ok(front, front.send("add_point", x=20.0, y=20.0, label=1))
    ok(front, front.send("mark", status="reviewed"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def clip_widget():
    w, front = make_widget(make_clip(4), tiny_model(128), video=True)
    ok(front, front.send("add_point", x=30.0, y=30.0, label=1))
    yield w
    w.close()


def msg(kind: str, **fields) -> dict:
    return {"type": kind, "seq": 5, **fields}


BOTH = {
    "add_point with 1e308": (msg("add_point", x=1e308, y=1.0, label=1), "outside the image"),
    "add_point x a list": (msg("add_point", x=[1.0], y=1.0, label=1), "x must be a finite number"),
    "add_point x a dict": (msg("add_point", x={"v": 1}, y=1.0, label=1), "x must be a finite number"),
    "add_point label null": (msg("add_point", x=1.0, y=1.0, label=None), "label must be an integer"),
    "add_point label huge": (msg("add_point", x=1.0, y=1.0, label=2**70), "labels must be 1 (positive) or 0"),
    "add_box missing x1": (msg("add_box", x0=1.0, y0=1.0, y1=5.0), "missing the field 'x1'"),
    "add_box a string": (msg("add_box", x0="1", y0=1.0, x1=5.0, y1=5.0), "x0 must be a finite number"),
    "add_box zero area flipped": (msg("add_box", x0=5.0, y0=5.0, x1=4.0, y1=9.0), "x1 < x0"),
    "remove_prompt index a string": (msg("remove_prompt", index="0"), "index must be an integer"),
    "remove_prompt index huge": (msg("remove_prompt", index=HUGE), "out of range"),
    "remove_prompt missing index": (msg("remove_prompt"), "missing the field 'index'"),
    "select_object huge id": (msg("select_object", id=2**63), "unknown object id"),
    "select_object negative": (msg("select_object", id=-1), "unknown object id -1"),
    "select_object a float": (msg("select_object", id=1.5), "id must be an integer"),
    "select_object missing id": (msg("select_object"), "missing the field 'id'"),
    "rename a megabyte name": (msg("rename_object", id=1, name="x" * HUGE), "at most"),
    "rename a name of newlines": (msg("rename_object", id=1, name="\n\n\t"), "non-empty"),
    "rename name a number": (msg("rename_object", id=1, name=7), "name must be a string"),
    "set_visible a string": (msg("set_visible", id=1, visible="false"), "visible must be true or false"),
    "set_visible unknown": (msg("set_visible", id=77, visible=False), "unknown object id 77"),
    "delete_object a list": (msg("delete_object", id=[1]), "id must be an integer"),
    "goto huge": (msg("goto", index=HUGE), "out of range"),
    "goto a string": (msg("goto", index="1"), "index must be an integer"),
    "goto null": (msg("goto", index=None), "index must be an integer"),
    "seq a float": ({"type": "undo", "seq": 1.5}, "seq must be an integer"),
    "seq a list": ({"type": "undo", "seq": [1]}, "seq must be an integer"),
    "type a number": ({"type": 3, "seq": 5}, "unknown message type 3"),
    "type a megabyte string": ({"type": "t" * HUGE, "seq": 5}, "unknown message type"),
    "a JSON string": ("add_point", "JSON object"),
    "a JSON number": (17, "JSON object"),
    "null": (None, "JSON object"),
}

IMAGE_ONLY = {
    "merge_objects ids a dict": (msg("merge_objects", ids={"a": 1}), "ids must be a list of integers"),
    "merge_objects one id": (msg("merge_objects", ids=[1]), "at least two"),
    "merge_objects unknown": (msg("merge_objects", ids=[1, 99]), "unknown object id 99"),
    "merge_objects floats": (msg("merge_objects", ids=[1.0, 2.0]), "ids must be a list of integers"),
    "merge_objects repeated": (msg("merge_objects", ids=[1, 1, 2]), "repeated ids: 1"),
    "track on an image": (msg("track", direction="forward"), "track is not supported"),
    "fetch_frames on an image": (msg("fetch_frames", indices=[0]), "fetch_frames is not supported"),
    "mark a single image": (msg("mark", status="reviewed"), "review is for image sets"),
    "set_memory on an image": (msg("set_memory", memory="quality"), "set_memory is not supported"),
}

# The review messages (issue 15), on a set of two images (review is on).
REVIEW = {
    "mark a megabyte status": (msg("mark", status="r" * HUGE), "status must be one of"),
    "mark status null": (msg("mark", status=None), "status must be a string"),
    "set_note a megabyte": (msg("set_note", note="n" * HUGE), "at most 2000"),
    "set_note a list": (msg("set_note", note=["a"]), "note must be a string"),
    "next direction huge": (msg("next", status="any", direction=2**70), "direction must be 1 or -1"),
    "next direction true": (msg("next", status="any", direction=True), "direction must be an integer"),
    "next no status": (msg("next", direction=1), "missing the field 'status'"),
    "set_filter a megabyte category": (msg("set_filter", status=None, category="c" * HUGE), "unknown category"),
    "set_filter status a dict": (msg("set_filter", status={"a": 1}, category=None), "string or null"),
    "set_filter nothing passes": (msg("set_filter", status="flagged", category=None), "no image has"),
    "fetch_thumbnails a million": (msg("fetch_thumbnails", indices=list(range(HUGE))), "at most 64"),
    "fetch_thumbnails negative": (msg("fetch_thumbnails", indices=[-1]), "out of range"),
    "fetch_thumbnails strings": (msg("fetch_thumbnails", indices=["0"]), "list of integers"),
}

CLIP_ONLY = {
    "track sideways": (msg("track", direction="sideways"), "direction must be one of"),
    "track direction a number": (msg("track", direction=1), "direction must be a string"),
    "track no direction": (msg("track"), "missing the field 'direction'"),
    "fetch_frames not a list": (msg("fetch_frames", indices=3), "indices must be a list"),
    "fetch_frames a million": (msg("fetch_frames", indices=list(range(HUGE))), "at most"),
    "fetch_frames past the end": (msg("fetch_frames", indices=[0, 99]), "out of range"),
    "fetch_frames negative": (msg("fetch_frames", indices=[-1]), "out of range"),
    "fetch_frames strings": (msg("fetch_frames", indices=["0"]), "must be an int"),
    "merge_objects on a clip": (msg("merge_objects", ids=[1, 2]), "merge_objects is not supported"),
    "goto past the clip": (msg("goto", index=4), "out of range"),
    "mark on a clip": (msg("mark", status="reviewed"), "mark is not supported"),
    "fetch_thumbnails on a clip": (msg("fetch_thumbnails", indices=[0]), "fetch_thumbnails is not supported"),
    "set_memory unknown": (msg("set_memory", memory="samurai2"), "memory must be one of"),
    "set_memory a megabyte name": (msg("set_memory", memory="m" * HUGE), "memory must be one of"),
    "set_memory name a list": (msg("set_memory", memory=["quality"]), "memory must be a string"),
    "set_memory options a list": (msg("set_memory", memory="quality", options=[0.2]), "options must be an object"),
    "set_memory unknown option": (msg("set_memory", memory="quality", options={"x": 1}), "has no option(s) 'x'"),
    "set_memory a million options": (
        msg("set_memory", memory="sam2", options={str(i): i for i in range(HUGE)}),
        "has no option(s)",
    ),
    "set_memory option out of range": (msg("set_memory", memory="quality", options={"threshold": 5}), "threshold"),
}


def _refused(widget, content, expected) -> None:
    front = Frontend(widget)
    before = snapshot(widget)
    front.raw(content)
    widget.wait_idle(30)
    (ack,) = [m for m in front.sent if m["type"] == "ack"]
    assert ack["ok"] is False and expected in ack["error"], ack
    assert len(ack["error"]) < 2000, "an error repeats no huge payload"
    assert widget.error == ack["error"]
    assert_same(snapshot(widget), before)
    ok(front, front.send("select_object", id=1))  # the next good message works and clears the error
    assert widget.error == ""


@pytest.mark.parametrize("case", list(BOTH) + list(IMAGE_ONLY))
def test_image_widget_refuses_and_keeps_its_state(image_widget, case):
    _refused(image_widget, *{**BOTH, **IMAGE_ONLY}[case])


@pytest.mark.parametrize("case", list(BOTH) + list(CLIP_ONLY))
def test_clip_widget_refuses_and_keeps_its_state(clip_widget, case):
    _refused(clip_widget, *{**BOTH, **CLIP_ONLY}[case])


@pytest.mark.parametrize("case", list(REVIEW))
def test_set_widget_refuses_bad_review_messages_and_keeps_its_state(set_widget, case):
    before = dict(set_widget.review)
    _refused(set_widget, *REVIEW[case])
    assert set_widget.review == before
