"""The whole loop in a real browser, in JupyterLab and in Notebook 7: a notebook shows a
Sam2Widget, Chromium clicks, right-clicks, drags, zooms, pans and presses keys on it, the
kernel predicts masks, and the masks are drawn where they are.

The model has random weights (nothing can be downloaded here), so the masks' shapes are
arbitrary: the tests check relations, never where a mask lies. A click reaches Python at the
image pixel the view puts under the pointer; the canvas is tinted with each object's colour
exactly where Python's label map has that object, and nowhere else; a negative point, undo,
redo and keys change what Python holds as they should. See tests/e2e/README.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")

from tests.e2e.helpers import (
    DUMP_CODE,
    SCREENSHOTS,
    canvas_alpha,
    cell,
    cells,
    drag,
    focus_widget,
    open_notebook,
    page_point,
    prompt_zone,
    read_canvas,
    read_state,
    run_cell,
    save_docs_screenshot,
    wait_for,
    wait_output,
    wait_overlay,
    wheel_factor,
    write_notebook,
)
from tests.images import synthetic_image

IMAGE_W, IMAGE_H = 240, 180
CLICK = (72.0, 72.0)  # image pixels: the centre of the red disk of synthetic_image
GREEN = (int(IMAGE_W * 0.72), int(IMAGE_H * 0.72))  # inside the green square
# A negative point that, with seed 0, takes ~3600 of the ~34000 pixels of CLICK's mask away
# (the point itself stays inside: the random model is not that kind).
NEGATIVE = (50.0, 110.0)
BOX = (132.0, 99.0, 216.0, 162.0)  # image pixels: around the green square (object 2)
POS_TOL = 1.0  # image pixels: a click at the fitted view's scale (~4 screen px per pixel)
ZOOM_TOL = 2.0  # image pixels: clicks and drags after zooming / panning

SETUP_CELL = (
    DUMP_CODE
    + """\
import torch
import sam2_backend as sb
from sam2_widget import Sam2Widget
from sam2_widget.codecs import decode_label_rle

torch.manual_seed(0)
# Random weights at image_size 256: nothing is downloaded, and a click takes well under a second on a CPU.
model = sb.build_model(sb.get_config("tiny").replace(image_size=256), device="cpu")
w = Sam2Widget("image.png", model=model)
w"""
)

# Run after the interactions: the kernel's view of the widget, for the test to read from disk.
STATE_CELL = """\
w.wait_idle(60)
e2e_dump("state", {"prompts": w.prompts, "objects": w.objects, "selected_id": w.selected_id,
                   "status": w.status, "error": w.error, "opacity": w.opacity,
                   "can_undo": w.can_undo, "can_redo": w.can_redo},
         label=decode_label_rle(w.label_rle, w.image_height, w.image_width),
         **{f"mask_{k}": v for k, v in w.masks.items()})"""

# A prompt that Python refuses: the widget must show why and keep what it had.
BAD_PROMPT_CELL = """\
try:
    w.add_points([[1e6, 5]], [1])
except ValueError as e:
    print("E2E-REFUSED:", e)"""

# The README's picture (SAM2_E2E_SCREENSHOTS=1): the sample photo with three objects. The model
# here has random weights, whose masks are noise, so the objects are the sample's true masks given
# from Python (add_mask); SAM2_E2E_DOCS_MODEL names real weights (e.g.
# sam2.1-hiera-tiny) where they can be downloaded, and then every object comes from a prompt.
DOCS_CELL = """\
from sam2_widget.samples import sample_image_labels, sample_image_path

torch.manual_seed(2)
doc_model = os.environ.get("SAM2_E2E_DOCS_MODEL")
doc = Sam2Widget(sample_image_path(), model=doc_model or sb.build_model(
    sb.get_config("tiny").replace(image_size=256), device="cpu"))
if doc_model:
    doc.add_points([[200, 250]], [1])
    for box in ([340, 75, 470, 222], [470, 240, 570, 400]):
        doc.add_object()
        doc.add_box(box)
else:
    for label, name in ((1, "ball"), (2, "cube"), (4, "doughnut")):
        doc.rename_object(max(doc.add_mask(sample_image_labels() == label)), name)
doc"""


def write_image_notebook(folder, name: str, extra_cells: tuple[str, ...] = ()) -> str:
    Image.fromarray(synthetic_image(IMAGE_H, IMAGE_W)).save(folder / "image.png")
    return write_notebook(folder / f"{name}.ipynb", [SETUP_CELL, STATE_CELL, *extra_cells])


def open_widget(page, jupyter, notebook: str):
    """Open the notebook, run its first cell, wait until the image is encoded and drawn;
    returns (root, canvas, the canvas read before any mask, in the fitted view)."""
    open_notebook(page, jupyter, notebook)
    run_cell(page, 0)
    root = cell(page, 0).locator(".sam2w-root")
    root.wait_for(timeout=90_000)  # torch import and model build happen first
    # The image has been encoded by the widget's worker and the status went back to idle.
    root.locator('.sam2w-status[data-status="idle"] .sam2w-status-text', has_text="encoded").wait_for(timeout=60_000)
    assert root.locator(".sam2w-error").inner_text() == ""
    canvas = root.locator("canvas.sam2w-canvas")
    canvas.scroll_into_view_if_needed()
    # The image is drawn where the fitted view puts it (checks the coordinate mapping too).
    before = wait_for(
        lambda: (c := read_canvas(canvas, IMAGE_W, IMAGE_H)).shows(CLICK, GREEN) and c,
        30,
        "the image to be drawn on the canvas (red disk, green square)",
    )
    return root, canvas, before


def masks_of(arrays: dict) -> dict[int, np.ndarray]:
    return {int(k.removeprefix("mask_")): v for k, v in arrays.items() if k.startswith("mask_")}


def near(prompt: dict, xy: tuple[float, float], tol: float) -> bool:
    return abs(prompt["x"] - xy[0]) <= tol and abs(prompt["y"] - xy[1]) <= tol


def expect_overlay(canvas, before, state: dict, arrays: dict, what: str):
    """The canvas shows Python's label map in the objects' colours (wait_overlay)."""
    colours = {o["id"]: o["color"] for o in state["objects"] if (arrays["label"] == o["id"]).any()}
    keep_out = prompt_zone(state["prompts"], before.view, (IMAGE_H, IMAGE_W))
    return wait_overlay(canvas, before, arrays["label"], colours, canvas_alpha(state["opacity"]), keep_out, what)


def test_clicks_draw_masks_and_a_refused_prompt_shows_its_error(page, jupyter):
    notebook = write_image_notebook(jupyter.folder, "clicks", (BAD_PROMPT_CELL,))
    root, canvas, before = open_widget(page, jupyter, notebook)
    error_text = root.locator(".sam2w-error")

    # Left click at the disk's centre: a positive point, a new object and its mask.
    canvas.click(position=dict(zip("xy", before.to_css(*CLICK))))
    root.locator(".sam2w-object").first.wait_for(timeout=60_000)  # the new object is listed
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == "" and state["status"] == "idle", state
    [prompt] = state["prompts"]
    assert prompt["type"] == "point" and prompt["label"] == 1, prompt
    assert near(prompt, CLICK, POS_TOL), f"the click reached Python at {prompt}, not at {CLICK}"
    [obj] = state["objects"]
    masks = masks_of(arrays)
    assert prompt["obj_id"] == obj["id"] and list(masks) == [obj["id"]]
    first = masks[obj["id"]]
    assert first.shape == (IMAGE_H, IMAGE_W) and first.dtype == bool
    assert first.any(), "the kernel made an empty mask"
    np.testing.assert_array_equal(arrays["label"], first * obj["id"])
    expect_overlay(canvas, before, state, arrays, f"the mask in {obj['color']}")

    # Right click: a negative point for the same object, which takes area away.
    canvas.click(position=dict(zip("xy", before.to_css(*NEGATIVE))), button="right")
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == "", state
    assert len(state["prompts"]) == 2, state["prompts"]
    negative = state["prompts"][1]
    assert negative["type"] == "point" and negative["label"] == 0, f"a right click gave {negative}"
    assert negative["obj_id"] == obj["id"], negative
    assert near(negative, NEGATIVE, POS_TOL), f"the right click reached Python at {negative}, not at {NEGATIVE}"
    second = masks_of(arrays)[obj["id"]]
    assert second.sum() < first.sum() - 500, (
        f"the negative point removed no area: {first.sum()} -> {second.sum()} mask pixels"
    )
    # The canvas follows: the pixels that left the mask are no longer tinted.
    shown = expect_overlay(canvas, before, state, arrays, "the mask after the negative point")
    prompts_before_error = state["prompts"]

    # A prompt that Python refuses: the error shows in the widget, readable; nothing is lost.
    run_cell(page, 2)
    wait_output(page, 2, "E2E-REFUSED:")
    printed = cell(page, 2).locator(".jp-OutputArea-output", has_text="E2E-REFUSED:").inner_text()
    message = printed.split("E2E-REFUSED:", 1)[1].strip()
    assert "outside the image" in message, message
    wait_for(
        lambda: error_text.inner_text().strip() == message,
        10,
        f"the widget's error line to read {message!r} (it reads {error_text.inner_text()!r})",
    )
    assert root.locator('.sam2w-status[data-status="error"]').count() == 1
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == message and state["prompts"] == prompts_before_error, state
    np.testing.assert_array_equal(masks_of(arrays)[obj["id"]], second)
    after_error = read_canvas(canvas, IMAGE_W, IMAGE_H)
    assert np.array_equal(after_error.rgba, shown.rgba), "the error changed the drawn masks"


def test_box_second_object_undo_and_redo(page, jupyter):
    notebook = write_image_notebook(jupyter.folder, "box", (DOCS_CELL,) if SCREENSHOTS else ())
    root, canvas, before = open_widget(page, jupyter, notebook)
    objects = root.locator(".sam2w-object")

    canvas.click(position=dict(zip("xy", before.to_css(*CLICK))))
    objects.first.wait_for(timeout=60_000)

    # A second object from the toolbar, then a drag around the green square: its box prompt.
    root.locator('button[data-action="new_object"]').click()
    wait_for(lambda: objects.count() == 2, 30, "the second object to be listed")
    drag(page, canvas, before.to_css(*BOX[:2]), before.to_css(*BOX[2:]))
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == "", state
    first, second = state["objects"]
    assert state["selected_id"] == second["id"], state
    assert second["color"] != first["color"], f"both objects are drawn in {first['color']}"
    assert len(state["prompts"]) == 2, f"the drag gave no prompt for object 2: prompts {state['prompts']}"
    box = state["prompts"][1]
    assert box["type"] == "box" and box["obj_id"] == second["id"], f"the drag gave {box}"
    corners = np.array([box["x0"], box["y0"], box["x1"], box["y1"]])
    assert np.abs(corners - BOX).max() <= ZOOM_TOL, f"the box reached Python as {corners.tolist()}, not {BOX}"
    masks = masks_of(arrays)
    assert masks[first["id"]].any() and masks[second["id"]].any(), "an empty mask"
    label = arrays["label"]
    assert (label == second["id"]).sum() >= 500, "object 2 is (almost) hidden behind object 1"
    # Each object's visible pixels tinted with its own colour.
    expect_overlay(canvas, before, state, arrays, f"object 1 in {first['color']} and object 2 in {second['color']}")
    with_box = (state["prompts"], masks[second["id"]], label)

    # Ctrl+Z while the widget has focus: the box and its mask go; Ctrl+Shift+Z brings them back.
    focus_widget(page, root)
    page.keyboard.press("Control+z")
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["prompts"] == with_box[0][:1], f"Ctrl+Z left the prompts {state['prompts']}"
    assert state["error"] == "" and state["can_redo"], state
    assert not masks_of(arrays).get(second["id"], np.zeros(1, bool)).any(), "object 2 kept its mask after undo"
    assert not (arrays["label"] == second["id"]).any()
    expect_overlay(canvas, before, state, arrays, "the masks after undo (object 1 only)")

    focus_widget(page, root)
    page.keyboard.press("Control+Shift+z")
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["prompts"] == with_box[0], f"Ctrl+Shift+Z gave the prompts {state['prompts']}"
    assert state["error"] == "" and not state["can_redo"], state
    np.testing.assert_array_equal(masks_of(arrays)[second["id"]], with_box[1])
    np.testing.assert_array_equal(arrays["label"], with_box[2])
    expect_overlay(canvas, before, state, arrays, "both masks again after redo")

    if SCREENSHOTS and jupyter.frontend == "lab":
        run_cell(page, 2)
        doc = cell(page, 2).locator(".sam2w-root")
        doc.locator('.sam2w-status[data-status="idle"]').wait_for(timeout=90_000)
        wait_for(lambda: doc.locator(".sam2w-object").count() == 3, 30, "the sample's three objects")
        save_docs_screenshot(page, doc, "widget.png")


def test_zoom_pan_click_and_keys_only_while_focused(page, jupyter):
    notebook = write_image_notebook(jupyter.folder, "zoom")
    root, canvas, fitted = open_widget(page, jupyter, notebook)
    objects = root.locator(".sam2w-object")

    # Wheel zoom at the cursor (the wheel zooms only while the widget has focus).
    focus_widget(page, root)
    at = fitted.to_css(100, 80)
    page.mouse.move(*page_point(canvas, at))
    page.mouse.wheel(0, -300)
    view = fitted.view.zoom_at(at, wheel_factor(-300))
    # Pan by a drag with the space bar held, then by a middle-button drag.
    start = fitted.to_css(120, 90)
    page.keyboard.down("Space")
    drag(page, canvas, start, (start[0] + 40, start[1] + 25))
    page.keyboard.up("Space")
    view = view.pan(40, 25)
    drag(page, canvas, start, (start[0] - 70, start[1] - 45), button="middle")
    view = view.pan(-70, -45)
    # The image is drawn through the view computed here, and that is not the fitted one.
    wait_for(
        lambda: read_canvas(canvas, IMAGE_W, IMAGE_H, view).shows(CLICK, GREEN),
        10,
        f"the canvas to show the image zoomed and panned to {view} (fitted: {fitted.view})",
    )
    assert view.scale > 1.5 * fitted.scale

    # A click lands on the image pixel under the pointer in the zoomed view.
    screen = (fitted.css_w * 0.35, fitted.css_h * 0.6)
    target = view.to_image(*screen)
    assert 0 < target[0] < IMAGE_W and 0 < target[1] < IMAGE_H, target
    unzoomed = fitted.view.to_image(*screen)
    assert max(abs(target[0] - unzoomed[0]), abs(target[1] - unzoomed[1])) > 10
    canvas.click(position=dict(zip("xy", screen)))
    objects.first.wait_for(timeout=60_000)
    clicked, arrays = read_state(page, jupyter, 1, "state")
    [point] = clicked["prompts"]
    assert point["type"] == "point" and point["label"] == 1, point
    assert near(point, target, ZOOM_TOL), (
        f"the click reached Python at ({point['x']:.1f}, {point['y']:.1f}), not at the zoomed view's "
        f"({target[0]:.1f}, {target[1]:.1f}) (the fitted view would give ({unzoomed[0]:.1f}, {unzoomed[1]:.1f}))"
    )
    [first] = clicked["objects"]

    # Keys while the widget has focus act on the widget and never reach the notebook, with
    # the focus on the widget itself and on one of its buttons (the notebook's command-mode
    # shortcuts match a focused element inside an output): N (new object), then a click on
    # "New object", 1 (select object 1; in command mode it makes the cell a heading), B (not
    # the widget's; inserts a cell in command mode), 0 0 (reset the view; restarts the kernel).
    n_cells = cells(page).count()
    focus_widget(page, root)
    page.keyboard.press("n")
    wait_for(lambda: objects.count() == 2, 30, "N to add object 2")
    new_object = root.locator('button[data-action="new_object"]')
    new_object.click()
    wait_for(lambda: objects.count() == 3, 30, "the button to add object 3")
    assert new_object.evaluate("b => document.activeElement === b")
    for key in ("1", "b", "0", "0"):
        page.keyboard.press(key)
    page.wait_for_timeout(500)  # what a leaked key would do shows by then
    assert cells(page).count() == n_cells, "a key pressed in the widget added or removed a notebook cell"
    assert page.locator(".jp-Notebook .jp-MarkdownCell").count() == 0, "1 in the widget made a markdown cell"
    assert page.locator(".jp-Dialog").count() == 0, "0 0 in the widget opened the restart dialog"
    assert root.is_visible(), "the widget's cell lost its output"
    # 0 reset the view: the canvas shows the image fitted again, with the click's mask.
    expect_overlay(canvas, fitted, clicked, arrays, "the image in the fitted view again after 0 (reset view)")
    state, _ = read_state(page, jupyter, 1, "state")
    assert len(state["objects"]) == 3 and state["objects"][0]["id"] == first["id"], state["objects"]
    assert state["selected_id"] == first["id"], f"1 did not select object 1: selected {state['selected_id']}"

    # Keys with the focus outside the widget (the notebook in command mode) leave it alone.
    page.keyboard.press("Escape")
    assert not root.evaluate("r => r.contains(document.activeElement)"), "the widget still has the focus"
    page.keyboard.press("n")
    state, _ = read_state(page, jupyter, 1, "state")
    assert len(state["objects"]) == 3, f"N outside the widget added an object: {state['objects']}"
    assert state["selected_id"] == first["id"], state
