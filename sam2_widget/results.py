"""Results of an image set: masks per image and object, label maps, boxes, and the exports
(COCO, PNG label maps, supervision Detections, a YOLO dataset, per-object PNG masks)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sam2_backend import coco, sv_detections, yolo
from sam2_backend.label_maps import PNG_MAX_ID, label_dtype
from sam2_backend.object_masks import write_object_masks
from sam2_backend.rle import rle_area_and_box

from .coco_export import to_coco, write_coco
from .coco_import import CocoAnnotations
from .codecs import masks_to_label_map
from .images import ImageReadError, ImageSet
from .label_changes import Changes, label_changes
from .objects import ObjectInfo
from .review import ReviewState
from .session import MaskEntry


class ImageSetResults:
    """A snapshot of every image's masks (later clicks do not change it).

    Each image was segmented on its own; an object id names the same object (and
    colour) on every image it appears on. Masks are decoded on demand from their
    compact run lengths.

    Args:
        images: the image set.
        objects: the objects, in display order (the order that wins overlaps in label maps).
        entries: per image, ``{obj_id: MaskEntry}``.
        dataset: the review of a labelled set (``DatasetReview``): an image never shown has its
            labels as read (decoded when asked), and :meth:`to_coco` of a COCO input keeps its ids.
    """

    def __init__(
        self,
        images: ImageSet,
        objects: Sequence[ObjectInfo],
        entries: Sequence[Mapping[int, MaskEntry]],
        dataset: Any = None,
    ) -> None:
        if len(entries) != len(images):
            raise ValueError(f"{len(entries)} mask entries for {len(images)} images.")
        self.images = images
        self.objects = list(objects)
        self._entries = [dict(e) for e in entries]
        self._labels = None if dataset is None else dataset.annotations
        if self._labels is not None:  # a snapshot: what the review holds now
            self._seeded = set(dataset.seeded)
            self._current = dataset.current()
            self._review = ReviewState.from_dict(dataset.state.to_dict(), len(images))

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        done = sum(1 for e in self._entries if e)
        return f"ImageSetResults({len(self)} images, {done} with masks, {len(self.objects)} objects)"

    @property
    def names(self) -> list[str]:
        """The images' names (file names, or ``image 3`` for in-memory ones)."""
        return [self.images.name(i) for i in range(len(self))]

    def masks(self, index: int) -> dict[int, np.ndarray]:
        """``{obj_id: (H, W) bool}`` of image ``index``, in display order."""
        entries = self._image(index)
        if not entries:
            return {}
        hw = self.images.size(index)
        return {o: e.mask(hw) for o, e in entries.items()}

    def scores(self, index: int) -> dict[int, float]:
        """``{obj_id: predicted IoU}`` of the masks of image ``index``."""
        return {o: e.score for o, e in self._image(index).items()}

    def boxes(self, index: int) -> dict[int, tuple[int, int, int, int] | None]:
        """``{obj_id: (x0, y0, x1, y1)}`` pixel boxes, exclusive x1/y1 as COCO (``None``: empty mask)."""
        entries = self._image(index)
        if not entries:
            return {}
        width = self.images.size(index)[1]
        return {o: rle_area_and_box(e.runs, width)[1] for o, e in entries.items()}

    def label_map(self, index: int) -> np.ndarray:
        """``(H, W)`` label map of image ``index``: value = object id, 0 = background.

        The first object in display order wins overlaps. uint8 when every object id
        is below 256, else uint16 (uint32 beyond 65535), the same for every image
        (``sam2_backend.label_maps.label_dtype``, the rule of video results too).
        """
        return masks_to_label_map(self.masks(index), self.images.size(index), dtype=label_dtype(self._max_id()))

    def changes(self) -> Changes:
        """What the review did to the labels it started from, per image: added, deleted and edited
        (with the IoU between old and new mask) objects; only for a widget given ``annotations=``."""
        if self._labels is None:
            raise ValueError("changes() compares with the labels a review started from: open with annotations=...")
        return label_changes(self._labels, self._current, self.names, self.images.size)

    def write_coco(self, path: str | os.PathLike, review: bool = False, segmentation: str = "keep") -> Path:
        """Stream :meth:`to_coco` of a COCO input to ``path`` as JSON (no whole-set document in memory)."""
        return write_coco(path, self._coco_labels(), self._current, self._review if review else None, segmentation)

    def to_coco(
        self, categories: Mapping[int, str] | None = None, review: bool = False, segmentation: str = "keep"
    ) -> dict:
        """The results as a COCO dict ``{"images", "annotations", "categories"}`` (``sam2_backend.coco``).

        For a set opened with a COCO ``annotations=``: that document, reviewed
        (``coco_export``): its ``images``, ``categories``, ``info``/``licenses`` and each kept
        annotation's ``id``; edited ones with the new segmentation, area and bbox, new masks
        with fresh ids, deleted ones gone; ``review=True`` adds each image's status and note
        to its entry; ``segmentation="rle"`` writes unchanged masks as RLE too. Otherwise:

        * ``images``: one per image of the set, ``id = index + 1``, with ``file_name``,
          ``width`` and ``height`` (an image that cannot be read is left out, with a warning).
        * ``annotations``: one per non-empty mask, ``segmentation`` as COCO compressed RLE
          (``counts`` a str), ``bbox`` XYWH and ``area`` as pycocotools computes them,
          ``obj_id``, ``score`` (predicted IoU), ``iscrowd`` 0.
        * ``categories``: by object name (or by ``categories``, ``{obj_id: name}``); objects
          with the same name share a category, numbered in the order of first annotation.
        """
        if isinstance(self._labels, CocoAnnotations):
            if categories is not None:
                raise ValueError("a COCO input keeps its categories: rename objects to re-categorise them.")
            return to_coco(self._labels, self._current, self._review if review else None, segmentation)
        table = coco.Categories()
        names = {o.id: o.name for o in self.objects}
        names.update(categories or {})
        images, annotations = [], []
        for i in range(len(self)):
            try:
                h, w = self.images.size(i)
            except ImageReadError as e:
                warnings.warn(f"to_coco leaves out image {i + 1}: {e}", stacklevel=2)
                continue
            images.append(coco.image_entry(i + 1, h, w, {"file_name": self.file_name(i)}))
            for obj_id, entry in self._image(i).items():
                if not entry.runs[1::2].any():
                    continue  # an empty mask: no annotation, and no category of its own
                ann = coco.annotation(
                    len(annotations) + 1,
                    i + 1,
                    table.id_of(names.get(obj_id, "object")),
                    obj_id,
                    entry.runs,
                    h,
                    w,
                    entry.score,
                )
                annotations.append(ann)
        return {"images": images, "annotations": annotations, "categories": table.to_list()}

    @property
    def class_names(self) -> list[str]:
        """The class list of :meth:`to_supervision` and :meth:`save_yolo`: the objects' distinct
        names in display order (objects with the same name share a class); class id = position."""
        return self._classes()[0]

    def to_supervision(self, index: int) -> Any:
        """Image ``index``'s masks as a ``supervision.Detections`` (needs ``pip install 'sam2-widget[supervision]'``).

        One detection per non-empty mask, in display order: ``mask`` (N, H, W) bool, ``xyxy``
        as ``sv.mask_to_xyxy`` gives it (inclusive, unlike :meth:`boxes`), ``class_id`` into
        :attr:`class_names` (also in ``data["class_name"]``), ``tracker_id`` = object id,
        ``confidence`` = predicted IoU. No mask: an empty ``Detections`` with (0, H, W) masks.
        """
        sv_detections.import_supervision()  # the missing extra is named before any work
        entries = self._image(index)
        h, w = self.images.size(index)
        names, class_of = self._classes()
        objects = [(o, e.runs, e.score) for o, e in entries.items()]
        return sv_detections.to_detections(h, w, objects, class_of, names)

    def save_yolo(self, folder: str | os.PathLike, tolerance: float = 1.0) -> Path:
        """Write the set as a YOLO segmentation dataset (Ultralytics' layout); returns its ``data.yaml``.

        ``folder/images`` holds each image (its file copied, or PNG pixels for in-memory images),
        ``folder/labels/<stem>.txt`` one polygon line per object with a mask (an image without
        masks gets an empty file), ``data.yaml`` and ``classes.txt`` the :attr:`class_names`.
        Polygons: outer boundaries (holes filled), parts joined into one ring, simplified within
        ``tolerance`` pixels (``sam2_backend.mask_polygons``). Unreadable images are skipped
        with a warning. Train with ``YOLO(...).train(data=path)``.
        """
        names, class_of = self._classes()
        return yolo.write_dataset(folder, names, self._yolo_samples(class_of), tolerance, "png")

    def save_object_masks(self, folder: str | os.PathLike) -> dict[int, Path]:
        """One folder per object, ``folder/<object name>/<image stem>.png``, 0 / 255 grayscale;
        returns ``{obj_id: folder}``. Every object gets a PNG for every image (all 0 where it has
        no mask); folder names as in ``sam2_backend.object_masks``. Unreadable images are skipped."""
        names = {o.id: o.name for o in self.objects}
        return write_object_masks(folder, names, self._object_masks())

    def file_name(self, index: int) -> str:
        """The image's file name, or ``image_00003.png`` (0-based) for an in-memory image."""
        path = self.images.path(index)
        return path.name if path is not None else f"image_{index:05d}.png"

    def save(self, folder: str | os.PathLike) -> list[Path]:
        """Write one PNG label map per image into ``folder`` (see :meth:`label_map`); returns the paths.

        Files are named after the images (``cat.jpg`` -> ``cat.png``), or by index when
        names would clash. 8-bit grayscale when every id is below 256, else 16-bit; an
        image that cannot be read is skipped with a warning.
        """
        from PIL import Image

        if self._max_id() > PNG_MAX_ID:
            raise ValueError(f"object ids up to {self._max_id()} do not fit a 16-bit PNG (max {PNG_MAX_ID}).")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, stem in enumerate(self._stems()):
            try:
                label = self.label_map(i)
            except ImageReadError as e:
                warnings.warn(f"save skips image {i + 1}: {e}", stacklevel=2)
                continue
            path = folder / f"{stem}.png"
            Image.fromarray(label).save(path)  # mode "L" (uint8) or "I;16" (uint16)
            paths.append(path)
        return paths

    def plot(self, index: int, ax: Any = None, alpha: float = 0.5, legend: bool = True) -> Any:
        """Draw image ``index`` with its masks in the widget's colours on a matplotlib ``ax``; returns it."""
        from .plotting import plot_masks

        return plot_masks(
            self.images.pixels(index),
            self.masks(index),
            self.objects,
            ax=ax,
            alpha=alpha,
            legend=legend,
            title=self.images.name(index),
        )

    def show(self, index: int, alpha: float = 0.5) -> None:
        """:meth:`plot` in a new figure and show it."""
        import matplotlib.pyplot as plt

        self.plot(index, alpha=alpha)
        plt.show()

    def _image(self, index: int) -> dict[int, MaskEntry]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"image index must be an int, got {index!r}.")
        if not 0 <= index < len(self):
            raise ValueError(f"image index {index} is out of range (0 to {len(self) - 1}).")
        if self._labels is None:
            return self._entries[index]
        if index not in self._seeded:  # never shown: the labels as read
            return {o.obj_id: MaskEntry(o.runs, 1.0, None) for o in self._labels.objects(index)}
        # Keyed as the labels were (a label map's values), new objects by an id of their own.
        return {key: MaskEntry(runs, 1.0, None) for key, (_, runs) in self._current[index].items()}

    def _coco_labels(self) -> CocoAnnotations:
        if not isinstance(self._labels, CocoAnnotations):
            raise ValueError("write_coco keeps the ids of a COCO input: open the set with a COCO annotations=...")
        return self._labels

    def _stems(self) -> list[str]:
        """File stems of the exports: the images' (``cat.jpg`` -> ``cat``), by index when they would clash."""
        stems = [Path(self.file_name(i)).stem for i in range(len(self))]
        if len(set(stems)) < len(stems):
            stems = [f"{i:05d}_{s}" for i, s in enumerate(stems)]
        return stems

    def _classes(self) -> tuple[list[str], dict[int, int]]:
        """(:attr:`class_names`, ``{obj_id: class id}``); an id missing from ``objects`` is an "object"."""
        names = {o.id: o.name for o in self.objects}
        names.update({o: "object" for e in self._entries for o in e if o not in names})
        table = list(dict.fromkeys(names.values()))
        return table, {o: table.index(n) for o, n in names.items()}

    def _readable(self, what: str) -> Iterator[tuple[int, str, tuple[int, int]]]:
        """``(index, stem, (H, W))`` of each image that can be read; the others with a warning."""
        for i, stem in enumerate(self._stems()):
            try:
                hw = self.images.size(i)
            except ImageReadError as e:
                warnings.warn(f"{what} skips image {i + 1}: {e}", stacklevel=3)
                continue
            yield i, stem, hw

    def _yolo_samples(self, class_of: Mapping[int, int]) -> Iterator[yolo.YoloSample]:
        for i, stem, (h, w) in self._readable("save_yolo"):
            path = self.images.path(i)
            copy = path is not None and path.suffix.lower() in yolo.IMAGE_SUFFIXES
            image = path if copy else self.images.pixels(i)
            yield yolo.YoloSample(stem, image, h, w, [(class_of[o], m) for o, m in self.masks(i).items()])

    def _object_masks(self) -> Iterator[tuple[str, tuple[int, int], dict[int, np.ndarray]]]:
        for i, stem, hw in self._readable("save_object_masks"):
            yield stem, hw, self.masks(i)

    def _max_id(self) -> int:
        if self._labels is not None:
            return max((o for i in range(len(self)) for o in self._image(i)), default=0)
        return max((o for e in self._entries for o in e), default=0)
