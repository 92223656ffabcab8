"""The review of a data set: each image's status (unreviewed, reviewed, flagged) and note,
how to find the next image to look at, and a table of where the review stands.

Statuses are one byte per image (a 10,000-image set costs 10 kB) and notes a dict of the
few images that have one. :meth:`ReviewState.to_dict` is plain JSON (lists of indices and
strings), so it fits a session file's JSON ``meta`` (``session_file`` loads with
``allow_pickle=False``) and autosave alike. Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .checks import check_index, check_int

STATUSES = ("unreviewed", "reviewed", "flagged")
FORMAT = "sam2_widget.review"
VERSION = 1
MAX_NOTE_LENGTH = 2000  # a note is a remark, and it travels to the browser


class ReviewState:
    """Status and note of each of ``count`` images (all unreviewed, no notes, at first)."""

    def __init__(self, count: int) -> None:
        count = check_int(count, "image count")
        if count < 0:
            raise ValueError(f"image count must be >= 0, got {count}")
        self._codes = np.zeros(count, dtype=np.uint8)  # index into STATUSES
        self._notes: dict[int, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        return f"ReviewState({len(self)} images: {counts})"

    # -- one image -------------------------------------------------------------

    def mark(self, index: int, status: str, note: str | None = None) -> None:
        """Set image ``index``'s status, and its note if ``note`` is given (``""`` clears it)."""
        index = self._index(index)
        code = _code(status)
        note = None if note is None else _check_note(note)
        with self._lock:
            self._codes[index] = code
            if note is not None:
                self._set_note(index, note)

    def set_note(self, index: int, note: str) -> None:
        """Set image ``index``'s note (``""`` clears it); the status stays."""
        index, note = self._index(index), _check_note(note)
        with self._lock:
            self._set_note(index, note)

    def status(self, index: int) -> str:
        return STATUSES[self._codes[self._index(index)]]

    def note(self, index: int) -> str:
        """The note of image ``index`` (``""`` if none)."""
        index = self._index(index)
        with self._lock:
            return self._notes.get(index, "")

    # -- the set ---------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """``{status: number of images}`` for every status."""
        with self._lock:
            found = np.bincount(self._codes, minlength=len(STATUSES))
        return {s: int(n) for s, n in zip(STATUSES, found)}

    def indices(self, status: str | Collection[str] | None = None) -> list[int]:
        """The images with ``status`` (one or several; ``None``: every image), in order."""
        if status is None:
            return list(range(len(self)))
        with self._lock:
            return np.flatnonzero(np.isin(self._codes, _codes(status))).tolist()

    def next(
        self, index: int, status: str | Collection[str] = "unreviewed", direction: int = 1, wrap: bool = True
    ) -> int | None:
        """The nearest image after ``index`` (before, with ``direction=-1``) whose status is
        ``status``; past the end it goes on from the other end if ``wrap``. ``None`` if there
        is none (``index`` itself counts only when it is the only one, after a full wrap)."""
        index = self._index(index)
        if direction not in (1, -1):
            raise ValueError(f"direction must be 1 or -1, got {direction!r}")
        candidates = np.asarray(self.indices(status), dtype=np.int64)
        if candidates.size == 0:
            return None
        if direction == 1:
            k = int(np.searchsorted(candidates, index, side="right"))
            found = candidates[k] if k < candidates.size else (candidates[0] if wrap else None)
        else:
            k = int(np.searchsorted(candidates, index, side="left")) - 1
            found = candidates[k] if k >= 0 else (candidates[-1] if wrap else None)
        return None if found is None else int(found)

    def filter(
        self,
        status: str | Collection[str] | None = None,
        category: str | Collection[str] | None = None,
        categories_of: Callable[[int], Iterable[str] | None] | None = None,
    ) -> list[int]:
        """The images with ``status`` and with a label of ``category`` (one or several names).

        ``categories_of(index)`` gives an image's category names (``None`` if not known yet,
        as for a label map not read: such an image is left out of a category filter).
        """
        found = self.indices(status)
        if category is None:
            return found
        if categories_of is None:
            raise ValueError("filtering by category needs categories_of (index -> category names)")
        wanted = {category} if isinstance(category, str) else set(category)
        return [i for i in found if wanted.intersection(categories_of(i) or ())]

    def table(
        self,
        names: Sequence[str],
        mask_count: Callable[[int], int | None],
        categories_of: Callable[[int], Iterable[str] | None],
        indices: Iterable[int] | None = None,
    ) -> ReviewTable:
        """One :class:`ReviewRow` per image (or per image of ``indices``)."""
        rows = []
        for i in range(len(self)) if indices is None else indices:
            cats = categories_of(i)
            row = ReviewRow(
                i, names[i], self.status(i), self.note(i), mask_count(i), None if cats is None else list(cats)
            )
            rows.append(row)
        return ReviewTable(rows)

    # -- saving ----------------------------------------------------------------

    def to_dict(self) -> dict:
        """A JSON-ready dict: the count, the reviewed and flagged indices and the notes."""
        with self._lock:
            out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "count": len(self)}
            for code, status in enumerate(STATUSES[1:], start=1):
                out[status] = np.flatnonzero(self._codes == code).tolist()
            out["notes"] = {str(i): n for i, n in sorted(self._notes.items())}
        return out

    @classmethod
    def from_dict(cls, data: Any, count: int) -> ReviewState:
        """The state :meth:`to_dict` gave, for a set of ``count`` images (``ValueError`` if it is
        not one, or was saved for another number of images)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a saved review (no format {FORMAT!r})")
        if not isinstance(data.get("version"), int) or data["version"] > VERSION:
            raise ValueError(f"review version {data.get('version')!r} is newer than this sam2_widget reads ({VERSION})")
        if data.get("count") != count:
            raise ValueError(f"the review was saved for {data.get('count')!r} images, the set has {count}")
        state = cls(count)
        marked: set[int] = set()
        for status in STATUSES[1:]:
            indices = data.get(status, [])
            if not isinstance(indices, list):
                raise ValueError(f"review {status!r} must be a list of image indices")
            for i in indices:
                i = check_index(i, count, "image", "set")
                if i in marked:
                    raise ValueError(f"image {i} has two statuses in the saved review")
                marked.add(i)
                state._codes[i] = _code(status)
        notes = data.get("notes", {})
        if not isinstance(notes, dict):
            raise ValueError("review notes must be a dict {index: note}")
        for key, note in notes.items():
            if not (isinstance(key, str) and key.isdigit()):
                raise ValueError(f"review note key {key!r} is not an image index")
            state._set_note(check_index(int(key), count, "image", "set"), _check_note(note))
        return state

    def _set_note(self, index: int, note: str) -> None:
        if note:
            self._notes[index] = note
        else:
            self._notes.pop(index, None)

    def _index(self, index: Any) -> int:
        return check_index(index, len(self), "image", "set")


@dataclass(frozen=True)
class ReviewRow:
    """One image of the review table; ``masks`` / ``categories`` are ``None`` when not known yet."""

    index: int
    name: str
    status: str
    note: str
    masks: int | None
    categories: list[str] | None


class ReviewTable:
    """Rows of :class:`ReviewRow`; ``print`` shows them aligned, ``pandas.DataFrame(t.records())``
    makes a data frame."""

    _SHOWN = 30

    def __init__(self, rows: list[ReviewRow]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> ReviewRow:
        return self.rows[k]

    def records(self) -> list[dict]:
        return [asdict(r) for r in self.rows]

    def __repr__(self) -> str:
        head = ("index", "name", "status", "masks", "categories", "note")
        cells = [
            (
                str(r.index),
                r.name,
                r.status,
                "?" if r.masks is None else str(r.masks),
                "?" if r.categories is None else ", ".join(r.categories),
                r.note,
            )
            for r in self.rows[: self._SHOWN]
        ]
        widths = [min(40, max(len(c[k]) for c in [head, *cells])) for k in range(len(head))]
        lines = ["  ".join(c[k][:40].ljust(widths[k]) for k in range(len(head))).rstrip() for c in [head, *cells]]
        if len(self.rows) > self._SHOWN:
            lines.append(f"... {len(self.rows) - self._SHOWN} more rows")
        return "\n".join(lines)


def _code(status: Any) -> int:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    return STATUSES.index(status)


def _codes(status: str | Collection[str]) -> list[int]:
    return [_code(status)] if isinstance(status, str) else [_code(s) for s in status]


def _check_note(note: Any) -> str:
    if not isinstance(note, str):
        raise TypeError(f"a note must be a string, got {type(note).__name__}")
    if len(note) > MAX_NOTE_LENGTH:
        raise ValueError(f"a note may have at most {MAX_NOTE_LENGTH} characters, got {len(note)}")
    return note.strip()
