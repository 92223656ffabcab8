"""The whole loop in a real browser: JupyterLab runs a notebook that shows a Sam2Widget,
Chromium clicks its canvas, the kernel predicts a mask, and the mask is drawn where it is.

The model has random weights (nothing can be downloaded here), so the mask's shape is
arbitrary: the test checks that the click reached Python at the right image pixel, that
Python made a mask, and that the canvas is tinted with the object's colour exactly where
that mask is and nowhere else. See tests/e2e/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")

from tests.conftest import synthetic_image
from tests.e2e.helpers import open_notebook, rgb_of, run_cell, wait_for, wait_output
from tests.e2e.helpers import read_canvas as _read_canvas
from tests.e2e.helpers import write_notebook as _write_notebook

IMAGE_W, IMAGE_H = 240, 180
CLICK = (72.0, 72.0)  # image pixels: the centre of the red disk of synthetic_image
GREEN = (int(IMAGE_W * 0.72), int(IMAGE_H * 0.72))  # inside the green square
MARKER_PX = 12  # screen pixels around the click covered by the point marker (radius 7 + hover + ring)

SETUP_CELL = """\
import json
import numpy as np
import torch
import sam2_backend as sb
from sam2_widget import Sam2Widget

torch.manual_seed(0)
# Random weights at image_size 256: nothing is downloaded, and a click takes well under a second on a CPU.
model = sb.build_model(sb.get_config("tiny").replace(image_size=256), device="cpu")
w = Sam2Widget("image.png", model=model)
w"""

# Run after the click: the kernel's view of the widget, for the test to read from disk.
STATE_CELL = """\
w.wait_idle(60)
np.savez("masks.npz", **{str(k): v for k, v in w.masks.items()})
with open("state.json", "w") as f:
    json.dump({"prompts": w.prompts, "objects": w.objects, "status": w.status, "error": w.error,
               "label_rle_bytes": len(w.label_rle), "opacity": w.opacity}, f)
print("E2E-STATE-WRITTEN", len(w.masks))"""


def write_notebook(folder: Path) -> str:
    Image.fromarray(synthetic_image(IMAGE_H, IMAGE_W)).save(folder / "image.png")
    return _write_notebook(folder / "demo.ipynb", [SETUP_CELL, STATE_CELL])


def read_canvas(canvas):
    return _read_canvas(canvas, IMAGE_W, IMAGE_H)


def test_click_draws_the_python_mask(page, lab_server):
    notebook = write_notebook(lab_server.folder)
    # The notebook is open and its kernel (python3 of this environment) is idle.
    open_notebook(page, lab_server, notebook)

    run_cell(page, 0)
    cell = page.locator(".jp-Notebook .jp-Cell").nth(0)
    root = cell.locator(".sam2w-root")
    root.wait_for(timeout=90_000)  # torch import and model build happen first
    # The image has been encoded by the widget's worker and the status went back to idle.
    status = root.locator('.sam2w-status[data-status="idle"]')
    status.locator(".sam2w-status-text", has_text="encoded").wait_for(timeout=60_000)
    error_text = root.locator(".sam2w-error")
    assert error_text.inner_text() == ""

    canvas = root.locator("canvas.sam2w-canvas")
    canvas.scroll_into_view_if_needed()

    # The image is drawn where the fitted view puts it (checks the coordinate mapping too).
    def image_drawn():
        c = read_canvas(canvas)
        red = c.at(np.array([CLICK[0]]), np.array([CLICK[1]]))[0]
        green = c.at(np.array([GREEN[0]]), np.array([GREEN[1]]))[0]
        ok = red[0] > 150 and red[1] < 110 and green[1] > 130 and green[0] < 110
        return c if ok else None

    before = wait_for(image_drawn, 30, "the image to be drawn on the canvas (red disk, green square)")

    # A real left click at the image pixel CLICK (positions are relative to the canvas' box).
    x, y = before.to_css(*CLICK)
    canvas.click(position={"x": x, "y": y})

    # The kernel acknowledges with a mask: the status line says so and goes back to idle.
    status.locator(".sam2w-status-text", has_text="mask in").wait_for(timeout=60_000)
    assert error_text.inner_text() == ""
    root.locator(".sam2w-object").first.wait_for(timeout=10_000)  # the new object is listed

    # Ask the kernel what it holds now.
    run_cell(page, 1)
    wait_output(page, 1, "E2E-STATE-WRITTEN")
    state = json.loads((lab_server.folder / "state.json").read_text())
    with np.load(lab_server.folder / "masks.npz") as npz:
        masks = {int(k): npz[k] for k in npz.files}

    # Python got the click at the right pixel, as a positive point, and made one non-empty mask.
    assert state["error"] == "" and state["status"] == "idle", state
    [prompt] = state["prompts"]
    assert prompt["type"] == "point" and prompt["label"] == 1
    assert abs(prompt["x"] - CLICK[0]) <= 1.0 and abs(prompt["y"] - CLICK[1]) <= 1.0, prompt
    [obj] = state["objects"]
    assert prompt["obj_id"] == obj["id"] and list(masks) == [obj["id"]]
    mask = masks[obj["id"]]
    assert mask.shape == (IMAGE_H, IMAGE_W) and mask.dtype == bool
    assert mask.any(), "the kernel made an empty mask"
    assert state["label_rle_bytes"] > 0

    # Sample image pixels well inside and well outside the mask (away from its outline,
    # which is drawn opaque) and away from the point marker drawn at the click.
    yy, xx = np.mgrid[:IMAGE_H, :IMAGE_W]
    near_marker = np.hypot(xx + 0.5 - CLICK[0], yy + 0.5 - CLICK[1]) <= MARKER_PX / before.scale + 2
    inside = ndimage.binary_erosion(mask, iterations=2) & ~near_marker
    outside = ndimage.binary_erosion(~mask, iterations=2, border_value=1) & ~near_marker
    assert inside.sum() >= 20, f"mask too thin to check the overlay ({mask.sum()} pixels)"
    in_y, in_x = np.nonzero(inside)
    out_y, out_x = np.nonzero(outside)

    colour = rgb_of(obj["color"])
    alpha = round(255 * state["opacity"]) / 255

    def overlay_drawn():
        c = read_canvas(canvas)  # each read maps image pixels through its own fitted view
        was, now = before.at(in_x, in_y), c.at(in_x, in_y)
        expected = was * (1 - alpha) + colour * alpha
        tinted = np.abs(now - expected).max(axis=1) <= 8
        return c if tinted.mean() >= 0.98 else None

    after = wait_for(overlay_drawn, 20, f"the mask overlay in {obj['color']} over the mask's pixels")

    # Inside the mask every pixel changed; outside it nothing did.
    changed_in = np.abs(after.at(in_x, in_y) - before.at(in_x, in_y)).max(axis=1) > 8
    assert changed_in.mean() >= 0.98, f"only {changed_in.mean():.1%} of the pixels inside the mask changed"
    if len(out_x) >= 20:
        changed_out = np.abs(after.at(out_x, out_y) - before.at(out_x, out_y)).max(axis=1) > 8
        assert changed_out.mean() <= 0.01, f"{changed_out.mean():.1%} of the pixels outside the mask changed"
