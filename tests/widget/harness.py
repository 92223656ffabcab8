"""Drive a Sam2Widget as the front end does: messages through ipywidgets' own handler, acks captured.

The tests' model and clip are fixtures of tests/widget/conftest.py."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

import sam2_backend as sb
from sam2_widget import Sam2VideoWidget, Sam2Widget, embeddings

VIDEO_FRAMES = 8  # frames of the video tests' clip (the fixture "clip")
VIDEO_IMAGE_SIZE = 128  # the image size of their model (the fixture "video_model"): tracking is the slow part


class Frontend:
    """Sends messages the way the kernel delivers them and records what the widget sends back."""

    def __init__(self, widget: Sam2Widget) -> None:
        self.widget = widget
        self.sent: list[dict] = []
        self._seq = 0
        widget.send = lambda content, buffers=None: self.sent.append(content)

    def send(self, type: str, **fields: Any) -> int:
        """Send ``{"type", "seq", **fields}``; returns its seq."""
        self._seq += 1
        self.raw({"type": type, "seq": self._seq, **fields})
        return self._seq

    def raw(self, content: Any) -> float:
        """Deliver any content as a custom comm message; returns how long the handler took (s)."""
        msg = {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
        start = time.perf_counter()
        self.widget._handle_msg(msg)  # ipywidgets' entry point for every comm message
        return time.perf_counter() - start

    def acks(self) -> dict[Any, dict]:
        return {m["seq"]: m for m in self.sent if m.get("type") == "ack"}

    def ack(self, seq: int) -> dict:
        self.widget.wait_idle(60)
        return self.acks()[seq]


class Recorder(Frontend):
    """A Frontend that also keeps the buffers of custom messages (for ``frame`` replies)."""

    def __init__(self, widget) -> None:
        super().__init__(widget)
        self.buffers: list[tuple[dict, list]] = []

        def send(content, buffers=None):
            self.sent.append(content)
            self.buffers.append((content, list(buffers or [])))

        widget.send = send

    @property
    def frames(self) -> list[tuple[dict, list]]:
        """The ``frame`` replies so far, with their buffers."""
        return [(c, b) for c, b in self.buffers if c.get("type") == "frame"]


def ok(front: Frontend, seq: int) -> None:
    """The message ``seq`` was acknowledged without an error."""
    ack = front.ack(seq)
    assert ack["ok"], ack


def make_widget(source: Any, model: sb.SAM2Model, **options: Any) -> tuple[Sam2Widget, Frontend]:
    widget = Sam2Widget(source, model=model, **options)
    return widget, Frontend(widget)


def video_widget(clip: np.ndarray, model: sb.SAM2Model) -> tuple[Sam2VideoWidget, Recorder]:
    """A video widget of ``clip`` and a Recorder of what it sends."""
    w = Sam2Widget(clip, model=model, video=True)
    assert isinstance(w, Sam2VideoWidget) and w.is_video and w.image_count == len(clip)
    return w, Recorder(w)


def prompt_track_and_correct(front: Recorder) -> None:
    """Object 1 clicked and object 2 boxed on frame 0, tracked forward, then object 1
    corrected on (tracked) frame 4 with a positive and a negative click."""
    ok(front, front.send("add_point", x=30.0, y=40.0, label=1))
    ok(front, front.send("add_object"))
    ok(front, front.send("add_box", x0=60.0, y0=28.0, x1=110.0, y1=60.0))
    ok(front, front.send("track", direction="forward"))
    ok(front, front.send("goto", index=4))
    ok(front, front.send("select_object", id=1))
    ok(front, front.send("add_point", x=70.0, y=40.0, label=1))
    ok(front, front.send("add_point", x=20.0, y=80.0, label=0))


def all_masks(results: sb.TrackResults, n: int) -> dict:
    """{frame: {object: mask}} of the frames among the first ``n`` that ``results`` holds."""
    return {f: results.frame_masks(f) for f in range(n) if f in results}


def reference_mask(model: sb.SAM2Model, image: Any, points=None, labels=None, box=None, mask_input=None) -> np.ndarray:
    """What ImagePredictor gives for one object's prompts, chosen the widget's way
    (multimask only for a lone click, best score kept)."""
    predictor = sb.ImagePredictor(model)
    predictor.set_image(image)
    single = points is not None and len(points) == 1 and box is None and mask_input is None
    masks, scores, _ = predictor.predict(points=points, labels=labels, box=box, mask_input=mask_input, multimask=single)
    return masks[int(np.argmax(scores))]


def snapshot(widget: Sam2Widget) -> tuple[list, dict, list]:
    """Prompts, masks and objects of the shown image, for exact comparisons."""
    widget.wait_idle(60)
    return list(widget.prompts), {k: v.copy() for k, v in widget.masks.items()}, list(widget.objects)


def assert_same(a: tuple, b: tuple) -> None:
    assert a[0] == b[0]
    assert a[2] == b[2]
    assert list(a[1]) == list(b[1])
    for k in a[1]:
        np.testing.assert_array_equal(a[1][k], b[1][k])


class EncodingGate:
    """Makes the widget's image encoding wait until :meth:`open` (patches its ImagePredictor)."""

    def __init__(self, monkeypatch) -> None:
        self.event = threading.Event()
        self.started = threading.Event()
        self.encoded = 0
        gate = self

        class GatedPredictor(sb.ImagePredictor):
            def set_image(self, image):
                gate.started.set()
                assert gate.event.wait(60), "the test never opened the encoding gate"
                gate.encoded += 1
                super().set_image(image)

        monkeypatch.setattr(embeddings, "ImagePredictor", GatedPredictor)

    def open(self) -> None:
        self.event.set()
