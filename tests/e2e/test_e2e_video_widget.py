"""Video in a real browser: JupyterLab and Notebook 7 show a Sam2Widget of a short mp4, Chromium clicks an
object on frame 0, presses "Track ▶" in the timeline, watches the progress bar to the end,
scrubs to a later frame and checks that the canvas is tinted exactly where Python's tracked
mask of that frame is. A second test presses Cancel while tracking runs; a third presses
"Everything" on frame 0, checks its masks on the canvas, then tracks them through the clip.

The model has random weights, so the masks' shapes are arbitrary (with seed 0 they cover
most of the frame): the tests check that the display agrees with Python, not where the
masks lie. The clip is ``tests/clips.py``'s (a disk, a square and a bar that move),
written as lossless H.264. See tests/e2e/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")
pytest.importorskip("av", reason="video e2e tests need PyAV")

from scipy import ndimage

from sam2_widget import codecs
from tests.clips import LOSSLESS_H264, H, W, disk, has_encoder, make_clip, square, write_video
from tests.e2e.helpers import (
    DUMP_CODE,
    SCREENSHOTS,
    canvas_alpha,
    cell,
    focus_widget,
    open_notebook,
    read_canvas,
    read_state,
    run_cell,
    save_docs_screenshot,
    wait_for,
    wait_overlay,
    write_notebook,
)

FRAMES = 12  # the clip of the tracking test
LONG_FRAMES = 48  # the clip of the cancel test: tracking all of it takes 10-20 s on 2 cores
CLICK = (20.0, 40.0)  # image pixels: the centre of the disk on frame 0 (tests/clips.py)
LATER = 7  # the frame scrubbed to after tracking

SETUP_CELL = (
    DUMP_CODE
    + """\
import torch
import sam2_backend as sb
from sam2_widget import Sam2Widget

torch.manual_seed(0)
# Random weights at image_size 128: nothing is downloaded, and a frame tracks in ~0.2 s on a CPU.
model = sb.build_model(sb.get_config("tiny").replace(image_size=128), device="cpu")
w = Sam2Widget("{clip}", model=model{options})
w"""
)

# Run after tracking: the kernel's view of the widget, for the test to read from disk.
STATE_CELL = """\
w.wait_idle(60)
r = w.results
e2e_dump("{name}", {{"frames": r.frames, "object_ids": r.object_ids, "objects": w.objects,
                     "progress": w.progress, "prompt_frames": w.prompt_frames, "tracked": w.tracked,
                     "image_index": w.image_index, "status": w.status, "error": w.error,
                     "opacity": w.opacity}},
         tracked=r.masks(0, w.image_count), **{{f"shown_{{k}}": v for k, v in w.masks.items()}})"""


# The README's picture (SAM2_E2E_SCREENSHOTS=1): the sample clip, the ball tracked through it,
# shown on frame 7. Random weights (the mask's shape means nothing) unless SAM2_E2E_DOCS_MODEL
# names real ones (e.g. sam2.1-hiera-tiny) where they can be downloaded.
DOCS_CELL = """\
from sam2_widget.samples import sample_clip_path

doc = Sam2Widget(sample_clip_path(), model=os.environ.get("SAM2_E2E_DOCS_MODEL") or model)
doc.add_points([[60, 120]], [1], frame=0)
doc.track("forward")
doc.goto(6)
doc"""


def write_clip(path: Path, num_frames: int) -> None:
    """``make_clip(num_frames)`` as H.264 in MP4 with the encoder's keyframe interval, lossless where
    this FFmpeg has libx264rgb."""
    encoding = LOSSLESS_H264 if has_encoder("libx264rgb") else {"options": {"crf": "10"}}
    write_video(path, make_clip(num_frames), gop=None, **encoding)


def write_video_notebook(
    folder: Path, name: str, num_frames: int, extra_cells: tuple[str, ...] = (), options: str = ""
) -> str:
    """The notebook of a clip: the widget (``options``: more keywords, e.g. ``", opacity=0.3"``), the
    state cell, then ``extra_cells``."""
    write_clip(folder / f"{name}.mp4", num_frames)
    setup = SETUP_CELL.format(clip=f"{name}.mp4", options=options)
    return write_notebook(folder / f"{name}.ipynb", [setup, STATE_CELL.format(name=name), *extra_cells])


def centre(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.mean()), int(ys.mean())


def shows_frame(canvas, t: int):
    """A canvas read when it shows frame ``t`` of the clip (the disk and the square where
    they are on that frame; neither is masked yet on the frames this is used for)."""
    c = read_canvas(canvas, W, H)
    return c if c.shows(centre(disk(t)), centre(square(t))) else None


def open_widget(page, jupyter, notebook: str):
    """Open the notebook, run its first cell, wait for the widget with frame 0 drawn; returns
    (root locator, canvas locator, canvas read of frame 0)."""
    open_notebook(page, jupyter, notebook)
    run_cell(page, 0)
    root = cell(page, 0).locator(".sam2w-root")
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


def test_track_and_scrub_show_the_python_masks(page, jupyter):
    notebook = write_video_notebook(jupyter.folder, "clip", FRAMES, (DOCS_CELL,) if SCREENSHOTS else ())
    root, canvas, frame0 = open_widget(page, jupyter, notebook)
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

    # Scrub: keyboard on the focused scrubber, one frame per ArrowRight (each moves the kernel
    # too), then the last step with the widget itself focused (its own ArrowRight shortcut).
    slider = root.locator("input.sam2w-scrubber")
    slider.focus()
    for _ in range(LATER - 1):
        slider.press("ArrowRight")
    name.filter(has_text=f"frame {LATER}/{FRAMES}").wait_for(timeout=30_000)
    focus_widget(page, root)
    page.keyboard.press("ArrowRight")
    name.filter(has_text=f"frame {LATER + 1}/{FRAMES}").wait_for(timeout=30_000)
    assert slider.input_value() == str(LATER)

    state, arrays = read_state(page, jupyter, 1, "clip")
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
    # frame is (away from its opaque outline), untouched elsewhere. Frame LATER has no prompt,
    # so no marker covers anything.
    wait_overlay(
        canvas,
        later_before,
        mask * obj["id"],
        {obj["id"]: obj["color"]},
        canvas_alpha(state["opacity"]),
        np.zeros_like(mask),
        f"frame {LATER}'s mask in {obj['color']}",
    )
    if SCREENSHOTS and jupyter.frontend == "lab":
        run_cell(page, 2)
        doc = cell(page, 2).locator(".sam2w-root")
        doc.locator(".sam2w-image-name", has_text="frame 7/").wait_for(timeout=120_000)
        doc.locator(".sam2w-progress-text", has_text="done").wait_for(timeout=30_000)
        doc.locator(".sam2w-lanes .sam2w-span").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # the prefetched frame drawn
        save_docs_screenshot(page, doc, "video_widget.png")


def test_cancel_stops_tracking_and_keeps_the_frames_done(page, jupyter):
    notebook = write_video_notebook(jupyter.folder, "long", LONG_FRAMES)
    root, canvas, frame0 = open_widget(page, jupyter, notebook)
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
    root.locator(
        '.sam2w-status[data-status="idle"] .sam2w-status-text', has_text=f"cancelled after {done} frames"
    ).wait_for(timeout=30_000)

    state, arrays = read_state(page, jupyter, 1, "long")
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


# "Everything" with no filter and no NMS keeps one mask per grid point: 4 objects whatever the
# random weights are (with its filters on, random weights may give none).
EVERYTHING_AMG = dict(
    points_per_side=2, multimask_output=False, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0
)


def goto_frame(root, t: int) -> None:
    """Jump to frame ``t`` with the frame box, and wait until the kernel shows it."""
    jump = root.locator("input.sam2w-frame-input")
    jump.fill(str(t + 1))
    jump.press("Enter")
    root.locator(".sam2w-image-name").filter(has_text=f"frame {t + 1}/{FRAMES}").wait_for(timeout=30_000)


def drawn_objects(label: np.ndarray, objects: list[dict]) -> dict[int, str]:
    """``{id: colour}`` of the objects that own enough of ``label`` to check their tint (the
    masks of random weights overlap: an object under an earlier one is not drawn)."""
    return {o["id"]: o["color"] for o in objects if ndimage.binary_erosion(label == o["id"], iterations=2).sum() >= 20}


def test_everything_on_a_clip_shows_masks_that_tracking_carries(page, jupyter):
    notebook = write_video_notebook(jupyter.folder, "everything", FRAMES, options=f", amg_options={EVERYTHING_AMG!r}")
    root, canvas, frame0 = open_widget(page, jupyter, notebook)
    goto_frame(root, LATER)  # frame LATER before anything is tracked: the reference for its pixels
    later_before = wait_for(lambda: shows_frame(canvas, LATER), 30, f"frame {LATER} to be drawn")
    goto_frame(root, 0)
    wait_for(lambda: shows_frame(canvas, 0), 30, "frame 0 to be drawn again")

    everything = root.locator('button[data-action="segment_everything"]')
    assert everything.is_visible() and everything.is_enabled()
    everything.click()
    rows = root.locator(".sam2w-object")
    wait_for(lambda: rows.count() == 4 or None, 60, "4 objects from Everything in the list")
    root.locator('.sam2w-status[data-status="idle"]').wait_for(timeout=60_000)

    state, arrays = read_state(page, jupyter, 1, "everything")
    assert state["error"] == "" and state["status"] == "idle", state
    ids = [o["id"] for o in state["objects"]]
    assert ids == [1, 2, 3, 4] and state["object_ids"] == ids, state
    assert state["prompt_frames"] == [0] and state["frames"] == [0], state  # mask prompts on frame 0
    shown = {o: arrays[f"shown_{o}"] for o in ids}
    assert all(m.shape == (H, W) and m.any() for m in shown.values())
    label = codecs.masks_to_label_map(shown, (H, W))  # the first listed object wins, as drawn
    colours = drawn_objects(label, state["objects"])
    assert colours, "no object owns enough of frame 0 to check"
    alpha = canvas_alpha(state["opacity"])
    wait_overlay(canvas, frame0, label, colours, alpha, np.zeros((H, W), bool), "Everything's masks on frame 0")

    # Track forward: every object is carried through the clip.
    root.locator('button[data-action="track_forward"]').click()
    root.locator(".sam2w-progress-text", has_text=f"done {FRAMES}/{FRAMES}").wait_for(timeout=120_000)
    root.locator('.sam2w-status[data-status="idle"]').wait_for(timeout=30_000)
    state, arrays = read_state(page, jupyter, 1, "everything")
    assert state["error"] == "" and state["frames"] == list(range(FRAMES)) and state["object_ids"] == ids, state
    tracked = arrays["tracked"]
    assert tracked.shape == (FRAMES, 4, H, W)
    assert all(tracked[t, k].any() for t in range(FRAMES) for k in range(4)), "an empty tracked mask"
    assert state["tracked"] == [{"obj_id": o, "ranges": [[0, FRAMES - 1]]} for o in ids], state["tracked"]
    assert root.locator(".sam2w-lanes .sam2w-span").count() == 4

    # Frame LATER shows the tracked masks.
    goto_frame(root, LATER)
    label = codecs.masks_to_label_map({o: tracked[LATER, k] for k, o in enumerate(ids)}, (H, W))
    colours = drawn_objects(label, state["objects"])
    assert colours, f"no object owns enough of frame {LATER} to check"
    wait_overlay(canvas, later_before, label, colours, alpha, np.zeros((H, W), bool), f"frame {LATER}'s tracked masks")
