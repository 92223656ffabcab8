"""Segment everything: our AutomaticMaskGenerator against the official SAM2AutomaticMaskGenerator.

Both load the same random SAM 2.1 tiny weights at a 1024 model input and generate masks for
the same 1024x768 synthetic image from a reduced grid (``--points-per-side 16`` by default:
256 points instead of the official 1024, a quarter of the decoding work on 2 cores; the
per-point work is the same, so the ratio is the one a full grid gives, less the image
encoder's share). Random weights predict low IoUs and large, similar masks, so the quality
filters are set so that a non-trivial number of masks survives (see FILTERS).

Before timing, the exact paths must agree: the same number of masks and, mask by mask in
their NMS order, IoU >= 0.99. The fast paths are ours with ``precision="bf16"`` and the
official one under bf16 autocast (as bench_image.py's fast row); their masks are compared
with the exact ones and reported, not required to match.

Runs alternate (official, ours, official, ours, ...) in one process, so load slows both alike.

    python benchmarks/bench_automask.py [--points-per-side 16] [--repeats 2] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "sam2.1-hiera-tiny"
# Random weights give every point nearly the same logits map (|logit| < 0.7): at the default
# threshold 0 every mask covers most of the image with the same box, and NMS keeps one. At 0.3
# the masks are smaller and scattered (tens to ~20k pixels); a narrow stability offset and a
# lenient NMS keep ~30 of them at 1024 with 16 points a side (32 in a trial on these weights).
FILTERS = dict(
    pred_iou_thresh=0.0,
    stability_score_thresh=0.05,
    stability_score_offset=0.01,
    mask_threshold=0.3,
    box_nms_thresh=0.9,
)
MIN_IOU = 0.99  # mask by mask, exact paths


def _image() -> np.ndarray:
    from tests.images import synthetic_image

    return synthetic_image(768, 1024, seed=7)


def official(ckpt: str, image_size: int, bf16: bool, options: dict):
    """The official generator; its ``generate`` under bf16 autocast when ``bf16``."""
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    from tests.backend.reference import build_reference

    model = build_reference(MODEL, image_size=image_size)
    model.load_state_dict(torch.load(ckpt, weights_only=True)["model"])
    amg = SAM2AutomaticMaskGenerator(model, **options)
    s = image_size  # the official predictor hard-codes the feature sizes of a 1024 input
    amg.predictor._bb_feat_sizes = [(s // 4, s // 4), (s // 8, s // 8), (s // 16, s // 16)]

    def generate(image):
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return amg.generate(image)
        return amg.generate(image)

    return generate


def ours(ckpt: str, image_size: int, bf16: bool, options: dict):
    from sam2_backend import AutomaticMaskGenerator, load_model
    from sam2_backend.configs import get_config

    config = get_config(MODEL).replace(image_size=image_size)
    model = load_model(ckpt, device="cpu", config=config, precision="bf16" if bf16 else "fp32")
    return AutomaticMaskGenerator(model, **options).generate


VARIANTS = {
    # name: (builder, bf16)
    "official fp32": (official, False),
    "ours fp32 (exact)": (ours, False),
    "official bf16 autocast": (official, True),
    "ours bf16 (fast path)": (ours, True),
}
PAIRS = [
    ("exact (fp32)", "ours fp32 (exact)", "official fp32"),
    ("fast (bf16)", "ours bf16 (fast path)", "official bf16 autocast"),
]


def match(a: list[dict], b: list[dict]) -> tuple[int, int, float]:
    """(count a, count b, smallest IoU of the masks paired in their order; 0 when the counts differ)."""
    if len(a) != len(b) or not a:
        return len(a), len(b), 0.0
    ious = []
    for x, y in zip(a, b):
        mx, my = x["segmentation"], y["segmentation"]
        union = np.logical_or(mx, my).sum()
        ious.append(np.logical_and(mx, my).sum() / union if union else 1.0)
    return len(a), len(b), float(min(ious))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points-per-side", type=int, default=16, help="grid points per side (official default 32)")
    parser.add_argument("--points-per-batch", type=int, default=64, help="points per decoder batch (default 64)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per variant, after one warm-up")
    parser.add_argument("--image-size", type=int, default=1024, help="model input size (default 1024)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    options = dict(points_per_side=args.points_per_side, points_per_batch=args.points_per_batch, **FILTERS)

    from tests.backend.reference import build_reference

    image = _image()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = str(Path(tmp) / "random_tiny.pt")
        torch.save({"model": build_reference(MODEL, image_size=args.image_size).state_dict()}, ckpt)
        generators = {name: build(ckpt, args.image_size, bf16, options) for name, (build, bf16) in VARIANTS.items()}

    load_start = os.getloadavg()
    # Warm-up, kept as each variant's masks.
    masks = {name: gen(image) for name, gen in generators.items()}
    n_ours, n_ref, iou = match(masks["ours fp32 (exact)"], masks["official fp32"])
    if n_ours != n_ref or iou < MIN_IOU or n_ours < 5:
        raise SystemExit(
            f"exact paths disagree or keep too few masks: ours {n_ours}, official {n_ref}, min IoU {iou:.4f}: not timed"
        )
    times = {name: [] for name in generators}
    for _ in range(args.repeats):
        for name, gen in generators.items():
            t0 = time.perf_counter()
            gen(image)
            times[name].append(time.perf_counter() - t0)
    load_end = os.getloadavg()

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(
        f"Segment everything, SAM 2.1 tiny, random weights, {args.image_size}x{args.image_size} input, image 1024x768; "
        f"REDUCED grid: points_per_side={args.points_per_side} ({args.points_per_side**2} points; the official "
        f"default is 32), points_per_batch={args.points_per_batch}; filters {FILTERS}"
    )
    print(
        f"{cpu}, {args.threads} threads, torch {torch.__version__}; load average {load_start[0]:.1f} at start, "
        f"{load_end[0]:.1f} at end; medians of {args.repeats} interleaved runs after a warm-up"
    )
    header = f"{'variant':24} {'median s':>9} {'min s':>7} {'masks':>6} {'masks vs exact official':>24}"
    print(header)
    print("-" * len(header))
    med = {name: statistics.median(t) for name, t in times.items()}
    for name in generators:
        a, b, iou = match(masks[name], masks["official fp32"])
        same = f"{a} vs {b}, min IoU {iou:.3f}" if a == b else f"{a} vs {b} (counts differ)"
        print(f"{name:24} {med[name]:9.2f} {min(times[name]):7.2f} {len(masks[name]):6d} {same:>24}")
    print("\nOurs / official on the same path (< 1 is faster):")
    for path, mine, theirs in PAIRS:
        print(f"{path:14} {med[mine] / med[theirs]:5.2f}  (ours {med[mine]:.2f} s, official {med[theirs]:.2f} s)")
    fast_vs_exact = med["ours bf16 (fast path)"] / med["official fp32"]
    print(f"{'fast vs official fp32':22} {fast_vs_exact:5.2f}")


if __name__ == "__main__":
    main()
