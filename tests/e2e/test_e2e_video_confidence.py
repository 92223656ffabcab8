"""Confidence lanes in a real browser (JupyterLab): track the clip of test_e2e_video_widget.py, see
the object's confidence lane drawn on the timeline, set the weak-frame threshold, press ] and [
and land on the frames ``results.weak_frames(threshold)`` names in Python.

Random weights (seed 0): the disk's confidence is about 0.249 on its prompted frame 0 and about
0.238 on every tracked frame after it, so a threshold of 0.245 makes frames 1-11 weak and frame 0
not, and 0.5 makes every frame weak: the jumps depend on the threshold the person set.
"""

from __future__ import annotations

import pytest

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")
pytest.importorskip("av", reason="video e2e tests need PyAV")

from tests.e2e.helpers import focus_widget, read_state, wait_for
from tests.e2e.test_e2e_video_widget import FRAMES, click_object, open_widget, read_progress, write_video_notebook

WEAK_CELL = """\
w.wait_idle(60)
r = w.results
e2e_dump("weak", {{"image_index": w.image_index, "error": w.error,
                   "strict": r.weak_frames({strict}), "loose": r.weak_frames(0.5),
                   "confidence": [float(c) for c in r.confidence()[:, 0]]}})"""

STRICT = 0.245

LANE_PIXELS_JS = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return {width: canvas.width, height: canvas.height, painted, hidden: canvas.hidden};
}"""


def test_weak_frame_keys_land_where_python_says(page, jupyter):
    notebook = write_video_notebook(jupyter.folder, "weak", FRAMES, (WEAK_CELL.format(strict=STRICT),))
    root, canvas, frame0 = open_widget(page, jupyter, notebook)
    click_object(root, canvas, frame0)
    root.locator('button[data-action="track_forward"]').click()
    wait_for(lambda: read_progress(root)["text"].startswith(f"done {FRAMES}/"), 60, "tracking to end")

    # The confidence lane: one column per frame, painted on every tracked frame.
    lane = root.locator("canvas.sam2w-confidence")
    drawn = wait_for(
        lambda: (p := lane.evaluate(LANE_PIXELS_JS))["painted"] >= FRAMES and p, 10, "the confidence lane to be drawn"
    )
    assert drawn["width"] == FRAMES and not drawn["hidden"], drawn

    state, _ = read_state(page, jupyter, 2, "weak")
    assert state["error"] == "" and state["image_index"] == 0, state
    strict, loose = state["strict"], state["loose"]
    assert strict and 0 not in strict and loose[0] == 0, state  # the clip behaves as the docstring says

    name = root.locator(".sam2w-image-name")
    threshold = root.locator("input.sam2w-weak-threshold")

    def at_frame(index: int) -> None:
        name.filter(has_text=f"frame {index + 1}/{FRAMES}").wait_for(timeout=30_000)

    threshold.fill(str(STRICT))
    focus_widget(page, root)
    page.keyboard.press("]")
    at_frame(strict[0])  # the first weak frame after frame 0
    later = next(f for f in strict if f > strict[0] + 2)
    root.locator('button[data-action="next_weak"]').click()  # the button does what ] does
    at_frame(strict[1])
    # Jump from further on: scrub there with the frame box, then [ twice
    jump = root.locator("input.sam2w-frame-input")
    jump.fill(str(later + 1))
    jump.press("Enter")
    at_frame(later)
    focus_widget(page, root)
    page.keyboard.press("[")
    at_frame(max(f for f in strict if f < later))
    # Back at the first weak frame, [ finds nothing before it at this threshold (frame 0 is not weak)...
    jump.fill(str(strict[0] + 1))
    jump.press("Enter")
    at_frame(strict[0])
    focus_widget(page, root)
    page.keyboard.press("[")
    page.wait_for_timeout(500)
    at_frame(strict[0])
    # ...and frame 0 at 0.5, where every frame is weak.
    threshold.fill("0.5")
    focus_widget(page, root)
    page.keyboard.press("[")
    at_frame(0)
    state, _ = read_state(page, jupyter, 2, "weak")
    assert state["image_index"] == 0 and state["error"] == "", state
