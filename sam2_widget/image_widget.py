"""The widget for an image or a set of images: click points and drag boxes, get masks.

``Sam2Widget(source)`` makes one of these for anything but a clip (see _base.py).
The path of a mask: ``EmbeddingCache`` (one ``ImagePredictor`` per image) ->
``Session.predict`` (the only place the model is asked for a mask, on the worker
thread) -> the session's immutable state -> ``_refresh`` -> the ``label_rle`` trait.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sam2_backend import ImagePredictor

from . import codecs
from ._base import DEFAULT_MODEL, Sam2Widget
from ._options import ModelArg, check_options, resolve_model
from .checks import to_host
from .embeddings import EmbeddingCache
from .images import ImageReadError, ImageSet
from .message_dispatch import SHARED_MESSAGES
from .messages import integer_list
from .results import ImageSetResults
from .session import Session, SessionState
from .session_file import SavedSession, model_reference, write_session


class Sam2ImageWidget(Sam2Widget):
    """SAM 2 on an image or a set of images (``Sam2Widget(source)`` for anything but a clip).

    Options as ``Sam2Widget``. ``goto`` and ``image_index`` move through a set; each image
    is segmented on its own, its embedding computed once (``cache_size`` are kept).
    """

    _for_clips = False
    _messages = (*SHARED_MESSAGES, "merge_objects")
    _shows, _item = "images", "image"
    _unsupported_note = " (it is for videos: open a clip with Sam2Widget(path_to_video) or video=True)"

    def __init__(
        self,
        source: Any,
        model: ModelArg = DEFAULT_MODEL,
        device: str = "auto",
        video: bool | None = None,
        **options: Any,
    ) -> None:
        opts = check_options(options)
        images = ImageSet.from_source(source)  # a bad source fails before a model is loaded
        sam = resolve_model(model, device)
        self._images = images
        self._cache = EmbeddingCache(sam, opts["cache_size"])
        self._session = Session(images)
        super().__init__(source, sam, device, video, **options)
        self.set_trait("image_count", len(images))
        try:
            self._show_image(0)
        except ImageReadError as e:  # only in a set: a single unreadable image failed above
            self._show_error(e)

    def __repr__(self) -> str:
        return (
            f"Sam2Widget({len(self._images)} images, showing {self.image_index}: {self.image_name!r}, "
            f"{len(self.objects)} objects)"
        )

    # -- Python API ----------------------------------------------------------------

    @property
    def results(self) -> ImageSetResults:
        """A snapshot of the masks of every image (see :class:`ImageSetResults`)."""
        s = self._session
        with s.lock:
            return ImageSetResults(self._images, s.objects(), [s.mask_entries(i) for i in range(len(self._images))])

    def add_points(self, points: Any, labels: Any, obj_id: int | None = None) -> dict[int, np.ndarray]:
        """Click ``points`` (N, 2) as (x, y) pixels with ``labels`` (N,) (1 positive, 0 negative)
        for ``obj_id`` (default: the selected object, or a new one); returns :attr:`masks`."""
        self._call(self._apply, self._session.add_points, self.image_index, points, labels, obj_id)
        return self.masks

    def add_box(self, box: Any, obj_id: int | None = None) -> dict[int, np.ndarray]:
        """Draw ``box`` (x0, y0, x1, y1) in pixels for ``obj_id`` (default as in :meth:`add_points`),
        replacing its box on this image; returns :attr:`masks`."""
        self._call(self._apply, self._session.add_box, self.image_index, box, obj_id)
        return self.masks

    def add_mask(self, mask: Any, obj_id: int | None = None) -> dict[int, np.ndarray]:
        """Add an (H, W) bool mask of the shown image as a new object (undoable): masks from
        another tool, or ground truth to inspect. Like the objects of "segment everything" it has
        no prompts; a click refines it (the mask goes in as ``mask_input``). Returns :attr:`masks`.

        ``obj_id`` must be None here: on images a given mask always starts a new object (a clip's
        ``add_mask`` also takes an existing object and a frame).
        """
        if obj_id is not None:
            error = ValueError(
                f"add_mask on an image always makes a new object; got obj_id={obj_id!r}. "
                "Leave obj_id out, or delete the object first."
            )
            self._show_error(error)
            raise error
        self._call(self._apply, self._session.add_mask_objects, self.image_index, [(to_host(mask), 1.0)])
        return self.masks

    def remove_prompt(self, index: int) -> dict[int, np.ndarray]:
        """Delete prompt ``index`` of :attr:`prompts`; returns :attr:`masks`."""
        self._call(self._apply, self._session.remove_prompt, self.image_index, index)
        return self.masks

    def clear_object(self, obj_id: int | None = None) -> dict[int, np.ndarray]:
        """Delete the prompts of ``obj_id`` (default: the selected object) on this image."""
        self._call(self._apply, self._session.clear_object, self.image_index, obj_id)
        return self.masks

    def clear_image(self) -> dict[int, np.ndarray]:
        """Delete every prompt on this image."""
        self._call(self._apply, self._session.clear_image, self.image_index)
        return self.masks

    def save_session(self, path: str | os.PathLike) -> Path:
        """Save objects, prompts and masks to one ``.npz`` (after waiting for pending masks).

        Images from files are referenced by path; in-memory images are stored in the file.
        """
        self.wait_idle()
        return write_session(path, self._session, model_reference(self._model), self.image_index)

    @classmethod
    def _restore(
        cls,
        path: str | os.PathLike,
        saved: SavedSession,
        source: Any,
        model: ModelArg | None,
        device: str,
        **options: Any,
    ) -> Sam2ImageWidget:
        autosave = options.pop("autosave", None)
        widget = cls(
            saved.source if source is None else source, saved.model if model is None else model, device, **options
        )
        try:
            widget._session.restore(saved.objects, saved.next_id, saved.state)
        except ValueError:
            widget.close()
            raise
        try:
            widget._goto(saved.image_index)
        except ImageReadError as e:
            widget._show_error(e)
        widget._resume_autosave(autosave, path)
        return widget

    # -- actions and messages --------------------------------------------------------

    def _msg_merge_objects(self, msg: dict) -> list[Future]:
        return self._apply(self._session.merge_objects, integer_list(msg, "ids"))[1]

    def _apply(self, action: Callable[..., Any], *args: Any) -> tuple[Any, list[Future]]:
        """Run a session action, update the view, schedule the masks it made stale."""
        with self._session.lock:
            before, hidden_before = self._session.state, self._hidden()
            result = action(*args)
            after, hidden_after = self._session.state, self._hidden()
        changed = _images_with_new_masks(before, after)
        self._refresh(masks=self.image_index in changed or hidden_before != hidden_after)
        futures = self._schedule_stale()
        for index in changed:
            self._notify(index)
        self._request_autosave()
        return result, futures

    def _hidden(self) -> set[int]:
        return {o.id for o in self._session.objects() if not o.visible}

    def _goto(self, index: int) -> tuple[None, list[Future]]:
        index = self._session.check_index(index)
        return None, self._show_image(index)

    def _everything_input(self, index: int) -> Callable[[], np.ndarray]:
        self._images.size(index)  # an unreadable image raises here, not in the worker
        return partial(self._images.model_input, index)

    def _add_everything(self, index: int, records: list[dict]) -> tuple[list[int], list[Future]]:
        masks = [(r["segmentation"], r["predicted_iou"]) for r in records]
        return self._apply(self._session.add_mask_objects, index, masks)

    def _write_autosave(self, path: Path) -> None:
        write_session(path, self._session, model_reference(self._model), self.image_index)

    # -- worker jobs -------------------------------------------------------------

    def _schedule_stale(self) -> list[Future]:
        """Queue a prediction for every mask whose prompts changed (one per object and image:
        a prediction still waiting serves every later click too)."""
        return [
            self._worker.submit(partial(self._predict_job, index, obj_id), key=("predict", index, obj_id))
            for index, obj_id in self._session.stale()
        ]

    def _predictor(self, index: int) -> ImagePredictor:
        if index in self._cache:
            return self._cache.get(index, partial(self._images.model_input, index))
        self._set_status("encoding", f"encoding image {index + 1}/{len(self._images)}")
        start = time.perf_counter()
        predictor = self._cache.get(index, partial(self._images.model_input, index))
        self._last_timing = f"image {index + 1} encoded in {time.perf_counter() - start:.1f} s"
        return predictor

    def _encode_job(self, index: int) -> None:
        if index == self.image_index:  # skip images flipped past before their turn came
            self._predictor(index)

    def _predict_job(self, index: int, obj_id: int) -> None:
        predictor = self._predictor(index)
        timings = self._timings
        self._set_status("predicting", "predicting")
        start = time.perf_counter()
        if self._session.predict(index, obj_id, predictor if timings is None else timings.timed(predictor)):
            ms = (time.perf_counter() - start) * 1000
            self._last_timing = f"mask in {ms:.0f} ms"
            with self._view_lock, self.hold_sync():  # one message: the latency with the new masks
                self.set_trait("latency_ms", ms)
                shown = index == self.image_index
                if shown:
                    self._refresh(masks=True)
            if shown and timings is not None:
                timings.masks_sent(len(self.label_rle))
            self._notify(index)

    # -- the view ----------------------------------------------------------------

    def _show_image(self, index: int) -> list[Future]:
        """Show image ``index`` (read here: the display needs it now), start encoding it.

        Raises ImageReadError, after showing the index, for an unreadable image.
        """
        with self._view_lock, self.hold_sync():
            self.set_trait("image_index", index)
            self.set_trait("image_name", self._images.name(index))
            try:
                pixels = self._images.pixels(index)
            except ImageReadError:
                for name, empty in (("image_width", 0), ("image_height", 0), ("image_jpeg", b"")):
                    self.set_trait(name, empty)
                self._refresh(masks=True)
                raise
            self.set_trait("image_width", pixels.shape[1])
            self.set_trait("image_height", pixels.shape[0])
            self.set_trait("image_jpeg", codecs.encode_jpeg(pixels, **self._display))
            self._refresh(masks=True)
        self._worker.submit(partial(self._encode_job, index), key=("encode", index))
        return self._schedule_stale()

    def _refresh(self, masks: bool) -> None:
        """Copy the session into the traits (``masks``: the label map too)."""
        s = self._session
        index = self.image_index
        with self._view_lock, self.hold_sync():
            with s.lock:
                self.set_trait("objects", [o.to_dict() for o in s.objects()])
                self.set_trait("selected_id", s.state.selected_id)
                self.set_trait("prompts", [p.to_dict() for p in s.prompts(index)])
                self.set_trait("can_undo", s.can_undo)
                self.set_trait("can_redo", s.can_redo)
                if masks:
                    visible = {o.id for o in s.objects() if o.visible}
                    entries = {o: e for o, e in s.mask_entries(index).items() if o in visible}
            if masks:
                self.set_trait("label_rle", self._label_rle(index, entries))

    def _label_rle(self, index: int, entries: Mapping[int, Any]) -> bytes:
        if not entries:
            return b""
        hw = self._images.size(index)
        masks = [(obj_id, e.runs) for obj_id, e in entries.items()]
        if sum(len(runs) for _, runs in masks) <= hw[0] * hw[1] // 8:  # smooth masks, as a trained model's
            return _label_rle_of_runs(masks, hw[0] * hw[1])
        label = codecs.masks_to_label_map({o: e.mask(hw) for o, e in entries.items()}, hw, dtype=np.uint32)
        return codecs.encode_label_rle(label)


def _label_rle_of_runs(masks: list[tuple[int, np.ndarray]], size: int) -> bytes:
    """``codecs.encode_label_rle`` of ``codecs.masks_to_label_map`` (the first listed object wins
    where masks overlap), straight from each object's mask runs (``sam2_backend.rle.encode_mask``)
    without the (H, W) maps: the work grows with the runs, not the pixels (a click at 1080p with
    six objects: ~0.2 ms instead of ~20 ms). The image is cut into segments at every run edge of
    every object; each object paints the segments it covers, the first listed last."""
    starts, ends = [], []
    for _, runs in masks:
        bounds = np.cumsum(runs, dtype=np.int64)  # runs are [bg, fg, bg, fg, ...]
        start, end = bounds[0::2][: len(runs) // 2], bounds[1::2]
        keep = end > start
        starts.append(start[keep])
        ends.append(end[keep])
    edges = np.sort(np.concatenate([[0, size], *starts, *ends]))
    edges = edges[np.concatenate(([True], edges[1:] != edges[:-1]))]  # np.unique is far slower here
    segments = np.zeros(len(edges) - 1, dtype=np.uint32)  # the label of [edges[i], edges[i + 1])
    for (obj_id, _), start, end in reversed(list(zip(masks, starts, ends))):
        first, last = np.searchsorted(edges, start), np.searchsorted(edges, end)
        count = last - first
        segments[np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())] = obj_id
    if not segments.any():
        return b""
    run_starts = np.concatenate(([0], np.flatnonzero(segments[1:] != segments[:-1]) + 1))
    counts = np.diff(np.append(edges[run_starts], size))
    return np.stack([segments[run_starts].astype(np.int64), counts], axis=1).astype("<u4").tobytes()


def _images_with_new_masks(before: SessionState, after: SessionState) -> list[int]:
    """Indices of the images whose masks differ between two states."""
    changed = []
    for index, (a, b) in enumerate(zip(before.images, after.images)):
        if a.masks is b.masks:
            continue
        if a.masks.keys() != b.masks.keys() or any(a.masks[o] is not b.masks[o] for o in a.masks):
            changed.append(index)
    return changed
