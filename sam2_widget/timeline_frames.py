"""A clip's frames for the timeline: ``fetch_frames`` replies, and the display JPEGs kept in the kernel.

A mixin of ``Sam2VideoWidget``. Frames are encoded by the widget's second, small
worker (``_frames_worker``), so scrubbing stays live while the main worker tracks.
While both workers are idle, that worker fills the kernel's JPEG cache
(frame_cache.py) in order, one frame per slice, so a jump far away skips the
decoder's seek. A video file gets a decoder of its own for the display, so
scrubbing never moves the tracker's decoder (nor waits for it).
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from functools import partial
from typing import Any

from sam2_backend.video.sources import FrameReadError, FrameSource, VideoFileSource

from . import codecs
from .frame_cache import FillWalk, JpegCache
from .images import ImageReadError
from .worker import Worker

MAX_FETCH = 64  # frames one fetch_frames message may ask for
PREFETCH_RADIUS = 8  # js/video_player.ts PREFETCH_RADIUS: the front end fetches +-8 frames around the cursor


class TimelineFrames:
    """The frames worker, the JPEG cache and its background fill, and the ``frame`` replies.

    Reads the widget's ``_session``, ``_versions``, ``_display``, ``_worker`` and ``_label_rle``.
    """

    def _start_timeline_frames(self, source: Any, jpegs: JpegCache) -> None:
        """Called by ``__init__`` once the session and the main worker exist."""
        self._frames_source = display_source(source, self._session.tracker.source)
        self._jpegs = jpegs
        self._fill = FillWalk(self._jpegs, self._session.num_frames, self._encode_frame, PREFETCH_RADIUS)
        self._frames_worker = Worker(
            f"sam2_widget-frames-{self.model_id}", on_error=self._show_error, background=self._fill_step
        )

    def _msg_fetch_frames(self, msg: dict) -> list[Future]:
        indices = msg.get("indices")
        if not isinstance(indices, list) or len(indices) > MAX_FETCH:
            raise TypeError(
                f"fetch_frames: indices must be a list of at most {MAX_FETCH} frame indices, got {indices!r:.80}."
            )
        checked = [self._session.check_index(i) for i in indices]
        return [self._frames_worker.submit(partial(self._send_frames, checked))]

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


def display_source(source: Any, tracker_source: FrameSource) -> FrameSource:
    """A decoder of its own for a video file (the index pass again, then one more open
    container and ``PREFETCH_RADIUS + 1`` decoded frames: the frames before the cursor that
    decoding it passes stay for the rest of the window); other sources have no decoder
    position to fight over, and a file object cannot be read by two decoders: shared."""
    if isinstance(tracker_source, VideoFileSource) and isinstance(source, (str, os.PathLike)):
        return VideoFileSource(source, cache_size=PREFETCH_RADIUS + 1)
    return tracker_source
