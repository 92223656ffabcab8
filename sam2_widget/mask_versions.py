"""Which frames' masks changed, numbered, so the front end's frame cache drops exactly those.

The video widget marks frames here after it changes their masks (a prompt, a
tracked frame, a deleted object, ...) and :meth:`MaskVersions.flush` turns the
marks into one ``masks_changed`` message with a new version number. A ``frame``
reply carries the version read *before* its masks were read, so the front end
can tell a reply that raced with a change (its version is older than the
frame's latest change) from a fresh one. See docs/widget_protocol.md, "Video".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence


class MaskVersions:
    """The changed frames not yet announced, and the version counter (starts at 0)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: set[int] = set()
        self._all = False
        self._version = 0

    @property
    def version(self) -> int:
        """The latest announced version (read it before reading masks for a ``frame`` reply)."""
        with self._lock:
            return self._version

    def mark(self, frames: Iterable[int] | None) -> None:
        """Frames whose masks changed (call after the change is stored); ``None``: every frame."""
        with self._lock:
            if frames is None:
                self._all = True
            else:
                self._frames.update(frames)

    def flush(self) -> tuple[int, list[list[int]] | None] | None:
        """``(new version, inclusive frame ranges or None for every frame)`` for what was marked since
        the last flush, or None if nothing was."""
        with self._lock:
            if not self._all and not self._frames:
                return None
            frames = None if self._all else to_ranges(sorted(self._frames))
            self._frames.clear()
            self._all = False
            self._version += 1
            return self._version, frames


def to_ranges(frames: Sequence[int]) -> list[list[int]]:
    """Sorted frame indices -> inclusive ``[first, last]`` runs of consecutive frames."""
    out: list[list[int]] = []
    for f in frames:
        if out and f == out[-1][1] + 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return out
