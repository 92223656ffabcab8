"""EmbeddingCache: an LRU of encoded images bounded by count and by bytes."""

from __future__ import annotations

from sam2_backend import ImagePredictor
from sam2_widget.embeddings import EmbeddingCache
from tests.images import synthetic_image


def _load(i: int):
    return lambda: synthetic_image(60, 80, seed=i)


def test_predictor_nbytes_counts_its_features(model):
    pred = ImagePredictor(model)
    assert pred.nbytes == 0
    pred.set_image(synthetic_image(60, 80))
    s = model.config.image_size
    assert pred.nbytes == 4 * (256 * (s // 16) ** 2 + 32 * (s // 4) ** 2 + 64 * (s // 8) ** 2)


def test_the_cache_keeps_what_fits_its_bytes_and_count(model):
    one = EmbeddingCache(model, size=8)
    one.get(0, _load(0))
    each = one.nbytes
    cache = EmbeddingCache(model, size=8, max_bytes=int(2.5 * each))
    for i in range(4):
        cache.get(i, _load(i))
    assert [i for i in range(4) if i in cache] == [2, 3] and cache.nbytes == 2 * each
    by_count = EmbeddingCache(model, size=3)
    for i in range(5):
        by_count.get(i, _load(i))
    assert [i for i in range(5) if i in by_count] == [2, 3, 4]
    tiny = EmbeddingCache(model, size=8, max_bytes=1)  # less than one: the latest is still kept
    tiny.get(0, _load(0))
    tiny.get(1, _load(1))
    assert 1 in tiny and 0 not in tiny
