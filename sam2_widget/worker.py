"""One background thread per widget that runs the long work (encoding, predicting) in order."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable, Hashable

log = logging.getLogger(__name__)


class Worker:
    """A FIFO of jobs run by one daemon thread, so the comm handler only records and schedules.

    A job submitted with a ``key`` while another job with the same key is still
    waiting is not queued again: both callers get the waiting job's future. Jobs
    read the current state when they run, so that one run serves every request
    made before it started (the latest click wins, none is lost).

    Args:
        name: the thread's name.
        on_error: called on the worker thread with a job's exception, before its
            future (and so anyone waiting on it) learns of it.
        on_idle: called on the worker thread whenever the queue has run dry.
    """

    def __init__(self, name: str, on_error: Callable[[Exception], None] | None = None,
                 on_idle: Callable[[], None] | None = None) -> None:
        self._name = name
        self._on_error = on_error
        self._on_idle = on_idle
        self._cond = threading.Condition()
        self._pending: OrderedDict[Hashable, tuple[Callable[[], Any], Future]] = OrderedDict()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[], Any], key: Hashable | None = None) -> Future:
        """Queue ``fn()``; returns a future of its result (shared with a waiting job of the same ``key``)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the widget was closed; create a new one.")
            if key is not None and key in self._pending:
                return self._pending[key][1]
            future: Future = Future()
            self._pending[object() if key is None else key] = (fn, future)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return future

    def on_worker_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until every queued job has run; TimeoutError after ``timeout`` seconds."""
        if self.on_worker_thread():
            raise RuntimeError("wait_idle() cannot be called from the widget's own worker thread "
                               "(e.g. inside an on_change callback).")
        with self._cond:
            if not self._cond.wait_for(lambda: not self._pending and not self._busy, timeout):
                raise TimeoutError(f"the widget was still busy after {timeout} s.")

    def close(self) -> None:
        """Drop waiting jobs (their futures are cancelled) and stop the thread after the running one."""
        with self._cond:
            self._closed = True
            for _, future in self._pending.values():
                future.cancel()
            self._pending.clear()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                _, (fn, future) = self._pending.popitem(last=False)
                self._busy = True
            # The one place for broad catches: whatever a job raises must reach the
            # widget's error display and the job's future (so any waiting Python call),
            # and must not kill the thread that every later job needs.
            try:
                result = fn()
            except Exception as e:  # broad on purpose, see above
                log.error("widget job failed", exc_info=e)
                self._call_hook(self._on_error, e)
                future.set_exception(e)
            else:
                future.set_result(result)
            with self._cond:
                idle = not self._pending
            if idle:
                self._call_hook(self._on_idle)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    @staticmethod
    def _call_hook(hook: Callable[..., None] | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:  # broad on purpose: a broken hook must not stop the worker either
            log.exception("widget worker hook %r failed", hook)
