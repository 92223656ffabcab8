"""The widget for a video clip: the shared traits and messages (_base.py), plus a timeline and tracking.

``Sam2Widget(source)`` makes one of these for a video file, and for a folder, an
array or a list when ``video=True`` (see ``Sam2Widget.__new__``). The shared traits
keep their meaning with "image" read as "frame"; the video ones
(``is_video``, ``prompt_frames``, ``tracked``, ``lanes``, ``progress``, ``masks_version``) and
the messages ``track``, ``cancel``, ``fetch_frames``, ``masks_changed`` and ``lanes`` are in
docs/widget_protocol.md.

Its parts: tracking (video_tracking.py), the frames for the timeline and the JPEGs
kept in the kernel (timeline_frames.py), the overlay video export (overlay_video.py).
Threads: prompts are recorded on the comm thread and applied to the tracker by
the widget's worker thread, which also runs propagation; a click during tracking
is recorded at once and applied when the run ends (it queues behind it). Frames
for the timeline are encoded by a second small worker, so scrubbing stays live
during propagation.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sam2_backend.video.sources import FrameReadError

from . import codecs
from ._base import DEFAULT_MODEL, Sam2Widget
from ._options import ModelArg, check_options, resolve_model
from .clip_results import ClipResults
from .frame_cache import JpegCache
from .images import ImageReadError
from .mask_versions import MaskVersions
from .message_dispatch import SHARED_MESSAGES
from .messages import is_int
from .overlay_video import write_overlay_video
from .session_file import SavedVideoSession, model_reference, write_video_session
from .timeline_frames import TimelineFrames
from .video_session import VideoSession
from .video_tracking import Tracking, TrackTickets, progress

log = logging.getLogger(__name__)


class Sam2VideoWidget(Tracking, TimelineFrames, Sam2Widget):
    """SAM 2 on a video clip: prompts on any frame, tracking both ways, a timeline.

    Made by ``Sam2Widget(source)`` for a video file or ``Sam2Widget(source, video=True)``
    for a folder of frames, a (T, H, W, 3) array or a list of frames. Options as
    ``Sam2Widget``. Prompts go to the shown frame unless ``frame=`` is given.
    """

    _for_clips = True
    _messages = (*SHARED_MESSAGES, "track", "cancel", "fetch_frames", "set_memory")
    _shows, _item = "clips", "frame"

    def __init__(
        self,
        source: Any,
        model: ModelArg = DEFAULT_MODEL,
        device: str = "auto",
        video: bool | None = None,
        **options: Any,
    ) -> None:
        opts = check_options(options)
        jpegs = JpegCache(int(opts["frame_cache_mb"] * 2**20))  # a bad size fails before the clip is opened
        sam = resolve_model(model, device)
        session = VideoSession(sam, source, memory=opts["memory"], memory_options=opts["memory_options"])
        try:
            super().__init__(source, sam, device, video, **options)
        except BaseException:  # bad shared options: release the clip opened above
            session.close()
            raise
        self._session = session
        self._versions = MaskVersions()
        self._source_ref = str(Path(source).resolve()) if isinstance(source, (str, os.PathLike)) else None
        self._start_timeline_frames(source, jpegs)
        self._tickets = TrackTickets()
        with self.hold_sync():
            self.set_trait("is_video", True)
            self.set_trait("image_count", session.num_frames)
            self.set_trait("progress", progress(False, "", 0, 0, 0.0, None))
            self._show_memory()
        try:
            self._show_image(0)
        except ImageReadError as e:
            self._show_error(e)

    def __repr__(self) -> str:
        return (
            f"Sam2Widget(video of {self.image_count} frames, showing frame {self.image_index}, "
            f"{len(self.objects)} objects, {len(self.results)} frames tracked)"
        )

    # -- Python API: reading ---------------------------------------------------

    @property
    def results(self) -> ClipResults:
        """The tracker's results (live, not a copy): ``masks(start, stop)`` (T, N, H, W),
        ``labels``, ``boxes(frame)``, ``scores(frame)``, ``to_coco()``, ``save_label_maps(folder)``,
        and the exports by object name ``to_supervision(frame)``, ``save_yolo(folder)``,
        ``save_object_masks(folder)`` (see :class:`ClipResults`)."""
        return ClipResults(self._session)

    @property
    def tracker(self):
        """The ``sam2_backend.VideoTracker`` under the widget (read it; change things through the widget)."""
        return self._session.tracker

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every prompt, tracking run and frame fetch queued so far is done."""
        self._worker.wait_idle(timeout)
        self._frames_worker.wait_idle(timeout)

    # -- Python API: prompts on any frame --------------------------------------

    def _frame(self, frame: int | None) -> int:
        return self.image_index if frame is None else frame

    def add_points(
        self, points: Any, labels: Any, obj_id: int | None = None, frame: int | None = None
    ) -> dict[int, np.ndarray]:
        """Clicks (N, 2) (x, y) with labels (N,) for ``obj_id`` on ``frame`` (default: shown);
        returns that frame's masks."""
        frame = self._frame(frame)
        self._call(self._apply, self._session.add_points, frame, points, labels, obj_id)
        return self._session.masks(frame)

    def add_box(self, box: Any, obj_id: int | None = None, frame: int | None = None) -> dict[int, np.ndarray]:
        """A box (x0, y0, x1, y1) for ``obj_id`` on ``frame``, replacing its box there."""
        frame = self._frame(frame)
        self._call(self._apply, self._session.add_box, frame, box, obj_id)
        return self._session.masks(frame)

    def add_mask(self, mask: Any, obj_id: int | None = None, frame: int | None = None) -> dict[int, np.ndarray]:
        """A full (H, W) bool mask of ``obj_id`` on ``frame`` (replaces its points and box there)."""
        frame = self._frame(frame)
        self._call(self._apply, self._session.add_mask, frame, mask, obj_id)
        return self._session.masks(frame)

    def remove_prompt(self, index: int, frame: int | None = None) -> dict[int, np.ndarray]:
        frame = self._frame(frame)
        self._call(self._apply, self._session.remove_prompt, frame, index)
        return self._session.masks(frame)

    def clear_object(self, obj_id: int | None = None, frame: int | None = None) -> dict[int, np.ndarray]:
        frame = self._frame(frame)
        self._call(self._apply, self._session.clear_object, frame, obj_id)
        return self._session.masks(frame)

    def clear_image(self, frame: int | None = None) -> dict[int, np.ndarray]:
        """Delete every prompt on ``frame`` (default: the shown one)."""
        frame = self._frame(frame)
        self._call(self._apply, self._session.clear_image, frame)
        return self._session.masks(frame)

    clear_frame = clear_image

    # -- Python API: exports and sessions ------------------------------------------

    def save_video(
        self,
        path: str | os.PathLike,
        fps: float | None = None,
        start: int = 0,
        stop: int | None = None,
        codec: str = "libx264",
    ) -> Path:
        """Write the clip with masks (filled at ``opacity``), outlines and object ids drawn, frame
        by frame (PyAV). ``fps`` defaults to the source's (or 24). Waits for pending work."""
        s = self._session
        n = s.num_frames
        stop = n if stop is None else stop
        for name, value in (("start", start), ("stop", stop)):
            if not is_int(value):
                raise TypeError(f"save_video: {name} must be a frame index (an int), got {value!r:.80}.")
        if not 0 <= start < stop <= n:
            raise ValueError(f"save_video: need 0 <= start < stop <= {n}, got start={start}, stop={stop}.")
        if fps is not None and (
            isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0
        ):
            raise ValueError(f"save_video: fps must be a positive number of frames per second, got {fps!r:.80}.")
        if not isinstance(codec, str) or not codec:
            raise TypeError(f"save_video: codec must be a codec name such as 'libx264', got {codec!r:.80}.")
        self.wait_idle()
        fps = fps or s.tracker.source.fps or 24
        objects = [o for o in s.objects() if o.visible]
        return write_overlay_video(
            path,
            (s.tracker.source.get(i) for i in range(start, stop)),
            (s.masks(i, visible_only=True) for i in range(start, stop)),
            {o.id: o.color for o in objects},
            self.opacity,
            self.outline,
            fps,
            codec,
        )

    def save_session(self, path: str | os.PathLike) -> Path:
        """Save objects, prompts and tracked masks to one ``.npz`` (after pending work). The clip
        is referenced by path; an in-memory clip must be passed again to ``load_session``."""
        self.wait_idle()
        return write_video_session(
            path, self._session, model_reference(self._model), self._source_ref, self.image_index
        )

    @classmethod
    def _restore(
        cls,
        path: str | os.PathLike,
        saved: SavedVideoSession,
        source: Any,
        model: ModelArg | None,
        device: str,
        **options: Any,
    ) -> Sam2VideoWidget:
        """The prompts are replayed into the tracker, so tracking again starts from them; the
        tracked masks are then restored exactly."""
        if source is None:
            if saved.source is None:
                raise ValueError(f"{path} was saved from an in-memory clip: pass it again as source=.")
            source = saved.source
        autosave = options.pop("autosave", None)
        saved_memory = saved.meta.get("memory") or {}  # files before memory policies: "sam2"
        if "memory" not in options and "memory_options" not in options:
            options["memory"] = saved_memory.get("name", "sam2")
            options["memory_options"] = saved_memory.get("options") or None
        widget = cls(source, saved.model if model is None else model, device, **options)
        try:
            widget._session.restore(saved.meta, saved.runs)
        except (ValueError, KeyError) as e:
            widget.close()
            raise ValueError(f"{path} does not fit this clip: {e}") from e
        try:
            widget._goto(min(saved.frame, widget.image_count - 1))
        except ImageReadError as e:
            widget._show_error(e)
        widget._refresh(masks=True)
        widget._masks_changed(None)
        widget._resume_autosave(autosave, path)
        return widget

    def close(self) -> None:
        """Stop tracking and the worker threads, release the clip, close the widget."""
        if not hasattr(self, "_frames_worker"):  # __init__ failed before the widget was made
            return super().close()
        self._cancel()
        self._frames_worker.close()
        super().close()
        self._session.close()
        self._frames_source.close()  # the tracker's own source when shared; closing is idempotent

    # -- actions -------------------------------------------------------------------

    def _apply(self, action: Callable[..., Any], *args: Any) -> tuple[Any, list[Future]]:
        """Record in the session, update the view, queue the tracker calls it needs (behind a
        running track: a click while tracking is kept and applied when the run ends)."""
        s = self._session
        tracking = self._tickets.active
        if tracking and action in (s.delete_object, s.undo, s.redo):
            what = "delete an object" if action == s.delete_object else "undo or redo"
            raise ValueError(f"cannot {what} while tracking: press Cancel (or wait) first; nothing was changed.")
        with s.lock:
            drawn = self._drawn_objects()
            result = action(*args)
            dirty, deleted, rebuilt = s.take_work()
            if self._drawn_objects() != drawn:  # the label map of every frame changes
                self._versions.mark(None)
        futures = [self._worker.submit(partial(self._remove_job, o)) for o in deleted]
        futures += [self._worker.submit(partial(self._rebuild_job, o, dropped)) for o, dropped in rebuilt]
        futures += [self._worker.submit(partial(self._prompt_job, f, o), key=("prompt", f, o)) for f, o in dirty]
        self._refresh(masks=True)
        self._flush_changes()
        if tracking and dirty:
            self._set_status("tracking", "prompt recorded: it is applied when tracking ends (or press Cancel)")
        self._request_autosave()
        return result, futures

    def _drawn_objects(self) -> list[int]:
        """Visible objects with masks, in display order: what the frames' label maps are made of."""
        with_masks = set(self._session.tracker.results.object_ids)
        return [o.id for o in self._session.objects() if o.visible and o.id in with_masks]

    def _goto(self, index: int) -> tuple[None, list[Future]]:
        return None, self._show_image(self._session.check_index(index))

    def _everything_input(self, index: int) -> Callable[[], np.ndarray]:
        return partial(self._session.tracker.source.get, index)  # read by the worker, as tracking does

    def _add_everything(self, index: int, records: list[dict]) -> tuple[list[int], list[Future]]:
        """Each mask becomes a new object's mask prompt on frame ``index`` (ready to track); the
        work returned applies them to the tracker."""
        return self._apply(self._session.add_mask_objects, index, [r["segmentation"] for r in records])

    # -- worker jobs ------------------------------------------------------------------

    def _prompt_job(self, frame: int, obj_id: int) -> None:
        self._set_status("predicting", "predicting")
        start = time.perf_counter()
        if self._session.apply(frame, obj_id):
            ms = (time.perf_counter() - start) * 1000
            self._last_timing = f"mask in {ms:.0f} ms"
            with self._view_lock:
                self.set_trait("latency_ms", ms)
            self._refresh(masks=frame == self.image_index)
            self._masks_changed([frame])
            self._notify(frame)

    def _remove_job(self, obj_id: int) -> None:
        self._session.remove_from_tracker(obj_id)
        self._refresh(masks=True)
        self._masks_changed(None)

    def _rebuild_job(self, obj_id: int, dropped: frozenset[int]) -> None:
        self._set_status("predicting", "predicting")
        if self._session.rebuild(obj_id, dropped):
            self._refresh(masks=True)
            self._masks_changed(None)

    # -- the view -------------------------------------------------------------------

    def _show_image(self, index: int) -> list[Future]:
        """Show frame ``index``; ImageReadError (after showing the index) for an unreadable frame."""
        s = self._session
        with self._view_lock, self.hold_sync():
            self.set_trait("image_index", index)
            self.set_trait("image_name", f"frame {index + 1}/{s.num_frames}")
            self.set_trait("image_height", s.hw[0])
            self.set_trait("image_width", s.hw[1])
            try:
                jpeg = self._frame_jpeg(index)
            except FrameReadError as e:
                self.set_trait("image_jpeg", b"")
                self._refresh(masks=True)
                raise ImageReadError(str(e)) from e
            finally:
                self._restart_fill(index)
            self.set_trait("image_jpeg", jpeg)
            self._refresh(masks=True, spans=False)
        return []

    def _refresh(self, masks: bool, spans: bool = True) -> None:
        s = self._session
        index = self.image_index
        with self._view_lock, self.hold_sync():
            with s.lock:
                self.set_trait("objects", [o.to_dict() for o in s.objects()])
                self.set_trait("selected_id", s.selected_id)
                self.set_trait("prompts", [p.to_dict() for p in s.prompts(index)])
                self.set_trait("prompt_frames", s.prompt_frames())
                self.set_trait("can_undo", s.can_undo)
                self.set_trait("can_redo", s.can_redo)
            if masks:
                self.set_trait("label_rle", self._label_rle(index))
            if spans:
                self._refresh_spans()

    def _masks_changed(self, frames: list[int] | None) -> None:
        """Masks of ``frames`` (None: every frame) changed and are stored: tell the front end now."""
        self._versions.mark(frames)
        self._flush_changes()

    def _flush_changes(self) -> None:
        """Announce the frames marked changed since the last flush: ``masks_version`` and a
        ``masks_changed`` message, so the front end drops exactly those cached frames."""
        flushed = self._versions.flush()
        if flushed is None:
            return
        version, frames = flushed
        with self._view_lock:
            self.set_trait("masks_version", version)
        self.send({"type": "masks_changed", "version": version, "frames": frames})

    def _refresh_spans(self, live: bool = False) -> None:
        """The ``tracked`` spans and the confidence lanes: while tracking (``live``) the lanes go as a
        ``lanes`` message with the frames changed since the last, else as the whole ``lanes`` trait."""
        spans = self._session.tracked_spans()
        update = self._session.lane_update() if live else None
        lanes = None if live else self._session.lanes()
        with self._view_lock:
            self.set_trait("tracked", spans)
            if lanes is not None:
                self.set_trait("lanes", lanes)
        if update is not None:
            self.send(update[0], buffers=update[1])

    def _label_rle(self, index: int) -> bytes:
        masks = self._session.masks(index, visible_only=True)
        if not masks:
            return b""
        label = codecs.masks_to_label_map(masks, self._session.hw, dtype=np.uint32)
        return codecs.encode_label_rle(label)

    def _write_autosave(self, path: Path) -> None:
        write_video_session(path, self._session, model_reference(self._model), self._source_ref, self.image_index)

    def _set_progress(self, progress: dict) -> None:
        with self._view_lock:
            self.set_trait("progress", progress)
