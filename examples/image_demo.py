"""Segment an image with one click and save the overlay.

    python examples/image_demo.py [IMAGE] [--model NAME_OR_PATH] [--point X Y] [--out overlay.png]

The model defaults to $SAM2_MODEL, else "sam2.1-hiera-tiny" (downloaded once from
the Hugging Face hub into its cache). Without IMAGE a generated test picture is used.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

import sam2_backend as sb


def sample_image(h: int = 480, w: int = 640) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    img = np.zeros((h, w, 3), np.uint8)
    img[...] = (30 + yy * 60 // h)[..., None]
    img[(yy - 200) ** 2 + (xx - 220) ** 2 < 110**2] = (220, 60, 50)
    img[260:420, 380:600] = (60, 180, 90)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?")
    parser.add_argument("--model", default=os.environ.get("SAM2_MODEL", "sam2.1-hiera-tiny"))
    parser.add_argument("--point", nargs=2, type=float, metavar=("X", "Y"))
    parser.add_argument("--out", default="overlay.png")
    args = parser.parse_args()

    image = np.asarray(Image.open(args.image).convert("RGB")) if args.image else sample_image()
    h, w = image.shape[:2]
    point = args.point or (w * 0.35, h * 0.42)

    model = sb.load_model(args.model)
    pred = sb.ImagePredictor(model)
    t0 = time.perf_counter()
    pred.set_image(image)
    t1 = time.perf_counter()
    masks, scores, _ = pred.predict(points=[point], labels=[1])
    t2 = time.perf_counter()
    best = masks[int(np.argmax(scores))]
    print(f"model {model.config.name} on {model.device}: embedding {1000 * (t1 - t0):.0f} ms, "
          f"click {1000 * (t2 - t1):.0f} ms, mask area {int(best.sum())} px, score {scores.max():.3f}")

    overlay = image.astype(np.float32)
    overlay[best] = 0.5 * overlay[best] + 0.5 * np.array([30, 144, 255])
    Image.fromarray(overlay.astype(np.uint8)).save(args.out)
    print(f"overlay written to {Path(args.out).resolve()}")


if __name__ == "__main__":
    main()
