"""A reviewed COCO data set written back with its ids: the input document with the review's
changes (``label_changes``) applied.

* ``images``, ``categories``, ``info``, ``licenses`` and every other top-level field are the
  input's (a category name the review introduced is appended with a new id);
* an unchanged annotation is written as it was read (``segmentation="keep"``, the default:
  polygons stay polygons) or with its mask as compressed RLE (``segmentation="rle"``);
* an edited one keeps its ``id`` and other fields and gets the new ``segmentation`` (compressed
  RLE), ``area``, ``bbox`` and, if re-categorised, ``category_id``;
* a deleted one is gone; a new mask gets a fresh id above the file's largest;
* an annotation that did not load (see the ``LoadReport``) is written as it was read: the
  review never saw it, so it cannot have judged it;
* an image of the set that the file does not list gets an entry (a fresh id, its name as
  ``file_name``, its size) if the review gave it labels;
* with ``review``, each image entry of the set gets ``review_status`` (and ``review_note``).

:func:`write_coco` streams: one annotation is encoded at a time, and only the images in
``current`` are decoded (to compare), so a 10,000-image file needs no whole-set array.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sam2_backend import coco
from sam2_backend.rle import rle_area_and_box

from .coco_import import CocoAnnotations
from .label_changes import Change, Changes, CurrentLabels, ImageChanges, image_changes
from .review import ReviewState

SEGMENTATIONS = ("keep", "rle")


class CocoExport:
    """The export of ``annotations`` after a review: compare once, write as a dict or a file.

    Args:
        annotations: what the review started from.
        current: ``{image index: {obj_id: (category name, mask)}}`` of the images the review
            touched (see ``label_changes``); images left out are unchanged.
        review: statuses and notes to write into the image entries, if given.
        segmentation: ``"keep"`` or ``"rle"``, for unchanged annotations (see the module).
    """

    def __init__(
        self,
        annotations: CocoAnnotations,
        current: CurrentLabels,
        review: ReviewState | None = None,
        segmentation: str = "keep",
    ) -> None:
        if segmentation not in SEGMENTATIONS:
            raise ValueError(f"segmentation must be one of {SEGMENTATIONS}, got {segmentation!r}")
        self.annotations = annotations
        self.review = review
        self.segmentation = segmentation
        doc = annotations.document
        self._per_image: dict[int, ImageChanges] = {
            i: image_changes(annotations, i, current[i], annotations.image_names[i], annotations.size(i))
            for i in sorted(current)
        }
        # Images of the set that the file does not list get an entry if the review labelled them.
        image_ids = [e.get("id") for e in doc.get("images") or [] if isinstance(e, dict)]
        next_image_id = max((i for i in image_ids if _is_int(i)), default=0) + 1
        self._new_images: dict[int, dict] = {}
        for i, c in self._per_image.items():
            if i not in annotations.coco_image and c.added:
                h, w = c.hw
                name = annotations.image_names[i]
                self._new_images[i] = coco.image_entry(next_image_id, h, w, {"file_name": name})
                next_image_id += 1
        self._categories = [dict(c) for c in doc.get("categories") or []]
        self._category_id: dict[str, Any] = {}
        for c in self._categories:
            self._category_id.setdefault(str(c.get("name", c.get("id"))), c.get("id"))
        ids = [a.get("id") for a in doc.get("annotations") or [] if isinstance(a, dict)]
        self._next_id = max((i for i in ids if _is_int(i)), default=0) + 1
        self._fate: dict[int, Change | None] = {}  # obj_id -> its edit, or None if deleted
        for c in self._per_image.values():
            self._fate.update({ch.obj_id: None for ch in c.deleted})
            self._fate.update({ch.obj_id: ch for ch in c.edited})
        self._decoded: tuple[int | None, dict] = (None, {})  # the last image "rle" decoded
        self._added = [(i, ch, self._new_id()) for i, c in self._per_image.items() for ch in c.added]
        for c in self._per_image.values():
            for ch in c.added + c.edited:
                self.category_id(ch.category)  # new categories known before anything is written

    def changes(self) -> Changes:
        """What the review changed, per image."""
        return Changes(list(self._per_image.values()))

    def category_id(self, name: str) -> Any:
        """The input's id of category ``name``, or a new one (appended to the categories)."""
        if name not in self._category_id:
            used = [c.get("id") for c in self._categories if isinstance(c.get("id"), int)]
            new = max(used, default=0) + 1
            self._categories.append({"id": new, "name": name})
            self._category_id[name] = new
        return self._category_id[name]

    def to_dict(self) -> dict:
        """The whole document (masks as RLE strings, no arrays)."""
        return {key: list(value) if isinstance(value, Iterator) else value for key, value in self._fields()}

    def write(self, path: str | os.PathLike) -> Path:
        """Write the document as JSON to ``path``, one image entry and annotation at a time."""
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("{")
            for k, (key, value) in enumerate(self._fields()):
                f.write(("," if k else "") + json.dumps(key) + ":")
                if isinstance(value, Iterator):
                    f.write("[")
                    for j, item in enumerate(value):
                        f.write(("," if j else "") + json.dumps(item))
                    f.write("]")
                else:
                    f.write(json.dumps(value))
            f.write("}")
        os.replace(tmp, path)  # a failed write leaves no half file under the name
        return path

    def _fields(self) -> Iterator[tuple[str, Any]]:
        doc = self.annotations.document
        for key, value in doc.items():
            if key == "images":
                yield key, self._images()
            elif key == "annotations":
                yield key, self._annotations()
            elif key == "categories":
                yield key, self._categories
            else:
                yield key, value
        if "annotations" not in doc:
            yield "annotations", self._annotations()
        if "categories" not in doc and self._categories:
            yield "categories", self._categories

    def _images(self) -> Iterator[dict]:
        index_of = self.annotations.index_of
        for e in self.annotations.document.get("images") or []:
            index = index_of.get(e.get("id")) if isinstance(e, dict) else None
            yield e if index is None else self._with_review(e, index)
        for index, e in self._new_images.items():
            yield self._with_review(e, index)

    def _with_review(self, entry: dict, index: int) -> dict:
        if self.review is None:
            return entry
        extra = {"review_status": self.review.status(index)}
        note = self.review.note(index)
        if note:
            extra["review_note"] = note
        return {**entry, **extra}

    def _annotations(self) -> Iterator[dict]:
        ann = self.annotations
        for k, record in enumerate(ann.document.get("annotations") or []):
            obj_id = k + 1
            if obj_id in self._fate:
                change = self._fate[obj_id]
                if change is not None:
                    yield self._edited(record, change)
                continue
            index = ann.image_of_object.get(obj_id)
            if self.segmentation == "keep" or index is None:
                yield record
            else:
                yield self._as_rle(record, index, obj_id)
        for index, change, ann_id in self._added:
            image = ann.coco_image.get(index) or self._new_images[index]
            h, w = ann.size(index)
            new = {"id": ann_id, "image_id": image["id"], "category_id": self.category_id(change.category)}
            yield {**new, **_mask_fields(change.runs, h, w), "iscrowd": 0}

    def _edited(self, record: Mapping[str, Any], change: Change) -> dict:
        index = self.annotations.image_of_object[change.obj_id]
        h, w = self.annotations.size(index)
        out = {**record, **_mask_fields(change.runs, h, w)}
        if change.old is not None and change.category != change.old.category:
            out["category_id"] = self.category_id(change.category)
        return out

    def _as_rle(self, record: Mapping[str, Any], index: int, obj_id: int) -> Mapping[str, Any]:
        if self._decoded[0] != index:  # an image's annotations mostly follow each other: decode it once
            self._decoded = (index, {o.obj_id: o for o in self.annotations.objects(index)})
        loaded = self._decoded[1].get(obj_id)
        if loaded is None:  # failed to decode: written as read (the report names it)
            return record
        h, w = self.annotations.size(index)
        return {**record, **_mask_fields(loaded.runs, h, w)}

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


def to_coco(
    annotations: CocoAnnotations,
    current: CurrentLabels,
    review: ReviewState | None = None,
    segmentation: str = "keep",
) -> dict:
    """The reviewed document as a dict (see :class:`CocoExport`)."""
    return CocoExport(annotations, current, review, segmentation).to_dict()


def write_coco(
    path: str | os.PathLike,
    annotations: CocoAnnotations,
    current: CurrentLabels,
    review: ReviewState | None = None,
    segmentation: str = "keep",
) -> Path:
    """Stream the reviewed document to ``path`` as JSON (see :class:`CocoExport`)."""
    return CocoExport(annotations, current, review, segmentation).write(path)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _mask_fields(runs: Any, h: int, w: int) -> dict:
    """``segmentation`` (compressed RLE), ``area`` and ``bbox`` as pycocotools computes them."""
    area, box = rle_area_and_box(runs, w)
    x0, y0, x1, y1 = box or (0, 0, 0, 0)  # an empty label, kept as it was loaded
    return {
        "segmentation": coco.segmentation(runs, h, w),
        "area": float(area),
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
    }
