"""Existing labels of an image set, as objects per image: what a review starts from.

Three readers share the :class:`Annotations` interface: a COCO file (``coco_import``), a
folder of PNG label maps (``label_map_import``) and a mapping of masks given in Python
(:class:`MaskAnnotations`, here). Labels are listed up front and decoded per image when
asked (:meth:`Annotations.objects`), so a set of 10,000 labelled images opens without
decoding a mask; what could not be loaded is in :attr:`Annotations.report`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_backend.rle import decode_mask, encode_mask

from .checks import check_int, to_host
from .load_report import LoadReport, Problem


@dataclass(frozen=True, eq=False)
class LoadedObject:
    """One existing label on one image.

    ``runs`` is the mask as row-major run lengths (``sam2_backend.rle``, what a session's
    ``MaskEntry`` holds; read-only). ``record`` is the COCO annotation as read (``None`` for
    label maps and masks): its ``id``, ``iscrowd`` and other fields go back out on export.
    """

    obj_id: int
    category: str
    runs: np.ndarray
    record: Mapping[str, Any] | None = None

    @property
    def ann_id(self) -> Any:
        """The COCO annotation id, ``None`` if the label did not come from COCO."""
        return None if self.record is None else self.record.get("id")

    @property
    def iscrowd(self) -> int:
        return 0 if self.record is None else int(self.record.get("iscrowd", 0) or 0)

    def mask(self, hw: tuple[int, int]) -> np.ndarray:
        """The ``(H, W)`` bool mask."""
        return decode_mask(self.runs, *hw)


def frozen_runs(mask: np.ndarray) -> np.ndarray:
    """Row-major runs of a bool mask, read-only (sessions share them between undo steps)."""
    runs = encode_mask(mask)
    runs.flags.writeable = False
    return runs


class Annotations(ABC):
    """Existing labels of each image of a set (``len`` = the number of images)."""

    kind: str  # "coco", "label_maps" or "masks"

    def __init__(self, count: int, report: LoadReport) -> None:
        self._count = count
        self.report = report

    def __len__(self) -> int:
        return self._count

    @abstractmethod
    def objects(self, index: int) -> list[LoadedObject]:
        """Image ``index``'s labels, decoded now (problems found while decoding go to :attr:`report`)."""

    @abstractmethod
    def mask_count(self, index: int) -> int | None:
        """How many labels image ``index`` has, if known without decoding (``None``: not read yet)."""

    @abstractmethod
    def categories(self, index: int) -> list[str] | None:
        """The category names on image ``index`` (each once), if known without decoding."""

    @property
    @abstractmethod
    def category_names(self) -> list[str]:
        """Every category name known up front, in the source's order."""

    @property
    def max_obj_id(self) -> int | None:
        """The largest object id any image can have, if known up front (new objects go above it)."""
        return None

    def check(self) -> LoadReport:
        """Decode every image's labels, so :attr:`report` holds every problem; returns it."""
        for i in range(len(self)):
            self.objects(i)
        return self.report

    def _index(self, index: Any) -> int:
        index = check_int(index, "image index")
        if not 0 <= index < len(self):
            raise IndexError(f"image index {index} is out of range (0 to {len(self) - 1}).")
        return index


class MaskAnnotations(Annotations):
    """Labels given as ``{image index or file name: {object id: (H, W) mask}}``.

    Masks are checked against the image size and encoded when their image is asked for (the
    sizes may need an image read). An object id names one object on every image, as in the
    widget; ``names`` maps ids to category names (default: ``object <id>``).
    """

    kind = "masks"

    def __init__(
        self,
        masks: Mapping[Any, Mapping[Any, Any]],
        image_names: Sequence[str],
        size_of: Any,
        names: Mapping[int, str] | None = None,
    ) -> None:
        report = LoadReport("masks")
        super().__init__(len(image_names), report)
        self._size_of = size_of  # index -> (H, W)
        self._names = dict(names or {})
        self._given: dict[int, dict[int, Any]] = {}
        by_name = {n: i for i, n in enumerate(image_names)}
        by_stem = _unique_stems(image_names)
        for key, objects in masks.items():
            index = _image_key(key, len(image_names), by_name, by_stem)
            if index is None:
                report.add(Problem("unmatched_image", f"no image is named or numbered {key!r}", label=key))
                continue
            for obj_id, mask in objects.items():
                try:
                    oid = check_int(obj_id, "object id")
                    if oid < 1:
                        raise ValueError(f"object ids start at 1, got {oid}")
                except (TypeError, ValueError) as e:
                    report.add(Problem("mask", str(e), index, obj_id))
                    continue
                self._given.setdefault(index, {})[oid] = mask
                report.count_loaded(1)

    def objects(self, index: int) -> list[LoadedObject]:
        index = self._index(index)
        given = self._given.get(index, {})
        if not given:
            return []
        hw = tuple(self._size_of(index))
        out = []
        for obj_id, mask in given.items():
            m = np.asarray(to_host(mask))
            if m.shape != hw or not (m.dtype == bool or np.issubdtype(m.dtype, np.integer)):
                problem = Problem("mask", f"mask of shape {m.shape} and dtype {m.dtype}, image is {hw}", index, obj_id)
                self.report.add(problem, counted=True)
                continue
            out.append(LoadedObject(obj_id, self._names.get(obj_id, f"object {obj_id}"), frozen_runs(m != 0)))
        return out

    def mask_count(self, index: int) -> int | None:
        return len(self._given.get(self._index(index), {}))

    def categories(self, index: int) -> list[str] | None:
        ids = self._given.get(self._index(index), {})
        return list(dict.fromkeys(self._names.get(o, f"object {o}") for o in ids))

    @property
    def category_names(self) -> list[str]:
        ids = sorted({o for g in self._given.values() for o in g})
        return list(dict.fromkeys(self._names.get(o, f"object {o}") for o in ids))

    @property
    def max_obj_id(self) -> int | None:
        return max((o for g in self._given.values() for o in g), default=0)


def _unique_stems(names: Sequence[str]) -> dict[str, int]:
    """``{file stem: index}`` of the names whose stem is not shared with another name."""
    seen: dict[str, int] = {}
    clashes = set()
    for i, n in enumerate(names):
        stem = os.path.splitext(os.path.basename(n))[0]
        if stem in seen:
            clashes.add(stem)
        seen[stem] = i
    return {s: i for s, i in seen.items() if s not in clashes}


def _image_key(key: Any, count: int, by_name: Mapping[str, int], by_stem: Mapping[str, int]) -> int | None:
    """The image a mapping key names: an index, a file name, or a file stem."""
    if isinstance(key, str):
        return by_name.get(key, by_stem.get(os.path.splitext(os.path.basename(key))[0]))
    try:
        index = check_int(key, "image index")
    except TypeError:
        return None
    return index if 0 <= index < count else None
