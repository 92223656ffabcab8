"""Clips of unknown length: frames pulled from a Python iterator on demand."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .base import (
    FrameNotAvailableError,
    FrameReadError,
    FrameSource,
    _read_image_file,
    to_rgb_uint8,
)


class IteratorSource(FrameSource):
    """Frames pulled on demand from an iterator or generator of unknown length.

    Frames (anything :class:`ListSource` accepts) are pulled as higher indices are
    asked for; the last ``keep`` frames are held, so memory stays bounded and
    going back up to ``keep - 1`` frames works. An older frame raises
    :class:`FrameNotAvailableError`. The first frame is pulled on creation (it
    gives ``height``/``width``). ``num_frames`` is ``None`` until the iterator
    ends, unless given: then reading beyond the declared count raises
    ``IndexError`` and an iterator that ends early raises :class:`FrameReadError`.
    """

    def __init__(self, iterable: Iterable[Any], *, keep: int = 64, num_frames: int | None = None):
        super().__init__()
        if int(keep) < 1:
            raise ValueError(f"keep must be at least 1, got {keep}.")
        try:
            self._it = iter(iterable)
        except TypeError:
            raise TypeError(f"IteratorSource needs an iterable, got {type(iterable).__name__}.") from None
        self._keep = int(keep)
        self._window: deque[np.ndarray] = deque(maxlen=self._keep)
        self._count = 0  # frames pulled so far; the window holds the last len(window)
        self._declared = None if num_frames is None else int(num_frames)
        self._ended_at: int | None = None  # frames the iterator yielded, once it ended
        self._failure: FrameReadError | None = None
        self._height = self._width = 0
        if not self._pull():
            raise ValueError("The frame iterator yielded no frames.")
        self._height, self._width = self._window[0].shape[:2]

    def _pull(self) -> bool:
        """Pull one frame into the window; False when the iterator has ended."""
        if self._failure is not None:
            raise self._failure
        if self._ended_at is not None:
            return False
        i = self._count
        try:
            item = next(self._it)
        except StopIteration:
            self._ended_at = i
            return False
        except Exception as e:
            self._failure = FrameReadError(f"The frame iterator raised while producing frame {i}: {e!r}", i, self.name)
            raise self._failure from e
        try:
            frame = _read_image_file(Path(item), i) if isinstance(item, (str, os.PathLike)) else to_rgb_uint8(item)
        except FrameReadError as e:
            self._failure = e
            raise
        except (TypeError, ValueError) as e:
            self._failure = FrameReadError(f"Frame {i} from the iterator is invalid: {e}", i, self.name)
            raise self._failure from e
        if i > 0 and frame.shape[:2] != (self._height, self._width):
            self._failure = FrameReadError(
                f"Frame {i} from the iterator is {frame.shape[1]}x{frame.shape[0]} (WxH) but the "
                f"first frame is {self._width}x{self._height}: all frames must be the same size.",
                i,
                self.name,
            )
            raise self._failure
        self._window.append(frame)
        self._count += 1
        return True

    @property
    def num_frames(self) -> int | None:
        if self._declared is not None:
            return self._declared
        return self._ended_at

    @property
    def keep(self) -> int:
        return self._keep

    @property
    def name(self) -> str:
        return "frame iterator"

    def _read(self, index: int) -> np.ndarray:
        start = self._count - len(self._window)
        if index < start:
            raise FrameNotAvailableError(
                f"Frame {index} is no longer available: this iterator source keeps only the last "
                f"{self._keep} frames (now {start}..{self._count - 1}). Create it with a larger "
                "keep=, or use a seekable source (a file, folder, array or list)."
            )
        while index >= self._count:
            if not self._pull():
                if self._declared is not None:
                    raise FrameReadError(
                        f"Cannot read frame {index}: the frame iterator ended after "
                        f"{self._ended_at} frames, but num_frames={self._declared} was given.",
                        index,
                        self.name,
                    )
                raise IndexError(
                    f"Frame index {index} is out of range: the frame iterator ended after "
                    f"{self._ended_at} frames (0..{self._ended_at - 1})."
                )
        return self._window[index - (self._count - len(self._window))].copy()

    def _close(self) -> None:
        self._window.clear()
        close = getattr(self._it, "close", None)
        if callable(close):  # finish a generator (runs its finally blocks)
            try:
                close()
            except Exception:  # pragma: no cover - a generator that raises on close
                pass


# --------------------------------------------------------------------------- dispatch
