"""The display JPEGs of a clip's frames, kept in the kernel, and the walk that fills them while idle.

Why: showing a frame far from the last one read costs a seek to the keyframe
before it and decoding up to a GOP (100-350 ms for 720p H.264 on a loaded
2-core machine), while decoding the next frame and JPEG-encoding it costs about
5 ms. So, while the widget has nothing else to do, it walks the clip in order
once and keeps every frame's JPEG; a later jump is then a lookup. Masks are not
kept here: tracking changes them, and their label map costs about 1 ms.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

from sam2_backend.video.sources import FrameReadError

DEFAULT_MAX_MB = 256  # ~2,600 frames of 720p at ~100 KiB each: a minute and a half at 30 fps


class JpegCache:
    """Frame index -> JPEG bytes, least recently used out first, at most ``max_bytes`` in all.

    Thread-safe: the comm thread (``goto``) and the frames worker both read and fill it.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"the frame cache size must be >= 0, got {max_bytes} bytes.")
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._data: OrderedDict[int, bytes] = OrderedDict()
        self._nbytes = 0

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, index: int) -> bool:
        return index in self._data

    def indices(self) -> list[int]:
        """The cached frames, least recently used first."""
        with self._lock:
            return list(self._data)

    def get(self, index: int) -> bytes | None:
        """The JPEG of frame ``index`` (now the most recently used), or None."""
        with self._lock:
            data = self._data.get(index)
            if data is not None:
                self._data.move_to_end(index)
            return data

    def put(self, index: int, data: bytes) -> None:
        """Keep ``data`` as frame ``index``'s JPEG, dropping the least recently used ones to fit
        (a JPEG larger than the whole cache is not kept)."""
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(index, None)
            self._nbytes -= 0 if old is None else len(old)
            self._data[index] = data
            self._nbytes += len(data)
            while self._nbytes > self.max_bytes:
                _, dropped = self._data.popitem(last=False)
                self._nbytes -= len(dropped)


class FillWalk:
    """The background fill's plan: each frame once, in decode order, starting just before the cursor.

    ``restart(cursor)`` (on every fetch and jump) plans frames ``cursor - back`` to the
    end, then 0 onwards; each ``step()`` encodes the walk's next frame that is not cached
    (``encode(index)`` -> JPEG) and says whether the walk goes on. Cached frames it
    passes become recently used, and it ends once the frames it covered fill the cache:
    so the fill never evicts what it made itself (a clip larger than the cache gets the
    part from the cursor on), and the cache never grows beyond its bound.
    """

    def __init__(self, cache: JpegCache, num_frames: int, encode: Callable[[int], bytes], back: int) -> None:
        self._cache = cache
        self._n = num_frames
        self._encode = encode
        self._back = back
        self._lock = threading.Lock()
        self._plan: Iterator[int] = iter(())
        self._covered = 0  # bytes of the frames this walk has passed or made
        self._unreadable: set[int] = set()  # tried once: a damaged frame would cost a seek every walk

    def restart(self, cursor: int) -> None:
        start = min(max(cursor - self._back, 0), self._n)
        with self._lock:
            self._plan = itertools.chain(range(start, self._n), range(start))
            self._covered = 0

    def step(self) -> bool:
        """Encode and keep the walk's next uncached frame; False when the walk is over."""
        while True:
            with self._lock:
                plan = self._plan
                index = next(plan, None) if self._covered < self._cache.max_bytes else None
                if index is None:
                    return False
                if index in self._unreadable:
                    continue
                cached = self._cache.get(index)
                if cached is not None:
                    if not self._cover(len(cached)):
                        return False
                    continue
            try:
                jpeg = self._encode(index)
            except FrameReadError:  # a damaged frame: a fetch reports it; the fill moves on
                with self._lock:
                    self._unreadable.add(index)
                continue
            with self._lock:
                if plan is self._plan and not self._cover(len(jpeg)):
                    return False
            self._cache.put(index, jpeg)
            return True

    def _cover(self, size: int) -> bool:
        """Count ``size`` more bytes to this walk; past the cache's bound, end it (False)."""
        self._covered += size
        if self._covered > self._cache.max_bytes:
            self._plan = iter(())
            return False
        return True
