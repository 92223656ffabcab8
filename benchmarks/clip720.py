"""The 720p clip shared by bench_scrub.py and bench_widget_overhead.py.

1280x720 H.264 (yuv420p, CRF 23, a keyframe every ``gop`` frames, 30 fps) written with
PyAV: three coloured shapes (a disk, a square, a bar) moving over a textured, noisy
background, so that JPEG sizes and decode costs are those of a real frame rather than of
a flat one. :func:`shape_masks` gives the true masks of the shapes on any frame (used as
"tracked" masks where the benchmark needs overlays but not a model).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

H, W = 720, 1280
FPS = 30


def _centres(t: int) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Centres (x, y) of the disk, the square and the bar on frame t."""
    disk = (180 + (13 * t) % (W - 360), 250 + 45 * np.sin(t / 15))
    square = (W - 270 - (9 * t) % (W - 540), 450)
    bar = (640, 135 + (3 * t // 2) % 450)
    return disk, square, bar


def shape_masks(t: int) -> dict[int, np.ndarray]:
    """``{1: disk, 2: square, 3: bar}`` (H, W) bool masks on frame t."""
    (dx, dy), (sx, sy), (bx, by) = _centres(t)
    yy, xx = np.ogrid[:H, :W]
    disk = (yy - dy) ** 2 + (xx - dx) ** 2 < 85**2
    square = np.zeros((H, W), bool)
    square[int(sy) - 70 : int(sy) + 70, int(sx) - 70 : int(sx) + 70] = True
    bar = np.zeros((H, W), bool)
    bar[int(by) - 22 : int(by) + 22, int(bx) - 165 : int(bx) + 165] = True
    return {1: disk, 2: square, 3: bar}


def click_points(num_objects: int) -> list[tuple[int, list[list[float]], list[int]]]:
    """(obj_id, [[x, y]], [1]) on frame 0 for the first ``num_objects`` shapes."""
    return [(i + 1, [[float(c[0]), float(c[1])]], [1]) for i, c in enumerate(_centres(0)[:num_objects])]


def make_frame(t: int) -> np.ndarray:
    rng = np.random.default_rng(t)
    yy, xx = np.mgrid[:H, :W]
    img = np.empty((H, W, 3), np.uint8)
    img[..., 0] = (60 + 40 * np.sin(xx / 53 + t / 10)).astype(np.uint8)
    img[..., 1] = (70 + 35 * np.cos(yy / 41 - t / 13)).astype(np.uint8)
    img[..., 2] = (80 + 20 * np.sin((xx + yy) / 97)).astype(np.uint8)
    img = np.clip(img.astype(np.int16) + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
    colours = {1: (230, 50, 40), 2: (40, 200, 60), 3: (40, 90, 230)}
    for obj_id, m in shape_masks(t).items():
        img[m] = colours[obj_id]
    return img


def write_clip(path: Path, num_frames: int, gop: int = 30) -> Path:
    """``num_frames`` frames of the clip as H.264 MP4 at ``path`` (a keyframe every ``gop`` frames)."""
    import av

    path = Path(path)
    with av.open(str(path), "w") as c:
        s = c.add_stream(
            "libx264",
            rate=Fraction(FPS),
            options={"crf": "23", "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"},
        )
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for t in range(num_frames):
            for p in s.encode(av.VideoFrame.from_ndarray(make_frame(t), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def machine() -> str:
    """CPU model, logical cores, torch version and threads: the line every figure needs."""
    import os
    import platform

    import torch

    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    load = os.getloadavg()[0]
    return (
        f"CPU {model}, {os.cpu_count()} logical cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), load average {load:.1f}"
    )
