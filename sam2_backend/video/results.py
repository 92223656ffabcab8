"""Compact store of video tracking results: per (frame, object) a boolean mask, its object score and predicted IoU.

Conventions
-----------
* Masks are ``(H, W)`` bool arrays at the original video resolution; ``H, W`` are fixed
  when the store is made.
* Object ids are positive ints (0 is the background of label maps).
* Object scores are the model's object-score *logits* (> 0: object present).
* Predicted IoUs are the decoder's estimate of the kept mask's IoU with the truth (1.0 for a
  mask given as a prompt, NaN where unknown, e.g. masks restored from an older session file).
* Confidence (:meth:`TrackResults.confidence`) is ``sigmoid(object score) x predicted IoU``:
  near 1 for an object seen with a good mask, below 0.5 once the model thinks it is absent.
* Boxes are pixel XYXY with exclusive right/bottom edges, ``mask[y0:y1, x0:x1]`` holds every
  foreground pixel, so ``(x0, y0, x1 - x0, y1 - y0)`` is exactly the COCO ``bbox`` (XYWH)
  that ``pycocotools.mask.toBbox`` gives. (``mask_utils`` mask boxes are inclusive; these
  are not: they follow COCO.)
* Label maps: the pixel value is the object id, 0 is background. Where objects overlap, the
  object listed first in ``obj_ids`` (by default the smallest id) wins -- the rule of the
  official ``tools/vos_inference.py`` (``put_per_obj_mask`` paints ids in descending order).

Masks are kept as row-major run lengths (``sam2_backend.rle``); boxes and areas are read
from the runs without decoding. COCO export is ``sam2_backend.coco``, shared with image sets.
"""

from __future__ import annotations

import math
import operator
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import coco
from ..label_maps import PNG_MAX_ID, label_dtype
from ..rle import RUN_DTYPE, decode_mask, encode_mask, rle_area_and_box
from .result_versions import Entry, MaskChange, VersionLog

__all__ = ["MaskChange", "TrackResults"]


def _sigmoid(x: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * x))  # no overflow for large |x|


def _confidence(scores: np.ndarray, ious: np.ndarray) -> np.ndarray:
    """sigmoid(scores) x clip(ious, 0, 1), an unknown IoU counting as 1; NaN where scores are."""
    presence = 0.5 * (1.0 + np.tanh(0.5 * scores))
    return (presence * np.clip(np.where(np.isnan(ious), 1.0, ious), 0.0, 1.0)).astype(np.float32)


def _describe(ids: Iterable[int], what: str, limit: int = 8) -> str:
    """'frames 0-4, 9, 12-20' style summary of sorted ints, truncated after ``limit`` ranges."""
    ranges: list[list[int]] = []
    for i in sorted(ids):
        if ranges and i == ranges[-1][1] + 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    if not ranges:
        return f"no {what} yet"
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    more = f", ... ({len(ranges) - limit} more ranges)" if len(ranges) > limit else ""
    return f"{what}: {', '.join(parts)}{more}"


# --- the store ----------------------------------------------------------------------


class TrackResults:
    """Per-frame, per-object masks (compact, see the module docstring), object-score logits and predicted IoUs.

    Writers: :meth:`set`, :meth:`set_runs`, :meth:`remove_object`, :meth:`clear_frame`, :meth:`clear`;
    :meth:`end_run` (the tracker, when a propagation ends) closes a version for :meth:`diff`.
    Readers decode on demand; only :meth:`masks` and :meth:`labels` build arrays over many
    frames, and :meth:`save_label_maps` / :meth:`iter_coco_annotations` stream frame by frame.
    All methods are safe to call from a reader thread while a worker thread writes.

    Args:
        height, width: the video resolution every mask must have.
        num_frames: frames in the video, if known; sets the default range of the
            range readers (else ``0 .. last tracked frame``).
    """

    def __init__(self, height: int, width: int, num_frames: int | None = None) -> None:
        if height <= 0 or width <= 0:
            raise ValueError(f"height and width must be positive, got {height}x{width}")
        self.height, self.width = int(height), int(width)
        self.num_frames = None if num_frames is None else int(num_frames)
        # frame -> obj_id -> (runs, score logit, predicted IoU)
        self._frames: dict[int, dict[int, Entry]] = {}
        self._versions = VersionLog()
        self._obj_counts: dict[int, int] = {}  # obj_id -> number of frames holding it
        self._nbytes = 0
        self._lock = threading.RLock()

    # --- writing ----------------------------------------------------------------------

    def set(self, frame: int, obj_id: int, mask: Any, score: float, iou: float = math.nan) -> None:
        """Store (or replace) the ``(H, W)`` bool ``mask``, object-score logit and predicted IoU
        (NaN: unknown) of one object on one frame.

        ``mask`` may be a numpy array or a torch tensor (any device).
        """
        frame, obj_id = self._check_frame(frame), self._check_obj_id(obj_id)
        if hasattr(mask, "detach"):  # torch tensor, without importing torch
            mask = mask.detach().cpu().numpy()
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise ValueError(f"mask must be a bool array, got dtype {mask.dtype} (use mask > 0 or logits > 0)")
        if mask.shape != (self.height, self.width):
            raise ValueError(f"mask must have shape {(self.height, self.width)}, got {mask.shape}")
        self._store(frame, obj_id, encode_mask(mask), float(score), float(iou))

    def set_runs(self, frame: int, obj_id: int, runs: Any, score: float, iou: float = math.nan) -> None:
        """Like :meth:`set` with the mask given as its run lengths (from :meth:`rle`), without decoding it."""
        frame, obj_id = self._check_frame(frame), self._check_obj_id(obj_id)
        runs = np.asarray(runs)
        if runs.ndim != 1 or runs.dtype.kind != "u" or int(runs.sum()) != self.height * self.width:
            raise ValueError(
                f"runs must be 1-D unsigned run lengths summing to {self.height}x{self.width} "
                f"pixels, got shape {runs.shape} dtype {runs.dtype}"
            )
        self._store(frame, obj_id, runs.astype(RUN_DTYPE), float(score), float(iou))

    def _store(self, frame: int, obj_id: int, runs: np.ndarray, score: float, iou: float) -> None:
        with self._lock:
            objects = self._frames.setdefault(frame, {})
            old = objects.get(obj_id)
            if old is None:
                self._obj_counts[obj_id] = self._obj_counts.get(obj_id, 0) + 1
            else:
                self._nbytes -= old[0].nbytes
            self._versions.note(frame, obj_id, old, runs)
            objects[obj_id] = (runs, score, iou)
            self._nbytes += runs.nbytes

    def remove_object(self, obj_id: int) -> None:
        """Forget an object on every frame; frames left with no object stop being tracked."""
        with self._lock:
            if obj_id not in self._obj_counts:
                raise KeyError(f"object {obj_id!r} is not in the results; {_describe(self._obj_counts, 'objects')}")
            for frame in [f for f, objs in self._frames.items() if obj_id in objs]:
                self._drop(frame, obj_id)

    def clear_frame(self, frame: int, obj_id: int | None = None, missing_ok: bool = False) -> None:
        """Forget every object on ``frame`` (or just ``obj_id``); the frame is then untracked if empty.

        Raises KeyError for a frame (or object on it) not stored, unless ``missing_ok``.
        """
        with self._lock:
            objects = self._frames.get(frame)
            if objects is None or (obj_id is not None and obj_id not in objects):
                if missing_ok:
                    return
                self._frame_objects(frame)  # raises for an unknown frame
                raise KeyError(f"object {obj_id!r} is not on frame {frame}; {_describe(objects, 'objects there')}")
            for oid in list(objects) if obj_id is None else [obj_id]:
                self._drop(frame, oid)

    def clear(self) -> None:
        """Forget everything (the previous version of :meth:`diff` too)."""
        with self._lock:
            self._frames.clear()
            self._obj_counts.clear()
            self._nbytes = 0
            self._versions = VersionLog()

    def end_run(self) -> None:
        """A propagation ended: what changed since the previous one ended is now :meth:`diff`'s answer."""
        with self._lock:
            self._versions.close(self._frames)

    def _drop(self, frame: int, obj_id: int) -> None:
        objects = self._frames[frame]
        old = objects.pop(obj_id)
        self._versions.note(frame, obj_id, old, None)
        self._nbytes -= old[0].nbytes
        if not objects:
            del self._frames[frame]
        self._obj_counts[obj_id] -= 1
        if not self._obj_counts[obj_id]:
            del self._obj_counts[obj_id]

    # --- reading one frame --------------------------------------------------------------

    @property
    def frames(self) -> list[int]:
        """Sorted indices of the frames holding at least one object."""
        with self._lock:
            return sorted(self._frames)

    @property
    def object_ids(self) -> list[int]:
        """Sorted ids of the objects present on at least one frame."""
        with self._lock:
            return sorted(self._obj_counts)

    @property
    def nbytes(self) -> int:
        """Bytes held by the compact masks (run-length arrays' data)."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, frame: object) -> bool:
        return frame in self._frames

    def __repr__(self) -> str:
        return (
            f"TrackResults({self.height}x{self.width}, {len(self._frames)} frames, "
            f"{len(self._obj_counts)} objects, {self._nbytes / 2**20:.2f} MiB)"
        )

    def mask(self, frame: int, obj_id: int) -> np.ndarray:
        """The ``(H, W)`` bool mask of ``obj_id`` on ``frame`` (a new array)."""
        return decode_mask(self._entry(frame, obj_id)[0], self.height, self.width)

    def rle(self, frame: int, obj_id: int) -> np.ndarray:
        """The stored row-major run lengths (uint32, read-only; see :func:`encode_mask`)."""
        runs = self._entry(frame, obj_id)[0].view()
        runs.flags.writeable = False
        return runs

    def frame_masks(self, frame: int) -> dict[int, np.ndarray]:
        """``{obj_id: (H, W) bool mask}`` of every object on ``frame``, in id order."""
        objects = self._frame_objects(frame)
        return {oid: decode_mask(objects[oid][0], self.height, self.width) for oid in sorted(objects)}

    def scores(self, frame: int) -> dict[int, float]:
        """``{obj_id: object-score logit}`` on ``frame``, in id order."""
        objects = self._frame_objects(frame)
        return {oid: objects[oid][1] for oid in sorted(objects)}

    def ious(self, frame: int) -> dict[int, float]:
        """``{obj_id: predicted IoU of the kept mask}`` on ``frame`` (NaN: unknown), in id order."""
        objects = self._frame_objects(frame)
        return {oid: objects[oid][2] for oid in sorted(objects)}

    def boxes(self, frame: int) -> dict[int, tuple[int, int, int, int] | None]:
        """``{obj_id: (x0, y0, x1, y1)}`` pixel boxes (exclusive x1, y1; ``None`` for an empty mask)."""
        objects = self._frame_objects(frame)
        return {oid: rle_area_and_box(objects[oid][0], self.width)[1] for oid in sorted(objects)}

    def areas(self, frame: int) -> dict[int, int]:
        """``{obj_id: foreground pixel count}`` on ``frame``."""
        objects = self._frame_objects(frame)
        return {oid: int(objects[oid][0][1::2].sum(dtype=np.int64)) for oid in sorted(objects)}

    # --- reading ranges -----------------------------------------------------------------

    def masks(
        self, start: int | None = None, stop: int | None = None, obj_ids: Sequence[int] | None = None
    ) -> np.ndarray:
        """``(T, N, H, W)`` bool masks of frames ``start .. stop-1`` and objects ``obj_ids``.

        ``T = stop - start``: row ``t`` is frame ``start + t``. Frames not tracked, and objects
        absent from a frame, are all False. Defaults: ``start=0``, ``stop=num_frames`` (or the
        last tracked frame + 1), ``obj_ids=object_ids``. Mind the size: this is the one reader
        that holds many full-resolution masks.
        """
        start, stop = self._range(start, stop)
        obj_ids = self._check_obj_ids(obj_ids)
        out = np.zeros((stop - start, len(obj_ids), self.height, self.width), dtype=bool)
        for t, frame in enumerate(range(start, stop)):
            objects = self._snapshot(frame)
            for n, oid in enumerate(obj_ids):
                if oid in objects:
                    out[t, n] = decode_mask(objects[oid][0], self.height, self.width)
        return out

    def object_scores(
        self, start: int | None = None, stop: int | None = None, obj_ids: Sequence[int] | None = None
    ) -> np.ndarray:
        """``(T, N)`` float32 object-score logits (> 0: present); NaN where not tracked. Ranges as in :meth:`masks`."""
        return self._table(1, start, stop, obj_ids)

    def predicted_ious(
        self, start: int | None = None, stop: int | None = None, obj_ids: Sequence[int] | None = None
    ) -> np.ndarray:
        """``(T, N)`` float32 predicted IoUs of the kept masks; NaN where not tracked (or unknown)."""
        return self._table(2, start, stop, obj_ids)

    def confidence(
        self, start: int | None = None, stop: int | None = None, obj_ids: Sequence[int] | None = None
    ) -> np.ndarray:
        """``(T, N)`` float32 confidence ``sigmoid(object score) x predicted IoU`` in [0, 1]; NaN where
        not tracked. An unknown IoU counts as 1. Below 0.5 the model judges the object absent.

        Row ``t`` is frame ``start + t``, column ``n`` object ``obj_ids[n]`` (ranges as in :meth:`masks`).
        """
        return _confidence(self.object_scores(start, stop, obj_ids), self.predicted_ious(start, stop, obj_ids))

    def weak_frames(self, threshold: float = 0.5, obj_id: int | None = None) -> list[int]:
        """Sorted tracked frames where an object judged present (score > 0) has confidence below
        ``threshold`` (only ``obj_id`` when given). Absences are not weak: see :meth:`transitions`."""
        ids = None if obj_id is None else [obj_id]
        scores = self.object_scores(obj_ids=ids)
        weak = (scores > 0) & (_confidence(scores, self.predicted_ious(obj_ids=ids)) < threshold)
        return np.flatnonzero(weak.any(axis=1)).tolist()

    def transitions(self, obj_id: int | None = None) -> list[tuple[int, int, str]]:
        """``(frame, obj_id, "appears" | "disappears")`` where an object's presence (score > 0)
        differs from the frame before, both tracked for it; sorted by frame, then object."""
        ids = self._check_obj_ids(None if obj_id is None else [obj_id])
        scores = self.object_scores(obj_ids=ids)
        present, tracked = scores > 0, ~np.isnan(scores)
        both = tracked[1:] & tracked[:-1]
        out = []
        for kind, flips in (("appears", present[1:] & ~present[:-1]), ("disappears", ~present[1:] & present[:-1])):
            for t, n in zip(*np.nonzero(flips & both)):
                out.append((int(t) + 1, ids[n], kind))
        return sorted(out)

    def diff(self) -> list[MaskChange]:
        """How the last propagation's version differs from the one before (see :meth:`end_run`):
        one :class:`MaskChange` per (frame, object) whose mask changed, appeared or went, sorted.
        Kept until the next propagation ends; a new version stores only the runs it replaced."""
        with self._lock:
            return self._versions.changes(self.height, self.width)

    def labels(
        self, start: int | None = None, stop: int | None = None, obj_ids: Sequence[int] | None = None
    ) -> np.ndarray:
        """``(T, H, W)`` label maps of frames ``start .. stop-1``: value = object id, 0 = background.

        Ranges and defaults as in :meth:`masks`; untracked frames are all 0. Where objects
        overlap, the one listed first in ``obj_ids`` (default: the smallest id) wins. The dtype
        is uint8 if every id in the store is below 256, uint16 below 65536, else uint32
        (``sam2_backend.label_maps.label_dtype``, the rule of image sets too).
        """
        start, stop = self._range(start, stop)
        obj_ids = self._check_obj_ids(obj_ids)
        out = np.zeros((stop - start, self.height, self.width), dtype=self._label_dtype())
        for t, frame in enumerate(range(start, stop)):
            self._paint(out[t], self._snapshot(frame), obj_ids)
        return out

    def label_map(self, frame: int, obj_ids: Sequence[int] | None = None) -> np.ndarray:
        """``(H, W)`` label map of one frame (all 0 if untracked); see :meth:`labels`."""
        return self.labels(frame, frame + 1, obj_ids)[0]

    def save_label_maps(
        self,
        folder: str | os.PathLike,
        start: int | None = None,
        stop: int | None = None,
        obj_ids: Sequence[int] | None = None,
        name_format: str = "{:05d}.png",
        palette: bytes | Sequence[int] | None = None,
    ) -> list[Path]:
        """Write one PNG label map per frame ``start .. stop-1`` (named ``00000.png``, ...) into ``folder``.

        Values as in :meth:`labels` (untracked frames give all-0 images). 8-bit grayscale when
        every id in the store is below 256, else 16-bit grayscale; ids above 65535 are refused.
        ``palette`` (768 bytes, e.g. DAVIS's) writes 8-bit palette images instead, as the
        official ``vos_inference.py`` does. One frame is in memory at a time. Returns the paths.
        """
        from PIL import Image

        start, stop = self._range(start, stop)
        obj_ids = self._check_obj_ids(obj_ids)
        dtype = self._label_dtype()
        if dtype == np.uint32:
            raise ValueError(f"object ids up to {max(self._obj_counts)} do not fit a 16-bit PNG (max {PNG_MAX_ID})")
        if palette is not None and dtype != np.uint8:
            raise ValueError("a palette needs every object id below 256")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        label = np.zeros((self.height, self.width), dtype=dtype)
        paths = []
        for frame in range(start, stop):
            label.fill(0)
            self._paint(label, self._snapshot(frame), obj_ids)
            image = Image.fromarray(label)  # mode "L" (uint8) or "I;16" (uint16)
            if palette is not None:
                image.putpalette(palette)  # turns the "L" image into a "P" one, same indices
            path = folder / name_format.format(frame)
            image.save(path)
            paths.append(path)
        return paths

    # --- COCO export ----------------------------------------------------------------------

    def iter_coco_annotations(
        self,
        video_id: int = 0,
        categories: Mapping[int, str] | None = None,
        start: int | None = None,
        stop: int | None = None,
        include_empty: bool = False,
        first_image_id: int = 1,
        first_annotation_id: int = 1,
    ) -> Iterator[dict]:
        """Stream COCO annotation dicts, frame by frame, objects in id order (see :meth:`to_coco`)."""
        cat_ids, _ = self._category_table(categories)
        start, stop = self._range(start, stop)
        ann_id = first_annotation_id
        for frame in range(start, stop):
            objects = self._snapshot(frame)
            for oid in sorted(objects):
                runs, score, _ = objects[oid]
                extra = {"video_id": video_id, "frame_index": frame, "track_id": oid, "object_score_logit": score}
                ann = coco.annotation(
                    ann_id,
                    first_image_id + frame,
                    cat_ids[oid],
                    oid,
                    runs,
                    self.height,
                    self.width,
                    _sigmoid(score),
                    include_empty=include_empty,
                    extra=extra,
                )
                if ann is not None:
                    yield ann
                    ann_id += 1

    def to_coco(
        self,
        video_id: int = 0,
        categories: Mapping[int, str] | None = None,
        start: int | None = None,
        stop: int | None = None,
        include_empty: bool = False,
        file_name: str | None = None,
        first_image_id: int = 1,
        first_annotation_id: int = 1,
    ) -> dict:
        """The results as a COCO dict ``{"images", "annotations", "categories"}`` (``sam2_backend.coco``).

        * ``images``: one per frame of ``start .. stop-1`` (defaults as in :meth:`masks`), with
          ``id = first_image_id + frame``, ``frame_index``, ``video_id``, ``width``, ``height``
          and ``file_name = file_name.format(frame)`` when a pattern such as ``"{:05d}.jpg"`` is given.
        * ``annotations``: one per stored (frame, object) with a non-empty mask (all with
          ``include_empty``): ``segmentation`` is COCO compressed RLE (``counts`` a str, readable
          by ``pycocotools.mask.decode``), ``bbox`` XYWH and ``area`` as pycocotools computes
          them, ``track_id`` = ``obj_id`` = the object id, ``score`` = sigmoid of the object-score
          logit (also given raw as ``object_score_logit``), ``iscrowd`` 0.
        * ``categories``: ``categories`` maps object ids to category names (unlisted objects
          are "object"); ids 1, 2, ... follow the first appearance in object-id order. Without
          it, one category ``{"id": 1, "name": "object"}``.
        """
        _, cats = self._category_table(categories)
        start, stop = self._range(start, stop)
        images = []
        for frame in range(start, stop):
            extra: dict[str, Any] = {"video_id": video_id, "frame_index": frame}
            if file_name is not None:
                extra["file_name"] = file_name.format(frame)
            images.append(coco.image_entry(first_image_id + frame, self.height, self.width, extra))
        annotations = list(
            self.iter_coco_annotations(
                video_id, categories, start, stop, include_empty, first_image_id, first_annotation_id
            )
        )
        return {"images": images, "annotations": annotations, "categories": cats}

    def _category_table(self, categories: Mapping[int, str] | None) -> tuple[dict[int, int], list[dict]]:
        """``({obj_id: category_id}, [COCO category dicts])`` for the objects in the store."""
        categories = categories or {}
        table = coco.Categories()
        cat_of = {
            oid: table.id_of(categories.get(oid, "object")) for oid in sorted(set(self.object_ids) | set(categories))
        }
        if not cat_of:
            table.id_of("object")
        return cat_of, table.to_list()

    # --- internals --------------------------------------------------------------------

    def _check_frame(self, frame: int) -> int:
        try:
            frame = operator.index(frame)
        except TypeError:
            raise ValueError(f"frame must be an int, got {type(frame).__name__}") from None
        if frame < 0 or (self.num_frames is not None and frame >= self.num_frames):
            limit = f" (video has {self.num_frames} frames)" if self.num_frames is not None else ""
            raise ValueError(f"frame {frame} is out of range{limit}")
        return frame

    @staticmethod
    def _check_obj_id(obj_id: int) -> int:
        try:
            obj_id = operator.index(obj_id)
        except TypeError:
            raise ValueError(f"obj_id must be an int, got {type(obj_id).__name__}") from None
        if obj_id <= 0:
            raise ValueError(f"obj_id must be positive (0 is the label-map background), got {obj_id}")
        return obj_id

    def _check_obj_ids(self, obj_ids: Sequence[int] | None) -> list[int]:
        with self._lock:
            if obj_ids is None:
                return sorted(self._obj_counts)
            obj_ids = [operator.index(o) for o in obj_ids]
            unknown = [o for o in obj_ids if o not in self._obj_counts]
        if unknown:
            raise KeyError(f"objects {unknown} are not in the results; {_describe(self._obj_counts, 'objects')}")
        return obj_ids

    def _range(self, start: int | None, stop: int | None) -> tuple[int, int]:
        if start is None:
            start = 0
        if stop is None:
            with self._lock:
                stop = self.num_frames if self.num_frames is not None else max(self._frames, default=-1) + 1
        start, stop = operator.index(start), operator.index(stop)
        if start < 0 or stop < start:
            raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
        return start, stop

    def _table(self, field: int, start: int | None, stop: int | None, obj_ids: Sequence[int] | None) -> np.ndarray:
        start, stop = self._range(start, stop)
        obj_ids = self._check_obj_ids(obj_ids)
        column = {oid: n for n, oid in enumerate(obj_ids)}
        out = np.full((stop - start, len(obj_ids)), np.nan, dtype=np.float32)
        with self._lock:
            for frame, objects in self._frames.items():
                if not start <= frame < stop:
                    continue
                for oid, entry in objects.items():
                    if oid in column:
                        out[frame - start, column[oid]] = entry[field]
        return out

    def _frame_objects(self, frame: int) -> dict[int, Entry]:
        with self._lock:
            objects = self._frames.get(frame)
            if objects is None:
                raise KeyError(f"frame {frame!r} is not tracked; {_describe(self._frames, 'tracked frames')}")
            return dict(objects)

    def _snapshot(self, frame: int) -> dict[int, Entry]:
        """A copy of one frame's entries (empty if untracked), safe against concurrent writes."""
        with self._lock:
            return dict(self._frames.get(frame, {}))

    def _entry(self, frame: int, obj_id: int) -> Entry:
        objects = self._frame_objects(frame)
        if obj_id not in objects:
            raise KeyError(f"object {obj_id!r} is not on frame {frame}; {_describe(objects, 'objects there')}")
        return objects[obj_id]

    def _label_dtype(self) -> type:
        with self._lock:
            return label_dtype(max(self._obj_counts, default=0))

    def _paint(self, label: np.ndarray, objects: dict, obj_ids: Sequence[int]) -> None:
        """Paint ``obj_ids`` in reverse order so that the first listed wins overlaps."""
        flat = label.reshape(-1)
        for oid in reversed(obj_ids):
            entry = objects.get(oid)
            if entry is None:
                continue
            runs = entry[0]
            if len(runs) < 2:
                continue  # empty mask
            np.copyto(flat, oid, where=decode_mask(runs, 1, flat.size)[0], casting="unsafe")
