"""What a re-track changed: the masks a version replaced, for ``TrackResults.diff``.

A version is what the store holds when a propagation ends. Between two ends, the first
write to a (frame, object) notes the entry it replaces (or that there was none); an end
pairs those notes with the entries then stored and keeps the pairs that differ. Only
changed masks are held (their runs, shared with the store where still current), so the
memory is bounded by one correction's worth of changes, not by the clip.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..rle import decode_mask

# One stored (frame, object): (row-major mask runs, object-score logit, predicted IoU).
Entry = tuple[np.ndarray, float, float]


class MaskChange(NamedTuple):
    """One object's mask on one frame, from the version before the last propagation to now.

    kind: "changed", "added" (no mask before) or "removed" (no mask now).
    iou: IoU of the old and the new mask (1.0 for two empty masks); NaN when added or removed.
    """

    frame: int
    obj_id: int
    kind: str
    iou: float


class VersionLog:
    """The replaced entries since the last end (pending) and the last closed version's pairs."""

    def __init__(self) -> None:
        self._before: dict[tuple[int, int], Entry | None] = {}
        self._pairs: dict[tuple[int, int], tuple[np.ndarray | None, np.ndarray | None]] = {}
        self._changes: list[MaskChange] | None = []

    def note(self, frame: int, obj_id: int, old: Entry | None, new_runs: np.ndarray | None) -> None:
        """(frame, obj_id) is about to hold ``new_runs`` (None: nothing) instead of ``old``."""
        key = (frame, obj_id)
        if key in self._before:
            return  # the version's first value is the one to compare with
        if old is not None and new_runs is not None and np.array_equal(old[0], new_runs):
            return
        self._before[key] = old

    def close(self, frames: dict[int, dict[int, Entry]]) -> None:
        """End a version: pair each noted old entry with what ``frames`` holds now."""
        pairs = {}
        for (frame, obj_id), old in self._before.items():
            new = frames.get(frame, {}).get(obj_id)
            old_runs, new_runs = (None if e is None else e[0] for e in (old, new))
            if old_runs is None and new_runs is None:
                continue
            if old_runs is not None and new_runs is not None and np.array_equal(old_runs, new_runs):
                continue
            pairs[(frame, obj_id)] = (old_runs, new_runs)
        self._before, self._pairs, self._changes = {}, pairs, None

    def changes(self, height: int, width: int) -> list[MaskChange]:
        """The last closed version's changes, sorted by frame then object (computed once)."""
        if self._changes is None:
            self._changes = [_change(key, old, new, height, width) for key, (old, new) in sorted(self._pairs.items())]
        return list(self._changes)


def _change(key: tuple[int, int], old, new, height: int, width: int) -> MaskChange:
    if old is None:
        return MaskChange(*key, "added", math.nan)
    if new is None:
        return MaskChange(*key, "removed", math.nan)
    a, b = decode_mask(old, height, width), decode_mask(new, height, width)
    union = int(np.count_nonzero(a | b))
    iou = 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union
    return MaskChange(*key, "changed", iou)
