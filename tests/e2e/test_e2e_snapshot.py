"""What a notebook keeps of the widget, in a real browser: ``w.snapshot()`` against the pixels
of the widget's canvas in JupyterLab, the picture in the saved notebook (and nbconvert's page of
it), and a ``save_html`` page opened from a file with no kernel.

Why the snapshot is compared within a tolerance and not bit for bit: the canvas draws the
display JPEG decoded by Chromium (the kernel decodes it with Pillow; both libjpeg-turbo) and
blends the overlay in premultiplied 8-bit (the kernel rounds once), which moves a channel by a
level or two; Skia's nearest-pixel sampling may pick the neighbour where a pixel's centre falls
exactly on a source pixel's edge; and the markers' anti-aliased edges are Skia's, ours are
coverage at 4x4 samples a pixel (Skia's circles come out a fraction of a pixel smaller). So
away from the markers nearly every pixel must be within 3 levels (measured: all within 1), and
within the markers the mean difference must stay small (measured: ~1.2 levels).
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")

from tests.e2e.helpers import (
    DUMP_CODE,
    READ_CANVAS_JS,
    cell,
    open_notebook,
    read_state,
    run_cell,
    wait_for,
    write_notebook,
)
from tests.images import synthetic_image
from tests.widget.test_snapshot import decode_runs

IMAGE_W, IMAGE_H = 240, 180
LEVELS = 3  # per channel: JPEG decoders and 8-bit blending (see above)
MARKER_PX = 12  # canvas pixels around a point's centre drawn by its marker (radius 7 + ring + AA)
BOX_PX = 4  # canvas pixels either side of a box's edge (dashes, underlay, AA)

SETUP_CELL = (
    DUMP_CODE
    + """\
import torch
import sam2_backend as sb
from sam2_widget import Sam2Widget

torch.manual_seed(0)
model = sb.build_model(sb.get_config("tiny").replace(image_size=256), device="cpu")
w = Sam2Widget("image.png", model=model, opacity=0.45)
yy, xx = np.mgrid[:180, :240]
disk = w.add_mask((xx - 72) ** 2 + (yy - 72) ** 2 < 36 ** 2)
square = w.add_mask((xx > 150) & (xx < 215) & (yy > 95) & (yy < 160))
clicked = w.add_object("clicked")
w.add_points([[60, 150], [110, 40]], [1, 0])
w.add_object("boxed")
w.add_box([130, 20, 200, 80])
w.select_object(clicked)
w"""
)

SNAPSHOT_CELL = """\
with open("canvas_size.json") as f:
    size = tuple(json.load(f))
w.snapshot(size=size, legend=False).save("snapshot.png")
w.snapshot(size=240).save("snapshot_notebook.png")
e2e_dump("state", {"prompts": w.prompts, "objects": w.objects, "status": w.status, "error": w.error})"""


def write_snapshot_notebook(folder) -> str:
    Image.fromarray(synthetic_image(IMAGE_H, IMAGE_W)).save(folder / "image.png")
    return write_notebook(folder / "snapshot.ipynb", [SETUP_CELL, SNAPSHOT_CELL])


def canvas_pixels(canvas) -> tuple[np.ndarray, dict]:
    data = canvas.evaluate(READ_CANVAS_JS)
    png = base64.b64decode(data["png"].split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.int16), data


def marker_zone(prompts: list[dict], shape: tuple[int, int]) -> np.ndarray:
    """Canvas pixels drawn by the prompts' markers (the view fits the image as snapshot.Placement)."""
    h, w = shape
    scale = min(w / IMAGE_W, h / IMAGE_H)
    tx, ty = (w - IMAGE_W * scale) / 2, (h - IMAGE_H * scale) / 2
    yy, xx = np.mgrid[:h, :w] + 0.5
    zone = np.zeros(shape, bool)
    for p in prompts:
        if p["type"] == "point":
            zone |= (xx - (p["x"] * scale + tx)) ** 2 + (yy - (p["y"] * scale + ty)) ** 2 <= MARKER_PX**2
            continue
        x0, y0, x1, y1 = (p[k] * scale + t for k, t in (("x0", tx), ("y0", ty), ("x1", tx), ("y1", ty)))
        near_x = (np.abs(xx - x0) <= BOX_PX) | (np.abs(xx - x1) <= BOX_PX)
        near_y = (np.abs(yy - y0) <= BOX_PX) | (np.abs(yy - y1) <= BOX_PX)
        zone |= (near_x & (yy >= y0 - BOX_PX) & (yy <= y1 + BOX_PX)) | (
            near_y & (xx >= x0 - BOX_PX) & (xx <= x1 + BOX_PX)
        )
    return zone


@pytest.mark.parametrize("jupyter", ["lab"], indirect=True)
def test_snapshot_equals_the_canvas_and_the_saved_notebook_keeps_it(page, jupyter):
    notebook = write_snapshot_notebook(jupyter.folder)
    open_notebook(page, jupyter, notebook)
    run_cell(page, 0)
    root = cell(page, 0).locator(".sam2w-root")
    root.wait_for(timeout=90_000)
    root.locator('.sam2w-status[data-status="idle"]').wait_for(timeout=60_000)
    assert cell(page, 0).locator(".jp-OutputArea-output img").count() == 0, "the live widget, not the picture"
    canvas = root.locator("canvas.sam2w-canvas")
    canvas.scroll_into_view_if_needed()
    page.mouse.move(0, 0)  # no hovered marker

    # The canvas once it holds the image, the masks and the markers and stops changing.
    def settled():
        first, _ = canvas_pixels(canvas)
        page.wait_for_timeout(300)
        second, data = canvas_pixels(canvas)
        return (first == second).all() and (second[..., 3] == 255).mean() > 0.9 and (second, data)

    shown, data = wait_for(settled, 30, "the canvas to be drawn and settle")
    assert data["devW"] == data["cssW"], "the snapshot is compared at a device pixel ratio of 1"
    (jupyter.folder / "canvas_size.json").write_text(json.dumps([data["devW"], data["devH"]]))
    state, _ = read_state(page, jupyter, 1, "state")
    assert state["error"] == "" and len(state["prompts"]) == 3, state
    snap = np.asarray(Image.open(jupyter.folder / "snapshot.png").convert("RGB"), dtype=np.int16)
    assert snap.shape[:2] == shown.shape[:2]

    covered = shown[..., 3] == 255  # where the image is drawn (the canvas is clear around it)
    zone = marker_zone(state["prompts"], covered.shape)
    diff = np.abs(snap - shown[..., :3]).max(axis=2)
    away, near = covered & ~zone, covered & zone
    off = (diff[away] > LEVELS).mean()
    print(
        f"canvas {data['devW']}x{data['devH']}: away from markers {away.sum()} px, max diff {diff[away].max()}, "
        f"{off:.4%} over {LEVELS}; markers {near.sum()} px, mean diff {diff[near].mean():.2f}"
    )
    assert off < 0.002, f"{off:.3%} of the pixels away from the markers differ by more than {LEVELS} levels"
    assert np.percentile(diff[away], 99) <= 2
    # Measured: mean ~1.2, ~2.5 % of the zone over 3 levels (the rings' anti-aliased edges).
    assert diff[near].mean() < 3, f"the markers differ by {diff[near].mean():.1f} levels on average"
    assert (diff[near] > LEVELS).mean() < 0.06, f"{(diff[near] > LEVELS).mean():.1%} of the markers' pixels differ"
    # The masks are really there: the snapshot is tinted with each object's colour where its mask is.
    for o in state["objects"][:2]:  # the two given masks (the others are the random model's)
        colour = np.array([int(o["color"][k : k + 2], 16) for k in (1, 3, 5)])
        assert (np.abs(snap[away] - colour).max(axis=1) <= 3).sum() > 20, f"no outline of {o['name']}"

    # Saved from JupyterLab, the widget's output carries the picture; nbconvert's page shows it.
    page.keyboard.press("Control+s")
    saved = jupyter.folder / notebook

    def picture_saved():
        outputs = json.loads(saved.read_text())["cells"][0].get("outputs", [])
        return next((o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})), None)

    png = wait_for(picture_saved, 30, "the saved notebook to hold the widget's image/png")
    png = png if isinstance(png, str) else "".join(png)
    kept = np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB"))
    np.testing.assert_array_equal(kept, np.asarray(Image.open(jupyter.folder / "snapshot_notebook.png").convert("RGB")))

    import nbconvert
    import nbformat

    html, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(saved, as_version=4))
    assert 'src="data:image/png;base64,' + png.strip()[:64] in html


# -- save_html: a page opened from a file, no kernel ----------------------------------------------


def page_data(path) -> dict:
    text = path.read_text()
    return json.loads(re.search(r'<script id="sam2-data" type="application/json">(.*?)</script>', text, re.S)[1])


def item_masks(item: dict) -> dict[int, np.ndarray]:
    hw = (item["height"], item["width"])
    masks = {}
    for obj_id, text in item["masks"].items():
        runs = decode_runs(text)
        masks[int(obj_id)] = np.repeat(np.arange(len(runs)) % 2 == 1, runs).reshape(hw)
    return masks


@pytest.fixture(scope="module")
def shared_page(tmp_path_factory):
    """A page of a clip of 8 frames: two objects on frame 0, the first again on frame 5."""
    from sam2_widget import Sam2Widget
    from tests.clips import make_clip
    from tests.models import tiny_model

    clip = make_clip(8)
    h, w = clip.shape[1:3]
    yy, xx = np.mgrid[:h, :w]
    widget = Sam2Widget(clip, model=tiny_model(128), video=True, opacity=0.5)
    try:
        first = widget.add_object("disk")
        widget.add_mask((xx - 40) ** 2 + (yy - 40) ** 2 < 20**2, obj_id=first, frame=0)
        second = widget.add_object("bar")
        widget.add_mask((xx > 70) & (xx < 120) & (yy > 50) & (yy < 80), obj_id=second, frame=0)
        widget.add_mask((xx - 90) ** 2 + (yy - 30) ** 2 < 15**2, obj_id=first, frame=5)
        path = widget.save_html(tmp_path_factory.mktemp("page") / "clip.html")
    finally:
        widget.close()
    return path, (first, second)


def read_view(page) -> np.ndarray:
    url = page.locator("#view").evaluate("(c) => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"), dtype=np.int16)


def test_save_html_shows_the_masks_without_a_kernel(browser, shared_page):
    path, (first, second) = shared_page
    data = page_data(path)
    assert [it["index"] for it in data["items"]] == list(range(8))
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: r.url.startswith("file:") or r.url.startswith("data:") or errors.append(r.url))
    try:
        page.goto(path.as_uri())
        view = page.locator("#view")
        wait_for(lambda: view.get_attribute("data-index") == "0", 10, "frame 0 to be drawn")

        def expected(position: int, hidden: tuple[int, ...] = ()) -> tuple[np.ndarray, dict[int, np.ndarray]]:
            item = data["items"][position]
            jpeg = np.asarray(Image.open(io.BytesIO(base64.b64decode(item["jpeg"]))).convert("RGB"), dtype=np.int16)
            return jpeg, {o: m for o, m in item_masks(item).items() if o not in hidden}

        def check(position: int, hidden: tuple[int, ...] = ()) -> None:
            jpeg, masks = expected(position, hidden)
            shown = read_view(page)[..., :3]
            assert shown.shape == jpeg.shape
            anywhere = np.zeros(jpeg.shape[:2], bool)
            for o in data["objects"]:
                if o["id"] not in masks:
                    continue
                m = masks[o["id"]] & ~anywhere  # the first listed wins
                anywhere |= masks[o["id"]]
                colour = np.array([int(o["color"][k : k + 2], 16) for k in (1, 3, 5)])
                inner = m.copy()  # away from the outline
                inner[1:-1, 1:-1] &= m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
                blend = jpeg[inner] * (1 - data["opacity"]) + colour * data["opacity"]
                assert inner.sum() > 100, o
                assert np.abs(shown[inner] - blend).max() <= LEVELS + 1, f"{o['name']} is not drawn where its mask is"
                assert (np.abs(shown[m & ~inner] - colour).max(axis=1) <= 1).mean() > 0.95, f"{o['name']}'s outline"
            assert np.abs(shown[~anywhere] - jpeg[~anywhere]).max() <= LEVELS, "a tint where no mask is"

        check(0)
        assert data["items"][0]["masks"].keys() == {str(first), str(second)}
        # Hide the first object: its pixels show the frame again.
        page.get_by_role("checkbox", name="disk").uncheck()
        wait_for(lambda: view.get_attribute("data-drawn") not in (None, "1"), 10, "a redraw")
        page.wait_for_timeout(200)
        check(0, hidden=(first,))
        page.get_by_role("checkbox", name="disk").check()
        # Scrub to frame 5 (the slider's value and its input event, as a drag gives them).
        page.locator("#index").evaluate("(s) => { s.value = '5'; s.dispatchEvent(new Event('input')); }")
        wait_for(lambda: view.get_attribute("data-index") == "5", 10, "frame 5 to be drawn")
        page.wait_for_timeout(200)
        assert str(first) in data["items"][5]["masks"]
        check(5)
        page.keyboard.press("ArrowLeft")
        wait_for(lambda: view.get_attribute("data-index") == "4", 10, "frame 4 to be drawn")
        assert errors == [], errors
    finally:
        context.close()
