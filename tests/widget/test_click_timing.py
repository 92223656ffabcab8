"""The opt-in message timings of the kernel (message_dispatch.MessageTimings), which
benchmarks/bench_widget.py reads to split a click's round trip into model, kernel and transport."""

from __future__ import annotations

import time

from sam2_backend import ImagePredictor
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
