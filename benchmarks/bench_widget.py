"""Click latency of the image widget in a browser: from a click on the canvas to its mask drawn.

JupyterLab + headless Chromium (the e2e tests' server and browser: tests/e2e/e2e_server.py,
tests/e2e/helpers.py) show ``Sam2Widget`` on a 1920x1080 image with the SAM 2.1 tiny model
(random weights, tests/models.py ``tiny_model``) at ``--image-size`` (default 1024, the real
size, so the model's time is what it would be). Once the image is encoded, Playwright clicks
``--clicks`` places spread over the canvas, one at a time (each waits for its mask drawn,
its ack and a quiet websocket), a new object every ``--per-object`` clicks.

A random-weight model's masks are speckled: ~1 MB of ``label_rle`` per click at 1080p, some
50x the runs of a trained model's smooth masks. ``--masks smooth`` keeps the model's run (its
time is measured) and swaps its masks for smooth ellipses around the clicks (~55 KB), which
is closer to what the widget moves in real use.

Two clocks, never mixed: the page's ``performance.now()`` and the kernel's ``perf_counter``.

* page: the front end's trace (js/trace.ts, asked for by setting ``window.__sam2wTrace = []``
  before the widget renders) marks ``send`` (the message left, by seq), ``masks`` (the new
  ``label_rle`` arrived), ``draw`` / ``coloured`` / ``drawn`` (a draw started, the labels
  decoded and coloured, the canvas drawn); a capture-phase listener of this script stamps the
  ``pointerup`` that makes the click (its ``timeStamp``), then the start of every animation
  frame until one starts after ``drawn``: the frame that drew the canvas has been painted by
  then (the canvas' raster work happens there, after ``drawn``; headless Chromium rasters on
  the CPU), so that is an upper bound of when the overlay is on screen.
* kernel: the widget's opt-in ``MessageTimings`` (sam2_widget/message_dispatch.py) gives, per
  message, from its arrival: the model's ``predict`` time and when the update carrying the
  new ``label_rle`` left.

Per click (ms):

* model: the predictor's ``predict`` call (kernel);
* kernel work: arrival -> label map sent, minus model (prompt bookkeeping, trait syncs,
  status, label map + RLE encode, comm serialisation);
* transport: (``masks`` - ``send``) on the page minus (arrival -> label map sent) in the
  kernel: websocket, Jupyter server, zmq, ipywidgets (de)serialisation both ways;
* front end: pointerup -> ``send`` plus ``masks`` -> ``drawn`` (the wait for an animation
  frame, RLE decode + colouring, drawing the canvas);
* total: pointerup -> ``drawn``; the widget's own share is total - model. The share to the
  next animation frame (painted, on screen) is printed too.

Target: the widget's own share <= 30 ms median at 1080p.

    python benchmarks/bench_widget.py [--clicks 30] [--image-size 1024] [--per-object 5]
        [--masks model|smooth]

Takes about 1.5-2 minutes for 30 clicks (JupyterLab's start and the model build included).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_scrub import Quiet, stats_ms

W, H = 1920, 1080
TARGET_MS = 30.0
VIEWPORT = {"width": 1920, "height": 1080}

SETUP_CELL = """\
import sys
import torch
from sam2_widget import Sam2Widget
from sam2_widget.message_dispatch import MessageTimings
from tests.models import tiny_model

sys.path.insert(0, {benchmarks!r})
if {smooth}:
    from bench_widget import use_smooth_masks
    use_smooth_masks()
model = tiny_model({image_size})
w = Sam2Widget("image.png", model=model)
w._timings = MessageTimings()
w"""

TIMINGS_CELL = """\
w.wait_idle(60)
e2e_dump("timings", {"records": w._timings.records, "error": w.error, "threads": torch.get_num_threads()})"""

# Before the widget renders: the front end records its trace only if asked then.
TRACE_JS = """
window.__sam2wTrace = [];
// The click's own marks: the pointerup that makes it, then the start of every animation frame
// until one starts after the new masks were drawn (the frame before it put them on screen).
const __drawn = (tr) => {
  const masks = tr.find((e) => e[1] === "masks");
  return masks !== undefined && tr.some((e) => e[1] === "drawn" && e[0] >= masks[0]);
};
window.addEventListener("pointerup", (e) => {
  const tr = window.__sam2wTrace;
  if (!Array.isArray(tr)) return;
  tr.push([e.timeStamp, "pointerup", -1]);
  const until = performance.now() + 60000;
  const frame = () => {
    const now = performance.now(), drawn = __drawn(tr);
    tr.push([now, "frame", -1]);
    if (!drawn && now < until) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}, true);
"""

# The state of the click whose trace is the page's current array: "drawn" (and an animation
# frame started after it), "no masks" (acked, and no new label map came within a second), or
# null (not yet).
CLICK_DONE_JS = """() => {
  const tr = window.__sam2wTrace;
  const send = tr.find((e) => e[1] === "send");
  const ack = send && tr.find((e) => e[1] === "ack" && e[2] === send[2]);
  if (!ack) return null;
  const masks = tr.find((e) => e[1] === "masks" && e[0] >= send[0]);
  if (!masks) return performance.now() - ack[0] > 1000 ? "no masks" : null;
  const drawn = tr.find((e) => e[1] === "drawn" && e[0] >= masks[0]);
  return drawn && tr.some((e) => e[1] === "frame" && e[0] > drawn[0]) ? "drawn" : null;
}"""

ACKED_JS = """() => {
  const tr = window.__sam2wTrace;
  const send = tr.find((e) => e[1] === "send");
  return Boolean(send && tr.some((e) => e[1] === "ack" && e[2] === send[2]));
}"""


def use_smooth_masks(axes: tuple[float, float] = (0.08, 0.12)) -> None:
    """Make ``ImagePredictor.predict`` (in this process) run the model, then return smooth masks
    instead of its own: the union of ellipses of ``axes`` (fractions of the width, height)
    around the positive points. A random-weight model's masks are speckled, ~50x more runs than
    a real model's smooth ones, which the label map's RLE, its transport and its decode pay for."""
    import sam2_backend as sb

    model_predict = sb.ImagePredictor.predict

    def predict(self, points=None, labels=None, **kwargs):
        pred = model_predict(self, points=points, labels=labels, **kwargs)
        h, w = pred.masks.shape[-2:]
        shape = np.zeros((h, w), bool)
        ax, ay = axes[0] * w, axes[1] * h
        for (x, y), label in zip(points if points is not None else [], labels if labels is not None else []):
            if label != 1:
                continue
            x0, x1 = max(0, int(x - ax)), min(w, int(x + ax) + 1)
            y0, y1 = max(0, int(y - ay)), min(h, int(y + ay) + 1)
            yy, xx = np.ogrid[y0:y1, x0:x1]
            shape[y0:y1, x0:x1] |= ((xx - x) / ax) ** 2 + ((yy - y) / ay) ** 2 <= 1
        return pred._replace(masks=np.broadcast_to(shape, pred.masks.shape).copy())

    sb.ImagePredictor.predict = predict


def click_points(n: int, seed: int = 0) -> list[tuple[float, float]]:
    """``n`` image points spread over the image: one per cell of a near-square grid, jittered."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n * W / H)))
    rows = int(np.ceil(n / cols))
    cells = rng.permutation(rows * cols)[:n]
    return [
        (((c % cols) + rng.uniform(0.2, 0.8)) * W / cols, ((c // cols) + rng.uniform(0.2, 0.8)) * H / rows)
        for c in cells
    ]


def first(trace: list, event: str, after: float = -np.inf) -> list | None:
    return next((e for e in trace if e[1] == event and e[0] >= after), None)


def split(trace: list, kernel: dict) -> dict[str, float] | None:
    """One click's phases (ms) from its page trace and its kernel record; None without a new mask."""
    up = first(trace, "pointerup")
    send = first(trace, "send")
    masks = first(trace, "masks", send[0])
    if masks is None or kernel["masks_sent_s"] is None:
        return None
    drawn = first(trace, "drawn", masks[0])[0]
    draws = [e for e in trace if e[1] in ("draw", "coloured") and masks[0] <= e[0] <= drawn]
    draw, coloured = draws[-2][0], draws[-1][0]  # those of the draw that ended in `drawn`
    shown = next(e[0] for e in trace if e[1] == "frame" and e[0] > drawn)
    model = 1000 * kernel["model_s"]
    in_kernel = 1000 * kernel["masks_sent_s"]
    total = drawn - up[0]
    return {
        "model": model,
        "kernel work": in_kernel - model,
        "transport": (masks[0] - send[0]) - in_kernel,
        "front end": (send[0] - up[0]) + (drawn - masks[0]),
        "total": total,
        "widget share": total - model,
        # the parts
        "kernel: message handler": 1000 * kernel["handler_s"],
        "front end: pointerup -> send": send[0] - up[0],
        "front end: masks -> draw start": draw - masks[0],
        "front end: labels decode + colour": coloured - draw,
        "front end: canvas drawn": drawn - coloured,
        # painting: the canvas' raster work, and the wait for the next frame
        "drawn -> next animation frame": shown - drawn,
        "widget share to the next frame": shown - up[0] - model,
    }


def run(clicks: int, image_size: int, per_object: int, smooth: bool) -> tuple[list[dict], dict]:
    from PIL import Image

    from tests.e2e.e2e_server import BundleError, chromium, ensure_bundle, find_chromium, running_jupyter
    from tests.e2e.helpers import DUMP_CODE, View, cell, open_notebook, page_point, read_state, run_cell, write_notebook
    from tests.images import synthetic_image

    try:
        ensure_bundle()
    except BundleError as e:
        raise SystemExit(str(e)) from None
    executable = find_chromium()
    if executable is None:
        raise SystemExit("the browser benchmark needs Debian's chromium on PATH (apt-get install -y chromium)")
    phases: list[dict] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench_widget_") as tmp,
        running_jupyter("lab", Path(tmp), env={"PYTHONPATH": str(ROOT)}) as server,
        chromium(executable) as browser,
    ):
        Image.fromarray(synthetic_image(H, W)).save(server.folder / "image.png")
        setup = DUMP_CODE + SETUP_CELL.format(benchmarks=str(HERE), smooth=smooth, image_size=image_size)
        nb = write_notebook(server.folder / "clicks.ipynb", [setup, TIMINGS_CELL])
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(60_000)
        page = context.new_page()
        quiet = Quiet(page)
        page.add_init_script(TRACE_JS)
        open_notebook(page, server, nb)
        run_cell(page, 0)
        root = cell(page, 0).locator(".sam2w-root")
        root.wait_for(timeout=180_000)
        root.locator('.sam2w-status[data-status="idle"] .sam2w-status-text', has_text="encoded").wait_for(
            timeout=180_000
        )
        canvas = root.locator("canvas.sam2w-canvas")
        canvas.scroll_into_view_if_needed()
        quiet.wait(page, 1.0)
        box = canvas.bounding_box()
        view = View.fit(W, H, box["width"], box["height"])
        traces: list[list] = []
        outcomes: list[str] = []
        for n, (x, y) in enumerate(click_points(clicks)):
            if n and n % per_object == 0:  # a new object: the key "n" on the focused widget
                root.evaluate("r => { window.__sam2wTrace = []; r.focus(); }")
                page.keyboard.press("n")
                page.wait_for_function(ACKED_JS, timeout=30_000)
                quiet.wait(page, 0.3)
            page.mouse.move(*page_point(canvas, view.to_css(x, y)))
            quiet.wait(page, 0.3)  # the hover redraw is over
            page.evaluate("() => { window.__sam2wTrace = []; }")
            page.mouse.down()
            page.mouse.up()
            outcome = page.wait_for_function(CLICK_DONE_JS, timeout=60_000).json_value()
            quiet.wait(page, 0.3)
            traces.append(page.evaluate("() => window.__sam2wTrace"))
            outcomes.append(outcome)
            print(f"  click {n + 1}/{clicks} at ({x:.0f}, {y:.0f}): {outcome}", file=sys.stderr)
        state, _ = read_state(page, server, 1, "timings")
        context.close()
    records = {r["seq"]: r for r in state["records"]}
    sizes = []
    for trace, outcome in zip(traces, outcomes):
        record = records[first(trace, "send")[2]]
        if outcome == "drawn" and (p := split(trace, record)) is not None:
            phases.append(p)
            sizes.append(record["masks_bytes"])
    info = {
        "error": state["error"],
        "threads": state["threads"],
        "canvas": f"{box['width']:.0f}x{box['height']:.0f}",
        "no mask": outcomes.count("no masks"),
        "label_rle KiB": (np.median(sizes) / 1024, np.max(sizes) / 1024) if sizes else (0, 0),
    }
    return phases, info


def machine() -> str:
    import os
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=30, help="clicks, each at another place (default 30)")
    parser.add_argument("--image-size", type=int, default=1024, help="the model's input size (default 1024)")
    parser.add_argument("--per-object", type=int, default=5, help="clicks per object (default 5)")
    parser.add_argument(
        "--masks",
        choices=["model", "smooth"],
        default="model",
        help="model: the random-weight model's own (speckled) masks (default); smooth: the model runs, "
        "then its masks are replaced by smooth ellipses around the clicks, as complex as a real model's",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    phases, info = run(args.clicks, args.image_size, args.per_object, args.masks == "smooth")
    print(
        f"Click -> mask drawn: JupyterLab + headless Chromium, a {W}x{H} image on a {info['canvas']} canvas, "
        f"SAM 2.1 tiny (random weights) at image size {args.image_size} on the CPU "
        f"({info['threads']} torch threads in the kernel), {args.clicks} clicks, a new object every "
        f"{args.per_object}; {machine()}; took {(time.perf_counter() - started) / 60:.1f} min"
    )
    print(
        f"masks: {args.masks}; label_rle per click {info['label_rle KiB'][0]:.0f} KiB median, "
        f"{info['label_rle KiB'][1]:.0f} KiB max (8 bytes a run)"
    )
    if info["no mask"]:
        print(f"{info['no mask']} click(s) left the label map as it was (no new mask to draw): not counted")
    if info["error"]:
        print(f"the widget showed an error: {info['error']}")
    if not phases:
        raise SystemExit("no click drew a new mask")
    header = f"{'phase (ms)':36} {'median':>8} {'p90':>8} {'max':>8} {'n':>4}"
    print(header)
    print("-" * len(header))
    for name in phases[0]:
        med, p90, mx, n = stats_ms([p[name] for p in phases])
        print(f"{name:36} {med:8.1f} {p90:8.1f} {mx:8.1f} {n:4d}")
    share = float(np.median([p["widget share"] for p in phases]))
    painted = float(np.median([p["widget share to the next frame"] for p in phases]))
    verdict = "PASS" if share <= TARGET_MS else "FAIL"
    print(
        f"\n{verdict}: the widget's own share (click -> overlay drawn, minus model) {share:.1f} ms median, "
        f"target <= {TARGET_MS:.0f} ms ({painted:.1f} ms to the next animation frame, painted)"
    )


if __name__ == "__main__":
    main()
