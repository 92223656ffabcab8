"""Undo and redo as two stacks of snapshots, for both sessions.

A snapshot is whatever a session needs to go back to a step (the image session's immutable
``SessionState``, the video session's prompts and objects); the history only keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_UNDO = 200  # steps kept; the oldest go first


class History(Generic[T]):
    """The snapshots before each undoable step, and after each undone one."""

    def __init__(self, limit: int = MAX_UNDO) -> None:
        self._limit = limit
        self._undo: list[T] = []
        self._redo: list[T] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def depth(self) -> int:
        """How many steps can be undone."""
        return len(self._undo)

    def push(self, before: T) -> None:
        """A new step was taken from ``before``: it can be undone, and nothing can be redone."""
        self._undo.append(before)
        del self._undo[: -self._limit]
        self._redo.clear()

    def undo(self, current: T) -> T | None:
        """The snapshot to go back to (``current`` becomes redoable), or None when there is none."""
        if not self._undo:
            return None
        self._redo.append(current)
        return self._undo.pop()

    def redo(self, current: T) -> T | None:
        """The snapshot of the last undone step (``current`` becomes undoable), or None."""
        if not self._redo:
            return None
        self._undo.append(current)
        return self._redo.pop()

    def update(self, change: Callable[[T], T]) -> None:
        """Apply ``change`` to every kept snapshot (a result that belongs to them all)."""
        self._undo = [change(s) for s in self._undo]
        self._redo = [change(s) for s in self._redo]

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
