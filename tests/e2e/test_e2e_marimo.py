"""The widget in marimo, in a real browser: a marimo notebook shows ``mo.ui.anywidget(Sam2Widget(...))``
for an image, an image set and a clip; Chromium clicks and tracks on it, and a cell that reads the
element re-runs by itself after each click and writes what Python holds, which the test reads.

marimo mounts the widget in the shadow root of a ``<marimo-anywidget>`` element with our bundle
and CSS unchanged. It re-runs the cells that read the element only when the front end writes a
trait; js/marimo_reruns.ts asks for that once the kernel has acked what the user did, so
``view.value`` / ``view.masks`` in another cell follow the clicks. The same seeded random-weight
model and points as the Jupyter tests (test_e2e_image_widget.py, test_e2e_video_widget.py):
the tests check relations, never where a mask lies. The Chromium and failure artifacts are the
Jupyter tests' (tests/e2e/README.md).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")
pytest.importorskip("marimo", reason="the marimo e2e tests need marimo: pip install -e '.[test]'")

from tests.e2e.helpers import read_canvas, wait_for
from tests.e2e.marimo_server import DUMP_CELL, read_dump, recorded_page, running_marimo, write_marimo_notebook
from tests.e2e.test_e2e_image_widget import (
    CLICK,
    GREEN,
    IMAGE_H,
    IMAGE_W,
    NEGATIVE,
    POS_TOL,
    expect_overlay,
    masks_of,
    near,
)
from tests.e2e.test_e2e_video_widget import CLICK as CLIP_CLICK
from tests.e2e.test_e2e_video_widget import FRAMES, read_progress, shows_frame, write_clip
from tests.images import synthetic_image

# The widget's cell: the element is `view`; `widget` is the widget itself, for cells that call it
# without re-running on every click.
WIDGET_CELL = """\
import marimo as mo
import torch
import sam2_backend as sb
from sam2_widget import Sam2Widget
from sam2_widget.codecs import decode_label_rle

torch.manual_seed(0)
model = sb.build_model(sb.get_config("tiny").replace(image_size={image_size}), device="cpu")
widget = Sam2Widget({source}, model=model)
view = mo.ui.anywidget(widget)
view"""

# Reads the element, so marimo re-runs it after each click: what Python holds, from marimo's
# value of the element (the synced traits) and from the widget's API through the element.
STATE_CELL = """\
value = view.value
state = {{k: value[k] for k in ("prompts", "objects", "error", "opacity", "image_index", "progress")}}
state["tracked_frames"] = view.results.frames if view.is_video else []
e2e_dump({stem!r}, state, label=decode_label_rle(view.label_rle, view.image_height, view.image_width),
         **{{f"mask_{{k}}": v for k, v in view.masks.items()}})
mo.md(f"E2E image {{value['image_index']}}, prompts {{len(value['prompts'])}}")"""


@pytest.fixture
def open_marimo(browser, request, tmp_path: Path):
    """open_marimo(source, image_size): a marimo notebook of WIDGET_CELL and STATE_CELL served by
    ``marimo run`` and opened in a new page; returns (page, root locator, state file stem)."""
    logs: list[Path] = []
    with recorded_page(browser, request, logs) as page, contextlib.ExitStack() as servers:

        def open_(source: str, image_size: int):
            stem = tmp_path / "state"
            cells = [
                DUMP_CELL,
                WIDGET_CELL.format(source=source, image_size=image_size),
                STATE_CELL.format(stem=str(stem)),
            ]
            server = servers.enter_context(running_marimo(write_marimo_notebook(tmp_path / "notebook.py", cells)))
            logs.append(server.log)
            page.goto(server.url)
            root = page.locator(".sam2w-root")  # Playwright's CSS locators pierce the open shadow root
            root.wait_for(timeout=120_000)  # torch import and model build happen first
            return page, root, stem

        yield open_


def wait_state(stem: Path, condition, what: str, timeout_s: float = 60) -> tuple[dict, dict]:
    """The state the reactive cell wrote last, once ``condition(state)`` holds."""
    return wait_for(lambda: (d := read_dump(stem)) is not None and condition(d[0]) and d, timeout_s, what)


def wait_encoded(root) -> None:
    root.locator('.sam2w-status[data-status="idle"] .sam2w-status-text', has_text="encoded").wait_for(timeout=60_000)
    assert root.locator(".sam2w-error").inner_text() == ""


def test_image_clicks_give_masks_in_python_and_rerun_the_cells_that_read_it(open_marimo, tmp_path):
    Image.fromarray(synthetic_image(IMAGE_H, IMAGE_W)).save(tmp_path / "image.png")
    page, root, stem = open_marimo('"image.png"', 256)
    wait_encoded(root)
    assert root.evaluate("r => r.getRootNode().host.localName") == "marimo-anywidget"
    canvas = root.locator("canvas.sam2w-canvas")
    before = wait_for(
        lambda: (c := read_canvas(canvas, IMAGE_W, IMAGE_H)).shows(CLICK, GREEN) and c,
        30,
        "the image to be drawn on the canvas (red disk, green square)",
    )
    wait_state(stem, lambda s: s["prompts"] == [], "the state cell's first run")

    # A click: Python gets the point and a mask, and the cell that reads the element re-ran by
    # itself (its file and its output on the page say one prompt).
    canvas.click(position=dict(zip("xy", before.to_css(*CLICK))))
    state, arrays = wait_state(stem, lambda s: len(s["prompts"]) == 1, "the state cell to re-run after the click")
    [prompt] = state["prompts"]
    assert prompt["type"] == "point" and prompt["label"] == 1, prompt
    assert near(prompt, CLICK, POS_TOL), f"the click reached Python at {prompt}, not at {CLICK}"
    [obj] = state["objects"]
    masks = masks_of(arrays)
    assert list(masks) == [obj["id"]] and state["error"] == "", state
    first = masks[obj["id"]]
    assert first.shape == (IMAGE_H, IMAGE_W) and first.any(), "the kernel made no mask"
    np.testing.assert_array_equal(arrays["label"], first * obj["id"])
    page.get_by_text("E2E image 0, prompts 1").wait_for(timeout=10_000)
    expect_overlay(canvas, before, state, arrays, f"the mask in {obj['color']}")

    # A right click: a negative point for the same object; the cell re-runs again.
    canvas.click(position=dict(zip("xy", before.to_css(*NEGATIVE))), button="right")
    state, arrays = wait_state(stem, lambda s: len(s["prompts"]) == 2, "the state cell to re-run after the right click")
    negative = state["prompts"][1]
    assert negative["label"] == 0 and negative["obj_id"] == obj["id"], negative
    assert near(negative, NEGATIVE, POS_TOL), negative
    second = masks_of(arrays)[obj["id"]]
    assert second.sum() < first.sum() - 500, f"the negative point removed no area: {first.sum()} -> {second.sum()}"
    page.get_by_text("E2E image 0, prompts 2").wait_for(timeout=10_000)
    expect_overlay(canvas, before, state, arrays, "the mask after the negative point")


def test_image_set_next_image_and_a_click_there(open_marimo, tmp_path):
    image = synthetic_image(IMAGE_H, IMAGE_W)
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(image[:, ::-1]).save(tmp_path / "b.png")  # mirrored: the disk is on the right
    page, root, stem = open_marimo('["a.png", "b.png"]', 256)
    wait_encoded(root)
    root.locator('button[data-action="next_image"]').click()
    root.locator(".sam2w-position", has_text="2 / 2").wait_for(timeout=30_000)
    wait_encoded(root)
    # The goto re-ran the cell too: Python is on the second image.
    wait_state(stem, lambda s: s["image_index"] == 1, "the state cell to re-run on the second image")

    mirrored = (IMAGE_W - 1 - CLICK[0], CLICK[1])
    canvas = root.locator("canvas.sam2w-canvas")
    before = wait_for(
        lambda: (c := read_canvas(canvas, IMAGE_W, IMAGE_H)).shows(mirrored, (IMAGE_W - 1 - GREEN[0], GREEN[1])) and c,
        30,
        "the mirrored image to be drawn",
    )
    canvas.click(position=dict(zip("xy", before.to_css(*mirrored))))
    state, arrays = wait_state(stem, lambda s: len(s["prompts"]) == 1, "the state cell to re-run after the click")
    [prompt] = state["prompts"]
    assert near(prompt, mirrored, POS_TOL) and state["image_index"] == 1, state
    [obj] = state["objects"]
    assert masks_of(arrays)[obj["id"]].any()
    page.get_by_text("E2E image 1, prompts 1").wait_for(timeout=10_000)
    expect_overlay(canvas, before, state, arrays, "the mask on the second image")


def test_clip_tracking_shows_progress_and_reruns_the_cells_at_the_end(open_marimo, tmp_path):
    write_clip(tmp_path / "clip.mp4", FRAMES)
    page, root, stem = open_marimo('"clip.mp4"', 128)
    root.locator(".sam2w-timeline").wait_for(timeout=10_000)
    canvas = root.locator("canvas.sam2w-canvas")
    frame0 = wait_for(lambda: shows_frame(canvas, 0), 30, "frame 0 to be drawn (red disk, green square)")
    canvas.click(position=dict(zip("xy", frame0.to_css(*CLIP_CLICK))))
    wait_state(stem, lambda s: len(s["prompts"]) == 1, "the state cell to re-run after the click")

    root.locator('button[data-action="track_forward"]').click()
    seen: list[dict] = []

    def finished():
        p = read_progress(root)
        if not seen or seen[-1] != p:
            seen.append(p)
        return p if p["text"].startswith(f"done {FRAMES}/{FRAMES}") else None

    end = wait_for(finished, 90, f"the progress to read done {FRAMES}/{FRAMES}", interval_s=0.05)
    assert end["width"] == "100%" and not end["trackDisabled"] and end["cancelDisabled"], end
    running = [int(m.group(1)) for p in seen if (m := re.match(r"(\d+)/", p["text"]))]
    assert any(0 < n < FRAMES for n in running), f"no progress seen while tracking ran: {seen}"

    # The track's ack (when the run ends) re-ran the cell: every frame tracked, in Python.
    state, _ = wait_state(stem, lambda s: len(s["tracked_frames"]) > 1, "the state cell to re-run after tracking")
    assert state["tracked_frames"] == list(range(FRAMES)), state["tracked_frames"]
    p = state["progress"]
    assert (p["running"], p["done"], p["total"]) == (False, FRAMES, FRAMES), p
    assert state["error"] == "", state
