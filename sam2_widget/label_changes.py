"""What a review did to the labels it started from: per image, the objects added, deleted and
edited (a new mask, with the IoU between old and new, or a new category).

The current labels are given per image as ``{obj_id: (category name, mask)}``, the mask as
row-major runs (``sam2_backend.rle``, what a session stores) or an ``(H, W)`` bool array;
an image left out of that mapping is untouched and is not decoded. An empty mask counts as
no object (a mask emptied by the review is a deletion), except for a label loaded empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sam2_backend.rle import decode_mask, encode_mask

from .annotations import Annotations, LoadedObject

#: ``{image index: {obj_id: (category name, mask)}}`` of the images a review changed.
CurrentLabels = Mapping[int, Mapping[int, tuple[str, np.ndarray]]]


@dataclass(frozen=True)
class Change:
    """One object added, deleted or edited. ``iou`` compares old and new masks (edits only);
    ``runs`` is the new mask (``None`` for a deletion)."""

    obj_id: int
    category: str
    old: LoadedObject | None = None  # the label it started from (None: added)
    runs: np.ndarray | None = field(default=None, repr=False)
    iou: float | None = None

    @property
    def ann_id(self) -> Any:
        return None if self.old is None else self.old.ann_id

    def describe(self) -> str:
        what = f"annotation {self.ann_id}" if self.ann_id is not None else f"object {self.obj_id}"
        same = self.old is None or self.old.category == self.category
        category = self.category if same else f"{self.old.category} -> {self.category}"
        iou = "" if self.iou is None else f", IoU {self.iou:.3f}"
        return f"{what} ({category}{iou})"


@dataclass(frozen=True)
class ImageChanges:
    """The changes on one image (``hw`` its size)."""

    index: int
    name: str
    hw: tuple[int, int]
    added: list[Change]
    deleted: list[Change]
    edited: list[Change]

    def __bool__(self) -> bool:
        return bool(self.added or self.deleted or self.edited)


class Changes:
    """Every image's changes; ``print(changes)`` lists them, :meth:`rows` gives a table."""

    def __init__(self, images: Sequence[ImageChanges]) -> None:
        self.images = [c for c in images if c]

    def counts(self) -> dict[str, int]:
        return {k: sum(len(getattr(c, k)) for c in self.images) for k in ("added", "deleted", "edited")}

    def rows(self) -> list[dict]:
        """One dict per change: image index and name, change, obj_id, annotation id, categories, IoU."""
        rows = []
        for c in self.images:
            for kind in ("added", "deleted", "edited"):
                for ch in getattr(c, kind):
                    old = None if ch.old is None else ch.old.category
                    row = {"index": c.index, "image": c.name, "change": kind, "obj_id": ch.obj_id}
                    rows.append(
                        row | {"ann_id": ch.ann_id, "category": ch.category, "old_category": old, "iou": ch.iou}
                    )
        return rows

    def __repr__(self) -> str:
        n = self.counts()
        return f"Changes({len(self.images)} images: {n['added']} added, {n['deleted']} deleted, {n['edited']} edited)"

    def __str__(self) -> str:
        lines = [repr(self)]
        for c in self.images:
            parts = [
                f"{kind} " + ", ".join(ch.describe() for ch in getattr(c, kind))
                for kind in ("edited", "deleted", "added")
                if getattr(c, kind)
            ]
            lines.append(f"  {c.name}: " + "; ".join(parts))
        return "\n".join(lines)


def image_changes(
    annotations: Annotations, index: int, current: Mapping[int, tuple[str, np.ndarray]], name: str, hw: tuple[int, int]
) -> ImageChanges:
    """Compare image ``index``'s loaded labels with ``current`` (decodes both)."""
    before = {o.obj_id: o for o in annotations.objects(index)}
    now = {}
    for obj_id, (category, mask) in current.items():
        runs = as_runs(mask, hw)
        loaded_empty = obj_id in before and not before[obj_id].runs[1::2].any()
        if runs[1::2].any() or loaded_empty:
            now[obj_id] = (category, runs)
    added = [Change(o, c, None, r) for o, (c, r) in now.items() if o not in before]
    deleted = [Change(o, old.category, old) for o, old in before.items() if o not in now]
    edited = []
    for obj_id, (category, runs) in now.items():
        old = before.get(obj_id)
        if old is None:
            continue
        same_mask = np.array_equal(old.runs, runs)
        if same_mask and category == old.category:
            continue
        iou = 1.0 if same_mask else _iou(old.runs, runs, hw)
        edited.append(Change(obj_id, category, old, runs, iou))
    return ImageChanges(index, name, hw, added, deleted, edited)


def label_changes(annotations: Annotations, current: CurrentLabels, names: Sequence[str], size_of: Any) -> Changes:
    """:class:`Changes` of every image in ``current`` (``size_of``: index -> (H, W))."""
    return Changes([image_changes(annotations, i, current[i], names[i], tuple(size_of(i))) for i in sorted(current)])


def as_runs(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Row-major runs of ``mask`` (given as runs, or as an (H, W) array)."""
    mask = np.asarray(mask)
    if mask.ndim == 1:
        if int(mask.sum(dtype=np.int64)) != hw[0] * hw[1]:
            raise ValueError(f"mask runs cover {int(mask.sum())} pixels, the image {hw[0]}x{hw[1]}")
        return mask
    if mask.shape != tuple(hw):
        raise ValueError(f"mask of shape {mask.shape}, the image is {hw}")
    return encode_mask(mask != 0)


def _iou(a: np.ndarray, b: np.ndarray, hw: tuple[int, int]) -> float:
    ma, mb = decode_mask(a, *hw), decode_mask(b, *hw)
    union = int(np.logical_or(ma, mb).sum())
    return 1.0 if union == 0 else int(np.logical_and(ma, mb).sum()) / union
