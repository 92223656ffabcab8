"""Frame sources: where the video tracker gets its frames from.

Every source gives random access to the frames of one clip through the same
small interface, :class:`FrameSource`:

* ``get(index)`` returns frame ``index`` as a new ``(H, W, 3)`` uint8 RGB
  numpy array (C-contiguous; the caller may modify it);
* ``num_frames`` (and ``len()``), ``height``, ``width`` describe the clip in
  pixels of the original frames (after the display rotation of a video file);
* ``close()`` (or a ``with`` block) releases files and decoders.

Frames are read lazily, one at a time, and never all preloaded: a source
keeps at most a few decoded frames (a small LRU, or the window of an iterator
source), so memory does not grow with the length of the clip.

Errors follow one rule. Problems found when a source is opened (missing file,
not a video, empty folder, frames of different sizes, wrong array shape) raise
``FileNotFoundError`` / ``ValueError`` / ``TypeError``. A frame that cannot be
produced when it is asked for (a damaged or truncated file, a corrupt image, an
iterator that raised) raises :class:`FrameReadError`, which names the frame
index and the file. An index past the end raises ``IndexError``; a frame that
an :class:`IteratorSource` has already let go of raises
:class:`FrameNotAvailableError`.

:func:`open_source` picks the right class for whatever the user passed, and
:class:`Prefetcher` decodes the next frame in a background thread while the
tracker works on the current one.

Video decoding uses PyAV (FFmpeg). The seeking logic (a timestamp table built
from one pass over the packets, then "seek to keyframe, decode forward") is
written here because PyAV only offers the low-level pieces.
"""

from __future__ import annotations

import abc
import io
import itertools
import operator
import os
import re
import threading
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..inputs import image_to_tensor

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "ArraySource",
    "FolderSource",
    "FrameNotAvailableError",
    "FrameReadError",
    "FrameSource",
    "IteratorSource",
    "ListSource",
    "Prefetcher",
    "VideoFileSource",
    "open_source",
    "to_rgb_uint8",
]

#: File name endings read as single frames (with Pillow) in folders and lists.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
#: The video formats we name in error messages; anything FFmpeg reads works.
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")


class FrameReadError(RuntimeError):
    """A frame could not be produced: damaged data, a truncated file, a failing iterator.

    Attributes:
        index: the frame index that was asked for (or ``None``).
        source: the file (or a description of the source) it came from.
    """

    def __init__(self, message: str, index: int | None = None, source: str | None = None):
        super().__init__(message)
        self.index = index
        self.source = source


class FrameNotAvailableError(LookupError):
    """An :class:`IteratorSource` no longer holds this frame (it left the window).

    Deliberately not an ``IndexError``: code that stops at ``IndexError`` (the end
    of a clip of unknown length) must not mistake this for the end.
    """


# --------------------------------------------------------------------------- helpers


def _natural_key(name: str) -> tuple:
    """Sort key for file names: ``frame2.png`` before ``frame10.png``, case-insensitive.

    Digit runs compare as numbers, other runs as lower-case text; the full name
    breaks ties (``a01`` vs ``a1``) so the order is deterministic.
    """
    parts = re.split(r"(\d+)", name)
    key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p)
    return key, name


def _is_pil(obj: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(obj, Image.Image)


def _is_tensor(obj: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(obj, torch.Tensor)


def _image_file_hw(path: Path, index: int | None = None) -> tuple[int, int]:
    """(height, width) of an image file from its header only (no decoding)."""
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(f"Frame file not found: {path}")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError...
        which = f"frame {index} " if index is not None else ""
        raise FrameReadError(
            f"Could not read {which}{path.name!r} ({path}) as an image: {e}", index, str(path)
        ) from e
    return h, w


def _read_image_file(path: Path, index: int | None = None) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB; FrameReadError naming the file on failure."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return np.array(img.convert("RGB"))
    except Exception as e:  # truncated/corrupt data: OSError, SyntaxError, ValueError...
        which = f"frame {index} " if index is not None else ""
        raise FrameReadError(
            f"Could not read {which}{path.name!r} ({path}) as an image: {e}", index, str(path)
        ) from e


def to_rgb_uint8(image: Any) -> np.ndarray:
    """One frame -> new (H, W, 3) uint8 RGB array, with :func:`image_to_tensor`'s conventions.

    Accepts HxWx3 uint8 RGB, HxW / HxWx1 grayscale, HxWx4 RGBA (alpha dropped),
    float arrays in [0, 1] (rounded to 0..255), PIL images, torch tensors (HWC or
    CHW) and paths to image files. Invalid input raises ``TypeError``/``ValueError``.
    """
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.size:
        if image.ndim == 2:
            return np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim == 3 and image.shape[2] == 1:
            return np.repeat(image, 3, axis=2)
        if image.ndim == 3 and image.shape[2] in (3, 4):
            return np.ascontiguousarray(image[:, :, :3]).copy()
    if _is_pil(image):
        return np.array(image.convert("RGB"))
    if isinstance(image, (str, os.PathLike)):
        return _read_image_file(Path(image))
    # Everything else (float arrays, tensors, bad shapes) goes through the shared checks.
    t = image_to_tensor(image)  # (3, H, W) float32 in [0, 1]
    return (t.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def _item_hw(item: Any) -> tuple[int, int]:
    """(height, width) of one frame without converting it (header only for files)."""
    if isinstance(item, (str, os.PathLike)):
        return _image_file_hw(Path(item))
    if _is_pil(item):
        return item.height, item.width
    if isinstance(item, np.ndarray):
        if item.ndim in (2, 3):
            return int(item.shape[0]), int(item.shape[1])
        raise ValueError(f"Expected a frame of shape (H, W) or (H, W, C); got {item.shape}.")
    if _is_tensor(item):
        s = tuple(item.shape)
        if len(s) == 3 and s[0] in (1, 3, 4) and s[-1] not in (1, 3, 4):  # CHW, as image_to_tensor
            return s[1], s[2]
        if len(s) in (2, 3):
            return s[0], s[1]
        raise ValueError(f"Expected a frame tensor of shape (H, W), (H, W, C) or (C, H, W); got {s}.")
    raise TypeError(
        f"Unsupported frame type {type(item).__name__}: use numpy arrays, PIL images, "
        "torch tensors or paths to image files."
    )


class _LRU:
    """A tiny LRU of decoded frames, index -> (H, W, 3) uint8 array."""

    def __init__(self, size: int):
        self.size = max(int(size), 0)
        self._d: OrderedDict[int, np.ndarray] = OrderedDict()

    def get(self, index: int) -> np.ndarray | None:
        frame = self._d.get(index)
        if frame is not None:
            self._d.move_to_end(index)
        return frame

    def put(self, index: int, frame: np.ndarray) -> None:
        if self.size == 0:
            return
        self._d[index] = frame
        self._d.move_to_end(index)
        while len(self._d) > self.size:
            self._d.popitem(last=False)

    def clear(self) -> None:
        self._d.clear()


# --------------------------------------------------------------------------- interface


class FrameSource(abc.ABC):
    """Random access to the frames of one clip, decoded lazily.

    Subclasses set ``_height``/``_width`` and implement ``num_frames`` and
    ``_read(index)``; this base class checks indices, serialises access with a
    lock (so a :class:`Prefetcher` thread and the caller never decode at the same
    time), checks every frame's shape and handles closing.
    """

    _height: int
    _width: int

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._closed = False

    # -- description
    @property
    @abc.abstractmethod
    def num_frames(self) -> int | None:
        """Frames in the clip, or ``None`` while unknown (an iterator not yet exhausted)."""

    @property
    def height(self) -> int:
        """Height H of every frame, in pixels of the original frames."""
        return self._height

    @property
    def width(self) -> int:
        """Width W of every frame, in pixels of the original frames."""
        return self._width

    @property
    def fps(self) -> float | None:
        """Frames per second when the source knows it (video files), else ``None``."""
        return None

    @property
    def name(self) -> str:
        """A short description used in messages (the file or folder for files)."""
        return type(self).__name__

    def __len__(self) -> int:
        n = self.num_frames
        if n is None:
            raise TypeError(
                f"The length of {self.name} is not known yet (an iterator source learns it "
                "when the iterator ends); use .num_frames, which is None until then."
            )
        return n

    def __bool__(self) -> bool:  # never fall back to __len__, which may raise
        return True

    def __repr__(self) -> str:
        n = self.num_frames
        count = "? frames" if n is None else f"{n} frames"
        return f"{type(self).__name__}({self.name!r}, {count}, {self.height}x{self.width})"

    # -- access
    def get(self, index: int) -> np.ndarray:
        """Frame ``index`` as a new (H, W, 3) uint8 RGB array.

        Negative indices count from the end when the length is known. Raises
        ``IndexError`` past the end and :class:`FrameReadError` when the frame
        exists but cannot be decoded.
        """
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"Frame index must be an integer, got {type(index).__name__}.") from None
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.name} is closed.")
            n = self.num_frames
            if i < 0:
                if n is None:
                    raise IndexError(
                        f"Negative frame index {i} needs a known length, and the length of "
                        f"{self.name} is not known yet."
                    )
                i += n
                if i < 0:
                    raise IndexError(f"Frame index {index} is out of range for {n} frames.")
            if n is not None and i >= n:
                raise IndexError(
                    f"Frame index {i} is out of range: {self.name} has {n} frames (0..{n - 1})."
                )
            frame = self._read(i)
        if frame.shape != (self._height, self._width, 3) or frame.dtype != np.uint8:
            raise FrameReadError(
                f"Frame {i} of {self.name} has shape {frame.shape} ({frame.dtype}), but the "
                f"source's frames are ({self._height}, {self._width}, 3) uint8: all frames of "
                "a clip must have the same size.",
                i,
                self.name,
            )
        return frame

    def __getitem__(self, index: int) -> np.ndarray:
        return self.get(index)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame in order (stops at the end even when the length was unknown)."""
        for i in itertools.count():
            n = self.num_frames
            if n is not None and i >= n:
                return
            try:
                frame = self.get(i)
            except IndexError:
                if self.num_frames is not None and i >= self.num_frames:
                    return
                raise
            yield frame

    @abc.abstractmethod
    def _read(self, index: int) -> np.ndarray:
        """Decode frame ``0 <= index`` (below ``num_frames`` when known); lock held."""

    # -- lifetime
    def close(self) -> None:
        """Release files and decoders; later ``get`` calls raise ``ValueError``. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def _close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- video files


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

    def __init__(self, path: str | os.PathLike | io.IOBase, *, cache_size: int = 8,
                 autorotate: bool = True):
        super().__init__()
        av = _av()
        self._av = av
        if isinstance(path, (str, os.PathLike)):
            p = Path(path)
            if p.is_dir():
                raise IsADirectoryError(
                    f"{p} is a folder, not a video file; use FolderSource (or open_source) for a "
                    "folder of frames."
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
            raise TypeError(
                f"VideoFileSource needs a path or a binary file object, got {type(path).__name__}."
            )
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
                f"{self._name} has no video stream (streams found: {', '.join(kinds)}); it cannot "
                "be used as a video."
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
        if self._pos is not None and self._decoder is not None and self._pos < i and \
                self._keyframe_before(i) <= self._pos + 1:
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
                f"Cannot locate frames in {self._name} after seeking: a decoded frame has no "
                "timestamp.",
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
                f"Could not decode frame {i} of {self._name}: the decoder skipped from frame "
                f"{i - 1} to frame {idx}.",
                i,
                self._name,
            )
        self._container_end()
        err = self._decode_error
        reason = f"decoding failed ({err})" if err is not None else "the stream ended before it"
        raise FrameReadError(
            f"Could not decode frame {i} of {self._name}: {reason}. The file may be truncated or "
            "damaged.",
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


class FolderSource(FrameSource):
    """A folder of image frames (.jpg .jpeg .png .bmp .webp .tif .tiff), in natural order.

    Files are sorted by name with digit runs compared as numbers (``frame_2.png``
    before ``frame_10.png``; any names work, not only integers). Other files,
    sub-folders and hidden files (``.name``) are ignored. On opening, every
    file's header is read (not its pixels) to check that all frames have the
    same size; ``check_sizes=False`` skips this for huge folders (a frame of
    another size then raises :class:`FrameReadError` when read).

    Attributes:
        files: the frame files, in frame order.
    """

    def __init__(self, path: str | os.PathLike, *, check_sizes: bool = True, cache_size: int = 2):
        super().__init__()
        folder = Path(path)
        if not folder.exists():
            raise FileNotFoundError(f"Frame folder not found: {folder}")
        if not folder.is_dir():
            raise NotADirectoryError(
                f"{folder} is a file, not a folder of frames; use VideoFileSource (or open_source) "
                "for a video file."
            )
        self._folder = folder
        try:
            entries = list(folder.iterdir())
        except OSError as e:
            raise ValueError(f"Could not list the frame folder {folder}: {e}") from e
        files = [
            p for p in entries
            if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
        ]
        if not files:
            others = len(entries)
            raise ValueError(
                f"No image frames in {folder}: expected files ending in "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))} ({others} other entries found)."
            )
        self.files: list[Path] = sorted(files, key=lambda p: _natural_key(p.name))
        self._height, self._width = _image_file_hw(self.files[0], 0)
        if check_sizes:
            for i, f in enumerate(self.files[1:], start=1):
                hw = _image_file_hw(f, i)
                if hw != (self._height, self._width):
                    raise ValueError(
                        f"Frames in {folder} have different sizes: {self.files[0].name} is "
                        f"{self._width}x{self._height} (WxH) but {f.name} (frame {i}) is "
                        f"{hw[1]}x{hw[0]}. All frames of a video must be the same size."
                    )
        self._cache = _LRU(cache_size)

    @property
    def num_frames(self) -> int:
        return len(self.files)

    @property
    def name(self) -> str:
        return str(self._folder)

    def _read(self, index: int) -> np.ndarray:
        frame = self._cache.get(index)
        if frame is None:
            frame = _read_image_file(self.files[index], index)
            self._cache.put(index, frame)
        return frame.copy()

    def _close(self) -> None:
        self._cache.clear()


# --------------------------------------------------------------------------- in memory


class ArraySource(FrameSource):
    """A clip held in one array: (T, H, W, 3) RGB, (T, H, W, 4) RGBA, (T, H, W, 1) or (T, H, W) gray.

    uint8 (0..255) or float in [0, 1] (rounded to uint8 per frame), as numpy or
    torch (a (T, C, H, W) tensor is taken as channels-first, the torch way). The
    array is not copied; each ``get`` converts one frame. A 3-D array whose last
    axis is 3 or 4 is refused as ambiguous (one HxWxC image? wrap it in a list).
    """

    def __init__(self, array: Any):
        super().__init__()
        if _is_tensor(array):
            t = array.detach()
            if t.ndim == 4 and t.shape[1] in (1, 3, 4) and t.shape[-1] not in (1, 3, 4):
                t = t.permute(0, 2, 3, 1)
            if t.is_floating_point():
                t = t.float()  # bf16 has no numpy dtype
            array = t.cpu().numpy()
        if not isinstance(array, np.ndarray):
            raise TypeError(f"ArraySource needs a numpy array or torch tensor, got {type(array).__name__}.")
        if array.ndim == 3 and array.shape[-1] in (3, 4):
            raise ValueError(
                f"An array of shape {array.shape} is ambiguous: one (H, W, C) image or (T, H, W) "
                "gray frames? Pass a clip as (T, H, W, 3), or a single image as [image] or "
                "image[None]."
            )
        if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[-1] not in (1, 3, 4)):
            raise ValueError(
                f"Expected frames of shape (T, H, W, 3), (T, H, W, 4), (T, H, W, 1) or (T, H, W); "
                f"got {array.shape}."
            )
        if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"Unsupported frame dtype {array.dtype}. Use uint8 (0-255) or float (0-1).")
        if 0 in array.shape:
            raise ValueError(f"The clip is empty (shape {array.shape}).")
        self._array = array
        self._height, self._width = int(array.shape[1]), int(array.shape[2])

    @property
    def num_frames(self) -> int:
        return int(self._array.shape[0])

    @property
    def name(self) -> str:
        return f"array{tuple(self._array.shape)}"

    def _read(self, index: int) -> np.ndarray:
        try:
            return to_rgb_uint8(self._array[index])
        except (TypeError, ValueError) as e:
            raise FrameReadError(f"Frame {index} of the array is invalid: {e}", index, self.name) from e

    def _close(self) -> None:
        self._array = self._array[:0]  # drop the reference; shape stays known


class ListSource(FrameSource):
    """A list of frames: numpy arrays, PIL images, torch tensors or image file paths.

    All must have the same size (checked on creation from shapes and file
    headers, without decoding). Files are read when their frame is asked for.
    """

    def __init__(self, frames: Sequence[Any]):
        super().__init__()
        if isinstance(frames, (str, bytes, os.PathLike)) or not isinstance(frames, Sequence):
            raise TypeError(f"ListSource needs a list or tuple of frames, got {type(frames).__name__}.")
        items = list(frames)
        if not items:
            raise ValueError("The list of frames is empty.")
        sizes = []
        for i, item in enumerate(items):
            try:
                sizes.append(_item_hw(item))
            except TypeError as e:
                raise TypeError(f"Frame {i} of the list: {e}") from e
            except ValueError as e:
                raise ValueError(f"Frame {i} of the list: {e}") from e
            if sizes[-1] != sizes[0]:
                raise ValueError(
                    f"Frames of the list have different sizes: frame 0 is {sizes[0][1]}x{sizes[0][0]} "
                    f"(WxH) but frame {i} is {sizes[-1][1]}x{sizes[-1][0]}. All frames of a video "
                    "must be the same size."
                )
        self._items = items
        self._height, self._width = sizes[0]

    @property
    def num_frames(self) -> int:
        return len(self._items)

    @property
    def name(self) -> str:
        return f"list of {len(self._items)} frames"

    def _read(self, index: int) -> np.ndarray:
        item = self._items[index]
        if isinstance(item, (str, os.PathLike)):
            return _read_image_file(Path(item), index)
        try:
            return to_rgb_uint8(item)
        except (TypeError, ValueError) as e:
            raise FrameReadError(f"Frame {index} of the list is invalid: {e}", index, self.name) from e

    def _close(self) -> None:
        self._items = []


class IteratorSource(FrameSource):
    """Frames pulled on demand from an iterator or generator of unknown length.

    Frames (anything :class:`ListSource` accepts) are pulled as higher indices are
    asked for; the last ``keep`` frames are held, so memory stays bounded and
    going back up to ``keep - 1`` frames works. An older frame raises
    :class:`FrameNotAvailableError`. The first frame is pulled on creation (it
    gives ``height``/``width``). ``num_frames`` is ``None`` until the iterator
    ends, unless given: then reading beyond the declared count raises
    ``IndexError`` and an iterator that ends early raises :class:`FrameReadError`.
    """

    def __init__(self, iterable: Iterable[Any], *, keep: int = 64, num_frames: int | None = None):
        super().__init__()
        if int(keep) < 1:
            raise ValueError(f"keep must be at least 1, got {keep}.")
        try:
            self._it = iter(iterable)
        except TypeError:
            raise TypeError(f"IteratorSource needs an iterable, got {type(iterable).__name__}.") from None
        self._keep = int(keep)
        self._window: deque[np.ndarray] = deque(maxlen=self._keep)
        self._count = 0  # frames pulled so far; the window holds the last len(window)
        self._declared = None if num_frames is None else int(num_frames)
        self._ended_at: int | None = None  # frames the iterator yielded, once it ended
        self._failure: FrameReadError | None = None
        self._height = self._width = 0
        if not self._pull():
            raise ValueError("The frame iterator yielded no frames.")
        self._height, self._width = self._window[0].shape[:2]

    def _pull(self) -> bool:
        """Pull one frame into the window; False when the iterator has ended."""
        if self._failure is not None:
            raise self._failure
        if self._ended_at is not None:
            return False
        i = self._count
        try:
            item = next(self._it)
        except StopIteration:
            self._ended_at = i
            return False
        except Exception as e:
            self._failure = FrameReadError(
                f"The frame iterator raised while producing frame {i}: {e!r}", i, self.name
            )
            raise self._failure from e
        try:
            frame = _read_image_file(Path(item), i) if isinstance(item, (str, os.PathLike)) \
                else to_rgb_uint8(item)
        except FrameReadError as e:
            self._failure = e
            raise
        except (TypeError, ValueError) as e:
            self._failure = FrameReadError(f"Frame {i} from the iterator is invalid: {e}", i, self.name)
            raise self._failure from e
        if i > 0 and frame.shape[:2] != (self._height, self._width):
            self._failure = FrameReadError(
                f"Frame {i} from the iterator is {frame.shape[1]}x{frame.shape[0]} (WxH) but the "
                f"first frame is {self._width}x{self._height}: all frames must be the same size.",
                i,
                self.name,
            )
            raise self._failure
        self._window.append(frame)
        self._count += 1
        return True

    @property
    def num_frames(self) -> int | None:
        if self._declared is not None:
            return self._declared
        return self._ended_at

    @property
    def keep(self) -> int:
        return self._keep

    @property
    def name(self) -> str:
        return "frame iterator"

    def _read(self, index: int) -> np.ndarray:
        start = self._count - len(self._window)
        if index < start:
            raise FrameNotAvailableError(
                f"Frame {index} is no longer available: this iterator source keeps only the last "
                f"{self._keep} frames (now {start}..{self._count - 1}). Create it with a larger "
                "keep=, or use a seekable source (a file, folder, array or list)."
            )
        while index >= self._count:
            if not self._pull():
                if self._declared is not None:
                    raise FrameReadError(
                        f"Cannot read frame {index}: the frame iterator ended after "
                        f"{self._ended_at} frames, but num_frames={self._declared} was given.",
                        index,
                        self.name,
                    )
                raise IndexError(
                    f"Frame index {index} is out of range: the frame iterator ended after "
                    f"{self._ended_at} frames (0..{self._ended_at - 1})."
                )
        return self._window[index - (self._count - len(self._window))].copy()

    def _close(self) -> None:
        self._window.clear()
        close = getattr(self._it, "close", None)
        if callable(close):  # finish a generator (runs its finally blocks)
            try:
                close()
            except Exception:  # pragma: no cover - a generator that raises on close
                pass


# --------------------------------------------------------------------------- dispatch


def open_source(source: Any) -> FrameSource:
    """Any supported input -> a :class:`FrameSource`.

    * a :class:`FrameSource`: returned as is;
    * ``str`` / ``Path``: a folder -> :class:`FolderSource`; an image file
      (.jpg, .png, ...) -> a one-frame :class:`ListSource`; any other file ->
      :class:`VideoFileSource`;
    * ``bytes`` or a binary file object: the contents of a video file;
    * a numpy array / torch tensor of frames -> :class:`ArraySource`;
    * a PIL image -> a one-frame clip; a list or tuple -> :class:`ListSource`;
    * any other iterable or iterator -> :class:`IteratorSource` (with its
      ``len()`` as ``num_frames`` when it has one).
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            return FolderSource(p)
        if not p.exists():
            raise FileNotFoundError(f"No such video file or frame folder: {p}")
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            return ListSource([p])
        return VideoFileSource(p)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return VideoFileSource(io.BytesIO(bytes(source)))
    if isinstance(source, io.IOBase) or (hasattr(source, "read") and hasattr(source, "seek")):
        return VideoFileSource(source)
    if isinstance(source, np.ndarray) or _is_tensor(source):
        if source.ndim == 2:
            raise ValueError(
                f"An array of shape {tuple(source.shape)} is one image, not a clip; pass [image] "
                "or a (T, H, W, 3) array."
            )
        return ArraySource(source)
    if _is_pil(source):
        return ListSource([source])
    if isinstance(source, (list, tuple)):
        return ListSource(source)
    if isinstance(source, (Iterator, Iterable)) or hasattr(source, "__iter__"):
        n = None
        if not isinstance(source, Iterator) and hasattr(source, "__len__"):
            try:
                n = len(source)
            except TypeError:
                n = None
        return IteratorSource(source, num_frames=n)
    raise TypeError(
        f"Cannot use {type(source).__name__} as a frame source. Pass a path to a video file "
        f"({', '.join(VIDEO_EXTENSIONS)}) or to a folder of image frames, a (T, H, W, 3) "
        "array, a list of frames, or an iterator of frames."
    )


# --------------------------------------------------------------------------- prefetch


class Prefetcher:
    """Decode (and optionally preprocess) upcoming frames in one background thread.

    ``prefetch(i)`` schedules frame ``i``; ``get(i)`` returns
    ``to_input(source.get(i))`` (or the frame itself without ``to_input``),
    waiting for the scheduled result if there is one and computing it in the
    calling thread otherwise. One worker thread, and the source's own lock, keep
    decoding single-threaded per source (PyAV containers are not thread-safe).
    At most ``max_pending`` results are held; older ones are dropped. Errors are
    raised by ``get``, as if the frame had been read there.

    Typical use in the tracker::

        with Prefetcher(source, to_input) as frames:
            for i, x in frames.iterate(range(start, end)):
                ...  # frame i+1 decodes while frame i is processed
    """

    def __init__(self, source: FrameSource, to_input: Callable[[np.ndarray], Any] | None = None,
                 *, max_pending: int = 2):
        self.source = source
        self.to_input = to_input
        self._max_pending = max(int(max_pending), 1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam2-frames")
        self._pending: OrderedDict[int, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def _load(self, index: int) -> Any:
        frame = self.source.get(index)
        return self.to_input(frame) if self.to_input is not None else frame

    def prefetch(self, index: int) -> Future | None:
        """Start loading frame ``index`` in the background; ``None`` if it is out of range."""
        n = self.source.num_frames
        if index < 0 or (n is not None and index >= n):
            return None
        with self._lock:
            if self._closed:
                raise ValueError("The prefetcher is closed.")
            fut = self._pending.get(index)
            if fut is None:
                fut = self._executor.submit(self._load, index)
                self._pending[index] = fut
                while len(self._pending) > self._max_pending:
                    _, old = self._pending.popitem(last=False)
                    old.cancel()
            return fut

    def get(self, index: int) -> Any:
        """The (preprocessed) frame ``index``: the prefetched result, or loaded now."""
        with self._lock:
            fut = self._pending.pop(index, None)
        if fut is not None and not fut.cancelled():
            return fut.result()
        return self._load(index)

    def iterate(self, indices: Iterable[int]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, result)`` for ``indices`` in order, prefetching the next index.

        Stops quietly when an iterator source ends (``IndexError``).
        """
        it = iter(indices)
        current = next(it, None)
        while current is not None:
            nxt = next(it, None)
            if nxt is not None:
                self.prefetch(nxt)
            try:
                result = self.get(current)
            except IndexError:
                if self.source.num_frames is not None and current >= self.source.num_frames:
                    return
                raise
            yield current, result
            current = nxt

    def close(self) -> None:
        """Drop pending work and stop the thread (waits for a decode in progress)."""
        with self._lock:
            self._closed = True
            pending = list(self._pending.values())
            self._pending.clear()
        for fut in pending:
            fut.cancel()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
