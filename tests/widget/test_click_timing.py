"""The opt-in message timings of the kernel (message_dispatch.MessageTimings), which
benchmarks/bench_widget.py reads to split a click's round trip into model, kernel and transport;
and the label map a click sends, made from the masks' runs (image_widget._label_rle_of_runs)."""

from __future__ import annotations

import time

import numpy as np

from sam2_backend import ImagePredictor
from sam2_backend.rle import encode_mask
from sam2_widget import codecs
from sam2_widget.image_widget import _label_rle_of_runs
from sam2_widget.message_dispatch import MessageTimings
from tests.images import synthetic_image
from tests.widget.harness import make_widget, ok

SLOW_S = 0.05  # added to every predict call, so the model time has a known floor


def test_off_by_default_records_nothing(model):
    w, front = make_widget(synthetic_image(), model)
    try:
        assert w._timings is None
        ok(front, front.send("add_point", x=72, y=72, label=1))
        assert w._timings is None
    finally:
        w.close()


def test_a_click_is_split_into_handler_model_masks_and_ack(model, monkeypatch):
    predict = ImagePredictor.predict
    calls = []

    def slow_predict(self, *args, **kwargs):
        calls.append(1)
        time.sleep(SLOW_S)
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(ImagePredictor, "predict", slow_predict)
    w, front = make_widget(synthetic_image(), model)
    try:
        w.wait_idle(60)  # the image is encoded: the click's job is the prediction alone
        w._timings = timings = MessageTimings()
        click = front.send("add_point", x=72, y=72, label=1)
        ok(front, click)
        label_rle = w.label_rle
        new_object = front.send("add_object")
        ok(front, new_object)
        refused = front.send("add_point", x="left", y=5, label=1)
        assert not front.ack(refused)["ok"]
    finally:
        w.close()

    first, second, third = timings.records
    assert (first["seq"], first["type"]) == (click, "add_point")
    # Every step is timed from the arrival, in order: the handler returned, the model ran on the
    # worker, the label map left, then the ack.
    assert 0 < first["handler_s"] < first["masks_sent_s"] <= first["acked_s"]
    assert len(calls) == 1
    assert first["masks_bytes"] == len(label_rle) > 0
    assert SLOW_S <= first["model_s"] < first["masks_sent_s"]
    # A message that changes no mask: no model time, no label map.
    assert (second["seq"], second["type"], second["model_s"], second["masks_sent_s"], second["masks_bytes"]) == (
        new_object,
        "add_object",
        0.0,
        None,
        None,
    )
    assert 0 < second["handler_s"] <= second["acked_s"]
    # A refused message is acked (at once) but never handled.
    assert third["seq"] == refused and third["handler_s"] is None and third["acked_s"] > 0


# --------------------------------------------------------------------------- the label map of a click


def codec_label_rle(masks: dict[int, np.ndarray], hw: tuple[int, int]) -> bytes:
    """The label map's RLE the slow way: the (H, W) map, then its runs."""
    if not masks:
        return b""
    return codecs.encode_label_rle(codecs.masks_to_label_map(masks, hw, dtype=np.uint32))


def test_label_rle_from_runs_matches_the_codec():
    rng = np.random.default_rng(0)
    for _ in range(300):
        h, w = (int(v) for v in rng.integers(1, 12, 2))
        ids = [int(i) for i in rng.permutation(np.arange(1, 9))[: rng.integers(0, 5)]]
        # empty, sparse, dense and full masks, overlapping: the first listed must win
        masks = {i: rng.random((h, w)) < rng.choice([0.0, 0.3, 0.7, 1.0]) for i in ids}
        runs = [(i, encode_mask(m)) for i, m in masks.items()]
        assert _label_rle_of_runs(runs, h * w) == codec_label_rle(masks, (h, w))


def test_a_click_at_1080p_sends_the_label_map_of_its_masks(model):
    w, front = make_widget(synthetic_image(1080, 1920), model)
    try:
        for x, y in ((300, 400), (1500, 700)):  # two objects
            ok(front, front.send("add_point", x=x, y=y, label=1))
            ok(front, front.send("add_object"))
        masks = w.masks
        assert len(masks) == 2
        assert w.label_rle == codec_label_rle(masks, (1080, 1920))
        label = codecs.decode_label_rle(w.label_rle, 1080, 1920)
        assert {int(v) for v in np.unique(label)} <= {0, *masks}
    finally:
        w.close()


def test_the_new_masks_and_their_latency_go_in_one_update(model):
    w, front = make_widget(synthetic_image(), model)
    try:
        w.wait_idle(60)
        updates: list[set] = []
        send_state = w.send_state

        def recording(key=None):
            updates.append(set([key] if isinstance(key, str) else key or ()))
            send_state(key)

        w.send_state = recording
        ok(front, front.send("add_point", x=72, y=72, label=1))
    finally:
        w.close()
    with_masks = [u for u in updates if "label_rle" in u]
    assert len(with_masks) == 1 and "latency_ms" in with_masks[0], updates
    assert not [u for u in updates if "latency_ms" in u and "label_rle" not in u], updates
