"""A constant-velocity Kalman filter on a box (centre x, centre y, aspect w/h, height).

The filter SAMURAI puts on the object's box (the SORT / DeepSORT model): noise
proportional to the box height, velocities unobserved at the start. Written here from
the model's equations, in float64 numpy, one object per filter.
"""

from __future__ import annotations

import numpy as np
import torch

# Noise per unit of box height, for positions and for velocities (SORT's values).
POSITION_NOISE = 1.0 / 20
VELOCITY_NOISE = 1.0 / 160

_TRANSITION = np.eye(8) + np.eye(8, k=4)  # position += velocity, once per frame
_OBSERVE = np.eye(4, 8)


def xyah(box: tuple[float, float, float, float]) -> np.ndarray:
    """(x0, y0, x1, y1) as (centre x, centre y, w / h, h); a zero height counts as 1."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    h = h if h != 0 else 1
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / h, h], dtype=np.float64)


def corners(state: np.ndarray) -> tuple[float, float, float, float]:
    """(centre x, centre y, aspect, h) as (x0, y0, x1, y1)."""
    cx, cy, a, h = (float(v) for v in state[:4])
    return cx - a * h / 2, cy - h / 2, cx + a * h / 2, cy + h / 2


def mask_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """Box of a mask's positive logits, as (x_min, y_min, x_max, y_max) pixel indices (inclusive);
    (0, 0, 0, 0) for an empty mask."""
    rows = torch.nonzero(torch.any(mask > 0, dim=1)).flatten()
    cols = torch.nonzero(torch.any(mask > 0, dim=0)).flatten()
    if rows.numel() == 0:
        return (0, 0, 0, 0)
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two (x0, y0, x1, y1) boxes by their corner coordinates; an empty box (all zeros) scores 0."""
    if tuple(b) == (0, 0, 0, 0):
        return 0.0
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union != 0 else 0.0


class BoxFilter:
    """Mean (8,) and covariance (8, 8) of one object's box and its velocity."""

    def __init__(self, box: tuple[float, float, float, float]) -> None:
        z = xyah(box)
        h = z[3]
        self.mean = np.concatenate([z, np.zeros(4)])
        std = [2 * POSITION_NOISE * h] * 2 + [1e-2, 2 * POSITION_NOISE * h]
        std += [10 * VELOCITY_NOISE * h] * 2 + [1e-5, 10 * VELOCITY_NOISE * h]
        self.cov = np.diag(np.square(std))

    def predict(self) -> None:
        """Advance one frame."""
        h = self.mean[3]
        std = [POSITION_NOISE * h] * 2 + [1e-2, POSITION_NOISE * h]
        std += [VELOCITY_NOISE * h] * 2 + [1e-5, VELOCITY_NOISE * h]
        self.mean = _TRANSITION @ self.mean
        self.cov = _TRANSITION @ self.cov @ _TRANSITION.T + np.diag(np.square(std))

    def update(self, box: tuple[float, float, float, float]) -> None:
        """Correct with an observed box."""
        h = self.mean[3]
        noise = np.diag(np.square([POSITION_NOISE * h, POSITION_NOISE * h, 1e-1, POSITION_NOISE * h]))
        innovation_cov = _OBSERVE @ self.cov @ _OBSERVE.T + noise
        gain = np.linalg.solve(innovation_cov, _OBSERVE @ self.cov).T  # (8, 4); the covariances are symmetric
        self.mean = self.mean + gain @ (xyah(box) - _OBSERVE @ self.mean)
        self.cov = self.cov - gain @ innovation_cov @ gain.T

    def predicted_box(self) -> tuple[float, float, float, float]:
        return corners(self.mean)
