"""Front-end messages in, acks out: the dispatch both widgets share and their shared handlers.

A mixin of ``Sam2Widget`` (it reads the widget's ``_messages`` table, session and
actions). Every message gets exactly one ``ack``: an error ack at once for bad
input (and the error shown in the widget), else an ok ack once every job the
message scheduled is done, so the front end never waits forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from .messages import TYPES as MESSAGE_TYPES
from .messages import boolean, describe_error, integer, is_int, number, string
from .worker import when_done

log = logging.getLogger(__name__)

Futures = list[Future]

# The messages both widgets handle; each widget's table adds its own.
SHARED_MESSAGES = (
    "add_point",
    "add_box",
    "remove_prompt",
    "undo",
    "redo",
    "add_object",
    "select_object",
    "rename_object",
    "set_visible",
    "delete_object",
    "clear_object",
    "clear_image",
    "goto",
    "segment_everything",
)


class MessageTimings:
    """Opt-in timings of front-end messages in the kernel (benchmarks/bench_widget.py).

    Off unless set on a widget (``w._timings = MessageTimings()``; None costs nothing). Then
    every message gets a record in ``records``: its ``seq`` and ``type``, and seconds from its
    arrival in the kernel (``perf_counter``, the kernel's clock only):

    * ``handler_s``: the dispatch and its handler (prompt bookkeeping, the first trait sync);
    * ``model_s``: the predictor's ``predict`` calls made while the message was open;
    * ``masks_sent_s``: until the update carrying the new ``label_rle`` left (None if none did),
      and ``masks_bytes``, that ``label_rle``'s size;
    * ``acked_s``: until its ack left.

    A message is open from its arrival to its ack: the model time and the masks of a job
    count for every message open meanwhile (one, when the sender waits for each ack).
    """

    def __init__(self) -> None:
        self.records: list[dict] = []
        self._open: dict[Any, dict] = {}
        self._lock = threading.Lock()

    def received(self, seq: Any, kind: Any) -> dict:
        record = {
            "seq": seq,
            "type": kind,
            "start": time.perf_counter(),
            "handler_s": None,
            "model_s": 0.0,
            "masks_sent_s": None,
            "masks_bytes": None,
            "acked_s": None,
        }
        with self._lock:
            self.records.append(record)
            self._open[seq] = record
        return record

    def handled(self, record: dict) -> None:
        record["handler_s"] = time.perf_counter() - record["start"]

    def model(self, seconds: float) -> None:
        with self._lock:
            for record in self._open.values():
                record["model_s"] += seconds

    def masks_sent(self, size: int) -> None:
        now = time.perf_counter()
        with self._lock:
            for record in self._open.values():
                if record["masks_sent_s"] is None:
                    record["masks_sent_s"] = now - record["start"]
                    record["masks_bytes"] = size

    def acked(self, seq: Any) -> None:
        now = time.perf_counter()
        with self._lock:
            record = self._open.pop(seq, None)
            if record is not None:
                record["acked_s"] = now - record["start"]

    def timed(self, predictor: Any) -> Any:
        """``predictor`` with its ``predict`` calls counted as model time."""
        return _TimedPredictor(predictor, self)


class _TimedPredictor:
    def __init__(self, predictor: Any, timings: MessageTimings) -> None:
        self._predictor = predictor
        self._timings = timings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._predictor, name)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self._predictor.predict(*args, **kwargs)
        finally:
            self._timings.model(time.perf_counter() - start)


class MessageDispatch:
    """Dispatch on a message's ``type`` to its ``_msg_<type>`` method, and the handlers of ``SHARED_MESSAGES``.

    Reads the widget's ``_messages`` table and calls its actions (``_apply``, ``_goto``,
    ``_segment_everything``) and its error display (``_show_error``, ``_clear_error``).
    """

    _timings: MessageTimings | None = None  # opt-in (MessageTimings); None: off

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: list) -> None:
        """Dispatch a front-end message on its ``type``; every message gets an ``ack``."""
        seq = content.get("seq") if isinstance(content, dict) else None
        timings = self._timings
        record = None if timings is None else timings.received(seq, content.get("type") if seq is not None else None)
        try:
            handler = self._message_handler(content)
            futures = handler(content)
        except (ValueError, TypeError, KeyError) as e:  # bad input, said as the checks said it
            self._refuse(seq, e)
            return
        except Exception as e:  # broad on purpose: any failure must be acked and shown, or the front end waits
            log.exception("sam2_widget: the %r message failed", content.get("type"))
            self._refuse(
                seq,
                RuntimeError(
                    f"{content.get('type')} failed unexpectedly: {type(e).__name__}: "
                    f"{describe_error(e)} (details in the kernel's log)"
                ),
            )
            return
        self._clear_error()
        if record is not None:
            timings.handled(record)
        self._ack_when_done(seq, futures)

    def _message_handler(self, content: Any) -> Callable[[dict], Futures]:
        if not isinstance(content, dict):
            raise TypeError(f"a message must be a JSON object, got {type(content).__name__}.")
        kind = content.get("type")
        handled = ", ".join(self._messages)
        if kind not in self._messages:
            if kind in MESSAGE_TYPES:
                raise ValueError(
                    f"{kind} is not supported for {self._shows}{self._unsupported_note}; this widget handles {handled}."
                )
            raise ValueError(f"unknown message type {kind!r:.80}; this widget handles {handled}.")
        integer(content, "seq")
        return getattr(self, f"_msg_{kind}")

    def _refuse(self, seq: Any, error: BaseException) -> None:
        self._show_error(error)
        self._ack(seq, error)

    def _msg_add_point(self, msg: dict) -> Futures:
        point = [[number(msg, "x"), number(msg, "y")]]
        return self._apply(self._session.add_points, self.image_index, point, [integer(msg, "label")])[1]

    def _msg_add_box(self, msg: dict) -> Futures:
        box = [number(msg, k) for k in ("x0", "y0", "x1", "y1")]
        return self._apply(self._session.add_box, self.image_index, box)[1]

    def _msg_remove_prompt(self, msg: dict) -> Futures:
        return self._apply(self._session.remove_prompt, self.image_index, integer(msg, "index"))[1]

    def _msg_undo(self, msg: dict) -> Futures:
        return self._apply(self._session.undo)[1]

    def _msg_redo(self, msg: dict) -> Futures:
        return self._apply(self._session.redo)[1]

    def _msg_add_object(self, msg: dict) -> Futures:
        return self._apply(self._session.add_object)[1]

    def _msg_select_object(self, msg: dict) -> Futures:
        return self._apply(self._session.select_object, integer(msg, "id"))[1]

    def _msg_rename_object(self, msg: dict) -> Futures:
        return self._apply(self._session.rename_object, integer(msg, "id"), string(msg, "name"))[1]

    def _msg_set_visible(self, msg: dict) -> Futures:
        return self._apply(self._session.set_visible, integer(msg, "id"), boolean(msg, "visible"))[1]

    def _msg_delete_object(self, msg: dict) -> Futures:
        return self._apply(self._session.delete_object, integer(msg, "id"))[1]

    def _msg_clear_object(self, msg: dict) -> Futures:
        return self._apply(self._session.clear_object, self.image_index)[1]

    def _msg_clear_image(self, msg: dict) -> Futures:
        return self._apply(self._session.clear_image, self.image_index)[1]

    def _msg_goto(self, msg: dict) -> Futures:
        return self._goto(integer(msg, "index"))[1]

    def _msg_segment_everything(self, msg: dict) -> Futures:
        return self._segment_everything(self._amg_options)[1]

    def _ack(self, seq: Any, error: BaseException | None = None) -> None:
        reply = {"type": "ack", "seq": seq if is_int(seq) else None, "ok": error is None}
        if error is not None:
            reply["error"] = describe_error(error)
        self.send(reply)
        if self._timings is not None:
            self._timings.acked(seq)

    def _ack_when_done(self, seq: Any, futures: Futures) -> None:
        """Ack once every job the message scheduled is done (or was served by a later one)."""
        when_done(futures, partial(self._ack, seq))
