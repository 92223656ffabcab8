"""Decode the next frame in a background thread while the tracker works."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from .base import FrameSource


class Prefetcher:
    """Decode (and optionally preprocess) upcoming frames in one background thread.

    ``prefetch(i)`` schedules frame ``i``; ``get(i)`` returns
    ``to_input(source.get(i))`` (or the frame itself without ``to_input``),
    waiting for the scheduled result if there is one and computing it in the
    calling thread otherwise. One worker thread, and the source's own lock, keep
    decoding single-threaded per source (PyAV containers are not thread-safe).
    At most ``max_pending`` results are held; older ones are dropped. Errors are
    raised by ``get``, as if the frame had been read there.

    Typical use in the tracker::

        with Prefetcher(source, to_input) as frames:
            for i, x in frames.iterate(range(start, end)):
                ...  # frame i+1 decodes while frame i is processed
    """

    def __init__(
        self, source: FrameSource, to_input: Callable[[np.ndarray], Any] | None = None, *, max_pending: int = 2
    ):
        self.source = source
        self.to_input = to_input
        self._max_pending = max(int(max_pending), 1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam2-frames")
        self._pending: OrderedDict[int, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def _load(self, index: int) -> Any:
        frame = self.source.get(index)
        return self.to_input(frame) if self.to_input is not None else frame

    def prefetch(self, index: int) -> Future | None:
        """Start loading frame ``index`` in the background; ``None`` if it is out of range."""
        n = self.source.num_frames
        if index < 0 or (n is not None and index >= n):
            return None
        with self._lock:
            if self._closed:
                raise ValueError("The prefetcher is closed.")
            fut = self._pending.get(index)
            if fut is None:
                fut = self._executor.submit(self._load, index)
                self._pending[index] = fut
                while len(self._pending) > self._max_pending:
                    _, old = self._pending.popitem(last=False)
                    old.cancel()
            return fut

    def get(self, index: int) -> Any:
        """The (preprocessed) frame ``index``: the prefetched result, or loaded now."""
        with self._lock:
            fut = self._pending.pop(index, None)
        if fut is not None and not fut.cancelled():
            return fut.result()
        return self._load(index)

    def iterate(self, indices: Iterable[int]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, result)`` for ``indices`` in order, prefetching the next index.

        Stops quietly when an iterator source ends (``IndexError``).
        """
        it = iter(indices)
        current = next(it, None)
        while current is not None:
            nxt = next(it, None)
            if nxt is not None:
                self.prefetch(nxt)
            try:
                result = self.get(current)
            except IndexError:
                if self.source.num_frames is not None and current >= self.source.num_frames:
                    return
                raise
            yield current, result
            current = nxt

    def close(self) -> None:
        """Drop pending work and stop the thread (waits for a decode in progress)."""
        with self._lock:
            self._closed = True
            pending = list(self._pending.values())
            self._pending.clear()
        for fut in pending:
            fut.cancel()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
