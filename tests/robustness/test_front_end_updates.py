"""Trait updates from the front end (ipywidgets ``update`` messages): only the display choices
(opacity, outline) may be written; a forged kernel-owned trait or an invalid value is dropped,
the kernel's values are sent back, and the widget keeps working."""

from __future__ import annotations

import pytest

from sam2_widget import Sam2Widget
from tests.images import synthetic_image


def _update(widget: Sam2Widget, state: dict) -> None:
    msg = {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []}
    widget._handle_msg(msg)  # ipywidgets' entry point for every comm message


@pytest.fixture
def widget(model):
    w = Sam2Widget(synthetic_image(48, 64), model=model)
    states: list[dict] = []
    w.send_state = lambda key=None: states.append({"keys": list(key) if key else None})
    w.sent_states = states
    w.add_points([[20, 20]], [1])
    yield w
    w.close()


@pytest.mark.parametrize(
    "forged",
    [
        {"image_index": 5},
        {"image_count": 0},
        {"selected_id": 99},
        {"status": "idle", "error": ""},
        {"objects": []},
        {"label_rle": b"\x00" * 8},
        {"_supported_messages": ["merge_objects"]},
        {"opacity": 5.0},
        {"opacity": "half"},
        {"outline": "yes please"},
    ],
)
def test_a_forged_or_invalid_update_is_dropped_and_the_kernel_values_resent(widget, forged):
    before = {k: getattr(widget, k) for k in forged}
    masks_before = widget.masks
    _update(widget, forged)
    assert {k: getattr(widget, k) for k in forged} == before
    assert widget.sent_states and set(widget.sent_states[-1]["keys"]) == set(forged)
    assert widget.masks.keys() == masks_before.keys()
    widget.add_points([[40, 30]], [1])  # the Python API still works on the same image
    assert widget.image_index == 0 and widget.masks[1].any()


def test_the_display_choices_are_taken(widget):
    _update(widget, {"opacity": 0.25, "outline": False, "image_index": 3})
    assert (widget.opacity, widget.outline, widget.image_index) == (0.25, False, 0)
    assert widget.sent_states[-1]["keys"] == ["image_index"]
