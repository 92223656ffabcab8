"""The compact mask codec: row-major run lengths, used by video results and image sessions.

Each mask is stored as the run lengths of its *row-major* flattened pixels, alternating
background/foreground and starting with a (possibly empty) background run, as a uint32
array. Hand-written: no maintained library stores masks this way for us. Measured on
this machine (1 CPU thread, two-blob masks):

=================  ===========  ===========  ==========
codec              720p enc/dec 1080p enc/dec bytes 720p
=================  ===========  ===========  ==========
row-major RLE      0.14/0.02 ms 0.53/0.05 ms 4.2 kB
column-major RLE   0.68/0.56 ms 2.6/1.9 ms   4.2 kB
COCO compressed    0.83/1.9 ms  1.9/5.5 ms   1.2 kB
np.packbits        0.03/0.04 ms 0.07/0.09 ms 115 kB
=================  ===========  ===========  ==========

Row-major RLE is both fast (no transposed copy, decode is one ``np.repeat``) and small
(~0.5% of the raw bool mask; an empty mask is a single 4-byte run). Bit-packing is fast but
holds 1/8 of the raw size whatever the content, too much for long videos. Column-major
(COCO) order is only needed for export (``sam2_backend.coco``), where we decode and let
pycocotools encode. Boxes and areas are read from the runs without decoding.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RUN_DTYPE", "decode_mask", "encode_mask", "rle_area_and_box"]

RUN_DTYPE = np.uint32


def encode_mask(mask: np.ndarray) -> np.ndarray:
    """Run lengths of a 2-D bool mask in row-major order: ``[bg, fg, bg, fg, ...]`` (uint32).

    The first run counts background pixels and may be 0; the runs sum to ``H * W``.
    An empty mask encodes to ``[H * W]``.
    """
    flat = np.ascontiguousarray(mask).reshape(-1)
    n = flat.size
    if n >= 2**32:
        raise ValueError(f"mask of {n} pixels is too large for uint32 run lengths")
    if not flat.any():
        return np.array([n], dtype=RUN_DTYPE)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1  # first index of every new run
    bounds = np.concatenate(([0], change, [n]))
    runs = np.diff(bounds)
    if flat[0]:  # start with an empty background run
        runs = np.concatenate(([0], runs))
    return runs.astype(RUN_DTYPE)


def decode_mask(runs: np.ndarray, height: int, width: int) -> np.ndarray:
    """Inverse of :func:`encode_mask`: a new C-contiguous ``(height, width)`` bool array."""
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    if flat.size != height * width:
        raise ValueError(f"runs cover {flat.size} pixels, expected {height}x{width}={height * width}")
    return flat.reshape(height, width)


def rle_area_and_box(runs: np.ndarray, width: int) -> tuple[int, tuple[int, int, int, int] | None]:
    """Foreground pixel count and XYXY box (exclusive x1, y1) of a run-length mask, no decode.

    The box is ``None`` for an empty mask. ``(x0, y0, x1 - x0, y1 - y0)`` is exactly the
    COCO ``bbox`` (XYWH) that ``pycocotools.mask.toBbox`` gives. A foreground run that wraps
    from one row into the next touches both the last column (``W - 1``) and the first (0).
    """
    fg = runs[1::2].astype(np.int64)
    area = int(fg.sum())
    if area == 0:
        return 0, None
    ends = np.cumsum(runs, dtype=np.int64)
    first = ends[0::2][: len(fg)]  # first pixel of each foreground run
    last = ends[1::2] - 1  # last pixel of each foreground run
    keep = fg > 0
    first, last = first[keep], last[keep]
    y_first, x_first = np.divmod(first, width)
    y_last, x_last = np.divmod(last, width)
    wraps = y_last > y_first
    x0 = int(np.where(wraps, 0, x_first).min())
    x1 = int(np.where(wraps, width - 1, x_last).max()) + 1
    return area, (x0, int(y_first.min()), x1, int(y_last.max()) + 1)
