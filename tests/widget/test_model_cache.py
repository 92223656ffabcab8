"""Widgets that load a model by name share one copy, and let go of it when closed (model_cache.py).

Loading is stood in for by the tiny random-weight model at image size 128 (``load_model`` in
model_cache is replaced, and counts its calls); one test loads a real checkpoint file.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from sam2_backend import build_model, get_config
from sam2_widget import Sam2Widget, _base, model_cache
from tests.clips import make_clip
from tests.images import synthetic_image

CONFIG = get_config("tiny").replace(image_size=128)


@pytest.fixture
def loads(monkeypatch) -> list[tuple]:
    """Every load the cache makes, as (name, device, precision); each gives a fresh tiny model."""
    made: list[tuple] = []

    def fake_load(name_or_path, device, precision):
        made.append((name_or_path, device, precision))
        return build_model(CONFIG, device=device, precision=precision)

    monkeypatch.setattr(model_cache, "load_model", fake_load)
    # an empty cache: a widget of an earlier test may still hold its model (a job ending on its thread)
    monkeypatch.setattr(model_cache, "_models", weakref.WeakValueDictionary())
    return made


def test_widgets_from_the_same_name_share_one_model(loads):
    image = synthetic_image(60, 80)
    first = Sam2Widget(image, model="tiny", device="cpu")
    again = Sam2Widget(image, model="sam2.1-hiera-tiny", device="cpu")  # the same checkpoint, named otherwise
    clip = Sam2Widget(make_clip(3), model="facebook/sam2.1-hiera-tiny", device="cpu", video=True)
    assert first._model is again._model is clip._model
    assert len(loads) == 1 and loads[0][1:] == (torch.device("cpu"), "fp32")
    assert first.add_points([[40, 30]], [1])  # the shared model works for each
    assert again.add_points([[40, 30]], [1])
    # another precision or another checkpoint is another model
    bf16 = model_cache.shared_model("tiny", "cpu", "bfloat16")
    small = model_cache.shared_model("small", "cpu")
    assert bf16.precision == "bf16" and bf16 is not first._model and small is not first._model
    assert model_cache.shared_model("tiny", "cpu", torch.bfloat16) is bf16
    assert len(loads) == 3
    for w in (first, again, clip):
        w.close()


def test_closing_the_last_widget_frees_the_model_and_the_next_loads_again(loads, monkeypatch):
    freed = []  # the devices whose cache close() hands back (torch.cuda.empty_cache on CUDA)
    monkeypatch.setattr(_base, "free_device_cache", freed.append)
    image = synthetic_image(60, 80)
    a, b = Sam2Widget(image, model="tiny", device="cpu"), Sam2Widget(image, model="tiny", device="cpu")
    assert a.add_points([[40, 30]], [1])  # an embedding is cached with the model
    assert len(loads) == 1
    ref = weakref.ref(a._model)
    a.close()
    _join_threads(a)  # a job running at close() (b's first encoding, here) ends first
    gc.collect()
    shared = ref() is b._model  # b still uses it (a plain bool: pytest keeps what an assert compares)
    assert shared
    b.close()
    _join_threads(b)
    gc.collect()
    # close() let go of the model and the embeddings even though a and b are still referenced
    assert ref() is None
    assert a._cache is None and a._model.config == CONFIG
    assert freed == [torch.device("cpu")] * 2
    c = Sam2Widget(image, model="tiny", device="cpu")
    assert len(loads) == 2 and c._model is not None
    c.close()


def test_a_closed_clip_widget_frees_the_model_once_dropped(loads):
    w = Sam2Widget(make_clip(3), model="tiny", device="cpu", video=True)
    w.add_points([[20, 20]], [1])
    ref = weakref.ref(w.tracker.model)
    w.close()
    _join_threads(w)
    del w
    gc.collect()
    assert ref() is None


def test_a_model_passed_in_is_neither_cached_nor_freed(loads):
    mine = build_model(CONFIG, device="cpu")
    w = Sam2Widget(synthetic_image(60, 80), model=mine)
    w.close()
    del w
    gc.collect()
    assert not loads and mine not in model_cache._models.values()
    assert model_cache.shared_model("tiny", "cpu") is not mine


def test_closed_widget_still_saves_its_session(loads, tmp_path):
    w = Sam2Widget(synthetic_image(60, 80), model="tiny", device="cpu")
    w.add_points([[40, 30]], [1])
    w.close()
    path = w.save_session(tmp_path / "s.npz")
    loaded = Sam2Widget.load_session(path, model=build_model(CONFIG, device="cpu"))
    np.testing.assert_array_equal(loaded.masks[1], w.masks[1])
    loaded.close()


def test_a_checkpoint_file_is_keyed_by_its_contents_on_disk(tmp_path, monkeypatch):
    path = tmp_path / "mine.pt"
    torch.save({"model": build_model(CONFIG, device="cpu").state_dict()}, path)
    monkeypatch.setattr(model_cache, "load_model", _counting(model_cache.load_model, calls := []))
    first = model_cache.shared_model(path, "cpu")
    assert model_cache.shared_model(str(path), "cpu") is first and first.checkpoint_path == str(path)
    torch.save({"model": first.state_dict()}, path)  # rewritten: loaded afresh
    assert model_cache.shared_model(path, "cpu") is not first
    assert len(calls) == 2


def test_cuda_is_keyed_by_the_gpu_index(monkeypatch, loads):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # a T4
    assert model_cache._key("tiny", "cuda", "auto") == model_cache._key("tiny", "cuda:1", "fp32")
    assert model_cache._key("tiny", "cuda:0", "auto") != model_cache._key("tiny", "cuda:1", "auto")


def test_free_device_cache_empties_the_cuda_cache_only_for_cuda(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    model_cache.free_device_cache(torch.device("cpu"))
    assert not emptied
    model_cache.free_device_cache(torch.device("cuda", 0))
    assert emptied == [True]


def _join_threads(widget) -> None:
    """Wait for the widget's threads to end: a job running at close() holds the widget until it ends."""
    widget._worker.join(60)
    if hasattr(widget, "_frames_worker"):
        widget._frames_worker.join(60)


def _counting(fn, calls: list):
    def counted(*args, **kwargs):
        calls.append(args)
        return fn(*args, **kwargs)

    return counted


def test_a_closed_and_dropped_widget_is_collected(loads):
    """Nothing keeps a closed widget alive (anywidget held every widget given its bundle as a path)."""
    w = Sam2Widget(synthetic_image(60, 80), model="tiny", device="cpu")
    ref = weakref.ref(w)
    w.close()
    _join_threads(w)
    del w
    gc.collect()
    assert ref() is None


def test_a_closed_widget_refuses_work_as_closed(loads):
    w = Sam2Widget(synthetic_image(60, 80), model="tiny", device="cpu")
    w.close()
    for action in (lambda: w.add_points([[40, 30]], [1]), w.segment_everything):
        with pytest.raises(RuntimeError, match="the widget was closed; create a new one"):
            action()
