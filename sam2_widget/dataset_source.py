"""The images of a data set, listed up front without decoding anything and read one at a time.

A source is a folder, a list of paths, the ``file_name``s of a COCO file under a root folder,
or any lazy sequence with ``__len__`` and ``__getitem__`` (a Hugging Face ``datasets`` column,
a PyTorch ``Dataset``). Opening one costs a directory listing or nothing per image: no file is
opened and no item is read until its pixels (or, for a file, its size) are asked for, so a set
of 10,000 images opens in milliseconds. What :class:`ImageSet` does for a handful of images
(validate every in-memory image up front) would read a whole lazy data set, hence this class.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sam2_backend.image_decode import oriented_size, to_rgb, too_large_message
from sam2_backend.image_files import IMAGE_EXTENSIONS, natural_sort_key
from sam2_backend.inputs import image_to_tensor

from .images import ImageReadError

_DECODED_CACHE = 2  # items kept in RAM: the shown image and the one being encoded


class DatasetSource:
    """An ordered set of images: names (and sizes, where the source says them) up front,
    pixels on demand. Thread-safe.

    Use the constructors: :meth:`from_folder`, :meth:`from_paths`, :meth:`from_coco`,
    :meth:`from_sequence`, or :meth:`open` to pick one from what was given.
    """

    def __init__(
        self,
        names: Sequence[str],
        read: Callable[[int], Any],
        paths: Sequence[Path] | None = None,
        sizes: Sequence[tuple[int, int] | None] | None = None,
    ) -> None:
        if not len(names):
            raise ValueError("The image set is empty: pass at least one image.")
        self._names = names
        self._read = read  # index -> what the source holds (a path or an item), not yet decoded
        self._paths = paths
        self._sizes: dict[int, tuple[int, int]] = {i: s for i, s in enumerate(sizes or ()) if s is not None}
        self._decoded: OrderedDict[int, tuple[Any, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    # -- constructors ----------------------------------------------------------

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> DatasetSource:
        """The image files of ``folder`` in natural order (``sam2_backend.image_files``' rule)."""
        folder = Path(folder)
        names = _image_names(folder)
        if not names:
            raise ValueError(f"No image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) in folder {folder}.")
        return cls(names, _UnderRoot(folder, names).__getitem__, _UnderRoot(folder, names))

    @classmethod
    def from_paths(cls, paths: Sequence[str | os.PathLike]) -> DatasetSource:
        """Image files in the given order; each must exist (``FileNotFoundError`` names the first missing)."""
        files = [Path(p) for p in paths]
        for p in files:
            if not p.is_file():
                raise FileNotFoundError(f"Image file not found: {p}")
        return cls([p.name for p in files], files.__getitem__, files)

    @classmethod
    def from_coco(cls, coco: str | os.PathLike | dict, root: str | os.PathLike) -> DatasetSource:
        """The images of a COCO document (its ``images``, in their order) as ``root / file_name``.

        Their ``height`` and ``width`` are taken as the sizes; no file is opened until read
        (a missing one raises :class:`ImageReadError` then).
        """
        entries = load_coco(coco).get("images") or []
        root = Path(root)
        names, sizes = [], []
        for k, e in enumerate(entries):
            if not isinstance(e, dict) or not isinstance(e.get("file_name"), str):
                raise ValueError(f"COCO image entry {k} has no file_name: {str(e)[:120]}")
            names.append(e["file_name"])
            h, w = e.get("height"), e.get("width")
            sizes.append((h, w) if _positive_ints(h, w) else None)
        paths = _UnderRoot(root, names)  # Path objects made when asked: 10,000 of them cost 0.1 s
        return cls(names, paths.__getitem__, paths, sizes)

    @classmethod
    def from_sequence(cls, items: Any, image_key: str = "image") -> DatasetSource:
        """Any sequence with ``len`` and ``[i]`` (read only when asked). An item is an image (PIL,
        HxWx3 array, tensor, path), a dict holding one under ``image_key`` (a ``datasets`` row), or
        a tuple whose first element is one (a PyTorch dataset's ``(image, target)``)."""
        if not (hasattr(items, "__len__") and hasattr(items, "__getitem__")):
            raise TypeError(f"images must support len() and [i], got {type(items).__name__}.")
        n = len(items)

        def read(index: int) -> Any:
            return _image_of(items[index], image_key, index)

        return cls(_NumberedNames(n), read)

    @classmethod
    def open(cls, images: Any, coco: str | os.PathLike | dict | None = None) -> DatasetSource:
        """Pick the constructor: a folder (with ``coco``: that file's images under it), a list of
        paths, or a lazy sequence."""
        if isinstance(images, (str, os.PathLike)):
            if not Path(images).is_dir():
                raise ValueError(f"images must be a folder, a list of paths or a sequence; {images} is no folder.")
            return cls.from_coco(coco, images) if coco is not None else cls.from_folder(images)
        if isinstance(images, (list, tuple)) and images and all(isinstance(p, (str, os.PathLike)) for p in images):
            return cls.from_paths(images)
        return cls.from_sequence(images)

    # -- reading ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._names)

    def name(self, index: int) -> str:
        """The file name (a COCO ``file_name`` as written), or ``image 3`` (1-based) for an item."""
        return self._names[index]

    def path(self, index: int) -> Path | None:
        """The file of image ``index``; ``None`` for an item of a sequence."""
        return None if self._paths is None else self._paths[index]

    def known_size(self, index: int) -> tuple[int, int] | None:
        """``(H, W)`` if known without reading anything (from the COCO file, or read before)."""
        with self._lock:
            return self._sizes.get(index)

    def size(self, index: int) -> tuple[int, int]:
        """``(H, W)``: known, or a file's header, or the item read."""
        known = self.known_size(index)
        if known is not None:
            return known
        path = self.path(index)
        if path is None:
            return self.pixels(index).shape[:2]
        from PIL import Image

        try:
            with Image.open(path) as image:
                hw = oriented_size(image)
        except Image.DecompressionBombError as e:
            raise ImageReadError(too_large_message(path, e)) from e
        except (OSError, ValueError) as e:
            raise ImageReadError(f"Could not read {path} as an image ({e}).") from e
        with self._lock:
            self._sizes[index] = hw
        return hw

    def model_input(self, index: int) -> Any:
        """What ``ImagePredictor.set_image`` gets: the decoded file, or the item's image as given."""
        return self._decode(index)[0]

    def pixels(self, index: int) -> np.ndarray:
        """The image as ``(H, W, 3)`` uint8 RGB (raises :class:`ImageReadError` for a bad file)."""
        return self._decode(index)[1]

    def _decode(self, index: int) -> tuple[Any, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"image index {index} is out of range (0 to {len(self) - 1}).")
        with self._lock:
            if index in self._decoded:
                self._decoded.move_to_end(index)
                return self._decoded[index]
        raw = self._read(index)
        if isinstance(raw, (str, os.PathLike)):
            pixels = _read_file(Path(raw))
            decoded = (pixels, pixels)
        else:
            decoded = (raw, _to_pixels(raw, index))
        with self._lock:
            self._decoded[index] = decoded
            self._sizes[index] = decoded[1].shape[:2]
            while len(self._decoded) > _DECODED_CACHE:
                self._decoded.popitem(last=False)
        return decoded


def load_coco(coco: str | os.PathLike | dict) -> dict:
    """A COCO document: the dict as given, or the JSON file read."""
    if isinstance(coco, dict):
        return coco
    with open(coco, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict):
        raise ValueError(f"{coco} is no COCO file: its JSON is a {type(doc).__name__}, not an object.")
    return doc


def _image_names(folder: Path) -> list[str]:
    """``sam2_backend.image_files.list_image_files``' rule (extensions, no hidden files, natural
    order), with ``os.scandir``: its entries know whether they are files without a ``stat``
    each, which made a 10,000-file listing 3x faster here."""
    with os.scandir(folder) as entries:
        names = [
            e.name
            for e in entries
            if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS and not e.name.startswith(".") and e.is_file()
        ]
    return sorted(names, key=natural_sort_key)


class _UnderRoot(Sequence):
    """``root / name`` for each name, made when asked."""

    def __init__(self, root: Path, names: Sequence[str]) -> None:
        self._root, self._names = root, names

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, index: Any) -> Any:
        return self._root / self._names[index]


class _NumberedNames(Sequence):
    """``image 1`` ... ``image n`` without building n strings up front."""

    def __init__(self, n: int) -> None:
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        if not -self._n <= index < self._n:
            raise IndexError(index)
        return f"image {index % self._n + 1}"


def _positive_ints(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)


def _image_of(item: Any, image_key: str, index: int) -> Any:
    if isinstance(item, dict):
        if image_key not in item:
            raise ImageReadError(f"item {index} has no {image_key!r} key (keys: {', '.join(map(str, item))}).")
        return item[image_key]
    if isinstance(item, tuple) and item:
        return item[0]
    return item


def _to_pixels(image: Any, index: int) -> np.ndarray:
    """An item's image as ``(H, W, 3)`` uint8, through the conversions ``ImageSet`` uses."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return to_rgb(image)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
    try:
        tensor = image_to_tensor(image)
    except (TypeError, ValueError) as e:
        raise ImageReadError(f"item {index} is no image ({type(image).__name__}): {e}") from e
    return (tensor * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _read_file(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except Image.DecompressionBombError as e:
        raise ImageReadError(too_large_message(path, e)) from e
    except (OSError, ValueError) as e:
        raise ImageReadError(f"Could not read {path} as an image ({e}). Is it a valid image file?") from e
