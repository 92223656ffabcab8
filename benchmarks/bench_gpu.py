"""Ours against the official SAM 2 (``sam2==1.1.0``) on one device, for the four model sizes.

Run by benchmarks/gpu.sh (on a GPU; ``--dry-run`` runs the same code on the CPU, tiny).
Every model has random weights (``tests.backend.reference.build_reference``, seeded) that
ours loads strictly, as the parity tests do; both run on ``--device``.

Parts (``--parts``, in this order; a part that would start after ``--budget-s`` is listed as
skipped, so the run ends in time and says what it left out):

* image: ``set_image`` and one-click ``predict`` latency (median ms) of our ImagePredictor and
  the official SAM2ImagePredictor on a 854x480 frame, and the largest difference of their
  low-res logits on that click, ours in exact fp32 against the reference in fp32 (TF32 off):
  the figure that calibrates ``tests.backend.reference.PARITY_TOL`` on this device.
* video: tracking fps (median frame time after 3 warm-up frames) over ``--frames`` frames
  of the benchmark clip (benchmarks/bench_video.py's), 1 and 3 objects clicked on frame 0.
* syncs: host-device synchronisations per tracked frame (``torch.cuda.set_sync_debug_mode``,
  benchmarks/gpu_counters.py), 1 and 3 objects, the first size only (they do not depend on it).
* memory: peak device memory after frame 50 and after the last of ``--memory-frames`` frames
  (1 object): ours streams frames and bounds its memories; the reference preloads every frame.
* compile: the image and video figures again with ``compile=True`` (ours) for
  ``--compile-sizes``; the first frames and clicks pay the compilation and are not timed.
  Ours only: the official compiled predictor (SAM2VideoPredictorVOS, max-autotune, CUDA
  graphs) takes minutes to compile per size, more than this run's budget.

``--precision bf16`` (gpu.sh's default on CUDA): ours loaded with ``precision="bf16"``, the
reference under ``torch.autocast(dtype=torch.bfloat16)`` as its notebooks run it. ``fp32``: both
exact. Ratios are reference time / our time (> 1: ours is faster).

    python benchmarks/bench_gpu.py --device cuda [--sizes tiny,small,base-plus,large]
        [--markdown benchmarks/gpu_results.md] [--budget-s 420]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_video import make_frame, prompts, write_clip  # noqa: E402
from benchmarks.gpu_counters import SyncCounter, peak_memory_mib, reset_peak_memory  # noqa: E402

SIZES = {
    "tiny": "sam2.1-hiera-tiny",
    "small": "sam2.1-hiera-small",
    "base-plus": "sam2.1-hiera-base-plus",
    "large": "sam2.1-hiera-large",
}
WARMUP_FRAMES = 3
MEMORY_EARLY = 50  # the early point of the memory part (or the run's middle frame if shorter)
SYNC_FRAMES = 10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.perf_counter(), seconds

    def spent(self) -> bool:
        return time.perf_counter() - self.start > self.seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


# --------------------------------------------------------------------------- the two implementations


class Pair:
    """The reference and ours (exact fp32, and in ``precision``) on the same random weights."""

    def __init__(self, size: str, device: torch.device, image_size: int, precision: str) -> None:
        from sam2_backend import build_model, get_config
        from tests.backend.reference import build_reference, memory_in_fp32, ours_like

        self.name, self.device, self.precision, self.image_size = SIZES[size], device, precision, image_size
        self.ref = build_reference(self.name, image_size=image_size, video=True, device=device)
        if precision == "fp32":
            memory_in_fp32(self.ref)  # as the parity tests run it (its bf16 memories into fp32 layers)
        self.exact = ours_like(self.ref, self.name, image_size=image_size)
        self.ours = self.exact
        if precision != "fp32":
            config = get_config(self.name).replace(image_size=image_size)
            self.ours = build_model(config, device=device, precision=precision)
            self.ours.load_state_dict(self.exact.state_dict())

    @contextlib.contextmanager
    def reference_context(self):
        """How the official notebooks run it: inference mode, and bf16 autocast for the fast path."""
        with torch.inference_mode():
            if self.precision == "fp32":
                yield
            else:
                dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
                with torch.autocast(self.device.type, dtype=dtype):
                    yield

    def reference_image_predictor(self):
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        pred = SAM2ImagePredictor(self.ref)
        s = self.image_size  # the reference hard-codes the feature sizes of a 1024 input
        pred._bb_feat_sizes = [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]
        return pred


# --------------------------------------------------------------------------- image


def _median_ms(fn, device: torch.device, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def image_parity(pair: Pair, image: np.ndarray, click: np.ndarray) -> float:
    """Max |low-res logit| difference on one click, ours exact against the reference in fp32."""
    from sam2_backend import ImagePredictor

    ours = ImagePredictor(pair.exact)
    ours.set_image(image)
    got = ours.predict(points=click, labels=[1]).logits
    ref = pair.reference_image_predictor()
    with torch.inference_mode():
        ref.set_image(image)
        _, _, want = ref.predict(point_coords=click, point_labels=np.array([1]), multimask_output=True)
    return float(np.abs(got - want).max())


def image_latency(pair: Pair, image: np.ndarray, click: np.ndarray, args, compile: bool) -> dict:
    from sam2_backend import ImagePredictor

    dev = pair.device
    ours = ImagePredictor(pair.ours, compile=compile)
    for _ in range(2 if compile else 1):  # warm-up (and the compilation)
        ours.set_image(image)
        ours.predict(points=click, labels=[1])
    out = {
        "ours_set_image": _median_ms(lambda: ours.set_image(image), dev, args.repeats),
        "ours_click": _median_ms(lambda: ours.predict(points=click, labels=[1]), dev, args.clicks),
    }
    if compile:
        return out  # the reference is timed eager only (see the module docstring)
    out["parity"] = image_parity(pair, image, click)
    ref = pair.reference_image_predictor()
    labels = np.array([1])
    with pair.reference_context():
        ref.set_image(image)
        ref.predict(point_coords=click, point_labels=labels)
        out["ref_set_image"] = _median_ms(lambda: ref.set_image(image), dev, args.repeats)
        out["ref_click"] = _median_ms(lambda: ref.predict(point_coords=click, point_labels=labels), dev, args.clicks)
    return out


# --------------------------------------------------------------------------- video


def _ours_frames(pair: Pair, folder: str, objects: int, compile: bool = False):
    from sam2_backend import VideoTracker

    tracker = VideoTracker(pair.ours, folder, compile=compile)
    for obj_id, points, labels in prompts(objects):
        tracker.add_points(0, obj_id, points, labels)
    try:
        for frame, _ in tracker.propagate("forward"):
            yield frame
    finally:
        tracker.close()


def _reference_frames(pair: Pair, folder: str, objects: int):
    with pair.reference_context():
        state = pair.ref.init_state(folder, async_loading_frames=False)
        for obj_id, points, labels in prompts(objects):
            pair.ref.add_new_points_or_box(state, 0, obj_id, points=points, labels=labels)
        for frame, _ids, _masks in pair.ref.propagate_in_video(state):
            yield frame


def track(frames, device: torch.device, memory_at: tuple[int, ...] = ()) -> dict:
    """Runs a frame generator; fps from the median frame time after the warm-up frames, and the
    peak device memory (MiB) after the frames in ``memory_at`` (counted from 1)."""
    reset_peak_memory(device)
    times, peaks = [], {}
    _sync(device)
    last = time.perf_counter()
    for n, _ in enumerate(frames, 1):
        _sync(device)
        now = time.perf_counter()
        times.append(now - last)
        last = now
        if n in memory_at:
            peaks[n] = peak_memory_mib(device)
    timed = times[WARMUP_FRAMES:] or times
    return {"fps": 1 / statistics.median(timed), "frames": len(times), "peaks": peaks}


def video_run(pair: Pair, clip: str, objects: int, compile: bool) -> dict:
    """fps of ours, and of the reference when eager (it is timed eager only: see the module docstring)."""
    out = {"ours": track(_ours_frames(pair, clip, objects, compile), pair.device)}
    if not compile:
        out["ref"] = track(_reference_frames(pair, clip, objects), pair.device)
    return out


def memory_run(pair: Pair, impl: str, clip: str, early: int, last: int) -> dict:
    """One object tracked over ``clip``; the peak device memory after frames ``early`` and ``last``."""
    frames = _ours_frames(pair, clip, 1) if impl == "ours" else _reference_frames(pair, clip, 1)
    return {**track(frames, pair.device, memory_at=(early, last)), "early": early}


def syncs_per_frame(pair: Pair, folder: str, objects: int) -> dict:
    """Synchronisations per tracked frame after the warm-up frames, ours and the reference."""
    out = {}
    for impl, make in (("ours", _ours_frames), ("ref", _reference_frames)):
        frames = make(pair, folder, objects)
        for _ in range(WARMUP_FRAMES):
            next(frames)
        with SyncCounter(pair.device) as counter:
            n = sum(1 for _ in zip(range(SYNC_FRAMES), frames))
        frames.close()
        out[impl] = None if counter.count is None else counter.count / n
    return out


# --------------------------------------------------------------------------- report


def _f(x, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ratio(ref, ours) -> str:
    return "n/a" if ref is None or ours is None else f"{ref / ours:.2f}x"


def _missing(r) -> str | None:
    """Why a row has no figures: None past the budget, or the error it met."""
    if r is None:
        return "skipped (budget)"
    return r.get("error")


def markdown(results: dict, header: str) -> str:
    lines = [header, ""]
    lines += [
        "| model | compile | set_image ms (ours / ref) | ref/ours | click ms (ours / ref) | ref/ours "
        "| max Δ logit (fp32) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (size, compile), r in results["image"].items():
        if _missing(r):
            lines.append(f"| {size} | {compile} | {_missing(r)} | | | | |")
            continue
        parity = "" if r.get("parity") is None else f"{r['parity']:.1e}"
        lines.append(
            f"| {size} | {compile} | {_f(r['ours_set_image'])} / {_f(r.get('ref_set_image'))} "
            f"| {_ratio(r.get('ref_set_image'), r['ours_set_image'])} "
            f"| {_f(r['ours_click'])} / {_f(r.get('ref_click'))} | {_ratio(r.get('ref_click'), r['ours_click'])} "
            f"| {parity} |"
        )
    lines += ["", "| model | objects | compile | fps ours | fps ref | ours/ref |", "|---|---|---|---|---|---|"]
    for (size, objects, compile), r in results["video"].items():
        if _missing(r):
            lines.append(f"| {size} | {objects} | {compile} | {_missing(r)} | | |")
            continue
        ours, ref = r["ours"]["fps"], r["ref"]["fps"] if "ref" in r else None
        lines.append(f"| {size} | {objects} | {compile} | {ours:.2f} | {_f(ref, 2)} | {_ratio(ours, ref)} |")
    lines += ["", "| objects | syncs/frame ours | syncs/frame ref |", "|---|---|---|"]
    for objects, r in results["syncs"].items():
        if _missing(r):
            lines.append(f"| {objects} | {_missing(r)} | |")
            continue
        lines.append(f"| {objects} | {_f(r['ours'])} | {_f(r['ref'])} |")
    lines += ["", "| model | impl | frames (early, last) | peak MiB after early | after last | last/early |"]
    lines += ["|---|---|---|---|---|---|"]
    for (size, impl), r in results["memory"].items():
        if _missing(r):
            lines.append(f"| {size} | {impl} | {_missing(r)} | | | |")
            continue
        early, end = r["peaks"].get(r["early"]), r["peaks"].get(r["frames"])
        frames = f"{r['early']}, {r['frames']}"
        lines.append(f"| {size} | {impl} | {frames} | {_f(early)} | {_f(end)} | {_ratio(end, early)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- driver


def run(args) -> dict:
    device = torch.device(args.device)
    if device.type == "cuda":  # "exact fp32" is exact: see tests/conftest.py
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    budget = Budget(args.budget_s)
    sizes, objects = args.sizes.split(","), [int(n) for n in args.objects.split(",")]
    compile_sizes = [s for s in args.compile_sizes.split(",") if s]
    memory_frames = args.memory_frames
    parts = set(args.parts.split(","))
    results: dict = {"image": {}, "video": {}, "syncs": {}, "memory": {}}
    image = make_frame(0)
    click = np.array([prompts(1)[0][1][0]], np.float32)

    def log(msg: str) -> None:
        print(f"[{budget.elapsed():6.1f} s] {msg}", file=sys.stderr, flush=True)

    def job(table: str, key, measure, *measure_args) -> None:
        """One measurement into ``results[table][key]``: None past the budget, ``{"error": ...}`` if it
        fails (an out-of-memory, a compile error: one failure must not cost the rest of the run)."""
        if budget.spent():
            results[table][key] = None
        else:
            try:
                results[table][key] = measure(*measure_args)
            except Exception as e:
                traceback.print_exc()
                results[table][key] = {"error": f"{type(e).__name__}: {e}"[:100]}
        log(f"{table} {key}: {results[table][key]}")
        if args.markdown:  # after every row: a run stopped by gpu.sh's timeout keeps what it measured
            Path(args.markdown).write_text(markdown(results, _header(args)))

    with tempfile.TemporaryDirectory() as tmp:
        clip, long_clip = str(Path(tmp, "clip")), str(Path(tmp, "long"))
        write_clip(Path(clip), args.frames)
        if "memory" in parts:
            write_clip(Path(long_clip), memory_frames)
        for i, size in enumerate(sizes):
            compiled = size in compile_sizes and "compile" in parts
            try:
                pair = None if budget.spent() else Pair(size, device, args.image_size, args.precision)
            except Exception as e:
                traceback.print_exc()
                pair = {"error": f"{type(e).__name__}: {e}"[:100]}
            if not isinstance(pair, Pair):
                _skip(results, size, objects, parts, compiled, first=i == 0, why=pair)
                log(f"{size}: {pair or 'skipped (budget)'}")
                continue
            log(f"{size}: models built")
            # Eager first: compile=True compiles the model's parts in place, for the rest of its life.
            for compile in [False] + [True] * compiled:
                flag = "yes" if compile else "no"
                if "image" in parts:
                    job("image", (size, flag), image_latency, pair, image, click, args, compile)
                if "video" in parts:
                    for n in objects:
                        job("video", (size, n, flag), video_run, pair, clip, n, compile)
                if compile:
                    continue
                if "syncs" in parts and i == 0:
                    for n in objects:
                        job("syncs", n, syncs_per_frame, pair, clip, n)
                if "memory" in parts and size in args.memory_sizes.split(","):
                    early = min(MEMORY_EARLY, memory_frames // 2)
                    for impl in ("ours", "ref"):
                        job("memory", (size, impl), memory_run, pair, impl, long_clip, early, memory_frames)
            pair = None  # free its models before the next size's
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return results


def _skip(results: dict, size: str, objects, parts, compiled: bool, first: bool, why) -> None:
    """A size's rows when its models were not built: None (the budget) or the error."""
    for compile in ["no"] + ["yes"] * compiled:
        if "image" in parts:
            results["image"][size, compile] = why
        if "video" in parts:
            for n in objects:
                results["video"][size, n, compile] = why
    if "syncs" in parts and first:
        for n in objects:
            results["syncs"][n] = why


def _header(args) -> str:
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({device})"
    return (
        f"GPU benchmark, {datetime.date.today()}: {name}, torch {torch.__version__}, image size {args.image_size}, "
        f"precision {args.precision} (reference under autocast when not fp32), {args.frames} frames per video run, "
        f"random weights; ratios are reference time / our time."
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", default="tiny,small,base-plus,large")
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--frames", type=int, default=40, help="frames per video speed run")
    parser.add_argument("--objects", default="1,3")
    parser.add_argument("--repeats", type=int, default=5, help="set_image runs")
    parser.add_argument("--clicks", type=int, default=20, help="predict runs")
    parser.add_argument("--compile-sizes", default="tiny,large", help="sizes timed again with compile=True")
    parser.add_argument("--memory-frames", type=int, default=500)
    parser.add_argument("--memory-sizes", default="tiny,large")
    parser.add_argument("--parts", default="image,video,syncs,memory,compile")
    parser.add_argument("--budget-s", type=float, default=420, help="start no part after this many seconds")
    parser.add_argument("--markdown", help="also write the tables here")
    args = parser.parse_args(argv)
    results = run(args)
    table = markdown(results, _header(args))
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table)


if __name__ == "__main__":
    main()
