"""Every kind of bad input: a clear error in the widget (and an exception from Python), nothing lost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.images import synthetic_image
from tests.widget.harness import Frontend, assert_same, make_widget, snapshot

H, W = 60, 80


@pytest.fixture(scope="module")
def widget(model):
    """One widget with two objects and masks, shared: bad input must leave it as it is."""
    w, _ = make_widget(synthetic_image(H, W), model)
    w.add_points([[20, 20], [30, 25]], [1, 0])
    w.add_object("second")
    w.add_box([40, 5, 78, 35])
    yield w
    w.close()


@pytest.fixture
def frontend(widget):
    return Frontend(widget)


def point(**fields):
    return {"type": "add_point", "seq": 7, "x": 10.0, "y": 10.0, "label": 1, **fields}


def box(**fields):
    return {"type": "add_box", "seq": 7, "x0": 1.0, "y0": 1.0, "x1": 20.0, "y1": 20.0, **fields}


def without(msg, field):
    return {k: v for k, v in msg.items() if k != field}


BAD_MESSAGES = {
    "not an object": (["add_point", 1, 2], "JSON object"),
    "no type": ({"seq": 7}, "unknown message type None"),
    "unknown type": ({"type": "explode", "seq": 7}, "unknown message type 'explode'"),
    "no seq": ({"type": "undo"}, "'seq'"),
    "seq a string": ({"type": "undo", "seq": "7"}, "seq must be an integer"),
    "missing y": (without(point(), "y"), "missing the field 'y'"),
    "missing label": (without(point(), "label"), "'label'"),
    "x NaN": (point(x=math.nan), "finite number"),
    "y infinite": (point(y=math.inf), "finite number"),
    "x a string": (point(x="10"), "finite number"),
    "x null": (point(x=None), "finite number"),
    "x a bool": (point(x=True), "finite number"),
    "label 2": (point(label=2), "labels must be 1 (positive) or 0 (negative)"),
    "label a float": (point(label=1.0), "label must be an integer"),
    "point right of the image": (point(x=W + 0.5), "outside the image"),
    "point above the image": (point(y=-1.0), "outside the image"),
    "box flipped": (box(x0=30.0), "x1 < x0"),
    "box outside": (box(y1=H + 10.0), "outside the image"),
    "box NaN": (box(x1=math.nan), "finite number"),
    "select unknown object": ({"type": "select_object", "seq": 7, "id": 99}, "unknown object id 99"),
    "select with a string id": ({"type": "select_object", "seq": 7, "id": "1"}, "id must be an integer"),
    "delete unknown object": ({"type": "delete_object", "seq": 7, "id": 99}, "unknown object id 99"),
    "rename unknown object": ({"type": "rename_object", "seq": 7, "id": 99, "name": "x"}, "unknown object"),
    "rename to nothing": ({"type": "rename_object", "seq": 7, "id": 1, "name": "  "}, "non-empty"),
    "visible not a bool": ({"type": "set_visible", "seq": 7, "id": 1, "visible": 1}, "true or false"),
    "remove a prompt past the end": ({"type": "remove_prompt", "seq": 7, "index": 3}, "out of range"),
    "remove prompt -1": ({"type": "remove_prompt", "seq": 7, "index": -1}, "out of range"),
    "goto past the end": ({"type": "goto", "seq": 7, "index": 1}, "out of range"),
    "goto -1": ({"type": "goto", "seq": 7, "index": -1}, "out of range"),
    "goto 0.0": ({"type": "goto", "seq": 7, "index": 0.0}, "index must be an integer"),
}


@pytest.mark.parametrize("content, expected", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_bad_messages_are_errors_that_lose_nothing(widget, frontend, content, expected):
    before = snapshot(widget)
    frontend.raw(content)
    widget.wait_idle(30)
    (ack,) = [m for m in frontend.sent if m["type"] == "ack"]
    assert ack["ok"] is False and expected in ack["error"], ack
    assert ack["seq"] == (
        content.get("seq") if isinstance(content, dict) and isinstance(content.get("seq"), int) else None
    )
    assert widget.error == ack["error"] and widget.status == "error"
    assert_same(snapshot(widget), before)
    # The next good message clears the error.
    frontend.send("select_object", id=widget.selected_id)
    assert widget.error == "" and widget.status == "idle"


BAD_CALLS = {
    "point outside": (lambda w: w.add_points([[W + 1, 5]], [1]), ValueError, "outside the image"),
    "NaN point": (lambda w: w.add_points([[np.nan, 5]], [1]), ValueError, "NaN"),
    "labels too short": (lambda w: w.add_points([[1, 1], [2, 2]], [1]), ValueError, "one entry per point"),
    "points for two objects": (lambda w: w.add_points(np.ones((2, 1, 2)), np.ones((2, 1))), ValueError, "(N, 2)"),
    "object id 0": (lambda w: w.add_points([[5, 5]], [1], obj_id=0), ValueError, "object ids start at 1"),
    "negative object id": (lambda w: w.add_box([1, 1, 5, 5], obj_id=-3), ValueError, "object ids start at 1"),
    "object id a string": (lambda w: w.add_box([1, 1, 5, 5], obj_id="1"), TypeError, "object id must be an int"),
    "flipped box": (lambda w: w.add_box([10, 10, 5, 5]), ValueError, "x1 < x0"),
    "two boxes": (lambda w: w.add_box([[1, 1, 5, 5], [1, 1, 6, 6]]), ValueError, "one object"),
    "goto past the end": (lambda w: w.goto(1), ValueError, "out of range"),
    "goto a float": (lambda w: w.goto(0.5), TypeError, "image index must be an int"),
    "remove prompt past the end": (lambda w: w.remove_prompt(10), ValueError, "out of range"),
    "delete unknown": (lambda w: w.delete_object(42), KeyError, "unknown object"),
    "select unknown": (lambda w: w.select_object(42), KeyError, "unknown object"),
    "empty name": (lambda w: w.rename_object(1, ""), ValueError, "non-empty"),
    "visible a string": (lambda w: w.set_visible(1, "yes"), TypeError, "True or False"),
    "bad amg option": (lambda w: w.segment_everything(points_per_side=0), ValueError, "points_per_side"),
}


@pytest.mark.parametrize("call, error, expected", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_python_calls_raise_and_lose_nothing(widget, call, error, expected):
    before = snapshot(widget)
    with pytest.raises(error, match=expected.replace("(", r"\(").replace(")", r"\)")):
        call(widget)
    assert expected in widget.error
    assert_same(snapshot(widget), before)
    widget.select_object(widget.selected_id)
    assert widget.error == ""
