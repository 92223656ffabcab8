"""One background thread per widget that runs the long work (encoding, predicting) in order."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import CancelledError, Future
from typing import Any

log = logging.getLogger(__name__)

# How long the interpreter's exit waits for running jobs (see _finish_at_exit).
EXIT_WAIT_S = 120.0


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
        background: low-priority work in small slices: after :meth:`wake`, called on the
            worker thread whenever no job is waiting, until it returns False (nothing left
            for now). A job submitted meanwhile runs before the next slice, and
            :meth:`wait_idle` does not wait for slices.
        on_close: called by :meth:`close` to cut a long running job short (e.g. cancel tracking).
    """

    def __init__(
        self,
        name: str,
        on_error: Callable[[Exception], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        background: Callable[[], bool] | None = None,
        on_close: Callable[[], Any] | None = None,
    ) -> None:
        self._name = name
        self._on_error = on_error
        self._on_idle = on_idle
        self._background = background
        self._on_close = on_close
        self._cond = threading.Condition()
        self._pending: OrderedDict[Hashable, tuple[Callable[[], Any], Future]] = OrderedDict()
        self._busy = False  # a job or its idle hook is running (what wait_idle waits for)
        self._running = False  # a job itself is running
        self._wakes = 0  # wake() calls so far: one made during a slice that found nothing is not lost
        self._background_due = False
        self._closed = False
        self._thread: threading.Thread | None = None
        _open_workers.add(self)

    def submit(self, fn: Callable[[], Any], key: Hashable | None = None) -> Future:
        """Queue ``fn()``; returns a future of its result (shared with a waiting job of the same ``key``)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the widget was closed; create a new one.")
            if key is not None and key in self._pending:
                return self._pending[key][1]
            future: Future = Future()
            self._pending[object() if key is None else key] = (fn, future)
            self._start()
            self._cond.notify_all()
            return future

    def wake(self) -> None:
        """Have the ``background`` work run again (in slices, while no job waits)."""
        with self._cond:
            if self._closed or self._background is None:
                return
            self._wakes += 1
            self._background_due = True
            self._start()
            self._cond.notify_all()

    @property
    def idle(self) -> bool:
        """No job waiting or running (true again while the ``on_idle`` hook runs)."""
        with self._cond:
            return not self._pending and not self._running

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def on_worker_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until every queued job has run; TimeoutError after ``timeout`` seconds."""
        if self.on_worker_thread():
            raise RuntimeError(
                "wait_idle() cannot be called from the widget's own worker thread (e.g. inside an on_change callback)."
            )
        with self._cond:
            if not self._cond.wait_for(lambda: not self._pending and not self._busy, timeout):
                raise TimeoutError(f"the widget was still busy after {timeout} s.")

    def close(self) -> None:
        """Drop waiting jobs (their futures are cancelled) and stop the thread after the running
        job or background slice."""
        with self._cond:
            self._closed = True
            for _, future in self._pending.values():
                future.cancel()
            self._pending.clear()
            self._cond.notify_all()
        self._call_hook(self._on_close)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after :meth:`close`), at most ``timeout`` seconds."""
        if self._thread is not None and not self.on_worker_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed or self._background_due)
                if self._closed:
                    return
                if not self._pending:
                    wakes = self._wakes
                    fn = None
                else:
                    _, (fn, future) = self._pending.popitem(last=False)
                    self._busy = self._running = True
            if fn is None:
                self._run_background(wakes)
                continue
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
                self._running = False
                idle = not self._pending
            if idle:
                self._call_hook(self._on_idle)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _run_background(self, wakes: int) -> None:
        try:
            more = self._background()
        except Exception:  # broad on purpose: background work must not stop the worker
            log.exception("widget background work %r failed", self._background)
            more = False
        if not more:
            with self._cond:
                if self._wakes == wakes:
                    self._background_due = False

    @staticmethod
    def _call_hook(hook: Callable[..., None] | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:  # broad on purpose: a broken hook must not stop the worker either
            log.exception("widget worker hook %r failed", hook)


_open_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


@atexit.register
def _finish_at_exit() -> None:
    """Let running jobs end before the interpreter does. A daemon thread still inside a torch
    call when Python finalizes is stopped while unwinding C++ frames, and the process aborts
    ("terminate called without an active exception", exit status 134). So at exit every
    worker drops its waiting jobs, cuts a long one short (``on_close``) and is waited for."""
    workers = list(_open_workers)
    for worker in workers:
        worker.close()
    deadline = time.monotonic() + EXIT_WAIT_S
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))


def when_done(futures: list[Future], callback: Callable[[BaseException | None], None]) -> None:
    """Call ``callback(error)`` once every future is done: the first failure, or None."""
    if not futures:
        callback(None)
        return
    remaining = [len(futures)]
    lock = threading.Lock()

    def done(_: Future) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        callback(next((e for e in map(failure, futures) if e is not None), None))

    for future in futures:
        future.add_done_callback(done)


def failure(future: Future) -> BaseException | None:
    if future.cancelled():
        return CancelledError("the widget was closed before this finished.")
    return future.exception()
