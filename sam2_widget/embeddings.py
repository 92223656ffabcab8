"""Image embeddings of the last few images shown, one ``ImagePredictor`` each."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from sam2_backend import ImagePredictor, SAM2Model


class EmbeddingCache:
    """A bounded LRU of encoded images: going back to a recent image costs no re-encoding.

    One predictor per image keeps to ``ImagePredictor``'s public API (it holds one
    image's features); a predictor is light besides those features (~16 MiB per
    image for the 1024-pixel models).

    Args:
        model: the shared model.
        size: how many images' embeddings to keep.
        max_bytes: and at most this many bytes of them (the latest is always kept), so a
            bigger model or image size cannot make the cache outgrow its budget.
    """

    def __init__(self, model: SAM2Model, size: int = 8, max_bytes: int = 256 * 2**20) -> None:
        if size < 1:
            raise ValueError(f"cache_size must be at least 1, got {size}.")
        self.model = model
        self.size = size
        self.max_bytes = max_bytes
        self._predictors: OrderedDict[int, ImagePredictor] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, index: int) -> bool:
        with self._lock:
            return index in self._predictors

    @property
    def nbytes(self) -> int:
        """Bytes of the embeddings kept."""
        return sum(p.nbytes for p in list(self._predictors.values()))

    def get(self, index: int, load: Callable[[], np.ndarray]) -> ImagePredictor:
        """The predictor of image ``index``, encoding ``load()`` if it is not cached (slow)."""
        with self._lock:
            if index in self._predictors:
                self._predictors.move_to_end(index)
                return self._predictors[index]
        predictor = ImagePredictor(self.model)
        predictor.set_image(load())
        with self._lock:
            self._predictors[index] = predictor
            while len(self._predictors) > 1 and (len(self._predictors) > self.size or self.nbytes > self.max_bytes):
                self._predictors.popitem(last=False)
        return predictor
