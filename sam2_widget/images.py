"""The images a widget shows: one image or a set (a list, a folder, a stack), read on demand."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from sam2_backend.image_decode import oriented_size, to_rgb, too_large_message
from sam2_backend.image_files import IMAGE_EXTENSIONS, list_image_files
from sam2_backend.inputs import image_to_tensor

_DECODED_CACHE = 2  # decoded files kept in RAM: the shown image and the one being encoded


class ImageReadError(ValueError):
    """An image of the set could not be read (corrupt or unsupported file)."""


class _Item(NamedTuple):
    name: str
    path: Path | None  # set for files, read on demand
    array: np.ndarray | None  # set for in-memory images


class ImageSet:
    """An ordered, immutable set of images; files are decoded only when needed.

    In-memory images are validated and kept as numpy arrays (PIL images become
    ``HxWx3`` uint8, tensors ``HxWx3`` float32); files are checked to exist up
    front and decoded lazily, so a corrupt file only fails when it is read
    (:class:`ImageReadError`). Thread-safe.
    """

    def __init__(self, items: list[_Item]) -> None:
        if not items:
            raise ValueError("The image set is empty: pass at least one image.")
        self._items = items
        self._decoded: OrderedDict[int, np.ndarray] = OrderedDict()
        self._sizes: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_source(cls, source: Any) -> ImageSet:
        """An image (path, array, PIL image, tensor), a list of them, a folder, or an (N, H, W, C) stack.

        Raises FileNotFoundError for a missing path, ValueError for an empty folder or
        list or a single unreadable image, TypeError for an unsupported type.
        """
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if path.is_dir():
                files = list_image_files(path)  # the files a clip folder lists, in the same order
                if not files:
                    raise ValueError(f"No image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) in folder {path}.")
                return cls([_file_item(p) for p in files])
            images = cls([_file_item(path)])
            images.pixels(0)  # a single image must be readable now, not later in the widget
            return images
        if isinstance(source, (list, tuple)):
            return cls([_to_item(x, i) for i, x in enumerate(source)])
        if isinstance(source, (np.ndarray, torch.Tensor)) and source.ndim == 4:
            return cls([_memory_item(x, i) for i, x in enumerate(source)])
        return cls([_memory_item(source, 0)])

    def __len__(self) -> int:
        return len(self._items)

    def name(self, index: int) -> str:
        """The file name, or ``image 3`` (1-based) for an in-memory image."""
        return self._items[index].name

    def path(self, index: int) -> Path | None:
        """The file the image comes from, ``None`` for an in-memory image."""
        return self._items[index].path

    def array(self, index: int) -> np.ndarray | None:
        """The in-memory image as kept (``None`` for a file)."""
        return self._items[index].array

    def pixels(self, index: int) -> np.ndarray:
        """The image as ``(H, W, 3)`` uint8 RGB (raises :class:`ImageReadError` for a bad file)."""
        item = self._items[index]
        if item.array is not None:
            if item.array.dtype == np.uint8 and item.array.ndim == 3 and item.array.shape[2] == 3:
                return item.array
            return (image_to_tensor(item.array) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        with self._lock:
            if index in self._decoded:
                self._decoded.move_to_end(index)
                return self._decoded[index]
        pixels = _read_file(item.path)
        with self._lock:
            self._decoded[index] = pixels
            self._sizes[index] = pixels.shape[:2]
            while len(self._decoded) > _DECODED_CACHE:
                self._decoded.popitem(last=False)
        return pixels

    def model_input(self, index: int) -> np.ndarray:
        """What ``ImagePredictor.set_image`` gets: the array as given, or the decoded file
        (the same pixels ``set_image(path)`` would read)."""
        item = self._items[index]
        return item.array if item.array is not None else self.pixels(index)

    def size(self, index: int) -> tuple[int, int]:
        """``(H, W)`` of the original image; for a file only its header is read."""
        item = self._items[index]
        if item.array is not None:
            return tuple(item.array.shape[:2])
        with self._lock:
            if index in self._sizes:
                return self._sizes[index]
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(item.path) as image:
                hw = oriented_size(image)
        except Image.DecompressionBombError as e:
            raise ImageReadError(too_large_message(item.path, e)) from e
        except (UnidentifiedImageError, OSError) as e:
            raise ImageReadError(f"Could not read {item.path} as an image ({e}).") from e
        with self._lock:
            self._sizes[index] = hw
        return hw


def _file_item(path: Path) -> _Item:
    if not path.is_file():
        raise FileNotFoundError(f"Image file not found: {path}")
    return _Item(path.name, path.resolve(), None)


def _to_item(x: Any, index: int) -> _Item:
    if isinstance(x, (str, os.PathLike)):
        return _file_item(Path(x))
    return _memory_item(x, index)


def _memory_item(x: Any, index: int) -> _Item:
    """Validate an in-memory image (``image_to_tensor`` gives the clear errors) and keep it as numpy."""
    from PIL import Image

    if isinstance(x, Image.Image):
        array = to_rgb(x)  # what ImagePredictor.set_image does with PIL images
    elif isinstance(x, torch.Tensor):
        array = image_to_tensor(x).permute(1, 2, 0).numpy()  # HWC float32 in [0, 1]: same model input
    elif isinstance(x, np.ndarray):
        image_to_tensor(x)  # raises for a bad shape, dtype or value range
        array = x
    else:
        raise TypeError(
            f"Unsupported image type {type(x).__name__} (image {index + 1}). Pass a path, a folder, an "
            "HxWx3 uint8 numpy array, a PIL image, a torch tensor, or a list of these."
        )
    return _Item(f"image {index + 1}", None, array)


def _read_file(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return to_rgb(image)  # the same decode as sam2_backend's set_image(path)
    except Image.DecompressionBombError as e:
        raise ImageReadError(too_large_message(path, e)) from e
    except (UnidentifiedImageError, OSError) as e:
        raise ImageReadError(f"Could not read {path} as an image ({e}). Is it a valid image file?") from e
