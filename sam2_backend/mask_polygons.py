"""A boolean mask as one polygon, the shape of an instance in YOLO segmentation labels.

* **Vertices are pixel centres** (x, y), as ``cv2.findContours`` gives them and as Ultralytics'
  own mask-to-YOLO converter writes them; filling the polygon the way YOLO readers do
  (``cv2.fillPoly``, boundary included) gives the mask back.
* **Outer boundaries only**: a YOLO line is one ring, so a hole inside an object is filled
  (as ``cv2.RETR_EXTERNAL`` does in that converter).
* **Several parts** (8-connected) are joined into one ring by zero-width bridges between
  their closest vertices, as Ultralytics' COCO converter joins multi-part segments, so that
  one object stays one instance. Readers draw a bridge as a one-pixel line.
* **Simplified** (Douglas-Peucker) within ``tolerance`` pixels; 0 only drops collinear vertices.
  Parts with fewer than 3 boundary pixels (specks) are left out.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["mask_polygon", "part_outlines"]

# The 8 neighbours, clockwise on screen (y grows downwards): E, SE, S, SW, W, NW, N, NE.
_STEPS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
_STEP_INDEX = {step: i for i, step in enumerate(_STEPS)}
_WEST = 4


def mask_polygon(mask: np.ndarray, tolerance: float = 1.0) -> np.ndarray | None:
    """The ``(K, 2)`` float (x, y) vertices of ``mask`` as one ring (see the module), ``None`` if empty."""
    parts = part_outlines(mask, tolerance)
    if not parts:
        return None
    parts.sort(key=_area, reverse=True)  # the largest part first: the others hang off it
    ring = parts[0]
    for part in parts[1:]:
        ring = _bridge(ring, part)
    return ring.astype(np.float64)


def part_outlines(mask: np.ndarray, tolerance: float = 1.0) -> list[np.ndarray]:
    """The simplified outer boundary of each 8-connected part of ``mask`` not inside another,
    ``(K, 2)`` int (x, y), K >= 3."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return []
    # The mask's bounding box with a background border, so that the tracer never leaves the array.
    y0, x0 = rows[0] - 1, cols[0] - 1
    box = np.pad(mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 1)
    # Holes filled first: a part inside another's hole is then no part of its own (filled with
    # the ring around it, by the even-odd rule of polygon fills it would make a hole again).
    # Background is 4-connected (the complement of 8-connected parts); the border is outside.
    background, _ = ndimage.label(~box)
    labels, _ = ndimage.label(background != background[0, 0], structure=np.ones((3, 3), dtype=bool))
    outlines = []
    for i, window in enumerate(ndimage.find_objects(labels), start=1):
        part = np.pad(labels[window] == i, 1)
        ring = _trace(part)
        if len(ring) < 3:
            continue
        simple = _simplify(ring, tolerance)
        ring = simple if len(simple) >= 3 else ring
        outlines.append(ring + (x0 + window[1].start - 1, y0 + window[0].start - 1))
    return outlines


def _trace(part: np.ndarray) -> np.ndarray:
    """Moore-neighbour tracing of the outer boundary of the one 8-connected part in ``part``."""
    width = part.shape[1]
    y, x = divmod(int(np.argmax(part)), width)
    start = (x, y)  # top row, leftmost pixel: its west neighbour is background
    pixels = part.tobytes()  # bytes index faster than an array, one pixel at a time
    here, back = start, _WEST  # ``back``: the step from ``here`` to a background neighbour
    ring, first_step = [start], None
    while True:
        for turn in range(1, 9):  # clockwise from the background neighbour: the first foreground one
            step = (back + turn) % 8
            dx, dy = _STEPS[step]
            if pixels[(here[1] + dy) * width + here[0] + dx]:
                break
        else:
            return np.array(ring)  # a single pixel
        if first_step is None:
            first_step = step
        elif here == start and step == first_step:
            return np.array(ring[:-1])  # back where it began, leaving the same way: closed
        nxt = (here[0] + dx, here[1] + dy)
        # The neighbour looked at just before ``nxt`` is background, and adjacent to ``nxt``.
        bx, by = _STEPS[(step - 1) % 8]
        back = _STEP_INDEX[(here[0] + bx - nxt[0], here[1] + by - nxt[1])]
        here = nxt
        ring.append(here)


def _simplify(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker on a closed ring: split at the vertex farthest from the first, simplify both halves."""
    far = int(np.argmax(((ring - ring[0]) ** 2).sum(axis=1)))
    if far == 0:
        return ring[:1]
    closed = np.concatenate([ring, ring[:1]])
    keep = np.zeros(len(closed), dtype=bool)
    keep[[0, far, len(ring)]] = True
    stack = [(0, far), (far, len(ring))]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        dist = _distances(closed[a + 1 : b], closed[a], closed[b])
        i = int(np.argmax(dist))
        if dist[i] > max(tolerance, 1e-9):  # rounding must not keep a collinear vertex
            keep[a + 1 + i] = True
            stack += [(a, a + 1 + i), (a + 1 + i, b)]
    return closed[:-1][keep[:-1]]


def _distances(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances of ``points`` to the segment ``a``-``b``."""
    ab, ap = (b - a).astype(np.float64), (points - a).astype(np.float64)
    length2 = float(ab @ ab)
    t = np.clip(ap @ ab / length2, 0.0, 1.0) if length2 else np.zeros(len(points))
    return np.hypot(*(ap - t[:, None] * ab).T)


def _area(ring: np.ndarray) -> float:
    x, y = ring.T.astype(np.float64)
    return abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1))) / 2


def _bridge(ring: np.ndarray, part: np.ndarray) -> np.ndarray:
    """``ring`` with ``part`` spliced in at their closest vertices: out along a bridge, round ``part``, back."""
    d2 = ((ring[:, None, :] - part[None, :, :]) ** 2).sum(axis=2)
    i, j = np.unravel_index(int(np.argmin(d2)), d2.shape)
    return np.concatenate([ring[: i + 1], part[j:], part[: j + 1], ring[i:]])
