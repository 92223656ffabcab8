"""The widget driven with the front end's messages (docs/widget_protocol.md), on a random-weight model."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_widget import Sam2Widget, codecs, color_for
from sam2_widget.session import Session
from tests.images import synthetic_image
from tests.widget.harness import EncodingGate, assert_same, make_widget, reference_mask, snapshot

H, W = 60, 80


@pytest.fixture(scope="module")
def image():
    return synthetic_image(H, W)


def test_clicks_and_box_give_the_image_predictors_masks(model, image):
    w, fe = make_widget(image, model)
    assert (w.image_count, w.image_index, w.image_width, w.image_height) == (1, 0, W, H)
    assert w.image_jpeg[:2] == b"\xff\xd8"  # a JPEG

    seq = fe.send("add_point", x=20.5, y=18.0, label=1)
    assert fe.ack(seq) == {"type": "ack", "seq": seq, "ok": True}
    assert w.selected_id == 1  # the first click made an object
    assert w.objects == [{"id": 1, "name": "object 1", "color": color_for(1), "visible": True}]
    np.testing.assert_array_equal(w.masks[1], reference_mask(model, image, [[20.5, 18.0]], [1]))

    fe.send("add_point", x=60.0, y=40.0, label=0)
    seq = fe.send("add_box", x0=5.0, y0=4.0, x1=50.0, y1=45.0)
    assert fe.ack(seq)["ok"]
    expected = reference_mask(model, image, [[20.5, 18.0], [60.0, 40.0]], [1, 0], box=[5, 4, 50, 45])
    np.testing.assert_array_equal(w.masks[1], expected)
    assert w.prompts == [
        {"obj_id": 1, "type": "point", "x": 20.5, "y": 18.0, "label": 1},
        {"obj_id": 1, "type": "point", "x": 60.0, "y": 40.0, "label": 0},
        {"obj_id": 1, "type": "box", "x0": 5.0, "y0": 4.0, "x1": 50.0, "y1": 45.0},
    ]
    # A second box replaces the first, in place.
    fe.send("add_box", x0=10.0, y0=10.0, x1=70.0, y1=50.0)
    w.wait_idle(60)
    assert [p["type"] for p in w.prompts] == ["point", "point", "box"] and w.prompts[2]["x1"] == 70.0

    # A second object; the label map holds both, the first listed winning overlaps.
    fe.send("add_object")
    seq = fe.send("add_point", x=70.0, y=10.0, label=1)
    assert fe.ack(seq)["ok"] and w.selected_id == 2
    np.testing.assert_array_equal(w.masks[2], reference_mask(model, image, [[70.0, 10.0]], [1]))
    label = codecs.decode_label_rle(w.label_rle, H, W)
    np.testing.assert_array_equal(label, codecs.masks_to_label_map(w.masks, (H, W)))
    assert set(np.unique(label)) <= {0, 1, 2}
    assert w.status == "idle" and w.status_text.startswith("mask in") and w.latency_ms > 0
    w.close()


def test_python_api_waits_and_returns_masks(model, image):
    w, _ = make_widget(image, model)
    masks = w.add_points([[30, 30], [10, 50]], [1, 1])
    np.testing.assert_array_equal(masks[1], reference_mask(model, image, [[30, 30], [10, 50]], [1, 1]))
    obj = w.add_object("car")
    masks = w.add_box([40, 5, 78, 35], obj_id=obj)
    np.testing.assert_array_equal(masks[obj], reference_mask(model, image, box=[40, 5, 78, 35]))
    w.select_object(1)
    w.add_points([[12, 12]], [0])
    assert len(w.prompts) == 4
    w.rename_object(obj, "truck")
    w.set_visible(1, False)
    assert [o["name"] for o in w.objects] == ["object 1", "truck"]
    # Hidden objects stay in the masks but leave the drawn label map.
    label = codecs.decode_label_rle(w.label_rle, H, W)
    assert 1 in w.masks and not (label == 1).any()
    seen = []
    w.on_change(lambda widget, index, masks: seen.append((index, sorted(masks))))
    w.remove_prompt(3)
    assert seen == [(0, [1, 2])]
    w.clear_object(obj)
    assert list(w.masks) == [1]
    w.delete_object(1)
    assert w.masks == {} and w.objects[0]["id"] == obj and w.selected_id == 0
    w.close()


def test_undo_redo_restore_prompts_and_masks_exactly(model, image):
    w, fe = make_widget(image, model)
    history = [snapshot(w)]
    for kind, fields in [
        ("add_point", dict(x=20.0, y=20.0, label=1)),
        ("add_point", dict(x=50.0, y=30.0, label=1)),
        ("add_box", dict(x0=2.0, y0=2.0, x1=60.0, y1=55.0)),
        ("add_object", {}),
        ("add_point", dict(x=70.0, y=50.0, label=1)),
        ("remove_prompt", dict(index=1)),
        ("delete_object", dict(id=1)),
    ]:
        fe.send(kind, **fields)
        history.append(snapshot(w))
    assert w.can_undo and not w.can_redo
    for state in reversed(history[:-1]):
        assert fe.ack(fe.send("undo"))["ok"]
        assert_same(snapshot(w), state)
    assert not w.can_undo and w.can_redo
    assert w.undo() is False  # nothing left: not an error
    for state in history[1:]:
        assert w.redo() is True
        assert_same(snapshot(w), state)
    assert not w.can_redo
    # A new action after undo drops the redo branch.
    w.undo()
    w.add_points([[5, 5]], [1])
    assert not w.can_redo
    w.close()


def test_rapid_clicks_while_encoding_lose_nothing_and_never_block(model, image, monkeypatch):
    gate = EncodingGate(monkeypatch)
    w, fe = make_widget(image, model)
    assert gate.started.wait(30)  # the worker is now stuck encoding the image
    rng = np.random.default_rng(0)
    points = rng.uniform([1, 1], [W - 1, H - 1], size=(50, 2)).round(2)
    labels = [1] + [int(v) for v in rng.integers(0, 2, size=49)]
    seqs, times = [], []
    for (x, y), label in zip(points, labels):
        seqs.append(fe._seq + 1)
        times.append(fe.raw({"type": "add_point", "seq": fe._seq + 1, "x": float(x), "y": float(y), "label": label}))
        fe._seq += 1
    # Every click was recorded at once, none answered yet: the handler did not wait for the encoder.
    assert max(times) < 0.25 and sum(times) < 2.0, times
    assert len(w.prompts) == 50 and fe.acks() == {}
    assert w.status == "encoding"
    gate.open()
    w.wait_idle(60)
    assert gate.encoded == 1
    acks = fe.acks()
    assert sorted(acks) == seqs and all(a["ok"] for a in acks.values())
    assert [(p["x"], p["y"], p["label"]) for p in w.prompts] == [
        (float(x), float(y), label) for (x, y), label in zip(points, labels)
    ]
    np.testing.assert_array_equal(w.masks[1], reference_mask(model, image, points.tolist(), labels))
    w.close()


def test_clicks_racing_running_predictions_coalesce_and_end_exact(model, image, monkeypatch):
    w, fe = make_widget(image, model)
    w.wait_idle(60)  # encoded: now clicks race predictions, not the encoder
    runs = []
    real_predict = Session.predict
    monkeypatch.setattr(Session, "predict", lambda *a: runs.append(1) or real_predict(*a))
    rng = np.random.default_rng(1)
    seqs = []
    for k in range(30):
        x, y = rng.uniform(1, W - 1), rng.uniform(1, H - 1)
        seqs.append(fe.send("add_point", x=float(x), y=float(y), label=int(k % 3 != 2)))
        if k in (10, 20):
            seqs += [fe.send("undo"), fe.send("undo"), fe.send("redo")]
    w.wait_idle(60)
    acks = fe.acks()
    assert sorted(acks) == seqs and all(a["ok"] for a in acks.values())
    assert len(w.prompts) == 28 and len(runs) < 30  # two undone clicks; queued clicks shared predictions
    points = [[p["x"], p["y"]] for p in w.prompts]
    labels = [p["label"] for p in w.prompts]
    np.testing.assert_array_equal(w.masks[1], reference_mask(model, image, points, labels))
    w.close()


def test_a_failed_prediction_is_reported_and_loses_nothing(model, image, monkeypatch):
    w, fe = make_widget(image, model)
    w.add_points([[20, 20]], [1])
    before = snapshot(w)

    def broken(self, *args):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(Session, "predict", broken)
    seq = fe.send("add_point", x=40.0, y=40.0, label=1)
    ack = fe.ack(seq)
    assert ack == {"type": "ack", "seq": seq, "ok": False, "error": "decoder exploded"}
    assert w.error == "decoder exploded" and w.status == "error"
    with pytest.raises(RuntimeError, match="decoder exploded"):
        w.add_points([[41, 41]], [1])
    monkeypatch.undo()
    # The prompts were kept; the next action predicts from all of them.
    assert len(w.prompts) == 3
    np.testing.assert_array_equal(before[1][1], w.masks[1])  # stale mask still shown
    w.add_points([[42, 42]], [1])
    assert w.error == "" and w.status == "idle"
    pts = [[20, 20], [40, 40], [41, 41], [42, 42]]
    np.testing.assert_array_equal(w.masks[1], reference_mask(model, image, pts, [1] * 4))
    w.close()


def test_on_change_fires_after_every_new_mask(model, image):
    w, fe = make_widget(image, model)
    calls = []

    def record(widget, index, masks):
        calls.append((widget, index, {k: int(v.sum()) for k, v in masks.items()}))

    w.on_change(record)
    fe.send("add_point", x=30.0, y=30.0, label=1)
    w.wait_idle(60)
    assert len(calls) == 1 and calls[0][0] is w and calls[0][1] == 0 and list(calls[0][2]) == [1]
    w.undo()
    assert len(calls) == 2 and calls[-1][2] == {}
    w.on_change(record, remove=True)
    w.redo()
    assert len(calls) == 2
    w.close()


def test_unknown_options_and_bad_sources_raise_clearly(model, image, tmp_path):
    with pytest.raises(TypeError, match=r"'opacty' \(did you mean 'opacity'\?\)"):
        Sam2Widget(image, model=model, opacty=0.3)
    with pytest.raises(FileNotFoundError):
        Sam2Widget(tmp_path / "missing.png", model=model)
    with pytest.raises(ValueError, match="No image files"):
        Sam2Widget(tmp_path, model=model)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="Could not read"):
        Sam2Widget(tmp_path / "broken.png", model=model)
    with pytest.raises(ValueError, match="shape"):
        Sam2Widget(np.zeros((4, 4, 5), np.uint8), model=model)
    with pytest.raises(TypeError, match="Unsupported image type"):
        Sam2Widget(42, model=model)
    with pytest.raises(ValueError, match="empty"):
        Sam2Widget([], model=model)
    with pytest.raises(TypeError, match="model must be"):
        Sam2Widget(image, model=3)
    with pytest.raises(ValueError, match="does not match"):
        Sam2Widget(image, model=model, device="meta")
    w = Sam2Widget(image, model=model, opacity=0.3, outline=False, cache_size=2)
    assert (w.opacity, w.outline) == (0.3, False)
    with pytest.raises(Exception, match="read-only"):
        w.image_index = 1  # navigation goes through goto()
    w.close()


def test_without_the_bundle_the_widget_says_how_to_build_it(monkeypatch, tmp_path):
    import sam2_widget.front_end as module

    monkeypatch.setattr(module, "_STATIC", tmp_path)
    fallback = module._bundle("widget.js", module._MISSING_BUNDLE_ESM)
    assert isinstance(fallback, str) and "front end not built: run npm run build" in fallback
