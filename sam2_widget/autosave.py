"""Autosave: the widget's session written to one file after every completed action.

``Sam2Widget(source, autosave="session.npz")`` keeps that file current so that a
kernel crash loses at most the last action; ``Sam2Widget.load_session(path, source)``
restores it. The widget calls :meth:`Autosave.save` from its worker thread only
(after the jobs an action queued, and every :data:`TRACK_INTERVAL_S` or so while
tracking), never from the comm handler. Each write is atomic (``write_npz_atomic``):
a crash mid-write leaves the previous file whole.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

# While tracking, save at most this often, and at most a tenth of the time (a long clip's
# masks take longer to write), so a crash mid-track keeps nearly every tracked frame.
TRACK_INTERVAL_S = 2.0
MAX_SHARE = 0.1


class AutosaveError(RuntimeError):
    """A failed autosave: the widget shows it and keeps working; nothing in it is lost."""


class Autosave:
    """Where and when to autosave; ``write(path)`` writes the session (the widget's writer).

    Args:
        path: the file. Its folder must exist. An existing file is refused (it may be
            the only copy of a crashed session) unless it is ``resumed``, the file the
            session was just loaded from.
        write: writes the current session to the path it is given.
        resumed: the session file the widget was loaded from, if any.
    """

    def __init__(
        self, path: str | os.PathLike, write: Callable[[Path], object], resumed: str | os.PathLike | None = None
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"autosave must be a file path (str or Path), got {type(path).__name__}.")
        self.path = Path(path).expanduser().absolute()
        if self.path.is_dir():
            raise ValueError(
                f"autosave={str(path)!r} is a folder; give a file path such as {str(self.path / 'session.npz')!r}."
            )
        if not self.path.parent.is_dir():
            raise ValueError(
                f"autosave folder {str(self.path.parent)!r} does not exist: create it or choose another path."
            )
        if self.path.exists() and not (resumed is not None and Path(resumed).exists() and self.path.samefile(resumed)):
            raise ValueError(
                f"autosave file {str(self.path)!r} already exists (an earlier session's?). Restore it with "
                f"Sam2Widget.load_session({str(self.path)!r}, source, autosave={str(self.path)!r}), "
                "or delete it, or choose another path."
            )
        self._write = write
        self._lock = threading.Lock()
        self._requested = 0  # save requests made so far (see request / save_if_latest)
        self._last_save = time.perf_counter()
        self._last_cost = 0.0

    def request(self) -> int:
        """Number a save request; the worker job made for it calls :meth:`save_if_latest`."""
        with self._lock:
            self._requested += 1
            return self._requested

    def save_if_latest(self, request: int) -> bool:
        """Save unless a later request is queued behind this one (it will save then): a burst of
        clicks is written once, after the last. Returns whether it saved."""
        with self._lock:
            if request < self._requested:
                return False
        self.save()
        return True

    def due(self) -> bool:
        """Whether a save mid-track is due (see :data:`TRACK_INTERVAL_S`)."""
        return time.perf_counter() - self._last_save >= max(TRACK_INTERVAL_S, self._last_cost / MAX_SHARE)

    def save(self) -> None:
        """Write the session now; AutosaveError (saying what to do) if the file cannot be written."""
        start = time.perf_counter()
        try:
            self._write(self.path)
        except OSError as e:
            raise AutosaveError(
                f"autosave to {str(self.path)!r} failed ({e.strerror or e}). Your work is intact in the widget: "
                "free disk space or fix the path (the next action saves again), or call "
                "save_session(another_path)."
            ) from e
        finally:
            now = time.perf_counter()
            self._last_save, self._last_cost = now, now - start
