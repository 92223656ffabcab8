"""Small JPEGs of a set's images with their masks drawn, for the review strip, kept by bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping

import numpy as np
from PIL import Image

from sam2_backend.rle import decode_mask

from . import codecs
from .colors import color_for

THUMB_SIDE = 96  # longest side in pixels (docs/widget_protocol.md)


class ByteLRU:
    """A least-recently-used cache of ``bytes`` values bounded by their total size. Thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes -= 0 if old is None else len(old)
            self._items[key] = value
            self._bytes += len(value)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, gone = self._items.popitem(last=False)
                self._bytes -= len(gone)


def thumbnail(pixels: np.ndarray, masks: Mapping[int, np.ndarray], alpha: float = 0.5) -> bytes:
    """``pixels`` (H, W, 3) uint8 shrunk to :data:`THUMB_SIDE` with ``{obj_id: runs}`` drawn in
    the widget's colours (the first listed on top), as JPEG."""
    h, w = pixels.shape[:2]
    scale = THUMB_SIDE / max(h, w)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(Image.fromarray(pixels).resize((tw, th), Image.BILINEAR), dtype=np.float32)
    # Nearest rows and columns of each full-size mask: no (H, W) float work per object.
    rows = np.minimum((np.arange(th) + 0.5) * h / th, h - 1).astype(np.int64)
    cols = np.minimum((np.arange(tw) + 0.5) * w / tw, w - 1).astype(np.int64)
    for obj_id, runs in reversed(list(masks.items())):
        mask = decode_mask(runs, h, w)[np.ix_(rows, cols)]
        rgb = np.array([int(color_for(obj_id)[k : k + 2], 16) for k in (1, 3, 5)], dtype=np.float32)
        small[mask] = small[mask] * (1 - alpha) + rgb * alpha
    return codecs.encode_jpeg(small.round().astype(np.uint8), max_side=THUMB_SIDE, quality=80)
