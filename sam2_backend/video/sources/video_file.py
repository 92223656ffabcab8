"""Video files through PyAV: a timestamp table from one pass over the packets,
then "seek to the keyframe, decode forward"."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...image_files import IMAGE_EXTENSIONS
from .base import _LRU, VIDEO_EXTENSIONS, FrameReadError, FrameSource


def _av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - av is a dependency
        raise ImportError("Reading video files needs PyAV: pip install av") from e
    return av


class VideoFileSource(FrameSource):
    """Frames of a video file (mp4, mov, webm, mkv, avi, ... anything FFmpeg reads), via PyAV.

    Frame ``i`` is the ``i``-th frame in presentation (display) order, the order
    a player shows them; it is found by its timestamp. On opening, one pass over
    the packets (no decoding, cheap) builds the table of frame timestamps and
    keyframes, so the count always matches what decoding yields even when the
    container does not report a frame count (webm, mkv) or reports a wrong one.
    ``get(i)`` seeks to the last keyframe at or before ``i`` and decodes forward;
    the decoder position is kept, so sequential reads never re-seek. The last
    ``cache_size`` decoded frames are kept (a few frames: backward reading costs
    about one seek per ``cache_size`` frames).

    A display rotation stored in the file (phone videos) is applied when
    ``autorotate`` is true, so ``height``/``width`` and the frames are as a
    player shows them. Frames whose size changes mid-stream are scaled to the
    size of the first frame.

    Args:
        path: a video file, or a seekable binary file object (``io.BytesIO``).
        cache_size: decoded frames kept in memory (original resolution).
        autorotate: apply the file's display rotation (multiples of 90 degrees).
    """

    def __init__(self, path: str | os.PathLike | io.IOBase, *, cache_size: int = 8, autorotate: bool = True):
        super().__init__()
        av = _av()
        self._av = av
        if isinstance(path, (str, os.PathLike)):
            p = Path(path)
            if p.is_dir():
                raise IsADirectoryError(
                    f"{p} is a folder, not a video file; use FolderSource (or open_source) for a folder of frames."
                )
            if not p.is_file():
                raise FileNotFoundError(f"Video file not found: {p}")
            self._file: Any = str(p)
            self._name = str(p)
        elif hasattr(path, "read") and hasattr(path, "seek"):
            self._file = path
            self._name = getattr(path, "name", None) or f"<{type(path).__name__}>"
            if not isinstance(self._name, str):
                self._name = f"<{type(path).__name__}>"
        else:
            raise TypeError(f"VideoFileSource needs a path or a binary file object, got {type(path).__name__}.")
        self._autorotate = bool(autorotate)
        self._cache = _LRU(cache_size)
        self._container = None
        self._open_container()
        try:
            self._build_index()
            if self._n == 0:
                raise ValueError(f"The video {self._name} contains no frames.")
            self._rotation_k = 0
            self._raw_hw: tuple[int, int] | None = None
            self._height = self._width = 0
            first = self._decode(0)  # learns size and rotation; FrameReadError if unreadable
            self._height, self._width = first.shape[:2]
        except BaseException:
            self._close()
            raise

    # -- opening and indexing
    def _open_container(self) -> None:
        av = self._av
        if not isinstance(self._file, str):
            self._file.seek(0)
        try:
            container = av.open(self._file, mode="r", metadata_errors="ignore")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise ValueError(
                f"Could not open {self._name} as a video ({e}). Supported: video files FFmpeg can "
                f"read ({', '.join(VIDEO_EXTENSIONS)} and more), a folder of "
                f"{'/'.join(sorted(IMAGE_EXTENSIONS))} frames, arrays, lists or iterators of frames."
            ) from e
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            container.close()
            raise ValueError(
                f"{self._name} has no video stream (streams found: {', '.join(kinds)}); it cannot be used as a video."
            )
        self._container = container
        self._stream = container.streams.video[0]
        try:  # threaded decoding; harmless where the codec does not support it
            self._stream.codec_context.thread_type = "AUTO"
        except Exception:  # pragma: no cover - very old PyAV
            pass
        self._decoder: Iterator[Any] | None = None  # live frame iterator
        self._pos: int | None = None  # index of the last frame it yielded
        self._decode_error: Exception | None = None

    def _build_index(self) -> None:
        """One pass over the packets: frame count, timestamp table and keyframes.

        Sets ``_n`` (frames), ``_readable`` (frames whose data is present),
        ``_pts`` (sorted int64 presentation timestamps, or ``None`` when the file
        has no usable timestamps: then frames are counted from the start and a
        backward seek rewinds the file), ``_kf_index`` / ``_kf_ts`` (presentation
        index and seek timestamp of every keyframe).
        """
        av = self._av
        pts: list[int] = []
        key_pts: list[int] = []
        key_ts: list[int] = []
        usable = True
        n_packets = n_discard = 0
        last_dts: int | None = None
        broken = False
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                n_packets += 1
                if getattr(packet, "is_discard", False):  # dropped by the decoder (edit lists)
                    n_discard += 1
                    continue
                if packet.dts is not None:
                    last_dts = packet.dts
                if packet.pts is None:
                    usable = False
                    continue
                pts.append(packet.pts)
                if packet.is_keyframe:
                    key_pts.append(packet.pts)
                    key_ts.append(packet.dts if packet.dts is not None else packet.pts)
        except av.error.FFmpegError:
            broken = True  # damaged data: keep what was read, frames after it fail on read
        self._container_end()
        kept = n_packets - n_discard
        table = np.array(sorted(pts), dtype=np.int64)
        if usable and len(table) != len(np.unique(table)):
            usable = False
        reported = int(self._stream.frames or 0)
        truncated = broken or reported > n_packets
        self._n = reported - n_discard if reported > n_packets else kept
        self._readable = kept
        if not usable or kept == 0:
            self._pts = None
            self._kf_index = np.zeros(0, dtype=np.int64)
            self._kf_ts = np.zeros(0, dtype=np.int64)
            return
        if truncated and last_dts is not None:
            # Packets come in decode order; an unread packet has pts >= dts > last_dts,
            # so only frames with pts <= last_dts are certain to sit at their index.
            self._readable = int(np.searchsorted(table, last_dts, side="right"))
        self._pts = table
        order = np.argsort(key_pts, kind="stable")
        self._kf_index = np.searchsorted(table, np.asarray(key_pts, np.int64)[order])
        self._kf_ts = np.asarray(key_ts, np.int64)[order]

    def _container_end(self) -> None:
        """Forget the decoder state after reading to the end (the next read seeks)."""
        self._decoder = None
        self._pos = None

    # -- description
    @property
    def num_frames(self) -> int:
        return self._n

    @property
    def name(self) -> str:
        return self._name

    @property
    def fps(self) -> float | None:
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else None

    # -- decoding
    def _read(self, index: int) -> np.ndarray:
        return self._decode(index).copy()

    def _decode(self, i: int) -> np.ndarray:
        frame = self._cache.get(i)
        if frame is not None:
            return frame
        if i >= self._readable:
            raise FrameReadError(
                f"Cannot read frame {i} of {self._name}: the file holds data for only the first "
                f"{self._readable} of its {self._n} frames (truncated or damaged file?).",
                i,
                self._name,
            )
        if (
            self._pos is not None
            and self._decoder is not None
            and self._pos < i
            and self._keyframe_before(i) <= self._pos + 1
        ):
            result = self._decode_forward(i, fresh=False)
            if result is not None:
                return result
        for attempt in range(3):  # the keyframe before i, then the start, then a reopened file
            self._seek(i, attempt)
            result = self._decode_forward(i, fresh=True)
            if result is not None:
                return result
        raise FrameReadError(  # pragma: no cover - needs a file whose seeking misbehaves
            f"Could not seek to frame {i} of {self._name}.", i, self._name
        )

    def _keyframe_before(self, i: int) -> int:
        """Presentation index of the last keyframe at or before frame i (-1: none known)."""
        if self._pts is None or len(self._kf_index) == 0:
            return -1
        k = int(np.searchsorted(self._kf_index, i, side="right")) - 1
        return int(self._kf_index[k]) if k >= 0 else -1

    def _seek(self, i: int, attempt: int) -> None:
        av = self._av
        if self._decoder is not None:
            self._decoder.close()
        self._decoder = None
        self._pos = None
        self._decode_error = None
        if self._pts is None or attempt >= 2:
            # No timestamps (count frames from the start) or seeking misbehaved: reopen.
            if self._container is not None:
                self._container.close()
            self._open_container()
            self._pos = -1 if self._pts is None else None
            self._decoder = self._frames()
            return
        if attempt == 0:
            k = int(np.searchsorted(self._kf_index, i, side="right")) - 1
            ts = int(self._kf_ts[max(k, 0)]) if len(self._kf_ts) else int(self._pts[0])
        else:
            ts = int(min(self._kf_ts.min(), self._pts[0])) if len(self._kf_ts) else int(self._pts[0])
        try:
            self._container.seek(ts, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            self._seek(i, 2)
            return
        self._decoder = self._frames()

    def _frames(self) -> Iterator[Any]:
        """Decoded frames from the current container position to the end of the stream.

        A packet the decoder rejects is skipped (its error is kept for the message
        if the wanted frame never comes); FFmpeg conceals what it can after it.
        """
        av = self._av
        demux = self._container.demux(self._stream)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except av.error.FFmpegError as e:  # unreadable data: the stream ends here
                self._decode_error = e
                return
            try:
                decoded = packet.decode()
            except av.error.FFmpegError as e:
                self._decode_error = e
                continue
            yield from decoded

    def _index_of(self, frame: Any) -> int:
        """Presentation index of a decoded frame (its timestamp, else the next position)."""
        if self._pts is not None and frame.pts is not None:
            j = int(np.searchsorted(self._pts, frame.pts))
            if j < len(self._pts) and self._pts[j] == frame.pts:
                return j
            if self._pos is None:  # inexact timestamp right after a seek: nearest frame
                j = min(max(j, 0), len(self._pts) - 1)
                if j > 0 and abs(self._pts[j - 1] - frame.pts) <= abs(self._pts[j] - frame.pts):
                    j -= 1
                return j
        if self._pos is None:
            raise FrameReadError(
                f"Cannot locate frames in {self._name} after seeking: a decoded frame has no timestamp.",
                None,
                self._name,
            )
        return self._pos + 1

    def _decode_forward(self, i: int, fresh: bool) -> np.ndarray | None:
        """Decode from the live decoder until frame i; ``None`` when a seek overshot it."""
        previous: tuple[int, np.ndarray] | None = None
        first = fresh
        for frame in self._decoder:
            idx = self._index_of(frame)
            if first and idx > i:
                return None  # the seek landed after i: try an earlier position
            first = False
            self._pos = idx
            if idx < i:
                if i - idx <= self._cache.size:  # keep the frames just before i
                    arr = self._to_rgb(frame)
                    self._cache.put(idx, arr)
                    previous = (idx, arr)
                continue
            if idx == i:
                arr = self._to_rgb(frame)
                self._cache.put(i, arr)
                return arr
            # idx > i: the decoder never produced frame i (a dropped or undecodable frame).
            if previous is not None and previous[0] == i - 1:
                warnings.warn(
                    f"Frame {i} of {self._name} could not be decoded; repeating frame {i - 1}.",
                    RuntimeWarning,
                    stacklevel=4,
                )
                self._cache.put(i, previous[1])
                arr = self._to_rgb(frame)
                self._cache.put(idx, arr)
                return previous[1]
            arr = self._to_rgb(frame)
            self._cache.put(idx, arr)
            raise FrameReadError(
                f"Could not decode frame {i} of {self._name}: the decoder skipped from frame {i - 1} to frame {idx}.",
                i,
                self._name,
            )
        self._container_end()
        err = self._decode_error
        reason = f"decoding failed ({err})" if err is not None else "the stream ended before it"
        raise FrameReadError(
            f"Could not decode frame {i} of {self._name}: {reason}. The file may be truncated or damaged.",
            i,
            self._name,
        ) from err

    def _to_rgb(self, frame: Any) -> np.ndarray:
        if self._raw_hw is None:  # the first decoded frame fixes size and rotation
            self._raw_hw = (frame.height, frame.width)
            rotation = (getattr(frame, "rotation", 0) or 0) if self._autorotate else 0
            self._rotation_k = int(round(rotation / 90.0)) % 4
        h, w = self._raw_hw
        if (frame.height, frame.width) != (h, w):
            arr = frame.to_ndarray(format="rgb24", width=w, height=h)
        else:
            arr = frame.to_ndarray(format="rgb24")
        if self._rotation_k:
            # The display matrix rotates counter-clockwise by `rotation` degrees; so does rot90.
            arr = np.rot90(arr, self._rotation_k)
        return np.ascontiguousarray(arr)

    def _close(self) -> None:
        if getattr(self, "_decoder", None) is not None:
            self._decoder.close()
            self._decoder = None
        if getattr(self, "_container", None) is not None:
            self._container.close()
            self._container = None
        self._cache.clear()


# --------------------------------------------------------------------------- folders
