"""Video in a real browser: JupyterLab shows a Sam2Widget of a short mp4, Chromium clicks an
object on frame 0, presses "Track ▶" in the timeline, watches the progress bar to the end,
scrubs to a later frame and checks that the canvas is tinted exactly where Python's tracked
mask of that frame is. A second test presses Cancel while tracking runs.

The model has random weights, so the masks' shapes are arbitrary (with seed 0 they cover
most of the frame): the tests check that the display agrees with Python, not where the
masks lie. The clip is ``tests/video/clip.py`` (a disk, a square and a bar that move),
written as lossless H.264. See tests/e2e/README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")
av = pytest.importorskip("av", reason="video e2e tests need PyAV")

from tests.e2e.helpers import (
    open_notebook,
    read_canvas,
    rgb_of,
    run_cell,
    wait_for,
    wait_output,
    write_notebook,
)
from tests.video.clip import H, W, disk, make_clip, square

FRAMES = 12  # the clip of the tracking test
LONG_FRAMES = 48  # the clip of the cancel test: tracking all of it takes 10-20 s on 2 cores
CLICK = (20.0, 40.0)  # image pixels: the centre of the disk on frame 0 (tests/video/clip.py)
LATER = 7  # the frame scrubbed to after tracking
ALPHA_TOL = 8  # per channel, as in the image test

SETUP_CELL = """\
import json
import numpy as np
import torch
import sam2_backend as sb
from sam2_widget import Sam2Widget

torch.manual_seed(0)
# Random weights at image_size 128: nothing is downloaded, and a frame tracks in ~0.2 s on a CPU.
model = sb.build_model(sb.get_config("tiny").replace(image_size=128), device="cpu")
w = Sam2Widget("{clip}", model=model)
w"""

# Run after tracking: the kernel's view of the widget, for the test to read from disk.
STATE_CELL = """\
w.wait_idle(60)
r = w.results
np.savez("{name}.npz", tracked=r.masks(0, w.image_count), **{{f"shown_{{k}}": v for k, v in w.masks.items()}})
with open("{name}.json", "w") as f:
    json.dump({{"frames": r.frames, "object_ids": r.object_ids, "objects": w.objects, "progress": w.progress,
               "prompt_frames": w.prompt_frames, "tracked": w.tracked, "image_index": w.image_index,
               "status": w.status, "error": w.error, "opacity": w.opacity}}, f)
print("E2E-STATE-WRITTEN", len(r))"""


def write_clip(path: Path, num_frames: int) -> None:
    """``make_clip(num_frames)`` as H.264 in MP4, lossless (libx264rgb at qp 0) where available."""
    frames = make_clip(num_frames)
    try:
        av.codec.Codec("libx264rgb", "w")
        codec, options, pix_fmt = "libx264rgb", {"qp": "0"}, "rgb24"
    except ValueError:
        codec, options, pix_fmt = "libx264", {"crf": "10"}, "yuv420p"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=24, options=options)
        s.width, s.height, s.pix_fmt = W, H, pix_fmt
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def write_video_notebook(folder: Path, name: str, num_frames: int) -> str:
    write_clip(folder / f"{name}.mp4", num_frames)
    return write_notebook(folder / f"{name}.ipynb",
                          [SETUP_CELL.format(clip=f"{name}.mp4"), STATE_CELL.format(name=name)])


def centre(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.mean()), int(ys.mean())


def shows_frame(canvas, t: int):
    """A canvas read when it shows frame ``t`` of the clip (the disk and the square where
    they are on that frame; neither is masked yet on the frames this is used for)."""
    c = read_canvas(canvas, W, H)
    (dx, dy), (sx, sy) = centre(disk(t)), centre(square(t))
    red = c.at(np.array([dx]), np.array([dy]))[0]
    green = c.at(np.array([sx]), np.array([sy]))[0]
    return c if red[0] > 150 and red[1] < 110 and green[1] > 130 and green[0] < 110 else None


def open_widget(page, lab_server, notebook: str):
    """Open the notebook, run its first cell, wait for the widget with frame 0 drawn; returns
    (root locator, canvas locator, canvas read of frame 0)."""
    open_notebook(page, lab_server, notebook)
    run_cell(page, 0)
    root = page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".sam2w-root")
    root.wait_for(timeout=90_000)  # torch import and model build happen first
    root.locator(".sam2w-timeline").wait_for(timeout=10_000)
    assert root.locator(".sam2w-error").inner_text() == ""
    canvas = root.locator("canvas.sam2w-canvas")
    canvas.scroll_into_view_if_needed()
    frame0 = wait_for(lambda: shows_frame(canvas, 0), 30, "frame 0 to be drawn (red disk, green square)")
    return root, canvas, frame0


def click_object(root, canvas, frame0) -> None:
    """Click the disk on frame 0 and wait until the kernel made its mask."""
    x, y = frame0.to_css(*CLICK)
    canvas.click(position={"x": x, "y": y})
    root.locator('.sam2w-status[data-status="idle"] .sam2w-status-text', has_text="mask in").wait_for(timeout=60_000)
    root.locator(".sam2w-object").first.wait_for(timeout=10_000)
    assert root.locator(".sam2w-error").inner_text() == ""


def read_progress(root) -> dict:
    """The timeline's progress as shown: text, fill width (percent) and the buttons' state."""
    return root.evaluate("""(root) => {
      const q = (s) => root.querySelector(s);
      return {
        text: q(".sam2w-progress-text").textContent,
        width: q(".sam2w-progress-fill").style.width,
        value: q(".sam2w-progress").getAttribute("aria-valuenow"),
        cancelDisabled: q('[data-action="cancel"]').disabled,
        trackDisabled: q('[data-action="track_forward"]').disabled,
      };
    }""")


def read_state(page, lab_server, name: str) -> tuple[dict, dict]:
    run_cell(page, 1)
    wait_output(page, 1, "E2E-STATE-WRITTEN")
    state = json.loads((lab_server.folder / f"{name}.json").read_text())
    with np.load(lab_server.folder / f"{name}.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    return state, arrays


def test_track_and_scrub_show_the_python_masks(page, lab_server):
    notebook = write_video_notebook(lab_server.folder, "clip", FRAMES)
    root, canvas, frame0 = open_widget(page, lab_server, notebook)
    name = root.locator(".sam2w-image-name")
    jump = root.locator("input.sam2w-frame-input")

    # Frame LATER before anything is tracked (no overlay): the reference for its pixels.
    jump.fill(str(LATER + 1))
    jump.press("Enter")
    name.filter(has_text=f"frame {LATER + 1}/{FRAMES}").wait_for(timeout=30_000)
    later_before = wait_for(lambda: shows_frame(canvas, LATER), 30, f"frame {LATER} to be drawn")
    jump.fill("1")
    jump.press("Enter")
    name.filter(has_text=f"frame 1/{FRAMES}").wait_for(timeout=30_000)
    wait_for(lambda: shows_frame(canvas, 0), 30, "frame 0 to be drawn again")

    click_object(root, canvas, frame0)

    # Track forward from frame 0; the progress bar runs to the end.
    root.locator('button[data-action="track_forward"]').click()
    seen = []

    def finished():
        p = read_progress(root)
        if not seen or seen[-1] != p:
            seen.append(p)
        return p if p["text"].startswith(f"done {FRAMES}/{FRAMES}") else None

    end = wait_for(finished, 60, f"the progress to read done {FRAMES}/{FRAMES}", interval_s=0.05)
    assert end["width"] == "100%" and end["value"] == "100", seen
    assert not end["trackDisabled"] and end["cancelDisabled"], end
    running = [int(m.group(1)) for p in seen if (m := re.match(r"(\d+)/", p["text"]))]
    assert any(0 < n < FRAMES for n in running), f"no progress seen while tracking ran: {seen}"
    counts = [int(m.group(1)) for p in seen if (m := re.match(r"(?:done )?(\d+)/", p["text"]))]
    assert counts == sorted(counts), f"progress went backwards: {seen}"
    widths = [float(p["width"].rstrip("%") or 0) for p in seen]
    assert widths == sorted(widths), f"progress bar went backwards: {seen}"
    # The object's lane spans the whole timeline.
    span = root.locator(".sam2w-lanes .sam2w-span")
    span.first.wait_for(timeout=10_000)
    assert span.count() == 1 and span.first.evaluate("e => e.style.width") == "100%"

    # Scrub: keyboard on the focused scrubber, one frame per ArrowRight (each moves the kernel too).
    slider = root.locator("input.sam2w-scrubber")
    slider.focus()
    for _ in range(LATER):
        slider.press("ArrowRight")
    name.filter(has_text=f"frame {LATER + 1}/{FRAMES}").wait_for(timeout=30_000)
    assert slider.input_value() == str(LATER)

    state, arrays = read_state(page, lab_server, "clip")
    assert state["error"] == "" and state["status"] == "idle", state
    assert state["image_index"] == LATER
    assert state["prompt_frames"] == [0]
    [obj] = state["objects"]
    assert state["object_ids"] == [obj["id"]]
    assert state["frames"] == list(range(FRAMES)), "not every frame was tracked"
    p = state["progress"]
    assert (p["running"], p["cancelled"], p["done"], p["total"]) == (False, False, FRAMES, FRAMES), p
    tracked = arrays["tracked"]
    assert tracked.shape == (FRAMES, 1, H, W) and tracked.dtype == bool
    assert all(tracked[t, 0].any() for t in range(FRAMES)), "an empty tracked mask"
    mask = tracked[LATER, 0]
    np.testing.assert_array_equal(arrays[f"shown_{obj['id']}"], mask)  # w.masks on the shown frame

    # The canvas at frame LATER: tinted with the object's colour where Python's mask of that
    # frame is (eroded by 2 px: the outline is opaque), untouched elsewhere.
    inside = ndimage.binary_erosion(mask, iterations=2)
    outside = ndimage.binary_erosion(~mask, iterations=2, border_value=1)
    assert inside.sum() >= 20, f"mask too thin to check the overlay ({mask.sum()} pixels)"
    in_y, in_x = np.nonzero(inside)
    out_y, out_x = np.nonzero(outside)
    colour = rgb_of(obj["color"])
    alpha = round(255 * state["opacity"]) / 255

    def overlay_drawn():
        c = read_canvas(canvas, W, H)
        expected = later_before.at(in_x, in_y) * (1 - alpha) + colour * alpha
        tinted = np.abs(c.at(in_x, in_y) - expected).max(axis=1) <= ALPHA_TOL
        return c if tinted.mean() >= 0.98 else None

    after = wait_for(overlay_drawn, 20, f"frame {LATER}'s mask overlay in {obj['color']}")
    changed_in = np.abs(after.at(in_x, in_y) - later_before.at(in_x, in_y)).max(axis=1) > ALPHA_TOL
    assert changed_in.mean() >= 0.98, f"only {changed_in.mean():.1%} of the pixels inside the mask changed"
    if len(out_x) >= 20:
        changed_out = np.abs(after.at(out_x, out_y) - later_before.at(out_x, out_y)).max(axis=1) > ALPHA_TOL
        assert changed_out.mean() <= 0.01, f"{changed_out.mean():.1%} of the pixels outside the mask changed"


def test_cancel_stops_tracking_and_keeps_the_frames_done(page, lab_server):
    notebook = write_video_notebook(lab_server.folder, "long", LONG_FRAMES)
    root, canvas, frame0 = open_widget(page, lab_server, notebook)
    click_object(root, canvas, frame0)

    root.locator('button[data-action="track_forward"]').click()
    # As soon as some frames are done (and tracking still runs), press Cancel.
    text = root.locator(".sam2w-progress-text")
    text.filter(has_text=re.compile(rf"^[1-9]\d*/{LONG_FRAMES} ")).wait_for(timeout=60_000)
    root.locator('button[data-action="cancel"]').click()

    stopped = re.compile(rf"^cancelled at (\d+)/{LONG_FRAMES}$")
    text.filter(has_text=stopped).wait_for(timeout=30_000)
    p = read_progress(root)
    done = int(stopped.match(p["text"]).group(1))
    assert 1 <= done < LONG_FRAMES, p
    assert abs(float(p["width"].rstrip("%")) - 100 * done / LONG_FRAMES) < 0.01, p  # the bar stopped there
    assert p["cancelDisabled"] and not p["trackDisabled"], p
    root.locator('.sam2w-status[data-status="idle"] .sam2w-status-text',
                 has_text=f"cancelled after {done} frames").wait_for(timeout=30_000)

    state, arrays = read_state(page, lab_server, "long")
    assert state["error"] == "" and state["status"] == "idle", state
    sp = state["progress"]
    assert (sp["running"], sp["cancelled"], sp["done"], sp["total"]) == (False, True, done, LONG_FRAMES), sp
    # Exactly the frames done are kept, from the start frame on; nothing after them.
    assert state["frames"] == list(range(done)), state["frames"]
    tracked = arrays["tracked"]
    assert tracked.shape[0] == LONG_FRAMES
    assert all(tracked[t].any() for t in range(done)) and not tracked[done:].any()
    [obj] = state["objects"]
    assert state["tracked"] == [{"obj_id": obj["id"], "ranges": [[0, done - 1]]}], state["tracked"]
