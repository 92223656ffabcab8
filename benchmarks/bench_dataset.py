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

Open time is the first open in the process (cold) and the best of ``--repeats`` more (warm).
RSS: resident memory after the imports, and the peak (``ru_maxrss``) minus it.
Each case is a function in ``CASES``; a new measure (the key press to the next image being
ready, with and without background encoding) is one more entry there.

    python benchmarks/bench_dataset.py [--sizes 1000 10000] [--repeats 3] [--cases folder coco]
"""

from __future__ import annotations

import argparse
import json
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


CASES: dict[str, Callable[[Path, Path], int]] = {
    "folder": open_folder,
    "coco": open_coco,
    "coco+check": open_and_check,
    "coco+export": open_and_export,
}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def worker(case: str, folder: Path, coco: Path, repeats: int) -> dict:
    import sam2_widget.dataset  # noqa: F401  (imports, torch included, are not what is measured)

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
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
