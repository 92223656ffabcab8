"""Clips made of separate images: a folder of frames, an array, a list."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...image_files import IMAGE_EXTENSIONS, list_image_files
from .base import (
    _LRU,
    FrameReadError,
    FrameSource,
    _image_file_hw,
    _is_tensor,
    _item_hw,
    _read_image_file,
    to_rgb_uint8,
)


class FolderSource(FrameSource):
    """A folder of image frames (.jpg .jpeg .png .bmp .webp .tif .tiff .gif), in natural order.

    The files are those an image set lists from the same folder
    (``sam2_backend.image_files.list_image_files``): sorted by name with digit runs
    compared as numbers (``frame_2.png`` before ``frame_10.png``; any names work, not
    only integers); other files, sub-folders and hidden files (``.name``) are ignored.
    On opening, every file's header is read (not its pixels) to check that all frames
    have the same size; ``check_sizes=False`` skips this for huge folders (a frame of
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
                f"{folder} is a file, not a folder of frames; use VideoFileSource (or open_source) for a video file."
            )
        self._folder = folder
        try:
            self.files: list[Path] = list_image_files(folder)
            others = 0 if self.files else len(list(folder.iterdir()))
        except OSError as e:
            raise ValueError(f"Could not list the frame folder {folder}: {e}") from e
        if not self.files:
            raise ValueError(
                f"No image frames in {folder}: expected files ending in "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))} ({others} other entries found)."
            )
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
                f"Expected frames of shape (T, H, W, 3), (T, H, W, 4), (T, H, W, 1) or (T, H, W); got {array.shape}."
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
