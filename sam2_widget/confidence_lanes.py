"""The timeline's confidence lanes: one byte per frame and object, kept up to date frame by frame.

Per object two byte lanes over the clip (docs/widget_protocol.md, ``lanes``):

* confidence: 0 not tracked, 1 judged absent (object score <= 0), 2..255 present with
  confidence ``(value - 2) / 253`` (``TrackResults.confidence``: sigmoid(score) x predicted IoU);
* changes: 0 unchanged by the last re-track, 1..255 changed with IoU ``(value - 1) / 254`` to
  the mask before it (1: removed).

Like the tracked spans (tracked_spans.py) a changed frame costs one read of its scores and
IoUs; the widget sends the frames changed since the last send (a ``lanes`` message while
tracking) or the whole lanes (the ``lanes`` trait) when nothing runs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

from sam2_backend.video import TrackResults


def confidence_byte(score: float, iou: float) -> int:
    """One frame and object's confidence lane value (see the module docstring)."""
    if not score > 0:
        return 1
    presence = 0.5 * (1.0 + math.tanh(0.5 * score))
    quality = 1.0 if math.isnan(iou) else min(max(iou, 0.0), 1.0)
    return 2 + round(presence * quality * 253)


def change_byte(kind: str, iou: float) -> int:
    """One frame and object's change lane value: 0 for a mask added (or none), else 1 + IoU x 254."""
    if kind == "added":
        return 0
    return 1 + round((0.0 if kind == "removed" else iou) * 254)


class ConfidenceLanes:
    """The lanes of every object in the store, and the frames changed since the last :meth:`take`.

    Thread-safe: the worker marks frames as it stores their masks, and either thread reads.
    """

    def __init__(self, results: TrackResults, num_frames: int) -> None:
        self._results = results
        self._num_frames = num_frames
        self._lock = threading.Lock()
        self._confidence: dict[int, bytearray] = {}
        self._changes: dict[int, bytearray] = {}
        self._changed_frames: set[int] = set()  # frames holding a change mark
        self._dirty: set[int] = set()
        self._rescan = True

    def mark(self, frames: Iterable[int] | None) -> None:
        """Scores of ``frames`` changed (``None``: any frame may have)."""
        with self._lock:
            if frames is None:
                self._rescan = True
            else:
                self._dirty.update(frames)

    def version_closed(self) -> None:
        """A run ended: show its ``TrackResults.diff()`` as the change lanes (replacing the last)."""
        changes = self._results.diff()
        with self._lock:
            for lane in self._changes.values():
                lane[:] = bytes(self._num_frames)
            self._dirty.update(self._changed_frames)
            self._changed_frames = set()
            for c in changes:
                value = change_byte(c.kind, c.iou)
                if value:
                    self._lane(self._changes, c.obj_id)[c.frame] = value
                    self._changed_frames.add(c.frame)
            self._dirty.update(self._changed_frames)

    def take(self, obj_ids: list[int]) -> tuple[list[list[int]], bytes, bytes]:
        """The frames changed since the last take as inclusive runs, and their bytes: for each run,
        for each of ``obj_ids``, the run's confidence (then, in the second buffer, change) values."""
        with self._lock:
            frames = self._catch_up()
            runs = _runs(frames)
            conf, change = bytearray(), bytearray()
            for first, last in runs:
                for o in obj_ids:
                    conf += self._lane(self._confidence, o)[first : last + 1]
                    change += self._lane(self._changes, o)[first : last + 1]
            return runs, bytes(conf), bytes(change)

    def snapshot(self, obj_ids: list[int]) -> dict:
        """The ``lanes`` trait: every frame of ``obj_ids`` (object-major), after catching up."""
        with self._lock:
            self._catch_up()
            return {
                "obj_ids": list(obj_ids),
                "num_frames": self._num_frames,
                "confidence": b"".join(bytes(self._lane(self._confidence, o)) for o in obj_ids),
                "changes": b"".join(bytes(self._lane(self._changes, o)) for o in obj_ids),
            }

    def _lane(self, lanes: dict[int, bytearray], obj_id: int) -> bytearray:
        lane = lanes.get(obj_id)
        if lane is None:
            lane = lanes[obj_id] = bytearray(self._num_frames)
        return lane

    def _catch_up(self) -> list[int]:
        """Read the marked frames into the lanes; returns them, sorted."""
        if self._rescan:
            for lane in self._confidence.values():
                lane[:] = bytes(self._num_frames)
            self._dirty = set(self._results.frames)
            self._rescan = False
        dirty, self._dirty = sorted(self._dirty), set()
        for frame in dirty:
            try:
                scores, ious = self._results.scores(frame), self._results.ious(frame)
            except KeyError:  # nothing tracked there (any more)
                scores, ious = {}, {}
            for lane in self._confidence.values():
                lane[frame] = 0
            for o, score in scores.items():
                self._lane(self._confidence, o)[frame] = confidence_byte(score, ious[o])
        return dirty


def _runs(frames: list[int]) -> list[list[int]]:
    """Sorted ints as inclusive ``[first, last]`` runs."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs
