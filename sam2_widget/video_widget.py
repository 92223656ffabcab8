"""The widget for a video clip: the shared traits and messages (_base.py), plus a timeline and tracking.

``Sam2Widget(source)`` makes one of these for a video file, and for a folder, an
array or a list when ``video=True`` (see ``Sam2Widget.__new__``). The shared traits
keep their meaning with "image" read as "frame"; the video ones
(``is_video``, ``prompt_frames``, ``tracked``, ``progress``, ``masks_version``) and
the messages ``track``, ``cancel``, ``fetch_frames`` and ``masks_changed`` are in
docs/widget_protocol.md.

Threads: prompts are recorded on the comm thread and applied to the tracker by
the widget's worker thread, which also runs propagation. ``cancel`` is handled
on the comm thread (it only sets flags), so it takes effect while the worker is
busy. Frames for the timeline's cache are encoded by a second small worker, so
scrubbing stays live during propagation. A click during tracking is recorded at
once and applied by the worker when the run ends (it queues behind it).

Frame JPEGs are kept in the kernel (sam2_widget/frame_cache.py): while both workers
are idle, the frames worker encodes the clip in order, one frame per slice, so a
jump far away skips the decoder's seek. A video file gets a decoder of its own for
the display, so scrubbing never moves the tracker's decoder (nor waits for it).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sam2_backend.video import TrackResults
from sam2_backend.video.sources import FrameReadError, FrameSource, VideoFileSource

from . import codecs
from ._base import DEFAULT_MODEL, Sam2Widget
from ._options import ModelArg, check_options, resolve_model
from .colors import hex_to_rgb
from .frame_cache import FillWalk, JpegCache
from .images import ImageReadError
from .mask_versions import MaskVersions
from .message_dispatch import SHARED_MESSAGES
from .messages import string
from .session_file import SavedVideoSession, model_reference, write_video_session
from .video_session import VideoSession
from .worker import Worker

log = logging.getLogger(__name__)

DIRECTIONS = ("forward", "backward", "both")
PROGRESS_INTERVAL_S = 0.1  # progress and tracked spans are sent at most this often while tracking
MAX_FETCH = 64  # frames one fetch_frames message may ask for
PREFETCH_RADIUS = 8  # js/widget.ts PREFETCH_RADIUS: the front end fetches +-8 frames around the cursor


class Sam2VideoWidget(Sam2Widget):
    """SAM 2 on a video clip: prompts on any frame, tracking both ways, a timeline.

    Made by ``Sam2Widget(source)`` for a video file or ``Sam2Widget(source, video=True)``
    for a folder of frames, a (T, H, W, 3) array or a list of frames. Options as
    ``Sam2Widget``. Prompts go to the shown frame unless ``frame=`` is given.
    """

    _for_clips = True
    _messages = (*SHARED_MESSAGES, "track", "cancel", "fetch_frames")
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
        session = VideoSession(sam, source)
        try:
            super().__init__(source, sam, device, video, **options)
        except BaseException:  # bad shared options: release the clip opened above
            session.close()
            raise
        self._session = session
        self._versions = MaskVersions()
        self._source_ref = str(Path(source).resolve()) if isinstance(source, (str, os.PathLike)) else None
        self._frames_source = _display_source(source, session.tracker.source)
        self._jpegs = jpegs
        self._fill = FillWalk(self._jpegs, session.num_frames, self._encode_frame, PREFETCH_RADIUS)
        self._frames_worker = Worker(
            f"sam2_widget-frames-{self.model_id}", on_error=self._show_error, background=self._fill_step
        )
        self._track_lock = threading.Lock()
        self._track_ticket = 0  # tracking requests made so far
        self._cancelled_upto = 0  # requests up to this one are cancelled
        self._tracking = 0  # requests queued or running
        with self.hold_sync():
            self.set_trait("is_video", True)
            self.set_trait("image_count", session.num_frames)
            self.set_trait("progress", _progress(False, "", 0, 0, 0.0, None))
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
    def results(self) -> TrackResults:
        """The tracker's results (live, not a copy): ``masks(start, stop)`` (T, N, H, W),
        ``labels``, ``boxes(frame)``, ``scores(frame)``, ``to_coco()``, ``save_label_maps(folder)``."""
        return self._session.tracker.results

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

    # -- Python API: tracking ----------------------------------------------------

    def track(self, direction: str = "forward", frame: int | None = None, wait: bool = True) -> int | Future:
        """Track every object from ``frame`` (default: shown) "forward", "backward" or "both".

        Masks appear in the widget as frames are done. With ``wait=True`` returns the number
        of frames tracked; else a Future of it (call :meth:`cancel` to stop early).
        """
        future = self._call(self._track, direction, frame)
        return future.result() if wait else future

    def cancel(self) -> bool:
        """Stop tracking after the current frame, keeping every frame done; False if nothing ran."""
        return self._cancel()

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
        self.wait_idle()
        s = self._session
        n = s.num_frames
        stop = n if stop is None else stop
        if not 0 <= start < stop <= n:
            raise ValueError(f"need 0 <= start < stop <= {n}, got start={start}, stop={stop}.")
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

    # -- messages ----------------------------------------------------------------

    def _msg_track(self, msg: dict) -> list[Future]:
        return self._track(string(msg, "direction"), None)[1]

    def _msg_cancel(self, msg: dict) -> list[Future]:
        self._cancel()
        return []

    def _msg_fetch_frames(self, msg: dict) -> list[Future]:
        indices = msg.get("indices")
        if not isinstance(indices, list) or len(indices) > MAX_FETCH:
            raise TypeError(
                f"fetch_frames: indices must be a list of at most {MAX_FETCH} frame indices, got {indices!r:.80}."
            )
        checked = [self._session.check_index(i) for i in indices]
        return [self._frames_worker.submit(partial(self._send_frames, checked))]

    # -- actions -------------------------------------------------------------------

    def _apply(self, action: Callable[..., Any], *args: Any) -> tuple[Any, list[Future]]:
        """Record in the session, update the view, queue the tracker calls it needs (behind a
        running track: a click while tracking is kept and applied when the run ends)."""
        s = self._session
        with self._track_lock:
            tracking = self._tracking > 0
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

    def _track(self, direction: Any, frame: int | None) -> tuple[Future, list[Future]]:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}.")
        start = self._session.check_index(self._frame(frame))
        if not self._session.has_prompts():
            raise ValueError("nothing to track: add points, a box or a mask for an object first.")
        with self._track_lock:
            self._track_ticket += 1
            self._tracking += 1
            ticket = self._track_ticket
        try:
            future = self._worker.submit(partial(self._track_job, ticket, direction, start))
        except RuntimeError:
            with self._track_lock:
                self._tracking -= 1
            raise
        return future, [future]

    def _cancel(self) -> bool:
        with self._track_lock:
            running = self._tracking > 0
            self._cancelled_upto = self._track_ticket
        if running:
            self._session.tracker.cancel()  # thread-safe: an Event checked before every frame
        return running

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

    def _track_job(self, ticket: int, direction: str, start: int) -> int:
        try:
            n = self._session.num_frames
            total = {"forward": n - start, "backward": start + 1 if start > 0 else 0, "both": n}[direction]
            done, began, last = 0, time.perf_counter(), 0.0
            if ticket <= self._cancelled_upto:
                self._set_progress(_progress(False, direction, 0, total, 0.0, None, cancelled=True))
                return 0
            self._set_status("tracking", f"tracking {direction}")
            self._set_progress(_progress(True, direction, 0, total, 0.0, None))
            frames = self._session.tracker.propagate(direction, start=start)
            try:
                for frame, masks in frames:
                    done += 1
                    self._versions.mark([frame])
                    if frame == self.image_index:
                        self._refresh(masks=True, spans=False)
                    self._notify(frame, masks)
                    now = time.perf_counter()
                    if now - last >= PROGRESS_INTERVAL_S:
                        last = now
                        fps = done / max(now - began, 1e-9)
                        self._set_progress(_progress(True, direction, done, total, fps, (total - done) / fps))
                        self._refresh_spans()
                        self._flush_changes()
                    if self._autosave is not None and self._autosave.due():
                        self._autosave_job(self._autosave.request())
                    if ticket <= self._cancelled_upto:
                        break
            finally:
                frames.close()
                self._flush_changes()
                self._request_autosave()
                elapsed = time.perf_counter() - began
                cancelled = ticket <= self._cancelled_upto and done < total
                self._set_progress(
                    _progress(
                        False,
                        direction,
                        done,
                        total,
                        done / max(elapsed, 1e-9),
                        0.0 if not cancelled else None,
                        cancelled=cancelled,
                    )
                )
                self._last_timing = f"{'cancelled after ' if cancelled else 'tracked '}{done} frames in {elapsed:.1f} s"
                self._refresh(masks=True)
            return done
        finally:
            with self._track_lock:
                self._tracking -= 1

    def _send_frames(self, indices: list[int]) -> None:
        """One ``frame`` message per index: buffers [JPEG, label RLE] (an ``error`` field instead for an
        unreadable frame).

        The first index (the cursor) is answered first, the rest in ascending order: the
        decoder reads forward, and the frames before the cursor are still in its cache.
        """
        if indices:
            self._restart_fill(indices[0])
        failed: list[str] = []
        height, width = self._session.hw
        for index in indices[:1] + sorted(indices[1:]):
            try:
                jpeg = self._frame_jpeg(index)
            except FrameReadError as e:
                failed.append(str(e))
                self.send({"type": "frame", "index": index, "error": str(e)})
                continue
            version = self._versions.version  # read before the masks: a change after it makes this reply stale
            rle = self._label_rle(index)
            self.send(
                {"type": "frame", "index": index, "width": width, "height": height, "masks_version": version},
                buffers=[jpeg, rle],
            )
        if failed:
            raise ImageReadError(failed[0])

    def _frame_jpeg(self, index: int) -> bytes:
        """Frame ``index`` as display JPEG, from the kernel's cache or encoded (and kept) now."""
        jpeg = self._jpegs.get(index)
        if jpeg is None:
            jpeg = self._encode_frame(index)
            self._jpegs.put(index, jpeg)
        return jpeg

    def _encode_frame(self, index: int) -> bytes:
        return codecs.encode_jpeg(self._frames_source.get(index), **self._display)

    def _restart_fill(self, cursor: int) -> None:
        self._fill.restart(cursor)
        self._frames_worker.wake()

    def _fill_step(self) -> bool:
        """One frame of the background fill; paused while the main worker predicts or tracks
        (they need the CPU): its idle hook wakes the fill again."""
        if not self._worker.idle or self._frames_source.closed:
            return False
        return self._fill.step()

    def _on_worker_idle(self) -> None:
        super()._on_worker_idle()
        self._frames_worker.wake()

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

    def _refresh_spans(self) -> None:
        spans = self._session.tracked_spans()
        with self._view_lock:
            self.set_trait("tracked", spans)

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


def _display_source(source: Any, tracker_source: FrameSource) -> FrameSource:
    """A decoder of its own for a video file (the index pass again, then one more open
    container and ``PREFETCH_RADIUS + 1`` decoded frames: the frames before the cursor that
    decoding it passes stay for the rest of the window); other sources have no decoder
    position to fight over, and a file object cannot be read by two decoders: shared."""
    if isinstance(tracker_source, VideoFileSource) and isinstance(source, (str, os.PathLike)):
        return VideoFileSource(source, cache_size=PREFETCH_RADIUS + 1)
    return tracker_source


def _progress(
    running: bool, direction: str, done: int, total: int, fps: float, eta_s: float | None, cancelled: bool = False
) -> dict:
    return {
        "running": running,
        "direction": direction,
        "done": done,
        "total": total,
        "fps": round(fps, 2),
        "eta_s": None if eta_s is None or not math.isfinite(eta_s) else round(eta_s, 2),
        "cancelled": cancelled,
    }


def write_overlay_video(
    path: str | os.PathLike,
    frames,
    masks,
    colors: Mapping[int, str],
    opacity: float,
    outline: bool,
    fps: float,
    codec: str = "libx264",
) -> Path:
    """Encode ``frames`` (iterable of (H, W, 3) uint8) with ``masks`` (iterable of ``{obj_id: (H, W) bool}``)
    drawn over them: fill at ``opacity``, a 2-pixel outline, the id at the mask's top-left. Streams."""
    from fractions import Fraction

    import av
    from PIL import Image, ImageDraw
    from scipy import ndimage

    path = Path(path)
    rgb = {o: np.array(hex_to_rgb(c)) * 255 for o, c in colors.items()}
    with av.open(str(path), "w") as container:
        stream = None
        for pixels, frame_masks in zip(frames, masks):
            h, w = pixels.shape[:2]
            if stream is None:
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
                stream.width, stream.height = w + w % 2, h + h % 2  # yuv420p needs even sizes
                stream.pix_fmt = "yuv420p"
            out = pixels.astype(np.float32)
            labels = []
            for obj_id, m in frame_masks.items():
                if obj_id not in rgb or not m.any():
                    continue
                out[m] = out[m] * (1 - opacity) + rgb[obj_id] * opacity
                if outline:
                    edge = m & ~ndimage.binary_erosion(m, iterations=2)
                    out[edge] = rgb[obj_id]
                ys, xs = np.nonzero(m)
                labels.append((int(xs.min()), int(ys.min()), str(obj_id), tuple(int(v) for v in rgb[obj_id])))
            image = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
            if labels:
                draw = ImageDraw.Draw(image)
                for x, y, text, color in labels:
                    draw.text((x + 2, y + 1), text, fill=(255, 255, 255), stroke_width=1, stroke_fill=color)
            if image.size != (stream.width, stream.height):
                padded = Image.new("RGB", (stream.width, stream.height))
                padded.paste(image)
                image = padded
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        if stream is None:
            raise ValueError("no frames to write.")
        for packet in stream.encode():
            container.mux(packet)
    return path
