"""Open a labelled data set: the images (``dataset_source``) and their existing labels
(``coco_import``, ``label_map_import``, ``annotations.MaskAnnotations``), from whatever
``Sam2Widget(images, annotations=...)`` was given. Nothing is decoded here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .annotations import Annotations, MaskAnnotations
from .coco_import import CocoAnnotations
from .dataset_source import DatasetSource, load_coco
from .label_map_import import LabelMapAnnotations


@dataclass
class Dataset:
    """The images of a set and their existing labels (``None`` when none were given)."""

    images: DatasetSource
    annotations: Annotations | None


def open_dataset(
    images: Any, annotations: Any = None, names: Mapping[int, str] | None = None, image_key: str = "image"
) -> Dataset:
    """Open ``images`` with ``annotations``.

    ``images``: a folder, a list of image paths, or a lazy sequence (see ``DatasetSource``).
    ``annotations``: a COCO file (``.json``) or dict, a folder of PNG label maps, or
    ``{image index or file name: {object id: (H, W) mask}}``. With a COCO file and a
    folder of images, the set is the file's images under that folder, in the file's order;
    with a list of paths, COCO images are matched by ``file_name``; with a lazy sequence, by
    order. ``names``: ``{object id: category name}`` for label maps and masks.
    """
    coco = _coco_of(annotations)
    if coco is not None:
        source = DatasetSource.open(images, coco) if _is_folder(images) else _source(images, image_key)
        match = "name" if source.path(0) is not None and not _is_folder(images) else "order"
        title = f"COCO {annotations}" if isinstance(annotations, (str, os.PathLike)) else None
        return Dataset(source, CocoAnnotations(coco, _names(source), source.size, match, title))
    source = _source(images, image_key)
    if annotations is None:
        return Dataset(source, None)
    if _is_folder(annotations):
        return Dataset(source, LabelMapAnnotations(annotations, _names(source), source.size, names))
    if isinstance(annotations, Mapping):
        return Dataset(source, MaskAnnotations(annotations, _names(source), source.size, names))
    raise TypeError(
        f"annotations must be a COCO file or dict, a folder of PNG label maps or a mapping "
        f"{{image: {{object id: mask}}}}, got {type(annotations).__name__}."
    )


def _coco_of(annotations: Any) -> dict | None:
    if isinstance(annotations, Mapping) and ("annotations" in annotations or "images" in annotations):
        return dict(annotations)
    if isinstance(annotations, (str, os.PathLike)) and Path(annotations).is_file():
        return load_coco(annotations)
    return None


def _source(images: Any, image_key: str) -> DatasetSource:
    if _is_folder(images) or isinstance(images, (list, tuple)):
        return DatasetSource.open(images)
    return DatasetSource.from_sequence(images, image_key)


def _names(source: DatasetSource) -> list[str]:
    return [source.name(i) for i in range(len(source))]


def _is_folder(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike)) and Path(x).is_dir()
