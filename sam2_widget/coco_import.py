"""Existing labels from a COCO file or dict: every annotation an object on its image.

Opening checks each annotation without decoding it (its image, category and the shape of
its segmentation); masks are decoded per image when that image is asked for. Each
annotation becomes its own object, named after its category; object ids are the
annotations' positions in the file, 1-based (unique, stable, small enough for a label map).
The document is kept as read: the export (``coco_export``) writes it back with its ids.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .annotations import Annotations, LoadedObject, frozen_runs
from .coco_segmentation import SegmentationError, check_segmentation, decode_segmentation
from .dataset_source import load_coco
from .load_report import LoadReport, Problem


@dataclass(frozen=True)
class _Entry:
    """An annotation that passed the checks, not decoded yet."""

    obj_id: int
    category: str
    record: Mapping[str, Any]


class CocoAnnotations(Annotations):
    """The annotations of a COCO document, matched to the images of a set.

    Args:
        coco: the document, or the path of its JSON file.
        image_names: the set's image names, in order.
        size_of: ``index -> (H, W)`` of an image, asked only for a COCO image without
            ``height`` and ``width``, when it is decoded.
        match: how COCO images find theirs: ``"order"`` (the set *is* the file's images, in
            order: ``DatasetSource.from_coco``, or a lazy sequence of as many items) or
            ``"name"`` (by ``file_name``: the same relative path, else the same base name).
        title: what the report calls the labels (default: the path, or "COCO dict").
    """

    kind = "coco"

    def __init__(
        self,
        coco: str | os.PathLike | dict,
        image_names: Sequence[str],
        size_of: Callable[[int], tuple[int, int]],
        match: str = "name",
        title: str | None = None,
    ) -> None:
        self.document = load_coco(coco)
        report = LoadReport(title or (f"COCO {coco}" if not isinstance(coco, dict) else "COCO dict"))
        super().__init__(len(image_names), report)
        self.image_names = image_names
        self._size_of = size_of
        images = [e for e in self.document.get("images") or [] if isinstance(e, dict)]
        self.index_of = _match_images(images, image_names, match)  # COCO image id -> set index
        self.coco_image = {self.index_of[e["id"]]: e for e in images if e.get("id") in self.index_of}
        self._sizes = {i: _size_of_entry(e) for i, e in self.coco_image.items()}
        cats = [c for c in self.document.get("categories") or [] if isinstance(c, dict) and "id" in c]
        self.category_of = {c["id"]: str(c.get("name", c["id"])) for c in cats}
        known_ids = {e.get("id") for e in images}
        self._entries: dict[int, list[_Entry]] = {}
        self.image_of_object: dict[int, int] = {}  # obj_id -> set index, of the annotations that loaded
        self._max_obj_id = 0
        for k, ann in enumerate(self.document.get("annotations") or []):
            entry = self._accept(k + 1, ann, known_ids)
            if entry is not None:
                index = self.index_of[ann["image_id"]]
                self._entries.setdefault(index, []).append(entry)
                self.image_of_object[entry.obj_id] = index
                report.count_loaded(1)
            self._max_obj_id = k + 1
        unmatched = len(images) - len(self.index_of)
        if unmatched:
            report.notes.append(f"{unmatched} of the file's {len(images)} images are not among the images given")

    def _accept(self, obj_id: int, ann: Any, known_ids: set) -> _Entry | None:
        """The annotation's entry, or ``None`` with its problem reported."""
        if not isinstance(ann, dict):
            self.report.add(Problem("segmentation", f"annotation {obj_id} is no object: {str(ann)[:80]}"))
            return None
        label = ann.get("id", f"#{obj_id}")
        image_id = ann.get("image_id")
        if not isinstance(image_id, Hashable) or image_id not in known_ids:
            self.report.add(Problem("no_image", f"image_id {image_id!r} is not in the file's images", label=label))
            return None
        index = self.index_of.get(image_id)
        if index is None:
            self.report.add(Problem("unmatched_image", f"its image {image_id!r} is not among the images", label=label))
            return None
        if self.category_of:
            category = self.category_of.get(ann.get("category_id"))
            if category is None:
                message = f"category_id {ann.get('category_id')!r} is not in categories"
                self.report.add(Problem("category", message, index, label))
                return None
        else:  # a file without categories (SA-1B's): the id, if any, names it
            category = "object" if ann.get("category_id") is None else f"category {ann['category_id']}"
        try:
            check_segmentation(ann.get("segmentation"), self._coco_size(index))
        except SegmentationError as e:
            self.report.add(Problem(e.kind, str(e), index, label))
            return None
        return _Entry(obj_id, category, ann)

    def _coco_size(self, index: int) -> tuple[int, int] | None:
        return self._sizes.get(index)

    def size(self, index: int) -> tuple[int, int]:
        """``(H, W)`` of image ``index``: the file's ``height`` and ``width``, else the image's."""
        return self._coco_size(index) or tuple(self._size_of(index))

    def objects(self, index: int) -> list[LoadedObject]:
        index = self._index(index)
        entries = self._entries.get(index, [])
        if not entries:
            return []
        h, w = self.size(index)
        out = []
        for e in entries:
            try:
                runs = frozen_runs(decode_segmentation(e.record["segmentation"], h, w))
            except SegmentationError as err:
                self.report.add(Problem(err.kind, str(err), index, e.record.get("id")), counted=True)
                continue
            out.append(LoadedObject(e.obj_id, e.category, runs, e.record))
        return out

    def mask_count(self, index: int) -> int | None:
        return len(self._entries.get(self._index(index), []))

    def categories(self, index: int) -> list[str] | None:
        return list(dict.fromkeys(e.category for e in self._entries.get(self._index(index), [])))

    @property
    def category_names(self) -> list[str]:
        if self.category_of:
            return list(dict.fromkeys(self.category_of.values()))
        return list(dict.fromkeys(e.category for es in self._entries.values() for e in es))

    @property
    def max_obj_id(self) -> int | None:
        return self._max_obj_id


def _size_of_entry(e: Mapping[str, Any]) -> tuple[int, int] | None:
    h, w = e.get("height"), e.get("width")
    return (h, w) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None


def _match_images(images: list[dict], names: Sequence[str], match: str) -> dict[Any, int]:
    """``{COCO image id: set index}``; COCO images with no image in the set are left out."""
    if match == "order":
        if len(images) != len(names):
            raise ValueError(
                f"the COCO file has {len(images)} images and the set {len(names)}: matching by order needs "
                "as many; pass the images as files (matched by file_name) or the file's own image list."
            )
        return {e.get("id"): i for i, e in enumerate(images)}
    if match != "name":
        raise ValueError(f"match must be 'order' or 'name', got {match!r}")
    by_name = {n.replace("\\", "/"): i for i, n in enumerate(names)}
    base: dict[str, int | None] = {}
    for i, n in enumerate(names):
        b = os.path.basename(n)
        base[b] = None if b in base else i  # a base name two images share matches neither
    out = {}
    for e in images:
        name = str(e.get("file_name", "")).replace("\\", "/")
        index = by_name.get(name, base.get(os.path.basename(name)))
        if index is not None:
            out[e.get("id")] = index
    return out
