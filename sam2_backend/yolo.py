"""YOLO segmentation datasets from masks, in the layout Ultralytics trains on and supervision reads.

::

    folder/
      data.yaml          path: the folder's absolute path (Ultralytics resolves a relative one
                         against its datasets directory), train: images, val: images,
                         names: {0: cat, 1: dog}
      classes.txt        one class name a line, for tools that read that instead
      images/<stem>.jpg  the image file copied, or the pixels written when there is no file
      labels/<stem>.txt  one line per object: ``class x1 y1 x2 y2 ...``, vertices normalised
                         by the image's width and height (``sam2_backend.mask_polygons``);
                         an image with no mask gets an empty file (a background example)

Class ids are 0-based, in the order of ``class_names``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .mask_polygons import mask_polygon

__all__ = ["IMAGE_SUFFIXES", "YoloSample", "label_line", "write_class_files", "write_dataset"]

# The image files Ultralytics and supervision list in an images folder; others are written as PNG.
IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".jpg", ".jpeg", ".mpo", ".png", ".tif", ".tiff", ".webp"})


class YoloSample(NamedTuple):
    """One image of the dataset: file stem, the image (a file to copy, or (H, W, 3) uint8 pixels),
    its size, and its ``(class_id, (H, W) bool mask)`` objects."""

    stem: str
    image: Path | np.ndarray
    height: int
    width: int
    objects: Sequence[tuple[int, np.ndarray]]


def label_line(class_id: int, polygon: np.ndarray, height: int, width: int) -> str:
    """``class x1 y1 x2 y2 ...`` with the (x, y) pixel vertices normalised to 0..1, 6 decimals."""
    xy = np.asarray(polygon, dtype=np.float64) / (width, height)
    return " ".join([str(int(class_id)), *(f"{v:.6f}" for v in xy.ravel())])


def write_dataset(
    folder: str | os.PathLike,
    class_names: Sequence[str],
    samples: Iterable[YoloSample],
    tolerance: float = 1.0,
    image_format: str = "jpg",
) -> Path:
    """Write the dataset (see the module) and return the path of its ``data.yaml``.

    An image given as a file is copied (callers pass files of :data:`IMAGE_SUFFIXES` only);
    pixels are written as ``image_format`` (``"jpg"``, quality 95, or ``"png"``). Files of an
    earlier export with other names are left in place.
    """
    from PIL import Image

    if f".{image_format}" not in IMAGE_SUFFIXES - {".dng", ".mpo"}:  # the readers list these; PIL writes them
        raise ValueError(f"image_format must be one of jpg, png, bmp, tif, webp, got {image_format!r:.40}.")
    folder = Path(folder)
    images, labels = folder / "images", folder / "labels"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    options = {"quality": 95} if image_format in ("jpg", "jpeg") else {}
    for s in samples:
        if isinstance(s.image, Path):
            shutil.copyfile(s.image, images / f"{s.stem}{s.image.suffix.lower()}")
        else:
            Image.fromarray(s.image).save(images / f"{s.stem}.{image_format}", **options)
        lines = []
        for class_id, mask in s.objects:
            polygon = mask_polygon(mask, tolerance)
            if polygon is not None:
                lines.append(label_line(class_id, polygon, s.height, s.width))
        (labels / f"{s.stem}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return write_class_files(folder, class_names)


def write_class_files(folder: Path, class_names: Sequence[str]) -> Path:
    """``data.yaml`` and ``classes.txt``; names and path as JSON strings, which YAML reads as they are."""
    names = "".join(f"  {i}: {json.dumps(str(n), ensure_ascii=False)}\n" for i, n in enumerate(class_names))
    root = json.dumps(str(folder.resolve()), ensure_ascii=False)
    yaml = f"path: {root}\ntrain: images\nval: images\nnc: {len(class_names)}\nnames:\n{names}"
    (folder / "data.yaml").write_text(yaml if class_names else yaml.replace("names:\n", "names: {}\n"), "utf-8")
    lines = "".join(" ".join(str(n).splitlines()) + "\n" for n in class_names)  # one line each, whatever the name
    (folder / "classes.txt").write_text(lines, encoding="utf-8")
    return folder / "data.yaml"
