"""Video tracking: our VideoTracker against the official SAM2VideoPredictor and transformers' Sam2VideoModel.

All load the same random SAM 2.1 tiny weights (written once to a temporary
checkpoint; transformers' under its parameter names, benchmarks/hf_peer.py) and track
objects clicked on frame 0 of the same synthetic 480p clip (854x480, moving shapes),
written once as a JPEG folder: the reference only accepts that, ours reads the same
files, and transformers gets the same files decoded with PIL, so all decode the same frames.
Before the speed part, transformers' low-res logits are compared with ours on the first
frames (3 objects, same preprocessed input); a mismatch stops the benchmark.
Every run is its own subprocess, so its peak RSS is its own; all run one after
another in this one invocation.

Two parts:

* speed: forward propagation over ``--frames`` frames at ``--image-size`` with 1
  and with 3 objects. "propagate fps" times the propagation loop only; "setup s"
  is opening the clip and clicking (the reference preloads and resizes every frame
  there; ours decodes lazily during propagation, so "total fps" is the fair
  end-to-end figure).
* EdgeTAM: ours against the official EdgeTAM (``edgetam-dimos``, timed in its own
  environment by benchmarks/official_edgetam.py) on the same random EdgeTAM weights,
  clip and clicks, 1 and 3 objects at ``--image-size``; and EdgeTAM's fps against SAM 2.1
  tiny's (ours, exact) from the speed part. ``--skip-edgetam`` leaves it out.
* memory policies: ours (exact) with each memory policy of ``VideoTracker(memory=...)``
  ("sam2", "quality", "samurai", "dam4sam"), 1 and 3 objects, on the speed part's clip and
  clicks: time per frame relative to "sam2". ``--skip-policies`` leaves it out.
* memory: one run per implementation (and ours on EdgeTAM) tracks ``--long-frames`` frames (1 object)
  and records the peak RSS (``ru_maxrss``) and the current RSS (``VmRSS``) after
  frame 50 and after the last frame. Tracking 500 frames at 1024 on a small CPU
  takes far too long, so this part runs at ``--mem-image-size`` (256 by default):
  the memory *structure* is the same (the reference preloads every frame as an
  image_size^2 float tensor and keeps every frame's memory; ours streams frames
  and spills memories), only the per-frame sizes scale with image_size^2. The
  source frames are the same 854x480 JPEGs. A second run per implementation on
  the first 50 frames alone shows how peak RSS depends on the clip's length.

The reference runs as its tests run it on CPU: built with
``tests.backend.reference.build_reference(..., video=True)``, its bf16 memories cast to
fp32 at the door of its memory attention, ``async_loading_frames=False``, no
autocast. Ours runs with its defaults (``memory_frames_in_ram=32``; no autocast on
CPU), and in the speed part once more as the fast CPU path (``precision="bf16"``).
transformers runs as its documentation runs it: the video processor prepares every frame
up front (``init_video_session``), the clicks of all objects go in with one
``add_inputs_to_inference_session`` call, ``propagate_in_video_iterator`` tracks, and each
frame's masks are upscaled to the clip's size (``post_process_masks``); its fast path is the
model and the session in bf16 (see benchmarks/hf_peer.py).

    python benchmarks/bench_video.py [--frames 20] [--long-frames 500]
        [--image-size 1024] [--mem-image-size 256] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "sam2.1-hiera-tiny"
H, W = 480, 854
MEM_CHECKPOINT = 50  # the early frame of the memory part
# The speed part's runs: name -> extra job settings. "ours bf16" is the fast CPU path,
# load_model(precision="bf16"): the image encoder in bf16, the rest under bf16 autocast.
SPEED_RUNS = {
    "reference": {},
    "ours": {},
    "ours bf16": {"precision": "bf16"},
    "transformers": {},
    "transformers bf16": {"bf16": True},
}
# Ours / peer on the same path: (path, ours, transformers).
PATHS = [("exact", "ours", "transformers"), ("fast (bf16)", "ours bf16", "transformers bf16")]
POLICIES = ("sam2", "quality", "samurai", "dam4sam")  # VideoTracker(memory=...), timed against "sam2"
PEER_FRAMES = 3  # frames compared with transformers before timing
PEER_TOLERANCE = 1e-3


# --------------------------------------------------------------------------- the clip


def _shapes(t: int):
    """Centres of the three moving objects on frame t (x, y), in pixels."""
    disk = (120 + 9 * t % (W - 240), 170 + 30 * np.sin(t / 15))
    square = (W - 180 - (6 * t) % (W - 360), 300)
    bar = (430, 90 + (t // 2) % 300)
    return disk, square, bar


def make_frame(t: int) -> np.ndarray:
    """Frame t of the synthetic clip: three coloured shapes moving over a textured background."""
    rng = np.random.default_rng(t)
    yy, xx = np.mgrid[:H, :W]
    img = np.empty((H, W, 3), np.uint8)
    img[..., 0] = (40 + 30 * np.sin(xx / 37 + t / 10)).astype(np.uint8)
    img[..., 1] = (50 + 25 * np.cos(yy / 29 - t / 13)).astype(np.uint8)
    img[..., 2] = 60
    img = np.clip(img + rng.integers(0, 25, img.shape), 0, 255).astype(np.uint8)
    (dx, dy), (sx, sy), (bx, by) = _shapes(t)
    img[(yy - dy) ** 2 + (xx - dx) ** 2 < 55**2] = (230, 50, 40)
    img[int(sy) - 45 : int(sy) + 45, int(sx) - 45 : int(sx) + 45] = (40, 200, 60)
    img[int(by) - 15 : int(by) + 15, int(bx) - 110 : int(bx) + 110] = (40, 90, 230)
    return img


def write_clip(folder: Path, num_frames: int) -> None:
    """Frames as ``00000.jpg``, ... (the reference's naming)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for t in range(num_frames):
        Image.fromarray(make_frame(t)).save(folder / f"{t:05d}.jpg", quality=90)


def link_clip(src: Path, folder: Path, num_frames: int) -> None:
    """A folder holding the first frames of ``src`` (hard links, so nothing is re-encoded)."""
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(num_frames):
        name = f"{t:05d}.jpg"
        try:
            os.link(src / name, folder / name)
        except OSError:
            (folder / name).write_bytes((src / name).read_bytes())


def prompts(num_objects: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(obj_id, points (1, 2) xy pixels, labels (1,)) for each object, on frame 0."""
    return [(i + 1, np.array([c], np.float32), np.array([1], np.int32)) for i, c in enumerate(_shapes(0)[:num_objects])]


# --------------------------------------------------------------------------- measuring


def _rss() -> dict:
    """Peak RSS (ru_maxrss) and current RSS (VmRSS), MiB."""
    current = float("nan")
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return {"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "current": current}


class _Reference:
    def __init__(self, ckpt: str, image_size: int):
        from tests.backend.reference import build_reference, memory_in_fp32

        self.model = build_reference(MODEL, image_size=image_size, video=True)
        self.model.load_state_dict(torch.load(ckpt, weights_only=True)["model"])
        memory_in_fp32(self.model)

    def open(self, folder: str, objects) -> None:
        with torch.inference_mode():
            self.state = self.model.init_state(folder, async_loading_frames=False)
            for obj_id, points, labels in objects:
                self.model.add_new_points_or_box(self.state, 0, obj_id, points=points, labels=labels)

    def propagate(self):
        with torch.inference_mode():
            for frame, _ids, _masks in self.model.propagate_in_video(self.state):
                yield frame


class _Ours:
    def __init__(self, ckpt: str, image_size: int, precision: str = "auto", model: str = MODEL, memory: str = "sam2"):
        from sam2_backend import load_model
        from sam2_backend.configs import get_config

        config = get_config(model).replace(image_size=image_size)
        self.model = load_model(ckpt, device="cpu", config=config, precision=precision)
        self.memory = memory

    def open(self, folder: str, objects) -> None:
        from sam2_backend import VideoTracker

        # defaults: memory_frames_in_ram=32, no autocast on CPU
        self.tracker = VideoTracker(self.model, folder, memory=self.memory)
        for obj_id, points, labels in objects:
            self.tracker.add_points(0, obj_id, points, labels)

    def propagate(self):
        for frame, _masks in self.tracker.propagate("forward"):
            yield frame


class _Transformers:
    def __init__(self, ckpt: str, image_size: int, bf16: bool = False):
        from benchmarks.hf_peer import build_video_peer

        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.image_size = image_size
        self.model = build_video_peer(torch.load(ckpt, weights_only=True)["model"], image_size, self.dtype)

    def open(self, folder: str, objects) -> None:
        from benchmarks.hf_peer import VideoPeer

        self.peer = VideoPeer(self.model, read_clip(folder), dtype=self.dtype, image_size=self.image_size)
        self.peer.add_clicks([(obj_id, points[0]) for obj_id, points, _labels in objects])

    def propagate(self):
        for frame, low_res in self.peer.propagate():
            self.peer.to_frame_size(low_res)
            yield frame


def read_clip(folder: str) -> list[np.ndarray]:
    """The clip's JPEG frames decoded to RGB arrays, in order."""
    from PIL import Image

    return [np.asarray(Image.open(path).convert("RGB")) for path in sorted(Path(folder).glob("*.jpg"))]


def check_peer(ckpt: str, folder: str, image_size: int) -> float:
    """Max |low-res logit| difference of transformers from ours (exact) on the first frames, 3 objects,
    both on our preprocessing of the same decoded frames."""
    from benchmarks.hf_peer import VideoPeer, build_video_peer
    from sam2_backend import VideoTracker
    from sam2_backend.inputs import image_to_tensor
    from sam2_backend.transforms import preprocess

    frames = read_clip(folder)[:PEER_FRAMES]
    clicks = [(obj_id, points[0]) for obj_id, points, _labels in prompts(3)]
    ours = _Ours(ckpt, image_size).model
    tracker = VideoTracker(ours, np.stack(frames))
    for obj_id, xy in clicks:
        tracker.add_points(0, obj_id, [xy], [1])
    expected = {
        t: np.stack([tracker.frame_output(t, obj_id)[0] for obj_id, _ in clicks]) for t, _ in tracker.propagate()
    }
    pixels = torch.cat([preprocess(image_to_tensor(f)[None], image_size) for f in frames])
    model = build_video_peer(torch.load(ckpt, weights_only=True)["model"], image_size)
    peer = VideoPeer(model, pixels, hw=frames[0].shape[:2], image_size=image_size)
    peer.add_clicks(clicks)
    got = {t: low_res[:, 0].float().numpy() for t, low_res in peer.propagate()}
    if sorted(got) != sorted(expected):
        raise SystemExit(f"transformers tracked frames {sorted(got)}, ours {sorted(expected)}")
    return max(float(np.abs(got[t] - expected[t]).max()) for t in expected)


def _implementation(job: dict):
    if job["impl"] == "reference":
        return _Reference(job["ckpt"], job["image_size"])
    if job["impl"] == "transformers":
        return _Transformers(job["ckpt"], job["image_size"], job.get("bf16", False))
    return _Ours(
        job["ckpt"], job["image_size"], job.get("precision", "auto"), job.get("model", MODEL), job.get("memory", "sam2")
    )


def worker(job: dict) -> dict:
    impl = _implementation(job)
    out = {"rss_model": _rss()}
    t0 = time.perf_counter()
    impl.open(job["folder"], prompts(job["objects"]))
    t1 = time.perf_counter()
    out["rss_open"] = _rss()
    frames, per_frame, per_frame_cpu = 0, [], []
    cpu1 = time.process_time()
    last, last_cpu = t1, cpu1
    for _ in impl.propagate():
        frames += 1
        now, now_cpu = time.perf_counter(), time.process_time()
        per_frame.append(now - last)
        per_frame_cpu.append(now_cpu - last_cpu)
        last, last_cpu = now, now_cpu
        if frames == MEM_CHECKPOINT:
            out["rss_early"] = _rss()
    t2, cpu2 = time.perf_counter(), time.process_time()
    nan = float("nan")
    out.update(
        setup_s=t1 - t0,
        propagate_s=t2 - t1,
        propagate_cpu_s=cpu2 - cpu1,
        frames=frames,
        rss_end=_rss(),
        frame_s_median=float(np.median(per_frame[1:])) if len(per_frame) > 1 else nan,
        frame_cpu_s_median=float(np.median(per_frame_cpu[1:])) if len(per_frame) > 1 else nan,
    )
    return out


def edgetam_checkpoint(path: Path) -> None:
    """Random EdgeTAM weights (seeded) saved as a checkpoint both implementations load."""
    from sam2_backend import build_model, get_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(get_config("edgetam"), device="cpu", precision="fp32")
    torch.save({"model": model.state_dict()}, path)


def edgetam_speed(ckpt: str, folder: str, args) -> dict:
    """(impl, objects) -> speed result of ours and, when installed, the official EdgeTAM."""
    from benchmarks.official_edgetam import time_video
    from tests.backend.edgetam_official import reference_installed

    out = {}
    for objects in (1, 3):
        job = {
            "impl": "ours",
            "model": "edgetam",
            "ckpt": ckpt,
            "image_size": args.image_size,
            "folder": folder,
            "objects": objects,
        }
        out["ours", objects] = r = _run(job, args.threads, args.save)
        print(f"  EdgeTAM ours, {objects} object(s): {r['frames'] / r['propagate_s']:.3f} fps", file=sys.stderr)
        out["ours bf16", objects] = r = _run({**job, "precision": "bf16"}, args.threads, args.save)
        print(f"  EdgeTAM ours bf16, {objects} object(s): {r['frames'] / r['propagate_s']:.3f} fps", file=sys.stderr)
        if not reference_installed():
            continue
        points = [p[0].tolist() for _, p, _ in prompts(objects)]
        o = time_video(
            ckpt,
            frames=args.frames,
            objects=objects,
            image_size=args.image_size,
            folder=folder,
            points=points,
            threads=args.threads,
        )
        out["official", objects] = {
            "setup_s": o["setup_s"],
            "propagate_s": o["propagate_s"],
            "frames": o["frames"],
            "frame_s_median": o["frame_ms_median"] / 1000,
            "rss_end": {"peak": o["peak_rss_mib"]},
        }
        print(f"  EdgeTAM official, {objects} object(s): {o['fps']:.3f} fps", file=sys.stderr)
    return out


def _profile(job: dict, top: int) -> None:
    """cProfile of the propagation loop only (setup excluded)."""
    import cProfile
    import pstats

    impl = _implementation(job)
    impl.open(job["folder"], prompts(job["objects"]))
    prof = cProfile.Profile()
    prof.enable()
    for _ in impl.propagate():
        pass
    prof.disable()
    pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(top)
    pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(top)


# --------------------------------------------------------------------------- driver


def _run(job: dict, threads: int, save: str | None = None) -> dict:
    """One worker subprocess. With ``save``, results are kept in that JSON file (keyed by the job's
    settings, not its temporary paths) and a rerun with the same file skips the jobs already done."""
    key = json.dumps(
        {
            **{k: v for k, v in job.items() if k not in ("ckpt", "folder")},
            "frames_in_folder": len(os.listdir(job["folder"])),
            "threads": threads,
        },
        sort_keys=True,
    )
    done = json.loads(Path(save).read_text()) if save and Path(save).exists() else {}
    if key in done:
        print(f"  (from {save})", file=sys.stderr)
        return done[key]
    cmd = [sys.executable, __file__, "--threads", str(threads), "--worker", json.dumps(job)]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"worker failed: {job['impl']} {job.get('label', '')}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if save:
        done[key] = result
        Path(save).write_text(json.dumps(done))
    return result


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20, help="frames tracked in the speed part (default 20)")
    parser.add_argument("--image-size", type=int, default=1024, help="model input size of the speed part (1024)")
    parser.add_argument(
        "--long-frames",
        type=int,
        default=500,
        help="frames tracked in the memory part (default 500; RSS is also read after frame 50)",
    )
    parser.add_argument(
        "--mem-image-size", type=int, default=256, help="model input size of the memory part (default 256, see above)"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads per run")
    parser.add_argument(
        "--save", metavar="JSON", help="keep each run's result in this file; a rerun with it skips finished runs"
    )
    parser.add_argument("--skip-speed", action="store_true", help="only the memory part")
    parser.add_argument("--skip-memory", action="store_true", help="only the speed part")
    parser.add_argument("--skip-edgetam", action="store_true", help="leave out the EdgeTAM part")
    parser.add_argument("--skip-policies", action="store_true", help="leave out the memory policies' part")
    parser.add_argument(
        "--memory-impls",
        nargs="+",
        choices=("reference", "ours", "edgetam"),
        default=["reference", "ours", "edgetam"],
        help="which runs the memory part makes (edgetam: ours on EdgeTAM's weights)",
    )
    parser.add_argument(
        "--profile",
        choices=["ours", "reference"],
        help="instead of the benchmark: cProfile one implementation's propagation "
        "(--frames frames, --objects objects, --image-size) to stderr",
    )
    parser.add_argument("--objects", type=int, default=1, help="objects for --profile")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--profile-job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.profile_job:
        _profile(json.loads(args.profile_job), 40)
        return

    from tests.backend.reference import build_reference

    early = MEM_CHECKPOINT
    n_clip = max(args.frames, 0 if args.skip_memory else args.long_frames)
    with tempfile.TemporaryDirectory(prefix="bench_video_") as tmp:
        tmp = Path(tmp)
        ckpt = str(tmp / "random_tiny.pt")
        torch.save({"model": build_reference(MODEL).state_dict()}, ckpt)
        t0 = time.perf_counter()
        write_clip(tmp / "clip", n_clip)
        print(f"  wrote {n_clip} frames ({W}x{H} JPEG) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        short = tmp / f"first_{args.frames}"
        link_clip(tmp / "clip", short, args.frames)

        if args.profile:
            job = {
                "impl": args.profile,
                "ckpt": ckpt,
                "image_size": args.image_size,
                "folder": str(short),
                "objects": args.objects,
            }
            subprocess.run(
                [sys.executable, __file__, "--threads", str(args.threads), "--profile-job", json.dumps(job)],
                check=True,
                cwd=ROOT,
            )
            return

        speed, memory = {}, {}
        load_start = os.getloadavg()
        t_start = time.perf_counter()
        peer_dev = None
        if not args.skip_speed:
            peer_dev = check_peer(ckpt, str(short), args.image_size)
            print(f"  transformers vs ours, first {PEER_FRAMES} frames: {peer_dev:.2e}", file=sys.stderr)
            if peer_dev > PEER_TOLERANCE:
                raise SystemExit(f"transformers' logits differ from ours by {peer_dev:.2e}: not timed")
            for objects in (1, 3):
                for impl in SPEED_RUNS:
                    job = {
                        "impl": impl.split()[0],
                        "ckpt": ckpt,
                        "image_size": args.image_size,
                        "folder": str(short),
                        "objects": objects,
                        **SPEED_RUNS[impl],
                    }
                    speed[impl, objects] = r = _run(job, args.threads, args.save)
                    print(
                        f"  speed {impl}, {objects} object(s): {r['frames'] / r['propagate_s']:.3f} fps",
                        file=sys.stderr,
                    )
        edgetam = {}
        edgetam_ckpt = None
        if not args.skip_edgetam:
            edgetam_ckpt = tmp / "random_edgetam.pt"
            edgetam_checkpoint(edgetam_ckpt)
            if not args.skip_speed:
                edgetam = edgetam_speed(str(edgetam_ckpt), str(short), args)
        policies = {}
        if not args.skip_policies:
            for objects in (1, 3):
                for memory_policy in POLICIES:
                    job = {
                        "impl": "ours",
                        "ckpt": ckpt,
                        "image_size": args.image_size,
                        "folder": str(short),
                        "objects": objects,
                        "memory": memory_policy,
                    }
                    policies[memory_policy, objects] = r = _run(job, args.threads, args.save)
                    print(
                        f"  policy {memory_policy}, {objects} object(s): {r['frames'] / r['propagate_s']:.3f} fps",
                        file=sys.stderr,
                    )
        if not args.skip_memory:
            clips = {args.long_frames: tmp / "clip"}
            if args.long_frames > early:
                clips[early] = tmp / f"first_{early}"
                link_clip(tmp / "clip", clips[early], early)
            for length, folder in clips.items():
                for impl in args.memory_impls:
                    if impl == "edgetam" and edgetam_ckpt is None:
                        continue
                    job = {
                        "impl": impl,
                        "ckpt": ckpt,
                        "image_size": args.mem_image_size,
                        "folder": str(folder),
                        "objects": 1,
                    }
                    if impl == "edgetam":  # ours, on EdgeTAM's weights
                        job.update(impl="ours", model="edgetam", ckpt=str(edgetam_ckpt))
                    memory[impl, length] = r = _run(job, args.threads, args.save)
                    print(
                        f"  memory {impl}, {length} frames: peak {r['rss_end']['peak']:.0f} MiB "
                        f"({r['propagate_s']:.0f} s)",
                        file=sys.stderr,
                    )

    load_end = os.getloadavg()
    print(f"SAM 2.1 tiny, random weights; clip {W}x{H} JPEG, forward propagation from clicks on frame 0")
    print(
        f"torch {torch.__version__}, {args.threads} threads, CPU: {_cpu_model()} ({os.cpu_count()} logical cores); "
        f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end; "
        f"benchmark took {(time.perf_counter() - t_start) / 60:.1f} min"
    )
    print()
    ratios = []
    if speed:
        print(
            f"Speed: {args.frames} frames at image size {args.image_size}. Wall = elapsed time; CPU = this "
            "process's CPU time (all threads), steadier when other work shares the cores. "
            "Ratios = each run / reference; < 1 is faster."
        )
        header = (
            f"{'objects':>7} {'impl':17} {'setup s':>8} {'propagate s':>12} {'fps':>6} {'total fps':>10} "
            f"{'median s/frame':>15} {'CPU s/frame':>12} {'ratio wall':>11} {'median':>7} {'CPU':>6} "
            f"{'peak RSS MiB':>13}"
        )
        print(header)
        print("-" * len(header))
        for objects in (1, 3):
            base = speed["reference", objects]
            for impl in SPEED_RUNS:
                r = speed[impl, objects]
                ratio = r["propagate_s"] / base["propagate_s"]
                median_ratio = r["frame_s_median"] / base["frame_s_median"]
                cpu_ratio = r["propagate_cpu_s"] / base["propagate_cpu_s"]
                if impl == "ours":
                    ratios.append(
                        (
                            objects,
                            ratio,
                            median_ratio,
                            cpu_ratio,
                            (r["setup_s"] + r["propagate_s"]) / (base["setup_s"] + base["propagate_s"]),
                        )
                    )
                total = r["frames"] / (r["setup_s"] + r["propagate_s"])
                print(
                    f"{objects:7d} {impl:17} {r['setup_s']:8.1f} {r['propagate_s']:12.1f} "
                    f"{r['frames'] / r['propagate_s']:6.3f} {total:10.3f} {r['frame_s_median']:15.2f} "
                    f"{r['frame_cpu_s_median']:12.2f} {ratio:11.2f} {median_ratio:7.2f} {cpu_ratio:6.2f} "
                    f"{r['rss_end']['peak']:13.0f}"
                )
        print()
        print(
            f"Ours / peer, propagation wall time on the same path (the official code has no bf16 run: its "
            f"ratio there is to its fp32). transformers matched ours to {peer_dev:.1e} on {PEER_FRAMES} frames."
        )
        print(f"{'objects':>7} {'path':12} {'vs official':>12} {'vs transformers':>16} {'median/frame vs hf':>19}")
        for objects in (1, 3):
            for path, ours, hf in PATHS:
                o, ref, t = speed[ours, objects], speed["reference", objects], speed[hf, objects]
                print(
                    f"{objects:7d} {path:12} {o['propagate_s'] / ref['propagate_s']:12.2f} "
                    f"{o['propagate_s'] / t['propagate_s']:16.2f} {o['frame_s_median'] / t['frame_s_median']:19.2f}"
                )
        print()
    if edgetam:
        print(
            f"EdgeTAM (random weights): {args.frames} frames at image size {args.image_size}, the same clip and "
            "clicks; the official EdgeTAM runs in its own environment (benchmarks/official_edgetam.py), all "
            "frames in RAM; ours exact (fp32) and on the fast CPU path (bf16). Ratio = ours / official (fp32)."
        )
        header = (
            f"{'objects':>7} {'impl':9} {'setup s':>8} {'propagate s':>12} {'fps':>6} {'median s/frame':>15} "
            f"{'ratio wall':>11} {'median':>7} {'peak RSS MiB':>13}"
        )
        print(header)
        print("-" * len(header))
        for objects in (1, 3):
            base = edgetam.get(("official", objects))
            for impl in ("official", "ours", "ours bf16"):
                r = edgetam.get((impl, objects))
                if r is None:
                    print(f"{objects:7d} {impl:9} (not installed: scripts/setup.sh puts it in .venv/edgetam-reference)")
                    continue
                ratio = f"{r['propagate_s'] / base['propagate_s']:11.2f}" if base else f"{'-':>11}"
                median = f"{r['frame_s_median'] / base['frame_s_median']:7.2f}" if base else f"{'-':>7}"
                print(
                    f"{objects:7d} {impl:9} {r['setup_s']:8.1f} {r['propagate_s']:12.1f} "
                    f"{r['frames'] / r['propagate_s']:6.3f} {r['frame_s_median']:15.2f} {ratio} {median} "
                    f"{r['rss_end']['peak']:13.0f}"
                )
        if speed:
            for objects in (1, 3):
                for impl in ("ours", "ours bf16"):
                    e, s2 = edgetam[impl, objects], speed["ours", objects]
                    speedup = (e["frames"] / e["propagate_s"]) / (s2["frames"] / s2["propagate_s"])
                    print(
                        f"{'PASS' if speedup >= 10 else 'FAIL'}: EdgeTAM ({impl}) fps / SAM 2.1 tiny fps (ours, exact) "
                        f">= 10 with {objects} object(s): {speedup:.2f} (median per frame "
                        f"{s2['frame_s_median'] / e['frame_s_median']:.2f})"
                    )
        print()
    if policies:
        print(
            f"Memory policies (ours, exact): {args.frames} frames at image size {args.image_size}, the same clip "
            "and clicks (random weights: the policies choose other masks and memories than trained weights "
            'would, the cost of choosing is what is timed). Ratio = policy / "sam2"; < 1 is faster.'
        )
        header = (
            f"{'objects':>7} {'policy':8} {'fps':>6} {'median s/frame':>15} {'CPU s/frame':>12} {'ratio':>6} {'CPU':>5}"
        )
        print(header)
        print("-" * len(header))
        for objects in (1, 3):
            base = policies["sam2", objects]
            for memory_policy in POLICIES:
                r = policies[memory_policy, objects]
                print(
                    f"{objects:7d} {memory_policy:8} {r['frames'] / r['propagate_s']:6.3f} {r['frame_s_median']:15.2f} "
                    f"{r['frame_cpu_s_median']:12.2f} {r['frame_s_median'] / base['frame_s_median']:6.2f} "
                    f"{r['frame_cpu_s_median'] / base['frame_cpu_s_median']:5.2f}"
                )
        print()
    mem_ok = grow = edgetam_long = None
    if memory:
        long = args.long_frames
        note = f" (not {args.image_size}: see --help)" if args.mem_image_size != args.image_size else ""
        print(f"Memory: 1 object at image size {args.mem_image_size}{note}, RSS in MiB (peak = ru_maxrss, now = VmRSS)")
        header = (
            f"{'clip':>11} {'impl':10} {'model loaded':>13} {'after setup':>12} "
            f"{'peak @' + str(early):>11} {'now @' + str(early):>10} {'peak @end':>10} {'now @end':>9} "
            f"{'end/@' + str(early):>8} {'s/frame':>8}"
        )
        print(header)
        print("-" * len(header))
        for length in sorted({long, early} & {k[1] for k in memory}, reverse=True):
            for impl in ("reference", "ours", "edgetam"):
                r = memory.get((impl, length))
                if r is None:
                    continue
                e = r.get("rss_early", {"peak": float("nan"), "current": float("nan")})
                print(
                    f"{str(r['frames']) + ' frames':>11} {impl:10} {r['rss_model']['current']:13.0f} "
                    f"{r['rss_open']['current']:12.0f} {e['peak']:11.0f} {e['current']:10.0f} "
                    f"{r['rss_end']['peak']:10.0f} {r['rss_end']['current']:9.0f} "
                    f"{r['rss_end']['peak'] / e['peak']:8.2f} {r['propagate_s'] / r['frames']:8.3f}"
                )
        per_frame = 3 * 4 * args.image_size**2 / 2**20
        print(
            f"(the reference preloads every frame as a 3x{args.mem_image_size}^2 float tensor: "
            f"{3 * 4 * args.mem_image_size**2 / 2**20:.2f} MiB/frame here, {per_frame:.0f} MiB/frame at "
            f"{args.image_size}, i.e. {per_frame * long / 1024:.1f} GiB for {long} frames)"
        )
        print()
        ours_long, ref_long = memory.get(("ours", long)), memory.get(("reference", long))
        if ours_long and "rss_early" in ours_long:
            mem_ok = ours_long["rss_end"]["peak"] <= 1.10 * ours_long["rss_early"]["peak"]
        edgetam_long = memory.get(("edgetam", long))
        ref_short = memory.get(("reference", early))
        if ref_long and ref_short:
            grow = ref_long["rss_end"]["peak"] > 1.10 * ref_short["rss_end"]["peak"]

    for objects, ratio, median_ratio, cpu_ratio, total_ratio in ratios:
        print(
            f"{'PASS' if ratio <= 1.0 else 'FAIL'}: propagation time ours/reference <= 1.0 with {objects} "
            f"object(s): {ratio:.2f} wall (median per frame {median_ratio:.2f}, CPU time {cpu_ratio:.2f}; "
            f"end to end incl. setup {total_ratio:.2f})"
        )
    if mem_ok is not None:
        for name, o in (("our", memory["ours", args.long_frames]), ("EdgeTAM's", edgetam_long)):
            if o is None or "rss_early" not in o:
                continue
            flat = o["rss_end"]["peak"] <= 1.10 * o["rss_early"]["peak"]
            print(
                f"{'PASS' if flat else 'FAIL'}: {name} peak RSS after {o['frames']} frames within 10% of after "
                f"{early}: {o['rss_end']['peak']:.0f} vs {o['rss_early']['peak']:.0f} MiB "
                f"({o['rss_end']['peak'] / o['rss_early']['peak'] - 1:+.1%})"
            )
    if grow is not None:
        a, b = memory["reference", early], memory["reference", args.long_frames]
        same_run = (
            f"; within its {b['frames']}-frame run {b['rss_early']['peak']:.0f} -> {b['rss_end']['peak']:.0f} MiB"
            if "rss_early" in b
            else ""
        )
        print(
            f"{'PASS' if grow else 'FAIL'}: the reference's peak RSS grows with clip length (> 10%): "
            f"{a['frames']}-frame clip {a['rss_end']['peak']:.0f} MiB, {b['frames']}-frame clip "
            f"{b['rss_end']['peak']:.0f} MiB ({b['rss_end']['peak'] / a['rss_end']['peak'] - 1:+.1%}){same_run}"
        )


if __name__ == "__main__":
    main()
