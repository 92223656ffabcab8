"""A synthetic clip for tracking tests: shapes that move, cross and leave the frame."""

from __future__ import annotations

import numpy as np

H, W = 96, 128


def disk(t: int) -> np.ndarray:
    """A disk crossing left to right; it leaves the frame in the last frames."""
    yy, xx = np.mgrid[:H, :W]
    return (yy - 40) ** 2 + (xx - (20 + 12 * t)) ** 2 < 14**2


def square(t: int) -> np.ndarray:
    """A square moving right to left, crossing the disk's path."""
    m = np.zeros((H, W), bool)
    x0 = 100 - 8 * t
    m[30:58, max(x0, 0):max(x0 + 28, 0)] = True
    return m


def bar(t: int) -> np.ndarray:
    """A bar drifting slowly down."""
    m = np.zeros((H, W), bool)
    m[70 + t // 3: 84 + t // 3, 10:60] = True
    return m


def make_clip(num_frames: int = 12, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8 frames."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 50, size=(num_frames, H, W, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t][bar(t)] = (40, 90, 230)
        frames[t][square(t)] = (40, 200, 60)
        frames[t][disk(t)] = (230, 50, 40)
    return frames
