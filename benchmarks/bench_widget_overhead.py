"""What the video widget adds to tracking: ``VideoTracker.propagate`` alone vs ``Sam2Widget.track``.

The same 720p clip (benchmarks/clip720.py, 1280x720 H.264), the same random-weight SAM 2.1
tiny model and the same clicks on frame 0 (one per object, on the moving shapes), tracked
forward from frame 0 over the whole clip in two ways:

* (a) direct: a ``VideoTracker`` with the options the widget's session uses
  (``add_all_frames_to_correct_as_cond=True, clear_non_cond_mem_around_input=True``),
  the clicks added with ``add_points``, then ``for _ in tracker.propagate("forward")``;
* (b) widget: ``Sam2Widget(clip, model=model)``, one ``add_object`` + ``add_points`` per
  object, then ``w.track("forward", frame=0)``: the worker thread runs the same
  propagation plus everything the widget does per frame (label-map RLE of the shown
  frame, ``tracked`` spans and ``progress`` every 100 ms, results kept in the tracker's
  store, ``on_change`` dispatch, the final refresh).

Only the propagation is timed (opening the clip and clicking are setup in both). Wall
time and CPU time (this process, all threads) are taken per run; runs alternate in ABBA
order (a b b a a b b a ...) after one discarded warm-up of each, so slow drifts of the
machine's load cancel out. The overhead is (b - a) / a of the medians (and the median of
the per-pair ratios). Target: <= 10 % (CPU).

Without a kernel there is no real comm. ``--comm json`` (default) installs a comm whose
``publish_msg`` does what ipykernel's does on the sending thread: JSON-encode the message
and hash every part (HMAC signing), so trait syncs cost what they cost in a notebook;
``--comm dummy`` keeps the comm package's no-op ``DummyComm``.

    python benchmarks/bench_widget_overhead.py [--frames 24] [--image-size 256]
        [--objects 1 3] [--pairs 4] [--comm json|dummy] [--quick] [--profile widget|direct]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import clip720

TRACKER_OPTIONS = {"add_all_frames_to_correct_as_cond": True, "clear_non_cond_mem_around_input": True}
TARGET = 0.10


# --------------------------------------------------------------------------- a comm that costs what a kernel's does


def install_serializing_comm() -> dict:
    """Make ``comm.create_comm`` return a comm that JSON-encodes and signs every message, as
    ipykernel's session does on the sending thread (minus the zmq send). Returns counters."""
    import comm
    from comm.base_comm import BaseComm

    stats = {"messages": 0, "bytes": 0}
    key = b"0" * 32

    class SerializingComm(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            content = {"comm_id": self.comm_id, "data": data or {}, **keys}
            parts = [
                json.dumps({"msg_type": msg_type}).encode(),
                json.dumps(metadata or {}).encode(),
                json.dumps(content, default=str).encode(),
            ]
            sig = hmac.new(key, digestmod=hashlib.sha256)
            for p in parts:
                sig.update(p)
            sig.hexdigest()
            blobs = [bytes(memoryview(b)) for b in (buffers or [])]
            stats["messages"] += 1
            stats["bytes"] += sum(map(len, parts)) + sum(map(len, blobs))

    comm.create_comm = lambda *a, **k: SerializingComm(*a, **k)
    return stats


# --------------------------------------------------------------------------- the two ways


def run_direct(model, clip: str, objects: int) -> dict:
    from sam2_backend import VideoTracker

    tracker = VideoTracker(model, clip, **TRACKER_OPTIONS)
    try:
        for obj_id, points, labels in clip720.click_points(objects):
            tracker.add_points(0, obj_id, points, labels)
        t0, c0 = time.perf_counter(), time.process_time()
        frames = sum(1 for _ in tracker.propagate("forward", start=0))
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        tracker.close()
    return {"wall": t1 - t0, "cpu": c1 - c0, "frames": frames}


def run_widget(model, clip: str, objects: int) -> dict:
    from sam2_widget import Sam2Widget

    w = Sam2Widget(clip, model=model)
    try:
        for _obj_id, points, labels in clip720.click_points(objects):
            w.add_object()
            w.add_points(points, labels)
        w.wait_idle()
        t0, c0 = time.perf_counter(), time.process_time()
        frames = w.track("forward", frame=0)
        w.wait_idle()
        t1, c1 = time.perf_counter(), time.process_time()
        assert len(w.results) == frames, (len(w.results), frames)
    finally:
        w.close()
    return {"wall": t1 - t0, "cpu": c1 - c0, "frames": frames}


RUNS = {"direct": run_direct, "widget": run_widget}


def profile(kind: str, model, clip: str, objects: int, top: int = 30) -> None:
    import cProfile
    import pstats
    import threading

    # The widget tracks on its worker thread: profile every thread started meanwhile too.
    profiles: list[cProfile.Profile] = []
    main = cProfile.Profile()
    orig_run = threading.Thread.run

    def run(self):
        p = cProfile.Profile()
        profiles.append(p)
        p.enable()
        try:
            orig_run(self)
        finally:
            p.disable()

    threading.Thread.run = run
    try:
        main.enable()
        out = RUNS[kind](model, clip, objects)
        main.disable()
    finally:
        threading.Thread.run = orig_run
    stats = pstats.Stats(main)
    for p in profiles:
        try:
            stats.add(p)
        except TypeError:  # a thread still running, no stats yet
            pass
    print(
        f"{kind}: {out['frames']} frames, wall {out['wall']:.2f} s, CPU {out['cpu']:.2f} s "
        f"(profiled, so slower than a plain run)"
    )
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# --------------------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24, help="frames of the 720p clip, all tracked (default 24)")
    parser.add_argument(
        "--image-size",
        type=int,
        default=256,
        help="model input size (default 256: the model's share shrinks and the widget's "
        "per-frame work weighs the most; 1024 is the real size)",
    )
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 3], help="object counts (default 1 3)")
    parser.add_argument(
        "--pairs", type=int, default=4, help="timed (direct, widget) pairs per object count, ABBA order (default 4)"
    )
    parser.add_argument(
        "--comm",
        choices=["json", "dummy"],
        default="json",
        help="json: sign and JSON-encode every comm message as a kernel does (default); "
        "dummy: the comm package's no-op comm",
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads")
    parser.add_argument("--quick", action="store_true", help="8 frames, 2 pairs (a smoke run)")
    parser.add_argument(
        "--profile",
        choices=["widget", "direct"],
        help="instead of the benchmark: cProfile one run (first --objects value), all threads",
    )
    args = parser.parse_args()
    if args.quick:
        args.frames, args.pairs = 8, 2
    torch.set_num_threads(args.threads)

    import sam2_backend as sb

    stats = install_serializing_comm() if args.comm == "json" else None
    model = sb.build_model(sb.get_config("tiny").replace(image_size=args.image_size), device="cpu")
    with tempfile.TemporaryDirectory(prefix="bench_overhead_") as tmp:
        clip = str(clip720.write_clip(Path(tmp) / "clip720.mp4", args.frames))
        if args.profile:
            profile(args.profile, model, clip, args.objects[0])
            return
        results: dict[int, dict[str, list[dict]]] = {}
        started = time.perf_counter()
        for objects in args.objects:
            for kind in ("direct", "widget"):  # warm-up, discarded
                RUNS[kind](model, clip, objects)
            runs: dict[str, list[dict]] = {"direct": [], "widget": []}
            for i in range(args.pairs):
                order = ("direct", "widget") if i % 2 == 0 else ("widget", "direct")
                for kind in order:
                    r = RUNS[kind](model, clip, objects)
                    runs[kind].append(r)
                    print(
                        f"  {objects} object(s) pair {i + 1}/{args.pairs} {kind:6}: wall {r['wall']:6.2f} s, "
                        f"CPU {r['cpu']:6.2f} s, {r['frames']} frames",
                        file=sys.stderr,
                    )
            results[objects] = runs

    print(
        f"Widget overhead while tracking: SAM 2.1 tiny (random weights) at image size {args.image_size}, "
        f"a {clip720.W}x{clip720.H} H.264 clip of {args.frames} frames tracked forward from clicks on frame 0; "
        f"{args.pairs} interleaved (ABBA) pairs after a warm-up; comm: {args.comm}"
    )
    print(clip720.machine() + f"; took {(time.perf_counter() - started) / 60:.1f} min")
    if stats is not None:
        print(f"comm traffic over all widget runs: {stats['messages']} messages, {stats['bytes'] / 1e6:.2f} MB")
    print()
    header = (
        f"{'objects':>7} {'metric':6} {'direct s (median)':>18} {'widget s (median)':>18} "
        f"{'overhead (medians)':>19} {'overhead (median of pairs)':>27} {'per frame ms':>13}"
    )
    print(header)
    print("-" * len(header))
    verdicts = []
    for objects, runs in results.items():
        frames = runs["direct"][0]["frames"]
        for metric in ("wall", "cpu"):
            a = [r[metric] for r in runs["direct"]]
            b = [r[metric] for r in runs["widget"]]
            ma, mb = statistics.median(a), statistics.median(b)
            over = (mb - ma) / ma
            paired = statistics.median((y - x) / x for x, y in zip(a, b))
            print(
                f"{objects:7d} {metric:6} {ma:18.3f} {mb:18.3f} {over:+19.1%} {paired:+27.1%} "
                f"{1000 * (mb - ma) / frames:+13.1f}"
            )
            verdicts.append((objects, metric, over, paired))
    print()
    for objects, metric, over, paired in verdicts:
        if metric == "cpu":
            ok = over <= TARGET
            print(
                f"{'PASS' if ok else 'FAIL'}: widget overhead on CPU time with {objects} object(s) "
                f"{over:+.1%} (median of pairs {paired:+.1%}), target <= {TARGET:.0%}"
            )


if __name__ == "__main__":
    main()
