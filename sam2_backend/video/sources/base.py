"""The FrameSource interface, its errors, and helpers shared by the sources."""

from __future__ import annotations

import abc
import itertools
import operator
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...image_decode import oriented_size, to_rgb, too_large_message
from ...inputs import image_to_tensor

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
            h, w = oriented_size(img)
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError...
        raise _read_error(path, index, e) from e
    return h, w


def _read_image_file(path: Path, index: int | None = None) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB; FrameReadError naming the file on failure."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb(img)
    except Exception as e:  # truncated/corrupt data: OSError, SyntaxError, ValueError...
        raise _read_error(path, index, e) from e


def _read_error(path: Path, index: int | None, error: Exception) -> FrameReadError:
    from PIL import Image

    which = f"frame {index} " if index is not None else ""
    if isinstance(error, Image.DecompressionBombError):
        return FrameReadError(f"{which}{too_large_message(path, error)}", index, str(path))
    return FrameReadError(f"Could not read {which}{path.name!r} ({path}) as an image: {error}", index, str(path))


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
        return to_rgb(image)
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
                raise IndexError(f"Frame index {i} is out of range: {self.name} has {n} frames (0..{n - 1}).")
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

    def _close(self) -> None:  # noqa: B027 (an optional hook: arrays and lists hold nothing to release)
        """Release what the source holds; called once by :meth:`close`, lock held."""

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- video files
