"""Opening a labelled data set at scale: time and peak memory for 1,000 and 10,000 images.

The set: ``n`` small PNGs (64x48, a random rectangle each) in a temporary folder and a COCO
file naming them with one compressed-RLE mask each (written once per ``n`` and reused).
Each case runs in a fresh Python process (``--worker``), so its peak RSS is its own; the
process imports ``sam2_widget`` first (torch included) and the figures are what opening
adds to that:

* ``folder``: ``DatasetSource.from_folder`` (list the PNGs, natural order, nothing opened);
* ``coco``: ``open_dataset(folder, "labels.json")``: read the JSON, list its images, check
  every annotation (image, category, segmentation shape), decode nothing;
* ``coco+check``: the same, then ``annotations.check()`` decodes every mask (what a full
  up-front validation costs: the widget decodes an image's masks when it is shown);
* ``coco+export``: open, edit one image in 100 (its mask grows by a row) and stream the
  reviewed COCO file out with ``write_coco`` (the labels column: images edited).

* ``widget``: ``Sam2Widget(folder, annotations="labels.json")`` with SAM 2.1 tiny (random
  weights, 1024 px, CPU; built before the clock starts): the widget's own start, first
  image shown and its labels seeded (its encoding runs on the worker, not counted);
* ``next`` / ``next+bg``: the time from a ``goto`` message to the next image (the arrow key)
  to that image's embedding being ready to click, without and with background encoding,
  the median of 5 moves. A person looks at each image for ``LOOK_S`` before moving on
  (``--look-s``; meanwhile the worker encodes the next one when background encoding is on). The
  "labels" column is then that time in ms (the open times are not the point there).

Open time is the first open in the process (cold) and the best of ``--repeats`` more (warm).
RSS: resident memory after the imports, and the peak (``ru_maxrss``) minus it.
Each case is a function in ``CASES``.

    python benchmarks/bench_dataset.py [--sizes 1000 10000] [--repeats 3] [--cases folder coco]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

IMAGE_HW = (48, 64)


# --------------------------------------------------------------------------- the data set


def make_set(folder: Path, n: int) -> Path:
    """``n`` PNGs and ``labels.json`` (one mask each) in ``folder``; returns the JSON's path."""
    from PIL import Image
    from pycocotools import mask as mask_api

    coco = folder / "labels.json"
    if coco.exists():
        return coco
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    h, w = IMAGE_HW
    images, annotations = [], []
    for i in range(n):
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        y1, x1 = y0 + rng.integers(4, h // 2), x0 + rng.integers(4, w // 2)
        pixels = np.full((h, w, 3), 40, dtype=np.uint8)
        pixels[y0:y1, x0:x1] = 200
        name = f"img_{i:05d}.png"
        Image.fromarray(pixels).save(folder / name, compress_level=1)
        mask = np.zeros((h, w), dtype=np.uint8)
        mask[y0:y1, x0:x1] = 1
        rle = mask_api.encode(np.asfortranarray(mask))
        images.append({"id": i + 1, "file_name": name, "height": h, "width": w})
        annotations.append(
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1 + i % 3,
                "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")},
                "area": float(mask.sum()),
                "bbox": mask_api.toBbox(rle).tolist(),
                "iscrowd": 0,
            }
        )
    categories = [{"id": k, "name": name} for k, name in ((1, "cell"), (2, "debris"), (3, "nucleus"))]
    coco.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return coco


# --------------------------------------------------------------------------- the cases (run in a worker)


def open_folder(folder: Path, coco: Path) -> int:
    from sam2_widget.dataset_source import DatasetSource

    return len(DatasetSource.from_folder(folder))


def open_coco(folder: Path, coco: Path) -> int:
    from sam2_widget.dataset import open_dataset

    data = open_dataset(folder, coco)
    return data.annotations.report.loaded


def open_and_check(folder: Path, coco: Path) -> int:
    from sam2_widget.dataset import open_dataset

    data = open_dataset(folder, coco)
    return data.annotations.check().loaded


def open_and_export(folder: Path, coco: Path) -> int:
    """Open, edit every 100th image's mask (one row more) and stream the COCO file out."""
    from sam2_widget.coco_export import write_coco
    from sam2_widget.dataset import open_dataset

    ann = open_dataset(folder, coco).annotations
    current = {}
    for i in range(0, len(ann), 100):
        [obj] = ann.objects(i)
        mask = obj.mask(IMAGE_HW)
        mask[mask.any(axis=1).argmax() - 1] |= mask.any(axis=0)
        current[i] = {obj.obj_id: (obj.category, mask)}
    with tempfile.TemporaryDirectory() as out:
        write_coco(Path(out) / "reviewed.json", ann, current)
    return len(current)


LOOK_S = float(os.environ.get("BENCH_LOOK_S", 5.0))  # a person's look at an image before the next key press
_MODEL = []


def model():
    """SAM 2.1 tiny, random weights, 1024 px, on the CPU (built once per process)."""
    if not _MODEL:
        from tests.models import tiny_model

        _MODEL.append(tiny_model(1024, device="cpu"))
    return _MODEL[0]


def open_widget(folder: Path, coco: Path) -> int:
    from sam2_widget import Sam2Widget

    w = Sam2Widget(folder, model=model(), annotations=coco)
    count = w.image_count
    w.close()
    return count


def ready_after_next(folder: Path, coco: Path, background: bool) -> int:
    """Median ms from a goto to the next image to its embedding being ready (see the module)."""
    from sam2_widget import Sam2Widget
    from sam2_widget.image_widget import Sam2ImageWidget

    Sam2ImageWidget._prefetch = background
    w = Sam2Widget(folder, model=model(), annotations=coco)
    w.send = lambda content, buffers=None: None
    times = []
    for step in range(1, 6):
        w.wait_idle(120)
        time.sleep(LOOK_S)
        start = time.perf_counter()
        goto = {"type": "goto", "seq": step, "index": step}  # the arrow key's message, as the comm delivers it
        w._handle_msg({"content": {"data": {"method": "custom", "content": goto}}, "buffers": []})
        while step not in w._cache:
            time.sleep(0.002)
        times.append(time.perf_counter() - start)
    w.close()
    return round(float(np.median(times)) * 1000)


CASES: dict[str, Callable[[Path, Path], int]] = {
    "folder": open_folder,
    "coco": open_coco,
    "coco+check": open_and_check,
    "coco+export": open_and_export,
    "widget": open_widget,
    "next": lambda folder, coco: ready_after_next(folder, coco, background=False),
    "next+bg": lambda folder, coco: ready_after_next(folder, coco, background=True),
}
NEEDS_MODEL = ("widget", "next", "next+bg")
ONCE = ("next", "next+bg")  # timed inside: no warm repeats


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def worker(case: str, folder: Path, coco: Path, repeats: int) -> dict:
    import sam2_widget.dataset  # noqa: F401  (imports, torch included, are not what is measured)

    if case in NEEDS_MODEL:
        model()
    if case in ONCE:
        repeats = 0
    base = rss_mb()
    start = time.perf_counter()
    count = CASES[case](folder, coco)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        CASES[case](folder, coco)
        warm.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"count": count, "cold_s": cold, "warm_s": min(warm, default=cold), "base_mb": base, "added_mb": peak - base}


# --------------------------------------------------------------------------- the table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--look-s", type=float, default=LOOK_S, help="seconds spent on each image (next cases)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["BENCH_LOOK_S"] = str(args.look_s)  # the workers read it
    if args.worker:
        case, folder, coco = args.worker
        print(json.dumps(worker(case, Path(folder), Path(coco), args.repeats)))
        return
    print(f"{'images':>7} {'case':<12} {'cold':>8} {'warm':>8} {'RSS base':>9} {'RSS added':>10}  labels")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"set_{n}"
            start = time.perf_counter()
            coco = make_set(folder, n)
            print(f"  (made {n} images and their COCO file in {time.perf_counter() - start:.1f} s)", file=sys.stderr)
            for case in args.cases:
                cmd = [sys.executable, __file__, "--worker", case, str(folder), str(coco)]
                cmd += ["--repeats", str(args.repeats)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                print(
                    f"{n:>7} {case:<12} {r['cold_s'] * 1000:>6.0f}ms {r['warm_s'] * 1000:>6.0f}ms "
                    f"{r['base_mb']:>7.0f}MB {r['added_mb']:>8.1f}MB  {r['count']}"
                )


if __name__ == "__main__":
    main()
