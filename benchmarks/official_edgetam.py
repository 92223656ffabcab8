"""Time the official EdgeTAM (``edgetam-dimos==1.0.1``) on given weights, for the benchmarks.

The official package is also imported as ``sam2`` (it clashes with the SAM 2 reference), so
scripts/setup.sh installs it in .venv/edgetam-reference and every timing here runs in a
subprocess with that folder first on PYTHONPATH; the functions return the figures as a dict.
The model is built from the package's ``configs/edgetam.yaml`` at ``image_size`` with the
official builders' post-processing settings (hole filling off: it needs the CUDA extension),
fp32 on CPU, its bf16 memories cast to fp32 at the memory attention and its spatial perceiver
run one object at a time (as published it fails for several objects: EdgeTAM issue 15; see
tests/backend/edgetam_official.py).

Usage, from a script in benchmarks/ (which puts the repository root on sys.path)::

    import torch
    from official_edgetam import time_set_image, time_video

    torch.save(our_edgetam.state_dict(), path)  # our random EdgeTAM weights (or {"model": ...})
    image = time_set_image(path, image_size=1024, runs=5, threads=None)
    # {"image_size", "runs", "set_image_ms" (each timed run), "set_image_ms_median",
    #  "predict_ms_median" (one click), "peak_rss_mib"}
    video = time_video(path, frames=20, objects=3, image_size=1024, folder=None, points=None)
    # {"image_size", "frames", "objects", "setup_s" (init_state: load + resize every frame,
    #  and the clicks), "propagate_s", "frame_ms_median" (the first frame left out), "fps"
    #  (frames / propagate_s), "peak_rss_mib"}

``set_image`` is timed ``runs`` times after one warm-up, on ``tests.images.synthetic_image(768,
1024, seed=7)`` (bench_image's image) unless ``image`` names a file. The video is a JPEG folder
(``folder``; the official loader takes only that) or, without one, the synthetic clip of
tests/clips.py at 480x640; each object gets one positive click on frame 0 (``points``: one
[x, y] per object; by default the clip's shapes, which is only right for the synthetic clip),
then forward propagation over ``frames`` frames. ``threads`` sets torch's and OpenMP's threads.

    python benchmarks/official_edgetam.py WEIGHTS.pt [--image-size 1024] [--runs 5] [--frames 20] [--objects 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.backend.edgetam_official import run_official  # noqa: E402

# The synthetic clip (tests/clips.py, 96x128) scaled up 5 times, and a click inside each shape.
CLIP_SCALE = 5
CLIP_CLICKS = [[20, 40], [114, 44], [35, 77]]  # the disk, the square, the bar on frame 0 (clip pixels)


def time_set_image(
    weights: str | Path,
    *,
    image_size: int = 1024,
    runs: int = 5,
    image: str | Path | None = None,
    threads: int | None = None,
    timeout: float | None = None,
) -> dict:
    """The official SAM2ImagePredictor's ``set_image`` (median ms over ``runs`` after a warm-up) and one click."""
    job = {"weights": str(weights), "image_size": image_size, "runs": runs, "image": image and str(image)}
    return _run("image", job, threads, timeout)


def time_video(
    weights: str | Path,
    *,
    frames: int = 20,
    objects: int = 1,
    image_size: int = 1024,
    folder: str | Path | None = None,
    points: list[list[float]] | None = None,
    threads: int | None = None,
    timeout: float | None = None,
) -> dict:
    """The official SAM2VideoPredictor tracking ``objects`` objects clicked on frame 0 over ``frames`` frames."""
    if points is not None and len(points) != objects:
        raise ValueError(f"points: one [x, y] per object ({objects}), got {len(points)}")
    if points is None and (folder is not None or objects > len(CLIP_CLICKS)):
        raise ValueError(f"give points for a folder of your own or more than {len(CLIP_CLICKS)} objects")
    job = {
        "weights": str(weights),
        "image_size": image_size,
        "frames": frames,
        "objects": objects,
        "folder": folder and str(folder),
        "points": points,
    }
    return _run("video", job, threads, timeout)


def _run(kind: str, job: dict, threads: int | None, timeout: float | None) -> dict:
    job["threads"] = threads
    args = ("--child", kind, json.dumps(job))
    out = run_official("benchmarks.official_edgetam", *args, threads=threads, timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- the child (official sam2 imported)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model(job: dict):
    import torch

    from tests.backend.edgetam_official import build_official

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    weights = torch.load(job["weights"], map_location="cpu", weights_only=True)
    with tempfile.NamedTemporaryFile(suffix=".pt") as f:
        torch.save(weights.get("model", weights), f.name)
        return build_official(job["image_size"], weights=f.name, video=True)


def _image_child(job: dict) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from tests.backend.edgetam_official import image_predictor
    from tests.images import synthetic_image

    pred = image_predictor(_model(job), job["image_size"])
    image = np.asarray(Image.open(job["image"]).convert("RGB")) if job["image"] else synthetic_image(768, 1024, seed=7)
    point, label = np.array([[300.0, 280.0]]), np.array([1])
    times, clicks = [], []
    with torch.inference_mode():
        for i in range(job["runs"] + 1):
            t0 = time.perf_counter()
            pred.set_image(image)
            t1 = time.perf_counter()
            pred.predict(point_coords=point, point_labels=label)
            t2 = time.perf_counter()
            if i:  # the first run warms up
                times.append((t1 - t0) * 1000)
                clicks.append((t2 - t1) * 1000)
    return {
        "image_size": job["image_size"],
        "runs": job["runs"],
        "set_image_ms": times,
        "set_image_ms_median": statistics.median(times),
        "predict_ms_median": statistics.median(clicks),
        "peak_rss_mib": _peak_rss_mib(),
    }


def _synthetic_folder(folder: Path, frames: int) -> None:
    import numpy as np
    from PIL import Image

    from tests.clips import make_clip

    for t, frame in enumerate(make_clip(frames)):
        big = np.repeat(np.repeat(frame, CLIP_SCALE, axis=0), CLIP_SCALE, axis=1)
        Image.fromarray(big).save(folder / f"{t:05d}.jpg", quality=95)


def _video_child(job: dict) -> dict:
    import numpy as np
    import torch

    model = _model(job)
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        folder = job["folder"]
        if folder is None:
            folder = tmp
            _synthetic_folder(Path(tmp), job["frames"])
        points = job["points"] or [[x * CLIP_SCALE, y * CLIP_SCALE] for x, y in CLIP_CLICKS[: job["objects"]]]
        t0 = time.perf_counter()
        state = model.init_state(folder, async_loading_frames=False)
        for obj_id, point in enumerate(points, start=1):
            model.add_new_points_or_box(
                state, 0, obj_id, points=np.array([point], np.float32), labels=np.array([1], np.int32)
            )
        t1 = time.perf_counter()
        per_frame, last = [], t1
        for _ in model.propagate_in_video(state, max_frame_num_to_track=job["frames"] - 1):
            now = time.perf_counter()
            per_frame.append(now - last)
            last = now
        t2 = time.perf_counter()
    return {
        "image_size": job["image_size"],
        "frames": len(per_frame),
        "objects": job["objects"],
        "setup_s": t1 - t0,
        "propagate_s": t2 - t1,
        "frame_ms_median": statistics.median(per_frame[1:]) * 1000 if len(per_frame) > 1 else float("nan"),
        "fps": len(per_frame) / (t2 - t1),
        "peak_rss_mib": _peak_rss_mib(),
    }


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kind, job = sys.argv[2], json.loads(sys.argv[3])
        print(json.dumps(_image_child(job) if kind == "image" else _video_child(job)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--objects", type=int, default=1)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    print(json.dumps(time_set_image(args.weights, image_size=args.image_size, runs=args.runs, threads=args.threads)))
    print(
        json.dumps(
            time_video(
                args.weights,
                frames=args.frames,
                objects=args.objects,
                image_size=args.image_size,
                threads=args.threads,
            )
        )
    )


if __name__ == "__main__":
    main()
