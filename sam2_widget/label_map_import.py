"""Existing labels from a folder of PNG label maps (value = object id, 0 = background).

Each image takes the PNG with its file stem (``cat.jpg`` <- ``cat.png``), the files that
``ImageSetResults.save`` writes; an image without one has no labels (a note in the report,
not a problem). Opening lists the folder only; a label map is read when its image is asked
for, and one of another size than its image is reported then. A value names the same object
on every image, as in the widget; ``names`` maps values to category names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .annotations import Annotations, LoadedObject, frozen_runs
from .load_report import LoadReport, Problem


class LabelMapAnnotations(Annotations):
    """The label maps of ``folder`` matched to ``image_names`` by file stem.

    Args:
        folder: the PNG label maps.
        image_names: the set's image names, in order.
        size_of: ``index -> (H, W)`` of an image (asked when its label map is read).
        names: ``{value: category name}``; other values are named ``object <value>``.
    """

    kind = "label_maps"

    def __init__(
        self,
        folder: str | os.PathLike,
        image_names: Sequence[str],
        size_of: Callable[[int], tuple[int, int]],
        names: Mapping[int, str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise NotADirectoryError(f"label map folder not found: {self.folder}")
        report = LoadReport(f"label maps {self.folder}")
        super().__init__(len(image_names), report)
        self._size_of = size_of
        self._names = dict(names or {})
        with os.scandir(self.folder) as it:
            pngs = {Path(e.name).stem: e.name for e in it if e.name.lower().endswith(".png")}
        self._files: list[str | None] = []
        for n in image_names:
            stem = Path(n).stem
            self._files.append(pngs.pop(stem, None))
        missing = self._files.count(None)
        if missing:
            report.notes.append(f"{missing} of {len(image_names)} images have no label map (no labels)")
        if pngs:
            shown = ", ".join(sorted(pngs)[:5]) + (" ..." if len(pngs) > 5 else "")
            report.notes.append(f"{len(pngs)} label maps match no image: {shown}")
        self._counts: dict[int, list[int]] = {}  # ids found in each label map read so far

    def objects(self, index: int) -> list[LoadedObject]:
        index = self._index(index)
        name = self._files[index]
        if name is None:
            return []
        try:
            label = read_label_map(self.folder / name)
        except (OSError, ValueError) as e:
            self.report.add(Problem("label_map", f"{name}: {e}", index, name))
            return []
        hw = tuple(self._size_of(index))
        if label.shape != hw:
            message = f"{name} is {label.shape[0]}x{label.shape[1]}, its image {hw[0]}x{hw[1]} (HxW)"
            self.report.add(Problem("label_map_size", message, index, name))
            return []
        ids = [int(v) for v in np.unique(label) if v != 0]
        if index not in self._counts:
            self._counts[index] = ids
            self.report.count_loaded(len(ids))
        return [LoadedObject(v, self._name(v), frozen_runs(label == v)) for v in ids]

    def mask_count(self, index: int) -> int | None:
        index = self._index(index)
        if self._files[index] is None:
            return 0
        ids = self._counts.get(index)
        return None if ids is None else len(ids)

    def categories(self, index: int) -> list[str] | None:
        index = self._index(index)
        if self._files[index] is None:
            return []
        ids = self._counts.get(index)
        return None if ids is None else list(dict.fromkeys(self._name(v) for v in ids))

    @property
    def category_names(self) -> list[str]:
        return list(dict.fromkeys(self._names.values()))

    def _name(self, value: int) -> str:
        return self._names.get(value, f"object {value}")


def read_label_map(path: Path) -> np.ndarray:
    """A PNG label map as an ``(H, W)`` integer array (8- or 16-bit grayscale, or palette indices)."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L", "1"):
            raise ValueError(f"a label map must be one grayscale or palette channel, got mode {image.mode}")
        return np.asarray(image).astype(np.int64)
