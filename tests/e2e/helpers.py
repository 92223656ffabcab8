"""Helpers shared by the browser end-to-end tests (tests/e2e/README.md): writing a notebook,
running its cells as a person would in JupyterLab or Notebook 7, reading the kernel's state,
waiting on the page, and reading the widget's canvas lossless with the view that maps image
pixels onto it (the front end's fitted view, js/geometry.ts ``fitView``, or a zoomed one)."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMAGES = ROOT / "docs" / "images"

KERNEL_NAME = "Python 3 (ipykernel)"
LAB_KERNEL_IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")
RAN_PROMPT = re.compile(r"\[(\*|\d+)\]")  # "[*]:" queued or running, "[1]:" done

# Put first in a notebook's first cell: the kernel writes what a test checks with
# e2e_dump(name, state, **arrays), and read_state() waits for it. The arrays go first and the
# JSON is renamed into place, so a test that sees {name}.json can read both whole.
DUMP_CODE = """\
import json, os
import numpy as np

def e2e_dump(name, state, **arrays):
    np.savez(name + ".npz", **arrays)
    with open(name + ".json.tmp", "w") as f:
        json.dump(state, f)
    os.replace(name + ".json.tmp", name + ".json")
    print("E2E-STATE-WRITTEN", name)
"""

# Canvas pixels as a PNG (lossless), with the numbers needed to map image pixels onto them.
READ_CANVAS_JS = """(canvas) => ({
  png: canvas.toDataURL("image/png"),
  cssW: canvas.clientWidth,
  cssH: canvas.clientHeight,
  devW: canvas.width,
  devH: canvas.height,
})"""

# Screen pixels around a point prompt covered by its marker (radius 7, +2 hovered, 2 px ring).
MARKER_PX = 12
# Screen pixels either side of a box prompt's edge covered by its dashed line and underlay.
BOX_LINE_PX = 4
TINT_TOL = 8  # per channel: the overlay blends in the 8-bit canvas


def write_notebook(path: Path, cells: list[str]) -> str:
    """A notebook of code ``cells`` at ``path``; returns its name (for JupyterServer.notebook_url)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    # The kernelspec spares us the front end's "select a kernel" dialog.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": KERNEL_NAME, "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path.name


@dataclass(frozen=True)
class View:
    """The image -> screen map of js/geometry.ts: screen = image * scale + (tx, ty), in CSS
    pixels of the canvas. The tests compute the views they expect with it, independently of
    the front end, and check the canvas and the clicks against them."""

    scale: float
    tx: float
    ty: float

    @staticmethod
    def fit(width: int, height: int, css_w: float, css_h: float) -> View:
        scale = min(css_w / width, css_h / height)
        return View(scale, (css_w - width * scale) / 2, (css_h - height * scale) / 2)

    def to_css(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale + self.tx, y * self.scale + self.ty

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.tx) / self.scale, (y - self.ty) / self.scale

    def zoom_at(self, at: tuple[float, float], factor: float) -> View:
        ax, ay = self.to_image(*at)
        scale = self.scale * factor
        return View(scale, at[0] - ax * scale, at[1] - ay * scale)

    def pan(self, dx: float, dy: float) -> View:
        return View(self.scale, self.tx + dx, self.ty + dy)


class Canvas:
    """One read of the widget's canvas showing an image of ``width`` x ``height`` through
    ``view`` (default: the fitted view of the front end: the whole image, centred)."""

    def __init__(self, data: dict, width: int, height: int, view: View | None = None) -> None:
        png = base64.b64decode(data["png"].split(",", 1)[1])
        self.rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.int16)
        self.css_w, self.css_h = data["cssW"], data["cssH"]
        self.dpr = data["devW"] / self.css_w
        self.view = view or View.fit(width, height, self.css_w, self.css_h)
        self.scale = self.view.scale

    def to_css(self, x: float, y: float) -> tuple[float, float]:
        """Image point -> CSS pixels from the canvas' top left."""
        return self.view.to_css(x, y)

    def at(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """RGB of the device pixels at the centres of image pixels (xs, ys)."""
        cx, cy = self.to_css(xs + 0.5, ys + 0.5)
        col = np.clip(np.floor(cx * self.dpr).astype(int), 0, self.rgba.shape[1] - 1)
        row = np.clip(np.floor(cy * self.dpr).astype(int), 0, self.rgba.shape[0] - 1)
        return self.rgba[row, col, :3]

    def shows(self, red: tuple[int, int], green: tuple[int, int]) -> bool:
        """Whether image pixel ``red`` is drawn red and ``green`` green (the shapes of the
        synthetic image and of the clip), i.e. the image is drawn where the view puts it."""
        r = self.at(np.array([red[0]]), np.array([red[1]]))[0]
        g = self.at(np.array([green[0]]), np.array([green[1]]))[0]
        return bool(r[0] > 150 and r[1] < 110 and g[1] > 130 and g[0] < 110)


def read_canvas(canvas, width: int, height: int, view: View | None = None) -> Canvas:
    return Canvas(canvas.evaluate(READ_CANVAS_JS), width, height, view)


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def wait_kernel_idle(page, frontend: str, timeout_ms: int = 60_000) -> None:
    """The notebook's kernel is connected and idle. JupyterLab: its status bar says so (the
    toolbar's execution indicator already says "idle" before any kernel is there). Notebook 7
    has no status bar: its toolbar names the kernel ("No Kernel" before there is one) and
    then its execution indicator goes connecting -> idle."""
    if frontend == "lab":
        page.locator(".jp-StatusBar-Widget", has_text=LAB_KERNEL_IDLE).wait_for(timeout=timeout_ms)
    else:
        page.locator(".jp-KernelName", has_text=KERNEL_NAME).wait_for(timeout=timeout_ms)
        page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=timeout_ms)


def open_notebook(page, jupyter, notebook: str) -> None:
    """Open ``notebook`` in the server's front end and wait until its kernel is idle."""
    page.goto(jupyter.notebook_url(notebook))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    wait_kernel_idle(page, jupyter.frontend)


def cells(page):
    return page.locator(".jp-Notebook .jp-Cell")


def cell(page, index: int):
    return cells(page).nth(index)


def run_cell(page, index: int, tries: int = 3) -> None:
    """Put the cursor in cell ``index``'s editor and press Shift+Enter, as a person would;
    again if the cell's prompt does not change to show that it was queued or ran (a key
    press that the front end dropped, e.g. while it was still connecting)."""
    prompt = cell(page, index).locator(".jp-InputPrompt")
    before = prompt.inner_text()  # "[ ]:" or, for a cell run before, "[n]:"
    for attempt in range(tries):
        cell(page, index).locator(".jp-InputArea-editor .cm-content").click()
        page.keyboard.press("Shift+Enter")
        try:
            wait_for(lambda: (t := prompt.inner_text()) != before and RAN_PROMPT.search(t), 10, f"cell {index} to run")
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def wait_output(page, index: int, text: str, timeout_ms: int = 60_000) -> None:
    """Cell ``index`` printed ``text``."""
    cell(page, index).locator(".jp-OutputArea-output", has_text=text).wait_for(timeout=timeout_ms)


def read_state(page, jupyter, index: int, name: str, timeout_s: float = 90) -> tuple[dict, dict]:
    """Run cell ``index``, which calls ``e2e_dump(name, ...)`` (DUMP_CODE), and return what it
    wrote: (state, arrays). The old files go first, so what comes back is from this run."""
    json_path, npz_path = jupyter.folder / f"{name}.json", jupyter.folder / f"{name}.npz"
    json_path.unlink(missing_ok=True)
    npz_path.unlink(missing_ok=True)
    run_cell(page, index)
    wait_for(json_path.exists, timeout_s, f"cell {index} to write {json_path.name}")
    state = json.loads(json_path.read_text())
    with np.load(npz_path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return state, arrays


def rgb_of(color: str) -> np.ndarray:
    return np.array([int(color[k : k + 2], 16) for k in (1, 3, 5)])


def focus_widget(page, root) -> None:
    """Give the widget the keyboard as a person would, by clicking it where a click does
    nothing else (its status line); the root (tabindex 0) takes the focus."""
    root.locator(".sam2w-status").click()
    assert root.evaluate("r => document.activeElement === r"), "the widget did not take the focus"


def page_point(canvas, at: tuple[float, float]) -> tuple[float, float]:
    """CSS pixels of the canvas -> the page's coordinates (for page.mouse)."""
    box = canvas.bounding_box()
    return box["x"] + at[0], box["y"] + at[1]


def drag(page, canvas, start: tuple[float, float], end: tuple[float, float], button: str = "left") -> None:
    """Press at ``start``, move to ``end`` in steps, release (canvas CSS pixels)."""
    page.mouse.move(*page_point(canvas, start))
    page.mouse.down(button=button)
    page.mouse.move(*page_point(canvas, end), steps=8)
    page.mouse.up(button=button)


def prompt_zone(prompts: list[dict], view: View, shape: tuple[int, int]) -> np.ndarray:
    """Image pixels covered by the prompts' markers (drawn over the masks): left out when
    comparing the canvas with a mask."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w] + 0.5
    zone = np.zeros(shape, bool)
    for p in prompts:
        if p["type"] == "point":
            zone |= np.hypot(xx - p["x"], yy - p["y"]) <= MARKER_PX / view.scale + 2
        else:
            pad = BOX_LINE_PX / view.scale + 2
            inside_outer = (xx >= p["x0"] - pad) & (xx <= p["x1"] + pad) & (yy >= p["y0"] - pad) & (yy <= p["y1"] + pad)
            inside_inner = (xx > p["x0"] + pad) & (xx < p["x1"] - pad) & (yy > p["y0"] + pad) & (yy < p["y1"] - pad)
            zone |= inside_outer & ~inside_inner
    return zone


def overlay_problems(
    before: Canvas, now: Canvas, label: np.ndarray, colours: dict[int, str], alpha: float, keep_out: np.ndarray
) -> list[str]:
    """How canvas ``now`` differs from ``before`` tinted by ``label`` (object id per image
    pixel, 0 = none) in ``colours`` with ``alpha``; empty when it matches. Pixels near a label
    edge (outlines are drawn opaque) and in ``keep_out`` (prompt markers) are left out, and so
    are those where the tint would not show (the colour close to the image's)."""
    problems = []
    for oid, color in colours.items():
        region = ndimage.binary_erosion(label == oid, iterations=2) & ~keep_out
        ys, xs = np.nonzero(region)
        was = before.at(xs, ys)
        expected = was * (1 - alpha) + rgb_of(color) * alpha
        visible = np.abs(expected - was).max(axis=1) > 2 * TINT_TOL
        if visible.sum() < 20:
            problems.append(f"object {oid}: only {visible.sum()} pixels well inside its mask to check")
            continue
        tinted = np.abs(now.at(xs, ys)[visible] - expected[visible]).max(axis=1) <= TINT_TOL
        if tinted.mean() < 0.98:
            problems.append(
                f"object {oid}: {tinted.mean():.1%} of {visible.sum()} pixels inside its "
                f"mask are tinted {color} (want >= 98%)"
            )
    background = ndimage.binary_erosion(label == 0, iterations=2, border_value=1) & ~keep_out
    ys, xs = np.nonzero(background)
    if len(xs) >= 20:
        changed = np.abs(now.at(xs, ys) - before.at(xs, ys)).max(axis=1) > TINT_TOL
        if changed.mean() > 0.01:
            problems.append(f"{changed.mean():.1%} of {len(xs)} pixels outside every mask changed (want <= 1%)")
    return problems


def wait_overlay(
    canvas,
    before: Canvas,
    label: np.ndarray,
    colours: dict[int, str],
    alpha: float,
    keep_out: np.ndarray,
    what: str,
    timeout_s: float = 20,
) -> Canvas:
    """Wait until the canvas shows ``before`` tinted by ``label`` (overlay_problems); returns
    that read of the canvas, or fails with what differed the last time."""
    h, w = label.shape
    problems: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        now = read_canvas(canvas, w, h, before.view)
        problems = overlay_problems(before, now, label, colours, alpha, keep_out)
        if not problems:
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"the canvas does not show {what} after {timeout_s} s: " + "; ".join(problems))
        time.sleep(0.25)


def canvas_alpha(opacity: float) -> float:
    """The overlay's alpha as the 8-bit canvas stores it."""
    return round(255 * opacity) / 255


def wheel_factor(delta_y: float) -> float:
    """The zoom of one wheel event of ``delta_y`` pixels (js/input.ts WHEEL_ZOOM)."""
    return math.exp(-delta_y * 0.0015)


# SAM2_E2E_SCREENSHOTS=1: the image and video tests (in JupyterLab) also show the sample media
# of sam2_widget/samples.py in a widget of their notebook and save it for the README.
SCREENSHOTS = os.environ.get("SAM2_E2E_SCREENSHOTS") == "1"


def save_docs_screenshot(page, root, name: str) -> Path:
    """A screenshot of the widget element at docs/images/<name>, without the pointer over it
    or its focus ring."""
    page.mouse.move(1, 1)
    root.evaluate("r => r.blur()")
    page.wait_for_timeout(300)  # a frame without the hover marker
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    path = DOCS_IMAGES / name
    root.screenshot(path=str(path), animations="disabled")
    return path
