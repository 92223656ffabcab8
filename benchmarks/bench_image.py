"""Image prediction: ours against the official SAM2ImagePredictor and transformers' Sam2Model.

All load the same random SAM 2.1 tiny weights at the full 1024 input (transformers' under its
parameter names, benchmarks/hf_peer.py; its logits are checked against ours before timing). Timings
come from one process in which the variants take turns (ref, ours, ref, ours,
...), so a busy machine slows them alike and the ratios stay fair; peak RSS comes
from one subprocess per variant, so each one's memory is its own. The table prints
medians and ratios to the reference's exact fp32 path; a second table compares each path of ours
with the same path of each peer (exact: fp32; fast: bf16).

Then EdgeTAM: ours against the official EdgeTAM (``edgetam-dimos``, timed in its own environment
by benchmarks/official_edgetam.py, so not interleaved) on the same random EdgeTAM weights, image
and click (``--skip-edgetam`` leaves it out).

It ends with the time to a first mask: a fresh interpreter that imports sam2_widget, loads the
local checkpoint, sets an image from its file and clicks once, for each precision of ours.

    python benchmarks/bench_image.py [--repeats 5] [--clicks 20] [--threads N] [--skip-edgetam]
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
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "sam2.1-hiera-tiny"
# (name, implementation, options); the first is the baseline of every ratio.
VARIANTS = [
    ("reference fp32", "reference", {}),
    ("reference bf16 autocast", "reference", {"autocast": True}),
    ("ours fp32 (exact)", "ours", {}),
    # A bf16 model without the fast CPU path (fp32 weights under bf16 autocast, as on CUDA).
    ("ours bf16 autocast", "ours", {"autocast": True}),
    # The fast CPU path: load_model(precision="bf16") stores the image encoder in bf16;
    # compile=True adds a compiled mask decoder (the bf16 CPU encoder stays eager).
    ("ours bf16 model", "ours", {"precision": "bf16"}),
    ("ours bf16 model + compile", "ours", {"precision": "bf16", "compile": True}),
    # transformers' Sam2Model: processor + get_image_embeddings, then a forward per click.
    ("transformers fp32", "transformers", {}),
    # Its fast path: the model cast to bf16 (see benchmarks/hf_peer.py).
    ("transformers bf16", "transformers", {"bf16": True}),
]
# Ours / peer on the same path: (path, ours, official, transformers).
PATHS = [
    ("exact (fp32)", "ours fp32 (exact)", "reference fp32", "transformers fp32"),
    ("fast (bf16)", "ours bf16 model", "reference bf16 autocast", "transformers bf16"),
    ("fast + compile", "ours bf16 model + compile", "reference bf16 autocast", "transformers bf16"),
]
# How far the peer may be from ours on the same input before its timings are not trusted.
PEER_TOLERANCE = 1e-3
POINT, LABEL = np.array([[300.0, 280.0]]), np.array([1])


def _image() -> np.ndarray:
    from tests.images import synthetic_image

    return synthetic_image(768, 1024, seed=7)


class Variant:
    """One predictor with ``set_image()`` and ``click()`` closures."""

    def __init__(self, impl: str, options: dict, ckpt: str) -> None:
        image = _image()
        self.model = None
        if impl == "transformers":
            from benchmarks.hf_peer import ImagePeer, build_image_peer

            dtype = torch.bfloat16 if options.get("bf16") else torch.float32
            self.model = build_image_peer(torch.load(ckpt, weights_only=True)["model"], dtype=dtype)
            peer = ImagePeer(self.model)

            def set_image():
                peer.set_image(image)

            def click():
                return peer.click(POINT, LABEL)
        elif impl == "reference":
            from sam2.sam2_image_predictor import SAM2ImagePredictor

            from tests.backend.reference import build_reference

            model = build_reference(MODEL)
            model.load_state_dict(torch.load(ckpt, weights_only=True)["model"])
            pred = SAM2ImagePredictor(model)

            def ctx():
                if options.get("autocast"):
                    return torch.autocast("cpu", dtype=torch.bfloat16)
                return torch.inference_mode()

            def set_image():
                with ctx(), torch.inference_mode():
                    pred.set_image(image)

            def click():
                with ctx(), torch.inference_mode():
                    return pred.predict(point_coords=POINT, point_labels=LABEL)[2]
        else:
            from sam2_backend import ImagePredictor, load_model
            from sam2_backend.modeling.sam2 import build_sam2

            model = load_model(ckpt, device="cpu", precision=options.get("precision", "auto"))
            if options.get("autocast"):
                weights = model.state_dict()
                model = build_sam2(model.config, precision="bf16").eval()
                model.load_state_dict(weights)
            self.model = model
            pred = ImagePredictor(model, compile=options.get("compile", False))

            def set_image():
                pred.set_image(image)

            def click():
                return pred.predict(points=POINT, labels=LABEL).logits

        self.set_image, self.click = set_image, click


def check_peer(ours, peer_model) -> float:
    """Max |low-res logit| difference of transformers' model from ours on the same preprocessed image
    and click (the peer's own processor resizes a little differently, so its pipeline is not used here)."""
    from benchmarks.hf_peer import image_logits
    from sam2_backend import ImagePredictor
    from sam2_backend.inputs import image_to_tensor
    from sam2_backend.transforms import preprocess

    image = _image()
    pred = ImagePredictor(ours)
    pred.set_image(image)
    expected = pred.predict(points=POINT, labels=LABEL).logits
    size, (h, w) = ours.image_size, image.shape[:2]
    pixels = preprocess(image_to_tensor(image)[None], size)
    got = image_logits(peer_model, pixels, (POINT[0, 0] / w * size, POINT[0, 1] / h * size))[0]
    return float(np.abs(got.numpy() - expected).max())


def edgetam_times(tmp: str, repeats: int, clicks: int, threads: int) -> dict:
    """impl -> (median set_image ms, median click ms) of ours and, when installed, the official EdgeTAM."""
    from benchmarks.official_edgetam import time_set_image
    from sam2_backend import ImagePredictor, build_model, get_config, load_model
    from tests.backend.edgetam_official import reference_installed

    ckpt = str(Path(tmp) / "random_edgetam.pt")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save({"model": build_model(get_config("edgetam"), device="cpu").state_dict()}, ckpt)
    pred = ImagePredictor(load_model(ckpt, device="cpu", config=get_config("edgetam")))
    image = _image()
    pred.set_image(image)  # warm-up
    sets = [_timed(lambda: pred.set_image(image)) for _ in range(repeats)]
    taps = [_timed(lambda: pred.predict(points=POINT, labels=LABEL)) for _ in range(clicks)]
    out = {"ours": (statistics.median(sets), statistics.median(taps))}
    if reference_installed():
        official = time_set_image(ckpt, runs=repeats, threads=threads)
        out["official"] = (official["set_image_ms_median"], official["predict_ms_median"])
    return out


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_worker(impl: str, options: dict, ckpt: str) -> dict:
    v = Variant(impl, options, ckpt)
    loaded = _rss_mib()
    v.set_image()
    v.click()
    return {"peak_rss_mib": _rss_mib(), "model_rss_mib": loaded}


# Run in a fresh interpreter: every phase from the first import to the first mask.
FIRST_MASK = """
import json, sys, time
t0 = time.perf_counter()
import sam2_widget  # noqa: F401 (what a notebook imports first)
from sam2_backend import ImagePredictor, load_model
t1 = time.perf_counter()
import torch
torch.set_num_threads(int(sys.argv[4]))
model = load_model(sys.argv[1], device="cpu", precision=sys.argv[3])
t2 = time.perf_counter()
pred = ImagePredictor(model)
pred.set_image(sys.argv[2])
t3 = time.perf_counter()
pred.predict(points=[[300.0, 280.0]], labels=[1])
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load_model": t2 - t1, "set_image": t3 - t2, "click": t4 - t3}))
"""


def first_mask(ckpt: str, image_path: str, precision: str, threads: int) -> dict:
    """Seconds of each phase to the first mask in a fresh interpreter, and the process's wall time."""
    start = time.perf_counter()
    cmd = [sys.executable, "-c", FIRST_MASK, ckpt, image_path, precision, str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    phases = json.loads(out.stdout.strip().splitlines()[-1])
    return {**phases, "process": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="set_image runs per variant")
    parser.add_argument("--clicks", type=int, default=20, help="predict runs per variant")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-edgetam", action="store_true", help="leave out the EdgeTAM rows")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.worker:
        impl, options, ckpt = json.loads(args.worker)
        print(json.dumps(memory_worker(impl, options, ckpt)))
        return

    from tests.backend.reference import build_reference

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = str(Path(tmp) / "random_tiny.pt")
        torch.save({"model": build_reference(MODEL).state_dict()}, ckpt)
        memory = {}
        for name, impl, options in VARIANTS:
            cmd = [
                sys.executable,
                __file__,
                "--threads",
                str(args.threads),
                "--worker",
                json.dumps([impl, options, ckpt]),
            ]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
            memory[name] = json.loads(out.stdout.strip().splitlines()[-1])
        variants = {name: Variant(impl, options, ckpt) for name, impl, options in VARIANTS}
        image_path = str(Path(tmp) / "image.png")
        Image.fromarray(_image()).save(image_path)
        to_first_mask = {p: first_mask(ckpt, image_path, p, args.threads) for p in ("fp32", "bf16")}
        edgetam = {} if args.skip_edgetam else edgetam_times(tmp, args.repeats, args.clicks, args.threads)

    peer_dev = check_peer(variants["ours fp32 (exact)"].model, variants["transformers fp32"].model)
    if peer_dev > PEER_TOLERANCE:
        raise SystemExit(f"transformers' logits differ from ours by {peer_dev:.2e} on the same input: not timed")

    # Warm-up, and compilation of the compiled variants: their first set_image and click.
    first = {name: (_timed(v.set_image), _timed(v.click)) for name, v in variants.items()}
    sets = {name: [] for name in variants}
    clicks = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, v in variants.items():
            sets[name].append(_timed(v.set_image))
    for v in variants.values():
        v.set_image()
    for _ in range(args.clicks):
        for name, v in variants.items():
            clicks[name].append(_timed(v.click))
    exact = np.asarray(variants["ours fp32 (exact)"].click(), dtype=np.float32)
    reference = np.asarray(variants["reference fp32"].click(), dtype=np.float32)

    base = VARIANTS[0][0]
    med = {name: (statistics.median(sets[name]), statistics.median(clicks[name])) for name in variants}
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(
        f"SAM 2.1 tiny, random weights, 1024x1024 input, image 1024x768; {cpu}, {args.threads} threads, "
        f"torch {torch.__version__}; medians of {args.repeats} set_image / {args.clicks} clicks, interleaved"
    )
    header = (
        f"{'variant':26} {'set_image ms':>13} {'ratio':>6} {'predict ms':>11} {'ratio':>6} "
        f"{'first set/click ms':>19} {'peak RSS MiB':>13} {'max |logit - ref fp32|':>23}"
    )
    print(header)
    print("-" * len(header))
    for name, v in variants.items():
        dev = np.abs(np.asarray(v.click(), dtype=np.float32) - reference).max()
        print(
            f"{name:26} {med[name][0]:13.0f} {med[name][0] / med[base][0]:6.2f} {med[name][1]:11.1f} "
            f"{med[name][1] / med[base][1]:6.2f} {f'{first[name][0]:.0f} / {first[name][1]:.0f}':>19} "
            f"{memory[name]['peak_rss_mib']:13.0f} "
            f"{dev:23.2e}"
        )
    print(f"ours fp32 vs reference fp32: max |logit diff| = {np.abs(exact - reference).max():.2e}")
    print(
        f"ours fp32 vs transformers fp32 on the same preprocessed input: max |logit diff| = {peer_dev:.2e} "
        f"(checked <= {PEER_TOLERANCE:g} before timing; in the table it runs its own processor)"
    )
    print("\nOurs / peer on the same path (medians above; < 1 is faster):")
    print(
        f"{'path':15} {'set_image vs official':>22} {'vs transformers':>16} "
        f"{'click vs official':>18} {'vs transformers':>16}"
    )
    for path, ours, official, hf in PATHS:
        print(
            f"{path:15} {med[ours][0] / med[official][0]:22.2f} {med[ours][0] / med[hf][0]:16.2f} "
            f"{med[ours][1] / med[official][1]:18.2f} {med[ours][1] / med[hf][1]:16.2f}"
        )
    if edgetam:
        print(
            "\nEdgeTAM, random weights, 1024 input, the same image and click (ms; the official runs in its own "
            "environment after ours, so the two are not interleaved; its click: one after each set_image):"
        )
        print(f"{'impl':10} {'set_image ms':>13} {'ratio':>6} {'predict ms':>11} {'ratio':>6}")
        official = edgetam.get("official")
        for impl in ("official", "ours"):
            if impl not in edgetam:
                print(f"{impl:10} (not installed: scripts/setup.sh puts it in .venv/edgetam-reference)")
                continue
            set_ms, click_ms = edgetam[impl]
            ratios = (set_ms / official[0], click_ms / official[1]) if official else (float("nan"),) * 2
            print(f"{impl:10} {set_ms:13.0f} {ratios[0]:6.2f} {click_ms:11.1f} {ratios[1]:6.2f}")
        sam2 = med["ours fp32 (exact)"][0]
        print(f"ours EdgeTAM set_image / ours SAM 2.1 tiny exact: {edgetam['ours'][0] / sam2:.2f}")
    print("\nTime to first mask (s), fresh interpreter, local checkpoint, image read from its file:")
    print(f"{'precision':10} {'import':>7} {'load_model':>10} {'set_image':>9} {'click':>6} {'sum':>6} {'process':>8}")
    for precision, t in to_first_mask.items():
        total = t["import"] + t["load_model"] + t["set_image"] + t["click"]
        print(
            f"{precision:10} {t['import']:7.2f} {t['load_model']:10.2f} {t['set_image']:9.2f} {t['click']:6.2f} "
            f"{total:6.2f} {t['process']:8.2f}"
        )


if __name__ == "__main__":
    main()
