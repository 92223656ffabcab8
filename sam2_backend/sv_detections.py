"""Masks as a ``supervision.Detections`` (the optional ``supervision`` extra).

One detection per non-empty mask: ``mask`` (N, H, W) bool, ``xyxy`` as supervision computes it
from a mask (``sv.mask_to_xyxy``: the last foreground column and row, *inclusive*, unlike the
exclusive COCO-style boxes of the results), ``class_id`` (0-based, by object name),
``tracker_id`` = the object id, ``confidence`` and ``data["class_name"]``. An image or frame
with no mask gives an empty ``Detections`` whose masks are still (0, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .rle import decode_mask, rle_area_and_box

__all__ = ["EXTRA_HINT", "import_supervision", "to_detections"]

EXTRA_HINT = "pip install 'sam2-widget[supervision]'"


def import_supervision() -> Any:
    """The ``supervision`` module, or an ImportError that says which extra installs it."""
    try:
        import supervision
    except ImportError as e:
        raise ImportError(f"to_supervision needs the supervision package: {EXTRA_HINT}") from e
    return supervision


def to_detections(
    height: int,
    width: int,
    objects: Sequence[tuple[int, np.ndarray, float]],
    class_of: dict[int, int],
    class_names: Sequence[str],
) -> Any:
    """``objects``: ``(obj_id, run lengths, confidence)``; ``class_of``: obj_id -> class id into ``class_names``."""
    sv = import_supervision()
    boxed = [(o, runs, c, rle_area_and_box(runs, width)[1]) for o, runs, c in objects]
    kept = [(o, runs, c) for o, runs, c, box in boxed if box is not None]  # empty masks: no detection
    boxes = [box for *_, box in boxed if box is not None]
    masks = np.zeros((len(kept), height, width), dtype=bool)
    for n, (_, runs, _) in enumerate(kept):
        masks[n] = decode_mask(runs, height, width)
    class_id = np.array([class_of[o] for o, _, _ in kept], dtype=int)
    return sv.Detections(
        xyxy=np.array([(x0, y0, x1 - 1, y1 - 1) for x0, y0, x1, y1 in boxes], dtype=np.float32).reshape(-1, 4),
        mask=masks,
        confidence=np.array([c for _, _, c in kept], dtype=np.float32),
        class_id=class_id,
        tracker_id=np.array([o for o, _, _ in kept], dtype=int),
        data={"class_name": np.array([class_names[c] for c in class_id], dtype=str)},
    )
