"""The synthetic test clip (shapes that move, cross and leave the frame) and writing clips as video files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

H, W = 96, 128

# H.264 that decodes to the written frames bit for bit (``write_video(..., **LOSSLESS_H264)``):
# libx264rgb keeps RGB and qp 0 is lossless; plain libx264 with yuv444p at qp 0 is off by up to
# 2 levels from the colour conversion.
LOSSLESS_H264 = {"codec": "libx264rgb", "options": {"qp": "0"}, "pix_fmt": "rgb24"}


def disk(t: int) -> np.ndarray:
    """A disk crossing left to right; it leaves the frame in the last frames."""
    yy, xx = np.mgrid[:H, :W]
    return (yy - 40) ** 2 + (xx - (20 + 12 * t)) ** 2 < 14**2


def square(t: int) -> np.ndarray:
    """A square moving right to left, crossing the disk's path."""
    m = np.zeros((H, W), bool)
    x0 = 100 - 8 * t
    m[30:58, max(x0, 0) : max(x0 + 28, 0)] = True
    return m


def bar(t: int) -> np.ndarray:
    """A bar drifting slowly down."""
    m = np.zeros((H, W), bool)
    m[70 + t // 3 : 84 + t // 3, 10:60] = True
    return m


def make_clip(num_frames: int = 12, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8 frames: the bar, the square and the disk (in front) on a noisy background."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 50, size=(num_frames, H, W, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t][bar(t)] = (40, 90, 230)
        frames[t][square(t)] = (40, 200, 60)
        frames[t][disk(t)] = (230, 50, 40)
    return frames


def write_video(
    path: str | Path,
    frames: np.ndarray,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    *,
    gop: int | None = 8,
    pix_fmt: str = "yuv420p",
    faststart: bool = False,
    rotation: float | None = None,
) -> None:
    """``frames`` (T, H, W, 3 uint8) as a video file at 24 fps, encoded with ``codec`` and its ``options``.

    ``gop``: a keyframe every so many frames (None: the encoder's default). ``faststart``: an MP4's
    index goes first, so a file cut short keeps it. ``rotation``: degrees in the display matrix.
    """
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream(codec, rate=24, options={**({"g": str(gop)} if gop else {}), **(options or {})})
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if rotation is not None:
            s.set_display_rotation(rotation)
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def has_encoder(name: str) -> bool:
    """Whether PyAV's bundled FFmpeg can encode with codec ``name``."""
    try:
        av.codec.Codec(name, "w")
        return True
    except ValueError:  # av's UnknownCodecError
        return False
