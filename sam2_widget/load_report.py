"""What loading existing labels left out, and why: one summary of every bad label.

Readers (``coco_import``, ``label_map_import``, ``annotations``) load what they can and
record here each label they could not use, so nothing is dropped silently. Some problems
only show when a label is decoded (a corrupt RLE string, a label map of another size): they
are added then, once each; ``Annotations.check()`` decodes everything to find them all.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

#: Kinds of problem, with the words the summary counts them under.
KINDS = {
    "polygon": "polygon with too few points or bad coordinates",
    "rle_size": "RLE of another size than its image",
    "rle": "RLE that cannot be decoded",
    "segmentation": "missing or unknown segmentation",
    "no_image": "image_id with no image in the file",
    "unmatched_image": "image of the file not among the images given",
    "category": "category id not in categories",
    "label_map_size": "label map of another size than its image",
    "label_map": "label map that cannot be read",
    "mask": "mask of another size or type",
}

_SHOWN = 40  # problem lines printed; every one stays in ``problems``


@dataclass(frozen=True)
class Problem:
    """One label that was not loaded: where it was, what it was, and why."""

    kind: str  # a key of KINDS
    message: str
    image: int | None = None  # index into the image set, when known
    label: Any = None  # the annotation id, label value or mapping key

    def __str__(self) -> str:
        where = [] if self.image is None else [f"image {self.image}"]
        where += [] if self.label is None else [f"label {self.label}"]
        return f"{', '.join(where) or 'file'}: {self.message}"


class LoadReport:
    """Counts of loaded labels and every :class:`Problem`; ``print(report)`` shows a summary.

    Thread-safe: a widget's background thread may decode an image while the user reads it.
    """

    def __init__(self, source: str) -> None:
        self.source = source  # what was read, for the summary's first line
        self.loaded = 0  # labels that became objects (for label maps: once their file is read)
        self.notes: list[str] = []  # what is worth knowing but no problem (images without a label map)
        self._problems: list[Problem] = []
        self._seen: set[tuple] = set()
        self._lock = threading.Lock()

    @property
    def problems(self) -> list[Problem]:
        with self._lock:
            return list(self._problems)

    @property
    def ok(self) -> bool:
        """Whether every label seen so far loaded."""
        return not self.problems

    def add(self, problem: Problem, counted: bool = False) -> None:
        """Record ``problem`` (a second report of the same label and kind is ignored); ``counted``:
        the label was counted in :attr:`loaded` up front and only failed when decoded."""
        if problem.kind not in KINDS:
            raise ValueError(f"unknown problem kind {problem.kind!r}")
        key = (problem.kind, problem.image, repr(problem.label))
        with self._lock:
            if key not in self._seen:
                self._seen.add(key)
                self._problems.append(problem)
                self.loaded -= counted

    def count_loaded(self, n: int) -> None:
        """Add ``n`` labels that became objects."""
        with self._lock:
            self.loaded += n

    def counts(self) -> dict[str, int]:
        """``{kind: number of labels}`` of the problems, most frequent first."""
        return dict(Counter(p.kind for p in self.problems).most_common())

    def __repr__(self) -> str:
        return f"LoadReport({self.source!r}: {self.loaded} loaded, {len(self.problems)} not loaded)"

    def __str__(self) -> str:
        problems = self.problems
        lines = [f"{self.source}: {self.loaded} labels loaded, {len(problems)} not loaded."]
        lines += [f"  {n} x {KINDS[kind]}" for kind, n in self.counts().items()]
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  - {p}" for p in problems[:_SHOWN]]
        if len(problems) > _SHOWN:
            lines.append(f"  ... and {len(problems) - _SHOWN} more (report.problems lists them all)")
        return "\n".join(lines)
