"""COCO export of run-length masks (``sam2_backend.rle``), shared by image sets and video clips.

A COCO document is ``{"images", "annotations", "categories"}``. Every annotation holds
``segmentation`` as COCO compressed RLE (``counts`` a str, so the document is JSON-ready and
``pycocotools.mask.decode`` reads it), ``bbox`` (XYWH) and ``area`` with the values
pycocotools computes (read from the runs, without decoding), ``obj_id`` and ``iscrowd`` 0.
What differs between image sets and clips (ids, scores, video fields) is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .rle import decode_mask, rle_area_and_box

__all__ = ["Categories", "annotation", "image_entry", "segmentation"]


class Categories:
    """COCO categories by name, numbered 1, 2, ... in the order names are first used."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def id_of(self, name: Any) -> int:
        """The category id of ``name`` (a new one if it is the first use)."""
        return self._ids.setdefault(str(name), len(self._ids) + 1)

    def to_list(self) -> list[dict]:
        """``[{"id": 1, "name": ...}, ...]`` in id order."""
        return [{"id": cid, "name": name} for name, cid in self._ids.items()]


def segmentation(runs: np.ndarray, height: int, width: int) -> dict:
    """A run-length mask as COCO compressed RLE ``{"size": [H, W], "counts": str}``."""
    from pycocotools import mask as mask_api

    mask = decode_mask(runs, height, width)
    rle = mask_api.encode(np.asfortranarray(mask.view(np.uint8)))
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def image_entry(image_id: int, height: int, width: int, extra: Mapping[str, Any] | None = None) -> dict:
    """A COCO image record: ``id``, the caller's ``extra`` fields (``file_name``, ...), ``width``, ``height``."""
    return {"id": image_id, **(extra or {}), "width": width, "height": height}


def annotation(
    ann_id: int,
    image_id: int,
    category_id: int,
    obj_id: int,
    runs: np.ndarray,
    height: int,
    width: int,
    score: float,
    *,
    include_empty: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict | None:
    """The COCO annotation of one mask given as run lengths; ``None`` for an empty mask.

    An empty mask is kept with ``include_empty`` (area 0, bbox ``[0, 0, 0, 0]``). ``extra``
    fields (a clip's ``video_id``, ``frame_index``, ...) follow the standard ones.
    """
    area, box = rle_area_and_box(runs, width)
    if box is None and not include_empty:
        return None
    x0, y0, x1, y1 = box if box is not None else (0, 0, 0, 0)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "obj_id": obj_id,
        "segmentation": segmentation(runs, height, width),
        "area": float(area),
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        "iscrowd": 0,
        "score": score,
        **(extra or {}),
    }
