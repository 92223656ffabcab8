"""Helpers shared by the browser end-to-end tests (tests/e2e/README.md): writing a notebook,
running its cells as a person would, waiting on the page, and reading the widget's canvas
lossless with the front end's fitted view (js/geometry.ts ``fitView``)."""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

KERNEL_IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")
RAN_PROMPT = re.compile(r"\[(\*|\d+)\]")  # "[*]:" queued or running, "[1]:" done

# Canvas pixels as a PNG (lossless), with the numbers needed to map image pixels onto them.
READ_CANVAS_JS = """(canvas) => ({
  png: canvas.toDataURL("image/png"),
  cssW: canvas.clientWidth,
  cssH: canvas.clientHeight,
  devW: canvas.width,
  devH: canvas.height,
})"""


def write_notebook(path: Path, cells: list[str]) -> str:
    """A notebook of code ``cells`` at ``path``; returns its name (for LabServer.lab_url)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    # The kernelspec spares us JupyterLab's "select a kernel" dialog.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path.name


class Canvas:
    """One read of the widget's canvas showing an image of ``width`` x ``height`` in the
    fitted view of the front end (the whole image, centred, uniform scale)."""

    def __init__(self, data: dict, width: int, height: int) -> None:
        png = base64.b64decode(data["png"].split(",", 1)[1])
        self.rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.int16)
        self.css_w, self.css_h = data["cssW"], data["cssH"]
        self.dpr = data["devW"] / self.css_w
        self.scale = min(self.css_w / width, self.css_h / height)
        self.tx = (self.css_w - width * self.scale) / 2
        self.ty = (self.css_h - height * self.scale) / 2

    def to_css(self, x: float, y: float) -> tuple[float, float]:
        """Image point -> CSS pixels from the canvas' top left."""
        return x * self.scale + self.tx, y * self.scale + self.ty

    def at(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """RGB of the device pixels at the centres of image pixels (xs, ys)."""
        cx, cy = self.to_css(xs + 0.5, ys + 0.5)
        col = np.clip(np.floor(cx * self.dpr).astype(int), 0, self.rgba.shape[1] - 1)
        row = np.clip(np.floor(cy * self.dpr).astype(int), 0, self.rgba.shape[0] - 1)
        return self.rgba[row, col, :3]


def read_canvas(canvas, width: int, height: int) -> Canvas:
    return Canvas(canvas.evaluate(READ_CANVAS_JS), width, height)


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def wait_kernel_idle(page, timeout_ms: int = 60_000) -> None:
    """The notebook's kernel is connected and idle (the status bar says so; the toolbar's
    execution indicator already says "idle" before any kernel is there)."""
    page.locator(".jp-StatusBar-Widget", has_text=KERNEL_IDLE).wait_for(timeout=timeout_ms)


def open_notebook(page, lab_server, notebook: str) -> None:
    """Open ``notebook`` in JupyterLab and wait until its kernel is idle."""
    page.goto(lab_server.lab_url(notebook))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    wait_kernel_idle(page)


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page, index: int, tries: int = 3) -> None:
    """Put the cursor in cell ``index``'s editor and press Shift+Enter, as a person would;
    again if the cell's prompt does not show that it was queued or ran (a key press
    that JupyterLab dropped, e.g. while it was still connecting)."""
    prompt = cell(page, index).locator(".jp-InputPrompt")
    for attempt in range(tries):
        cell(page, index).locator(".jp-InputArea-editor .cm-content").click()
        page.keyboard.press("Shift+Enter")
        try:
            wait_for(lambda: RAN_PROMPT.search(prompt.inner_text()), 10, f"cell {index} to run")
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def wait_output(page, index: int, text: str, timeout_ms: int = 60_000) -> None:
    """Cell ``index`` printed ``text``."""
    cell(page, index).locator(".jp-OutputArea-output", has_text=text).wait_for(timeout=timeout_ms)


def rgb_of(color: str) -> np.ndarray:
    return np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)])
