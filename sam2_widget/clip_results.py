"""A clip's results as the widget gives them (``w.results``): the tracker's live ``TrackResults``,
plus the exports that need what only the widget knows, the objects' names and the frames.

Everything of ``TrackResults`` (``masks``, ``labels``, ``boxes``, ``to_coco``,
``save_label_maps``, ...) is the store's own, read live. The exports, named as on image
sets (``ImageSetResults``): ``class_names``, ``to_supervision(frame)``, ``save_yolo(folder)``,
``save_object_masks(folder)``. Like the rest of ``results`` they read what is there now:
call ``w.wait_idle()`` first in a script, after clicks in the widget. ``to_supervision`` may
be called from an ``on_change`` callback, e.g. for each frame as it is tracked.
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sam2_backend import sv_detections, yolo
from sam2_backend.object_masks import write_object_masks
from sam2_backend.video import TrackResults

from .video_session import VideoSession


class ClipResults:
    """The results of a clip: a live view of the tracker's ``TrackResults`` (see the module).

    Args:
        session: the widget's video session (objects, tracker, frames).
    """

    def __init__(self, session: VideoSession) -> None:
        self._session = session

    @property
    def store(self) -> TrackResults:
        """The tracker's ``TrackResults`` itself."""
        return self._session.tracker.results

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.store, name)

    def __len__(self) -> int:
        return len(self.store)

    def __contains__(self, frame: object) -> bool:
        return frame in self.store

    def __repr__(self) -> str:
        return repr(self.store)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *dir(self.store)})

    @property
    def class_names(self) -> list[str]:
        """The class list of the exports: the objects' distinct names in display order (objects
        with the same name share a class); class id = position."""
        return self._classes()[0]

    def to_supervision(self, frame: int) -> Any:
        """Frame ``frame``'s masks as a ``supervision.Detections`` (needs ``pip install 'sam2-widget[supervision]'``).

        As on image sets: one detection per non-empty mask in display order, ``xyxy`` as
        ``sv.mask_to_xyxy`` gives it, ``class_id`` into :attr:`class_names` (and
        ``data["class_name"]``), ``tracker_id`` = object id; ``confidence`` = sigmoid of the
        object-score logit. A frame not tracked, or with no mask: an empty ``Detections``.
        """
        sv_detections.import_supervision()  # the missing extra is named before any work
        frame = self._frame(frame)
        names, class_of = self._classes()
        store, (h, w) = self.store, self._session.hw
        scores = store.scores(frame) if frame in store else {}
        objects = []
        for o in class_of:
            if o in scores:
                try:
                    objects.append((o, store.rle(frame, o), _sigmoid(scores[o])))
                except KeyError:  # removed since scores() by a run going on meanwhile
                    continue
        return sv_detections.to_detections(h, w, objects, class_of, names)

    def save_yolo(
        self,
        folder: str | os.PathLike,
        start: int | None = None,
        stop: int | None = None,
        tolerance: float = 1.0,
        image_format: str = "jpg",
    ) -> Path:
        """Write the tracked frames of ``start .. stop-1`` (default: all) as a YOLO segmentation
        dataset; returns its ``data.yaml``. As on image sets; frames are ``images/00012.jpg``
        (``image_format``: ``"jpg"``, quality 95, or ``"png"``) and ``labels/00012.txt``. Only
        frames the tracker has results for: a frame never tracked is not known to be empty,
        while a tracked frame where no object is present gets an empty label file."""
        start, stop = self._range(start, stop)
        names, class_of = self._classes()
        frames = [f for f in self.store.frames if start <= f < stop]
        return yolo.write_dataset(folder, names, self._yolo_samples(frames, class_of), tolerance, image_format)

    def save_object_masks(
        self, folder: str | os.PathLike, start: int | None = None, stop: int | None = None
    ) -> dict[int, Path]:
        """One PNG sequence per object, ``folder/<object name>/00012.png`` for every frame of
        ``start .. stop-1`` (default: all), 0 / 255 grayscale, all 0 where the object has no mask;
        returns ``{obj_id: folder}``. Folder names as in ``sam2_backend.object_masks``."""
        start, stop = self._range(start, stop)
        names = {o.id: o.name for o in self._session.objects()}
        masks = ((f"{f:05d}", self._session.hw, self._session.masks(f)) for f in range(start, stop))
        return write_object_masks(folder, names, masks)

    def _yolo_samples(self, frames: list[int], class_of: Mapping[int, int]) -> Iterator[yolo.YoloSample]:
        s = self._session
        h, w = s.hw
        for f in frames:
            objects = [(class_of[o], m) for o, m in s.masks(f).items()]
            yield yolo.YoloSample(f"{f:05d}", s.tracker.source.get(f), h, w, objects)

    def _classes(self) -> tuple[list[str], dict[int, int]]:
        """(:attr:`class_names`, ``{obj_id: class id}``) of the listed objects, in display order."""
        names = {o.id: o.name for o in self._session.objects()}
        table = list(dict.fromkeys(names.values()))
        return table, {o: table.index(n) for o, n in names.items()}

    def _frame(self, frame: Any) -> int:
        if isinstance(frame, bool):
            raise TypeError(f"frame must be an int, got {frame!r}.")
        frame = operator.index(frame)
        n = self._session.num_frames
        if not 0 <= frame < n:
            raise ValueError(f"frame {frame} is out of range (0 to {n - 1}).")
        return frame

    def _range(self, start: int | None, stop: int | None) -> tuple[int, int]:
        n = self._session.num_frames
        start, stop = (0 if start is None else start), (n if stop is None else stop)
        if not 0 <= start <= stop <= n:
            raise ValueError(f"need 0 <= start <= stop <= {n}, got start={start}, stop={stop}.")
        return start, stop


def _sigmoid(logit: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * logit))  # no overflow for large |logit|, as in to_coco
