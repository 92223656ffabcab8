"""Scrub latency of the video widget: from a key press to the new frame on the canvas.

A 720p clip (benchmarks/clip720.py: 1280x720 H.264, a keyframe every ``--gop`` frames)
with three objects whose masks are stored on every frame (the shapes' true masks, put in
the tracker's results as tracking would; the model is never run), so every frame shown
carries its mask overlay. Each part runs twice: with the kernel's frame JPEG cache off
(``frame_cache_mb=0``: what a jump costs right after opening, before the background fill
reached that frame) and with it filled (the default 256 MiB cache; the run waits until the
background fill has encoded the whole clip, and reports how long that took). Two parts:

* kernel (no browser): the kernel's share alone, for the split. The ``fetch_frames``
  handler (``Sam2VideoWidget._send_frames``: decode + JPEG + label-map RLE + the comm
  message, JSON-encoded and signed as ipykernel does) for a frame far from the last one
  read (cold: a seek, or a cache hit once filled), then the rest of its +-8 prefetch
  window; the ``goto`` handler (``_show_image``: decode + JPEG + RLE + trait sync) cold;
  and, with the cache off, the phases one by one.
* browser: JupyterLab + headless Chromium + the widget, driven by real key presses.
  The page asks the front end for its benchmark trace (js/trace.ts) before the widget
  renders, by setting ``window.__sam2wTrace = []``. The front end then marks the canvas
  with ``data-drawn-frame`` at the end of each draw; a page script records
  ``performance.now()`` at the keydown (capture phase, before the widget sees it) and when
  ``data-drawn-frame`` becomes the target, so the latency is key press -> frame drawn with
  its overlay, all inside the page. "On screen" goes on to the animation frame that paints
  that draw: the draw itself when it ran in an animation-frame callback, else the start of
  the next animation frame. The trace also records each step (seek, fetch sent, reply,
  decode, decoded, labels, draw, coloured, drawn, trait decode) with ``performance.now()``:
  the split printed per case is the median time from the key press to the first such event
  for the target frame.

  - cold jump: type a frame number in the jump box and press Enter, to a frame at
    least 9 frames from every frame fetched in the last 4 jumps (so neither the front
    end's 64-frame cache nor the kernel's decoder has it): the front end fetches that
    frame alone, draws it, then sends ``goto`` and fetches the +-8 window around it.
  - prefetched step: ArrowRight on the scrubber after the +-8 prefetch around the
    cursor has arrived (the machine is left to settle between steps): label RLE decode
    and colouring, draw (the JPEG of the next frame was decoded ahead).
  - rapid steps: ArrowRight every ``--rapid-interval`` ms, as when a key is held: the
    latency of every frame that was drawn, and how many steps were drawn at all.

Target: median <= 50 ms (the prefetched step is the scrubbing case).

    python benchmarks/bench_scrub.py [--frames 180] [--jumps 20] [--steps 3] [--quick]
        [--skip-browser] [--skip-kernel] [--cache-only] [--cache-mb 256]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import clip720

RADIUS = 8  # js/video_player.ts PREFETCH_RADIUS
WINDOW = 2 * RADIUS + 1
TARGET_MS = 50.0


def prefetch_list(cursor: int, count: int) -> list[int]:
    """js/timeline.ts prefetchList: the cursor, then +-1, +-2, ... (ahead first)."""
    out = []
    for d in range(RADIUS + 1):
        for i in [cursor] if d == 0 else [cursor + d, cursor - d]:
            if 0 <= i < count:
                out.append(i)
    return out


def jump_targets(num_frames: int, jumps: int) -> list[int]:
    """Cold jump targets: centres of disjoint 17-frame windows, visited with a stride so that
    a window comes back only after >= 5 other windows (4 x 17 = 68 > the front end's 64-frame
    cache, so it was evicted)."""
    k = num_frames // WINDOW
    if k < 5:
        raise SystemExit(f"need at least {5 * WINDOW} frames for cold jumps, got {num_frames}")
    stride = next(s for s in (3, 2, 1) if s < k and np.gcd(s, k) == 1)
    order = [(j * stride) % k for j in range(k)]
    # Start at the second window: the first is in the prefetch around frame 0, shown at start.
    return [RADIUS + WINDOW * order[(j + 1) % k] for j in range(jumps)]


def stats_ms(values: list[float]) -> tuple[float, float, float, int]:
    """median, p90, max (ms) and count."""
    if not values:
        return float("nan"), float("nan"), float("nan"), 0
    a = np.asarray(values)
    return float(np.median(a)), float(np.percentile(a, 90)), float(a.max()), len(a)


def store_masks(w, num_frames: int) -> None:
    """Three objects with the shapes' true masks on every frame, as if tracked."""
    for _ in range(3):
        w.add_object()
    results = w.results
    for f in range(num_frames):
        for obj_id, m in clip720.shape_masks(f).items():
            results.set(f, obj_id, m, 1.0)


# --------------------------------------------------------------------------- kernel part


def wait_filled(w, cap_s: float = 600.0) -> float:
    """Seconds until the background fill has every frame's JPEG (counted from the call)."""
    start = time.perf_counter()
    while len(w._jpegs) < w.image_count and time.perf_counter() - start < cap_s:
        time.sleep(0.01)
    return time.perf_counter() - start


def kernel_part(clip: str, num_frames: int, targets: list[int], cache_mb: int) -> dict[str, list[float]]:
    from bench_widget_overhead import install_serializing_comm

    import sam2_backend as sb
    from sam2_widget import Sam2Widget, codecs

    install_serializing_comm()
    model = sb.build_model(sb.get_config("tiny").replace(image_size=256), device="cpu")  # never run
    t0 = time.perf_counter()
    w = Sam2Widget(clip, model=model, frame_cache_mb=cache_mb)
    store_masks(w, num_frames)
    w.goto(0)
    out: dict[str, list[float]] = {
        k: [] for k in ("fetch cold frame", "fetch +-8 window, per frame", "fetch +-8 window, whole", "goto cold")
    }
    if cache_mb:
        wait_filled(w)
        out["_fill_s"] = [time.perf_counter() - t0]
    else:
        out.update(
            {
                k: []
                for k in ("decode cold", "decode next frame", "JPEG encode", "label map + RLE (3 objects)", "comm send")
            }
        )
    stamps: list[float] = []
    real_send = w.send

    def send(content, buffers=None):
        real_send(content, buffers=buffers)
        stamps.append(time.perf_counter())

    w.send = send
    try:
        for target in targets:
            # The fetch a cold jump makes: the target first, then the rest of its window.
            stamps.clear()
            t0 = time.perf_counter()
            w._send_frames(prefetch_list(target, num_frames))
            out["fetch cold frame"].append(1000 * (stamps[0] - t0))
            out["fetch +-8 window, whole"].append(1000 * (stamps[-1] - t0))
            out["fetch +-8 window, per frame"] += list(1000 * np.diff(stamps))
        w.send = real_send
        for target in targets:
            t0 = time.perf_counter()
            w.goto((target + WINDOW * 2) % num_frames)  # another window: a cold decode
            out["goto cold"].append(1000 * (time.perf_counter() - t0))
        source = w.tracker.source
        for target in targets if not cache_mb else []:
            t0 = time.perf_counter()
            pixels = source.get(target)
            t1 = time.perf_counter()
            source.get(target + 1)
            t2 = time.perf_counter()
            jpeg = codecs.encode_jpeg(pixels, **w._display)
            t3 = time.perf_counter()
            rle = w._label_rle(target)
            t4 = time.perf_counter()
            w.send(
                {
                    "type": "frame",
                    "index": target,
                    "width": pixels.shape[1],
                    "height": pixels.shape[0],
                    "masks_version": w.masks_version,
                },
                buffers=[jpeg, rle],
            )
            t5 = time.perf_counter()
            for key, a, b in (
                ("decode cold", t0, t1),
                ("decode next frame", t1, t2),
                ("JPEG encode", t2, t3),
                ("label map + RLE (3 objects)", t3, t4),
                ("comm send", t4, t5),
            ):
                out[key].append(1000 * (b - a))
        out["_sizes"] = [len(w._frame_jpeg(targets[0])), len(w._label_rle(targets[0]))]
    finally:
        w.close()
    return out


# --------------------------------------------------------------------------- browser part

SETUP_CELL = """\
import sys
sys.path.insert(0, {benchmarks!r})
import sam2_backend as sb
from sam2_widget import Sam2Widget
from bench_scrub import store_masks

model = sb.build_model(sb.get_config("tiny").replace(image_size=256), device="cpu")  # never run here
w = Sam2Widget({clip!r}, model=model, frame_cache_mb={cache_mb})
store_masks(w, w.image_count)
w.goto(0)
if {cache_mb}:
    from bench_scrub import wait_filled
    print("filled in", round(wait_filled(w), 2), "s")
sent = [0, 0]  # fetch_frames messages, frames sent
_send_frames = w._send_frames
def _counting(indices):
    sent[0] += 1
    sent[1] += len(indices)
    return _send_frames(indices)
w._send_frames = _counting
w"""

STATS_CELL = """print("SCRUB-STATS", sent, w.image_index, w.masks_version, repr(w.error))"""

# The front end's benchmark trace (js/trace.ts) is off unless the page asks for it first.
TRACE_JS = "window.__sam2wTrace = [];"

# Page-side probes: keydown (capture, before the widget) and every change of data-drawn-frame.
PROBE_JS = """(root) => {
  const canvas = root.querySelector("canvas.sam2w-canvas");
  const probe = { keys: [], draws: [] };
  window.__scrub = probe;
  window.__sam2wTrace = [];  // a fresh trace (js/trace.ts), from here on: [t, event, frame]
  window.addEventListener("keydown", (e) => {
    const el = e.target;
    if (!(el instanceof HTMLInputElement)) return;
    let target = null;
    if (el.classList.contains("sam2w-scrubber") && e.key === "ArrowRight") target = Number(el.value) + 1;
    else if (el.classList.contains("sam2w-frame-input") && e.key === "Enter") target = Math.round(Number(el.value)) - 1;
    if (target !== null) probe.keys.push({ t: performance.now(), target });
  }, true);
  // When the drawn canvas reaches the screen: a draw inside an animation-frame callback is
  // painted in that frame (tf = t); one outside (e.g. right after a decode) in the next, whose
  // start the loop below stamps.
  const raf = window.requestAnimationFrame.bind(window);
  let rafEnd = -1;
  window.requestAnimationFrame = (cb) => raf((ts) => { try { cb(ts); } finally { rafEnd = performance.now(); } });
  const waiting = [];
  const loop = () => { const now = performance.now(); for (const d of waiting.splice(0)) d.tf = now; raf(loop); };
  raf(loop);
  new MutationObserver(() => {
    const t = performance.now();
    const d = { t, frame: Number(canvas.dataset.drawnFrame) };
    if (t - rafEnd < 1) d.tf = t;
    else waiting.push(d);
    probe.draws.push(d);
  }).observe(canvas, { attributes: true, attributeFilter: ["data-drawn-frame"] });
  return Number(canvas.dataset.drawnFrame);
}"""

DRAWN_AFTER_LAST_KEY_JS = """() => {
  const p = window.__scrub, k = p.keys[p.keys.length - 1];
  return k !== undefined && p.draws.some((d) => d.frame === k.target && d.t >= k.t);
}"""


class Quiet:
    """Arrival times of websocket frames (kernel messages): wait until none came for a while."""

    def __init__(self, page):
        self.last = time.monotonic()
        self.count = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._seen))

    def _seen(self, _payload) -> None:
        self.last = time.monotonic()
        self.count += 1

    def wait(self, page, quiet_s: float = 0.4, cap_s: float = 15.0) -> None:
        start = time.monotonic()
        while time.monotonic() - self.last < quiet_s and time.monotonic() - start < cap_s:
            page.wait_for_timeout(50)


def browser_part(
    clip: Path, targets: list[int], steps: int, bursts: int, burst_len: int, interval_ms: int, cache_mb: int
) -> dict:
    from tests.e2e.e2e_server import (
        BundleError,
        chromium,
        ensure_bundle,
        find_chromium,
        running_jupyter,
    )
    from tests.e2e.helpers import (
        cell,
        open_notebook,
        run_cell,
        wait_output,
        write_notebook,
    )

    try:
        ensure_bundle()
    except BundleError as e:
        raise SystemExit(str(e)) from None
    executable = find_chromium()
    if executable is None:
        raise SystemExit("the browser benchmark needs Debian's chromium on PATH (apt-get install -y chromium)")
    out: dict = {
        "cold jump": [],
        "prefetched step": [],
        "rapid steps": [],
        "rapid drawn": [0, 0],
        "on screen": {"cold jump": [], "prefetched step": [], "rapid steps": []},
    }
    with (
        tempfile.TemporaryDirectory(prefix="bench_lab_") as tmp,
        running_jupyter("lab", Path(tmp), env={"PYTHONPATH": str(ROOT)}) as server,
        chromium(executable) as browser,
    ):
        (server.folder / clip.name).write_bytes(clip.read_bytes())
        nb = write_notebook(
            server.folder / "scrub.ipynb",
            [SETUP_CELL.format(benchmarks=str(HERE), clip=clip.name, cache_mb=cache_mb), STATS_CELL],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        context.set_default_timeout(60_000)
        page = context.new_page()
        quiet = Quiet(page)
        page.add_init_script(TRACE_JS)  # before the widget renders: it asks only then
        open_notebook(page, server, nb)
        run_cell(page, 0)
        root = cell(page, 0).locator(".sam2w-root")
        root.wait_for(timeout=180_000)
        canvas = root.locator("canvas.sam2w-canvas")
        canvas.scroll_into_view_if_needed()
        page.wait_for_function("(c) => c.dataset.drawnFrame === '0'", arg=canvas.element_handle(), timeout=60_000)
        root.evaluate(PROBE_JS)
        slider = root.locator("input.sam2w-scrubber")
        jump = root.locator("input.sam2w-frame-input")
        quiet.wait(page, 1.0)

        def latencies() -> tuple[dict, list[dict]]:
            probe = page.evaluate("() => window.__scrub")
            probe["trace"] = page.evaluate("() => window.__sam2wTrace")
            return probe, probe["keys"]

        kinds: list[str] = []  # the kind of every key press, in order
        for j, target in enumerate(targets):
            jump.fill(str(target + 1))
            jump.press("Enter")
            kinds.append("cold jump")
            page.wait_for_function(DRAWN_AFTER_LAST_KEY_JS, timeout=30_000)
            quiet.wait(page)
            slider.focus()
            for _ in range(steps):
                page.keyboard.press("ArrowRight")
                kinds.append("prefetched step")
                page.wait_for_function(DRAWN_AFTER_LAST_KEY_JS, timeout=30_000)
                quiet.wait(page)
            print(f"  jump {j + 1}/{len(targets)} to frame {target} and {steps} steps done", file=sys.stderr)
        for b in range(bursts):
            jump.fill(str(targets[b % len(targets)] + 1))
            jump.press("Enter")
            kinds.append("burst start")
            page.wait_for_function(DRAWN_AFTER_LAST_KEY_JS, timeout=30_000)
            quiet.wait(page, 1.0)
            slider.focus()
            for _ in range(burst_len):
                page.keyboard.press("ArrowRight")
                kinds.append("rapid steps")
                page.wait_for_timeout(interval_ms)
            quiet.wait(page, 1.0)
            print(f"  burst {b + 1}/{bursts} done", file=sys.stderr)
        probe, keys = latencies()
        assert len(keys) == len(kinds), (len(keys), len(kinds))
        out["split"] = split_times(probe["trace"], keys, kinds)
        for k, kind in zip(keys, kinds):
            draws = [d for d in probe["draws"] if d["frame"] == k["target"] and d["t"] >= k["t"]]
            drawn = [d["t"] for d in draws]
            if kind in out["on screen"] and draws and "tf" in draws[0]:
                out["on screen"][kind].append(draws[0]["tf"] - k["t"])
            if kind == "rapid steps":
                out["rapid drawn"][1] += 1
                if drawn:
                    out["rapid drawn"][0] += 1
            if kind in out and drawn:
                out[kind].append(drawn[0] - k["t"])
        run_cell(page, 1)
        wait_output(page, 1, "SCRUB-STATS")
        text = cell(page, 1).locator(".jp-OutputArea-output").inner_text()
        out["kernel stats"] = text.strip()
        out["ws frames"] = quiet.count
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "bench_scrub_last.png"))
        context.close()
    return out


SPLIT_KINDS = ("cold jump", "prefetched step")


def split_times(trace: list, keys: list[dict], kinds: list[str]) -> dict[str, dict[str, list[float]]]:
    """Per key press of SPLIT_KINDS: ms from the key press to the first trace event of each kind
    for the target frame (before the next key press); the draw events are those of the draw that
    first put the target on the canvas."""
    out: dict[str, dict[str, list[float]]] = {k: {} for k in SPLIT_KINDS}
    for n, (k, kind) in enumerate(zip(keys, kinds)):
        if kind not in out:
            continue
        end = keys[n + 1]["t"] if n + 1 < len(keys) else float("inf")
        events = [(t, e, i) for t, e, i in trace if k["t"] <= t < end]
        first: dict[str, float] = {}
        drawn_at = next((j for j, (t, e, i) in enumerate(events) if e == "drawn" and i == k["target"]), None)
        for j, (t, e, i) in enumerate(events):
            if e in ("draw", "coloured", "drawn"):
                if drawn_at is not None and j <= drawn_at and drawn_at - j <= 2 and i == k["target"]:
                    first[e] = t  # the last draw/coloured before the drawn one
                continue
            if i == k["target"] and e not in first:
                first[e] = t
        for e, t in first.items():
            out[kind].setdefault(e, []).append(t - k["t"])
    return out


# --------------------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=180, help="frames of the 720p clip (default 180: 10 windows)")
    parser.add_argument("--gop", type=int, default=30, help="keyframe interval of the clip (default 30 = 1 s)")
    parser.add_argument("--jumps", type=int, default=20, help="cold jumps (default 20)")
    parser.add_argument("--steps", type=int, default=3, help="prefetched ArrowRight steps after each jump (default 3)")
    parser.add_argument("--bursts", type=int, default=3, help="bursts of rapid steps (default 3)")
    parser.add_argument("--burst-len", type=int, default=12, help="ArrowRight presses per burst (default 12)")
    parser.add_argument(
        "--rapid-interval",
        type=int,
        default=100,
        help="ms between rapid presses (default 100: a key tapped or held at 10 Hz)",
    )
    parser.add_argument("--skip-browser", action="store_true", help="only the kernel part")
    parser.add_argument("--skip-kernel", action="store_true", help="only the browser part")
    parser.add_argument("--quick", action="store_true", help="90 frames, 5 jumps, 2 steps, 1 burst of 6")
    parser.add_argument("--cache-only", action="store_true", help="only the filled-cache mode")
    parser.add_argument("--cache-mb", type=int, default=256, help="the frame cache of the filled runs (MiB)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw latencies here")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.jumps, args.steps, args.bursts, args.burst_len = 90, 5, 2, 1, 6

    started = time.perf_counter()
    targets = jump_targets(args.frames, args.jumps)
    modes = {
        "frame cache off (a jump right after opening, before the fill)": 0,
        f"frame cache filled ({args.cache_mb} MiB)": args.cache_mb,
    }
    if args.cache_only:
        modes = {k: v for k, v in modes.items() if v}
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench_scrub_") as tmp:
        clip = clip720.write_clip(Path(tmp) / "clip720.mp4", args.frames, args.gop)
        for label, cache_mb in modes.items():
            kernel = {} if args.skip_kernel else kernel_part(str(clip), args.frames, targets, cache_mb)
            browser = (
                {}
                if args.skip_browser
                else browser_part(clip, targets, args.steps, args.bursts, args.burst_len, args.rapid_interval, cache_mb)
            )
            runs[label] = (kernel, browser)
    if args.json:
        Path(args.json).write_text(json.dumps({label: {"kernel": k, "browser": b} for label, (k, b) in runs.items()}))

    print(
        f"Scrub latency: {clip720.W}x{clip720.H} H.264 clip of {args.frames} frames (keyframe every "
        f"{args.gop}), 3 objects with masks on every frame; widget defaults (JPEG quality 90, max side 2048)"
    )
    print(clip720.machine() + f"; took {(time.perf_counter() - started) / 60:.1f} min")
    for label, (kernel, browser) in runs.items():
        print(f"\n=== {label}\n")
        report(kernel, browser, args.rapid_interval)


def report(kernel: dict, browser: dict, rapid_interval: int) -> None:
    if kernel:
        sizes = kernel.pop("_sizes")
        fill = kernel.pop("_fill_s", None)
        print(
            f"Kernel alone (no browser; comm messages JSON-encoded and signed as ipykernel does). "
            f"A frame message is {sizes[0] / 1024:.0f} KiB JPEG + {sizes[1]} B label RLE."
        )
        if fill is not None:
            print(f"Opening + background fill of the whole clip: {fill[0]:.1f} s")
        header = f"{'kernel step':34} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'n':>5}"
        print(header)
        print("-" * len(header))
        for name, values in kernel.items():
            med, p90, mx, n = stats_ms(values)
            print(f"{name:34} {med:10.1f} {p90:8.1f} {mx:8.1f} {n:5d}")
        print()
    if browser:
        print(
            "Browser end to end (key press -> frame with overlay drawn on the canvas), JupyterLab + headless Chromium:"
        )
        header = f"{'case':22} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'n':>5}"
        print(header)
        print("-" * len(header))
        for name in ("cold jump", "prefetched step", "rapid steps"):
            med, p90, mx, n = stats_ms(browser[name])
            print(f"{name:22} {med:10.1f} {p90:8.1f} {mx:8.1f} {n:5d}")
        print("The same, to the start of the animation frame that puts the drawn canvas on screen:")
        for name in ("cold jump", "prefetched step", "rapid steps"):
            med, p90, mx, n = stats_ms(browser["on screen"][name])
            print(f"{name + ', on screen':22} {med:10.1f} {p90:8.1f} {mx:8.1f} {n:5d}")
        drawn, pressed = browser["rapid drawn"]
        print(
            f"rapid steps (every {rapid_interval} ms): {drawn}/{pressed} stepped-to frames were drawn "
            f"(the others were superseded before they arrived)"
        )
        print(
            f"kernel after the run: {browser['kernel stats']}  "
            f"(fetch_frames messages, frames sent, shown frame, masks_version, error)"
        )
        print()
        split = browser.get("split", {})
        for kind in SPLIT_KINDS:
            events = split.get(kind, {})
            if not events:
                continue
            order = sorted(events, key=lambda e: stats_ms(events[e])[0])
            print(
                f"{kind}, key press -> first trace event for the target (median ms, n): "
                + ", ".join(f"{e} {stats_ms(events[e])[0]:.1f} ({len(events[e])})" for e in order)
            )
        print()
        for name in ("prefetched step", "cold jump"):
            med = stats_ms(browser[name])[0]
            print(f"{'PASS' if med <= TARGET_MS else 'FAIL'}: {name} median {med:.1f} ms, target <= {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
