"""Tracking a clip from the widget: requests and cancelling, the run on the worker, its progress.

A mixin of ``Sam2VideoWidget``. ``track`` queues a run on the main worker (behind
prompts recorded before it); ``cancel`` is handled on the comm thread and only
sets flags, so it takes effect while the worker is busy. While a run goes on,
every tracked frame is marked changed for the front end, and progress and the
tracked spans are sent at most every ``PROGRESS_INTERVAL_S``.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future
from functools import partial
from typing import Any

from sam2_backend.video.memory_policies import make_policy

from .messages import string

DIRECTIONS = ("forward", "backward", "both")
PROGRESS_INTERVAL_S = 0.1  # progress and tracked spans are sent at most this often while tracking


class TrackTickets:
    """Tracking requests, numbered in order: how many are queued or running, and up to which one
    they are cancelled. The comm thread issues and cancels them, the worker runs them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued = 0
        self._cancelled_upto = 0  # requests up to this one are cancelled
        self._active = 0  # requests queued or running

    @property
    def active(self) -> bool:
        with self._lock:
            return self._active > 0

    def issue(self) -> int:
        """A new request's ticket; :meth:`finish` it when its run ends (or it was never queued)."""
        with self._lock:
            self._issued += 1
            self._active += 1
            return self._issued

    def finish(self) -> None:
        with self._lock:
            self._active -= 1

    def cancelled(self, ticket: int) -> bool:
        return ticket <= self._cancelled_upto

    def cancel_all(self) -> bool:
        """Cancel every request issued so far; returns whether any is queued or running."""
        with self._lock:
            self._cancelled_upto = self._issued
            return self._active > 0


class TrackProgress:
    """One run's frames done of its total, its rate and ETA, as the ``progress`` trait shows them."""

    def __init__(self, direction: str, start: int, num_frames: int) -> None:
        self.direction = direction
        self.total = {"forward": num_frames - start, "backward": start + 1 if start > 0 else 0, "both": num_frames}[
            direction
        ]
        self.done = 0
        self._began = time.perf_counter()
        self._last = 0.0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._began

    def not_run(self) -> dict:
        """The run was cancelled before it started."""
        return progress(False, self.direction, 0, self.total, 0.0, None, cancelled=True)

    def started(self) -> dict:
        return progress(True, self.direction, 0, self.total, 0.0, None)

    def frame_done(self) -> None:
        self.done += 1

    def due(self) -> dict | None:
        """The progress to send now, or None if the last was sent under ``PROGRESS_INTERVAL_S`` ago."""
        now = time.perf_counter()
        if now - self._last < PROGRESS_INTERVAL_S:
            return None
        self._last = now
        fps = self.done / max(now - self._began, 1e-9)
        return progress(True, self.direction, self.done, self.total, fps, (self.total - self.done) / fps)

    def ended(self, cancelled: bool, elapsed: float) -> dict:
        fps = self.done / max(elapsed, 1e-9)
        return progress(False, self.direction, self.done, self.total, fps, None if cancelled else 0.0, cancelled)


def progress(
    running: bool, direction: str, done: int, total: int, fps: float, eta_s: float | None, cancelled: bool = False
) -> dict:
    """The ``progress`` trait's value (docs/widget_protocol.md)."""
    return {
        "running": running,
        "direction": direction,
        "done": done,
        "total": total,
        "fps": round(fps, 2),
        "eta_s": None if eta_s is None or not math.isfinite(eta_s) else round(eta_s, 2),
        "cancelled": cancelled,
    }


class Tracking:
    """``track`` and ``cancel``, from Python and from the front end, and the tracking job.

    Reads the widget's ``_session``, ``_tickets``, ``_worker``, ``_versions`` and ``_autosave``, and
    updates its view through ``_refresh``, ``_refresh_spans``, ``_flush_changes`` and ``_set_progress``.
    """

    def track(
        self,
        direction: str = "forward",
        frame: int | None = None,
        wait: bool = True,
        objects: list[int] | None = None,
    ) -> int | Future:
        """Track every object (or only the ids in ``objects``, leaving the others' masks as they are)
        from ``frame`` (default: shown) "forward", "backward" or "both".

        Masks appear in the widget as frames are done. With ``wait=True`` returns the number
        of frames tracked; else a Future of it (call :meth:`cancel` to stop early).
        """
        future = self._call(self._track, direction, frame, objects, wait=wait)
        return future.result() if wait else future

    def cancel(self) -> bool:
        """Stop tracking after the current frame, keeping every frame done; False if nothing ran."""
        return self._cancel()

    def set_memory(self, memory: str = "sam2", **options: Any) -> None:
        """Switch the memory policy (``memory=`` of ``Sam2Widget``: ``"sam2"``, ``"quality"``,
        ``"samurai"``, ``"dam4sam"``, with its options) for the frames tracked from now on; the
        masks tracked before stay. Refused while tracking."""
        self._call(self._set_memory, memory, options or None)

    def _msg_set_memory(self, msg: dict) -> list[Future]:
        options = msg.get("options")
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"set_memory options must be an object of the policy's options, got {options!r:.80}.")
        return self._set_memory(string(msg, "memory"), options)[1]

    def _set_memory(self, memory: Any, options: dict | None) -> tuple[None, list[Future]]:
        if self._tickets.active:
            raise ValueError("the memory policy cannot change while tracking: cancel or wait for the run to end.")
        policy = make_policy(memory, **(options or {}))  # bad names and options fail here, on the caller's thread

        def switch() -> None:
            self._session.tracker.set_memory(policy)
            self._show_memory()

        return None, [self._worker.submit(switch)]

    def _show_memory(self) -> None:
        policy = self._session.tracker.memory_policy
        with self._view_lock:
            self.set_trait("memory", {"name": policy.name, "options": policy.options()})

    def _msg_track(self, msg: dict) -> list[Future]:
        return self._track(string(msg, "direction"), None, msg.get("objects"))[1]

    def _msg_cancel(self, msg: dict) -> list[Future]:
        self._cancel()
        return []

    def _track(self, direction: Any, frame: int | None, objects: Any = None) -> tuple[Future, list[Future]]:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}.")
        start = self._session.check_index(self._frame(frame))
        if not self._session.has_prompts():
            raise ValueError("nothing to track: add points, a box or a mask for an object first.")
        if objects is not None:
            objects = self._session.check_objects(objects)
        ticket = self._tickets.issue()
        try:
            future = self._worker.submit(partial(self._track_job, ticket, direction, start, objects))
        except RuntimeError:
            self._tickets.finish()
            raise
        return future, [future]

    def _interrupt_work(self) -> None:
        if hasattr(self, "_tickets"):  # the widget's __init__ may have failed before making them
            self._cancel()

    def _cancel(self) -> bool:
        running = self._tickets.cancel_all()
        if running:
            self._session.tracker.cancel()  # thread-safe: an Event checked before every frame
        return running

    def _track_job(self, ticket: int, direction: str, start: int, objects: list[int] | None) -> int:
        try:
            run = TrackProgress(direction, start, self._session.num_frames)
            if self._tickets.cancelled(ticket):
                self._set_progress(run.not_run())
                return 0
            which = "" if objects is None else f" (objects {', '.join(map(str, objects))})"
            self._set_status("tracking", f"tracking {direction}{which}")
            self._set_progress(run.started())
            frames = self._session.propagate(direction, start=start, objects=objects)
            try:
                for frame, masks in frames:
                    self._track_frame_done(run, frame, masks)
                    if self._tickets.cancelled(ticket):
                        break
            finally:
                frames.close()
                self._flush_changes()
                self._request_autosave()
                elapsed = run.elapsed
                cancelled = self._tickets.cancelled(ticket) and run.done < run.total
                self._set_progress(run.ended(cancelled, elapsed))
                what = "cancelled after" if cancelled else "tracked"
                self._last_timing = f"{what} {run.done} frames in {elapsed:.1f} s"
                self._refresh(masks=True)
            return run.done
        finally:
            self._tickets.finish()

    def _track_frame_done(self, run: TrackProgress, frame: int, masks: dict) -> None:
        """Show a tracked frame: mark it changed, redraw it if shown, send progress when due, autosave."""
        run.frame_done()
        self._versions.mark([frame])
        if frame == self.image_index:
            self._refresh(masks=True, spans=False)
        self._notify(frame, masks)
        update = run.due()
        if update is not None:
            self._set_progress(update)
            self._refresh_spans(live=True)
            self._flush_changes()
        if self._autosave is not None and self._autosave.due():
            self._autosave_job(self._autosave.request())
