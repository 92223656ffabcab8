"""The timeline's tracked spans, kept up to date frame by frame.

For each object, the inclusive runs of frames where its mask is non-empty. The video widget sends
them every 0.1 s while it tracks; rescanning every tracked frame for that (what this replaces)
cost 77 ms at 10,000 frames x 3 objects, every time (issue 13, gpu_readiness.md S6). Here a
changed frame costs one read of its areas and O(objects x log runs); a full rescan happens only
when everything may have changed (a session restored, an object rebuilt).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping


class FrameRuns:
    """A set of frame indices kept as sorted, disjoint, non-adjacent inclusive runs."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, frame: int) -> None:
        i = bisect.bisect_right(self._starts, frame) - 1  # the run starting at or before frame
        if i >= 0 and self._ends[i] >= frame:
            return
        joins_left = i >= 0 and self._ends[i] == frame - 1
        joins_right = i + 1 < len(self._starts) and self._starts[i + 1] == frame + 1
        if joins_left and joins_right:
            self._ends[i] = self._ends.pop(i + 1)
            del self._starts[i + 1]
        elif joins_left:
            self._ends[i] = frame
        elif joins_right:
            self._starts[i + 1] = frame
        else:
            self._starts.insert(i + 1, frame)
            self._ends.insert(i + 1, frame)

    def discard(self, frame: int) -> None:
        i = bisect.bisect_right(self._starts, frame) - 1
        if i < 0 or self._ends[i] < frame:
            return
        start, end = self._starts[i], self._ends[i]
        if start == end:
            del self._starts[i], self._ends[i]
        elif frame == start:
            self._starts[i] = frame + 1
        elif frame == end:
            self._ends[i] = frame - 1
        else:  # split
            self._ends[i] = frame - 1
            self._starts.insert(i + 1, frame + 1)
            self._ends.insert(i + 1, end)

    def ranges(self) -> list[list[int]]:
        return [[a, b] for a, b in zip(self._starts, self._ends)]


class TrackedSpans:
    """Per object, the frames where its mask is non-empty, fed the areas of each changed frame.

    Thread-safe: the worker marks frames as it stores their masks, and either thread reads.

    Args:
        read_areas: ``frame -> {obj_id: pixel count}`` of a stored frame (KeyError if none).
        all_frames: the frames currently holding masks (for a full rescan).
    """

    def __init__(self, read_areas, all_frames) -> None:
        self._read_areas = read_areas
        self._all_frames = all_frames
        self._lock = threading.Lock()
        self._present: dict[int, frozenset[int]] = {}  # frame -> objects with a non-empty mask there
        self._runs: dict[int, FrameRuns] = {}
        self._dirty: set[int] = set()
        self._rescan = False

    def mark(self, frames: Iterable[int] | None) -> None:
        """Masks of ``frames`` changed (``None``: any frame may have)."""
        with self._lock:
            if frames is None:
                self._rescan = True
            else:
                self._dirty.update(frames)

    def ranges(self, obj_ids: Iterable[int]) -> list[dict]:
        """``[{"obj_id", "ranges": [[a, b], ...]}]`` for ``obj_ids``, after reading the marked frames."""
        with self._lock:
            self._catch_up()
            return [{"obj_id": o, "ranges": self._runs[o].ranges() if o in self._runs else []} for o in obj_ids]

    def _catch_up(self) -> None:
        if self._rescan:
            self._present.clear()
            self._runs.clear()
            self._dirty = set(self._all_frames())
            self._rescan = False
        dirty, self._dirty = self._dirty, set()
        for frame in sorted(dirty):
            try:
                areas = self._read_areas(frame)
            except KeyError:  # no mask left on it
                areas = {}
            self._update(frame, areas)

    def _update(self, frame: int, areas: Mapping[int, int]) -> None:
        now = frozenset(o for o, area in areas.items() if area)
        before = self._present.get(frame, frozenset())
        for o in before - now:
            self._runs[o].discard(frame)
        for o in now - before:
            self._runs.setdefault(o, FrameRuns()).add(frame)
        if now:
            self._present[frame] = now
        else:
            self._present.pop(frame, None)
