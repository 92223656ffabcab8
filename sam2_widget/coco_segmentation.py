"""COCO ``segmentation`` values: checked cheaply when a file is opened, decoded when shown.

Three forms: polygons (a list of ``[x0, y0, x1, y1, ...]`` rings), uncompressed RLE
(``{"size": [H, W], "counts": [ints]}``) and compressed RLE (``counts`` a string). Both RLEs
count column-major runs, starting with background. Polygons are rasterised by pycocotools
itself (its rasteriser defines what a COCO polygon covers). RLE counts are decoded here:
pycocotools' decoder trusts the counts to cover exactly H x W pixels and writes past its
buffer when they do not, so the sum is checked first; the string form is its LEB128-like
code, undone with numpy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class SegmentationError(ValueError):
    """A segmentation that cannot be used; ``kind`` is a ``load_report.KINDS`` key."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_segmentation(seg: Any, hw: tuple[int, int] | None) -> None:
    """Raise :class:`SegmentationError` for what is wrong without decoding (``hw``: the image's
    ``(H, W)`` if known). A compressed RLE's counts are only checked when decoded."""
    if isinstance(seg, list):
        _check_polygons(seg)
        return
    if not (isinstance(seg, dict) and "counts" in seg and "size" in seg):
        raise SegmentationError("segmentation", f"segmentation is neither polygons nor RLE: {str(seg)[:80]}")
    size = seg["size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_int(v) and v >= 0 for v in size)):
        raise SegmentationError("rle", f"RLE size {size!r} is not [height, width]")
    if hw is not None and tuple(size) != tuple(hw):
        raise SegmentationError("rle_size", f"RLE of size {list(size)}, its image is {hw[0]}x{hw[1]} (HxW)")
    counts = seg["counts"]
    if isinstance(counts, list):
        if not all(_is_int(c) and c >= 0 for c in counts):
            raise SegmentationError("rle", "RLE counts must be non-negative integers")
        if sum(counts) != size[0] * size[1]:
            raise SegmentationError(
                "rle", f"RLE counts cover {sum(counts)} pixels, its size {size} has {size[0] * size[1]}"
            )
    elif not isinstance(counts, (str, bytes)):
        raise SegmentationError("rle", f"RLE counts must be a list or a string, got {type(counts).__name__}")


def decode_segmentation(seg: Any, height: int, width: int) -> np.ndarray:
    """The ``(H, W)`` bool mask of a segmentation that passed :func:`check_segmentation`."""
    if isinstance(seg, list):
        from pycocotools import mask as mask_api

        rings = [[float(v) for v in ring] for ring in seg]
        rle = mask_api.merge(mask_api.frPyObjects(rings, height, width))
        return mask_api.decode(rle).astype(bool)
    counts = seg["counts"]
    runs = string_counts(counts) if isinstance(counts, (str, bytes)) else np.asarray(counts, dtype=np.int64)
    h, w = seg["size"]
    if (h, w) != (height, width):
        raise SegmentationError("rle_size", f"RLE of size {[h, w]}, its image is {height}x{width} (HxW)")
    if (runs < 0).any() or int(runs.sum()) != h * w:
        raise SegmentationError("rle", f"RLE counts cover {int(runs.sum())} pixels (some negative?), expected {h * w}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    return np.repeat(values, runs).reshape(w, h).T  # column-major runs


def string_counts(counts: str | bytes) -> np.ndarray:
    """The run lengths of a compressed RLE string (pycocotools' ``rleFrString``), as int64.

    Each count is written in 5-bit groups, least significant first, as characters from 48
    (``"0"``) on; 0x20 marks "more groups follow" and 0x10 in the last group the sign. From
    the fourth count on, each is stored as its difference from the count two before.
    """
    data = np.frombuffer(counts.encode("ascii") if isinstance(counts, str) else counts, dtype=np.uint8)
    if data.size == 0:
        return np.zeros(0, dtype=np.int64)
    c = data.astype(np.int64) - 48
    if (c < 0).any() or (c > 63).any():
        raise SegmentationError("rle", "RLE counts string has characters outside '0'..'o'")
    last = (c & 0x20) == 0  # the last group of each count
    if not last[-1]:
        raise SegmentationError("rle", "RLE counts string ends inside a count")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.repeat(np.arange(len(ends)), ends - starts + 1)
    shift = 5 * (np.arange(len(c)) - starts[group])
    if shift.max(initial=0) > 35:  # 8 groups: 40 bits, far more than any image's pixels
        raise SegmentationError("rle", "RLE counts string has a count too large to be real")
    values = np.bincount(group, weights=(c & 0x1F) << shift, minlength=len(ends)).astype(np.int64)
    negative = (c[ends] & 0x10) != 0
    values[negative] -= np.int64(1) << (5 * (ends - starts + 1))[negative]
    out = values.copy()
    if len(out) > 3:  # count m >= 3 adds count m - 2: separate running sums over odd and even m
        out[3::2] = np.cumsum(values[3::2]) + values[1]
    if len(out) > 4:
        out[4::2] = np.cumsum(values[4::2]) + values[2]
    return out


def _check_polygons(rings: list) -> None:
    if not rings:
        raise SegmentationError("polygon", "polygon segmentation with no polygon")
    for k, ring in enumerate(rings):
        if not isinstance(ring, (list, tuple)) or not all(_is_number(v) for v in ring):
            raise SegmentationError("polygon", f"polygon {k} is not a list of numbers")
        if len(ring) < 6 or len(ring) % 2:
            raise SegmentationError(
                "polygon", f"polygon {k} has {len(ring)} coordinates; a polygon needs 3 or more (x, y) points"
            )


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)
