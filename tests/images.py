"""The synthetic test image: flat shapes on a noisy background, the same for a given seed."""

from __future__ import annotations

import numpy as np


def synthetic_image(h: int = 180, w: int = 240, seed: int = 0) -> np.ndarray:
    """An RGB uint8 image with a red disk, a green square and a blue bar on a noisy background."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    img[(yy - h * 0.4) ** 2 + (xx - w * 0.3) ** 2 < (h * 0.2) ** 2] = (220, 40, 40)
    img[int(h * 0.55) : int(h * 0.9), int(w * 0.55) : int(w * 0.9)] = (40, 200, 60)
    img[int(h * 0.1) : int(h * 0.3), int(w * 0.6) : int(w * 0.95)] = (50, 80, 230)
    return img
