"""Image prediction: ours against the official SAM2ImagePredictor, side by side.

Both load the same random tiny weights (written once to a temporary checkpoint)
at the full 1024 input. Each variant runs in its own subprocess so its peak RSS
is its own; the variants run one after another in this one invocation and the
table prints medians and ratios to the reference's exact fp32 path.

    python benchmarks/bench_image.py [--repeats 5] [--clicks 20] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
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
# (name, implementation, options); the first is the baseline of every ratio.
VARIANTS = [
    ("reference fp32", "reference", {}),
    ("reference bf16 autocast", "reference", {"autocast": True}),
    ("ours fp32 (exact)", "ours", {}),
    ("ours bf16 autocast", "ours", {"autocast": "bf16"}),
    ("ours bf16 + compile", "ours", {"autocast": "bf16", "compile": True}),
]


def _image() -> np.ndarray:
    from tests.conftest import synthetic_image

    return synthetic_image(768, 1024, seed=7)


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(impl: str, options: dict, ckpt: str, repeats: int, clicks: int) -> dict:
    image = _image()
    point = np.array([[300.0, 280.0]])
    label = np.array([1])
    if impl == "reference":
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        from tests.reference import build_reference

        model = build_reference(MODEL)
        model.load_state_dict(torch.load(ckpt, weights_only=True)["model"])
        pred = SAM2ImagePredictor(model)
        ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if options.get("autocast") \
            else torch.inference_mode

        def set_image():
            with ctx(), torch.inference_mode():
                pred.set_image(image)

        def click():
            with ctx(), torch.inference_mode():
                return pred.predict(point_coords=point, point_labels=label)[2]
    else:
        from sam2_backend import ImagePredictor, load_model

        model = load_model(ckpt, device="cpu")
        pred = ImagePredictor(model, autocast=options.get("autocast"), compile=options.get("compile", False))

        def set_image():
            pred.set_image(image)

        def click():
            return pred.predict(points=point, labels=label).logits

    rss_loaded = _rss_mib()
    t0 = time.perf_counter()
    set_image()  # warm-up (and compilation, when asked)
    first_ms = (time.perf_counter() - t0) * 1000
    set_ms = _median_ms(set_image, repeats)
    click()
    click_ms = _median_ms(click, clicks)
    logits = np.asarray(click(), dtype=np.float32)
    return {
        "first_set_image_ms": first_ms, "set_image_ms": set_ms, "predict_ms": click_ms,
        "peak_rss_mib": _rss_mib(), "model_rss_mib": rss_loaded, "logits": logits.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="set_image runs per variant")
    parser.add_argument("--clicks", type=int, default=20, help="predict runs per variant")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.worker:
        impl, options, ckpt = json.loads(args.worker)
        print(json.dumps(worker(impl, options, ckpt, args.repeats, args.clicks)))
        return

    from tests.reference import build_reference

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = str(Path(tmp) / "random_tiny.pt")
        torch.save({"model": build_reference(MODEL).state_dict()}, ckpt)
        results = {}
        for name, impl, options in VARIANTS:
            cmd = [sys.executable, __file__, "--repeats", str(args.repeats), "--clicks",
                   str(args.clicks), "--threads", str(args.threads),
                   "--worker", json.dumps([impl, options, ckpt])]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  done: {name}", file=sys.stderr)

    base = results[VARIANTS[0][0]]
    exact = np.asarray(results["ours fp32 (exact)"]["logits"])
    print(f"SAM 2.1 tiny, random weights, 1024x1024 input, image 1024x768, {args.threads} threads, "
          f"torch {torch.__version__}")
    header = (f"{'variant':26} {'set_image ms':>13} {'ratio':>6} {'predict ms':>11} {'ratio':>6} "
              f"{'peak RSS MiB':>13} {'max |logit - exact fp32|':>25}")
    print(header)
    print("-" * len(header))
    for name, _, _ in VARIANTS:
        r = results[name]
        dev = np.abs(np.asarray(r["logits"]) - exact).max()
        print(f"{name:26} {r['set_image_ms']:13.0f} {r['set_image_ms'] / base['set_image_ms']:6.2f} "
              f"{r['predict_ms']:11.1f} {r['predict_ms'] / base['predict_ms']:6.2f} "
              f"{r['peak_rss_mib']:13.0f} {dev:25.2e}")


if __name__ == "__main__":
    main()
