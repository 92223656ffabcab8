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
import torch

from sam2_backend import ImagePredictor

from . import codecs
from ._base import DEFAULT_MODEL, Sam2Widget
from ._options import ModelArg, check_options, resolve_model
from .checks import to_host
from .dataset import open_dataset
from .dataset_review import DatasetReview
from .embeddings import EmbeddingCache
from .images import ImageReadError, ImageSet
from .message_dispatch import SHARED_MESSAGES
from .messages import MAX_THUMBNAILS, integer, integer_list, optional_string, string
from .results import ImageSetResults
from .review import MAX_NOTE_LENGTH, STATUSES
from .session import Session, SessionState
from .session_file import SavedSession, model_reference, write_session
from .thumbnails import ByteLRU, thumbnail

REVIEW_MESSAGES = ("mark", "set_note", "next", "set_filter", "fetch_thumbnails")
THUMBNAIL_CACHE_BYTES = 32 * 2**20  # ~8,000 thumbnails of ~4 kB
DISPLAY_CACHE_BYTES = 64 * 2**20  # display JPEGs: ~300 at 1080p, so going back costs no decode


class Sam2ImageWidget(Sam2Widget):
    """SAM 2 on an image or a set of images (``Sam2Widget(source)`` for anything but a clip).

    Options as ``Sam2Widget``. ``goto`` and ``image_index`` move through a set; each image
    is segmented on its own, its embedding computed once (``cache_size`` are kept).

    A data set to review: ``annotations=`` a COCO file or dict, a folder of PNG label maps or
    ``{image index or file name: {object id: mask}}`` (``names=``: ``{label value: category}``
    for the last two; ``image_key=``: the image field of a lazy sequence's dict items). Then
    ``source`` may also be a lazy sequence, read only when shown (docs/widget_protocol.md,
    "Dataset review"). Image sets get review statuses: :meth:`mark`, :meth:`next`,
    :meth:`filter`, :attr:`review_table`.
    """

    _for_clips = False
    _prefetch = True  # encode the next image while idle (benchmarks turn it off to compare)
    _messages = (*SHARED_MESSAGES, "merge_objects", *REVIEW_MESSAGES)
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
        annotations = options.pop("annotations", None)
        label_names = options.pop("names", None)
        image_key = options.pop("image_key", "image")
        opts = check_options(options)
        labels = None
        if annotations is not None or _is_dataset(source):  # listed, nothing decoded
            dataset = open_dataset(source, annotations, label_names, image_key)
            images, labels = dataset.images, dataset.annotations
            if labels is not None and not labels.report.ok:
                print(labels.report)
        else:
            images = ImageSet.from_source(source)  # a bad source fails before a model is loaded
        sam = resolve_model(model, device)
        self._images = images
        self._cache = EmbeddingCache(sam, opts["cache_size"])
        self._session = Session(images)
        review_on = labels is not None or len(images) > 1
        self._dataset = DatasetReview(self._session, labels) if review_on else None
        self._thumbs = ByteLRU(THUMBNAIL_CACHE_BYTES)
        self._jpegs = ByteLRU(DISPLAY_CACHE_BYTES)  # image index -> (size, display JPEG)
        self._image_versions: dict[int, int] = {}  # per image, bumped when its thumbnail changes
        self._travel: tuple[str, int] = ("any", 1)  # the last move's status and direction: what to encode next
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
            return ImageSetResults(
                self._images, s.objects(), [s.mask_entries(i) for i in range(len(self._images))], self._dataset
            )

    # -- review (image sets and labelled sets) -------------------------------------

    @property
    def review_table(self) -> Any:
        """Every image's index, name, status, note, mask count and categories (a ``ReviewTable``;
        the ``review`` trait is the shown image's status and the set's counts)."""
        return self._review_on().table()

    def mark(self, status: str, index: int | None = None, note: str | None = None) -> None:
        """Set image ``index``'s (default: the shown image's) review status, and its note if given."""
        dataset = self._review_on()
        index = self.image_index if index is None else self._session.check_index(index)
        dataset.state.mark(index, status, note)
        self._image_changed(index)

    def next(self, status: str = "unreviewed", direction: int = 1) -> int | None:
        """Show the next image (within the filter) with ``status`` (``"any"``: any), wrapping around;
        returns its index, or None (nothing moves) when there is none."""
        return self._call(self._next, status, direction)

    def filter(self, status: str | None = None, category: str | None = None) -> list[int]:
        """Move within the images with ``status`` and/or an object of ``category`` (both None: all);
        returns them. If the shown image does not pass, the first that does is shown."""
        return self._call(self._set_filter, status, category)

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
        """Save objects, prompts and masks (and the review) to one ``.npz`` (after waiting for pending masks).

        Images from files are referenced by path; in-memory images are stored in the file;
        a lazy sequence must be passed again to ``load_session``.
        """
        self.wait_idle()
        return self._write_autosave(path)

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
        if source is None and any(x is None for x in saved.source):
            raise ValueError(
                f"{path} was saved from a lazy sequence of images, which a session file does not hold: "
                "pass the images again, Sam2Widget.load_session(path, images, annotations=...)."
            )
        widget = cls(
            saved.source if source is None else source, saved.model if model is None else model, device, **options
        )
        try:
            widget._session.restore(saved.objects, saved.next_id, saved.state)
            dataset = saved.extra.get("dataset")
            if widget._dataset is not None and dataset:
                widget._dataset.restore(dataset.get("seeded", ()), dataset.get("loaded_id", {}), dataset.get("review"))
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

    def _msg_mark(self, msg: dict) -> list[Future]:
        dataset = self._review_on()
        status = string(msg, "status")
        if status not in STATUSES:
            raise ValueError(f"mark: status must be one of {', '.join(STATUSES)}, got {status!r:.80}.")
        dataset.state.mark(self.image_index, status)
        self._image_changed(self.image_index)
        return []

    def _msg_set_note(self, msg: dict) -> list[Future]:
        dataset = self._review_on()
        note = string(msg, "note")
        if len(note) > MAX_NOTE_LENGTH:
            raise ValueError(f"set_note: a note has at most {MAX_NOTE_LENGTH} characters, got {len(note)}.")
        dataset.state.set_note(self.image_index, note)
        self._image_changed(self.image_index)
        return []

    def _msg_next(self, msg: dict) -> list[Future]:
        return self._next(string(msg, "status"), integer(msg, "direction"))[1]

    def _msg_set_filter(self, msg: dict) -> list[Future]:
        return self._set_filter(optional_string(msg, "status"), optional_string(msg, "category"))[1]

    def _msg_fetch_thumbnails(self, msg: dict) -> list[Future]:
        self._review_on()
        indices = integer_list(msg, "indices")
        if len(indices) > MAX_THUMBNAILS:
            raise ValueError(f"fetch_thumbnails: at most {MAX_THUMBNAILS} indices, got {len(indices)}.")
        for i in indices:
            if not 0 <= i < len(self._images):
                raise ValueError(f"fetch_thumbnails: image index {i} is out of range (0 to {len(self._images) - 1}).")
        shown = self.image_index
        ordered = ([shown] if shown in indices else []) + [i for i in dict.fromkeys(indices) if i != shown]
        done: Future = Future()
        self._worker.submit(partial(self._thumbnail_job, ordered, done))
        return [done]

    # -- review ----------------------------------------------------------------

    def _review_on(self) -> DatasetReview:
        if self._dataset is None:
            raise ValueError("review is for image sets and labelled images: this widget shows one image.")
        return self._dataset

    def _image_changed(self, index: int) -> None:
        """Image ``index``'s status, note or masks changed: new thumbnail, new review trait, autosave."""
        self._image_versions[index] = self._image_versions.get(index, 0) + 1
        with self._view_lock, self.hold_sync():
            self.set_trait("thumbs_version", self.thumbs_version + 1)
            self._set_review_trait()
        self._request_autosave()

    def _set_review_trait(self) -> None:
        if self._dataset is not None:
            self.set_trait("review", self._dataset.view(self.image_index))

    def _next(self, status: str, direction: int) -> tuple[int | None, list[Future]]:
        dataset = self._review_on()
        found = dataset.next(self.image_index, status, direction)
        if found is None:
            what = "image" if status == "any" else f"{status} image"
            self._last_timing = f"no {what} {'after' if direction == 1 else 'before'} this one"
            self._set_status(self.status, self._last_timing)
            return None, []
        self._travel = (status, direction)
        return found, self._show_image(found)

    def _set_filter(self, status: Any, category: Any) -> tuple[list[int], list[Future]]:
        found = self._review_on().set_filter(status, category)
        futures = [] if self.image_index in found else self._show_image(found[0])
        with self._view_lock:
            self._set_review_trait()
        return found, futures

    def _thumbnail_job(self, indices: list[int], done: Future) -> None:
        """Send the first thumbnail, then queue a job for the rest: a click that arrives meanwhile
        runs before the next thumbnail is drawn. ``done`` (the ack's) when the last is sent."""
        index = indices[0]
        reply = {"type": "thumbnail", "index": index, "name": self._images.name(index), "version": self.thumbs_version}
        reply.update(status=self._dataset.state.status(index), masks=self._dataset.mask_count(index) or 0)
        try:
            jpeg = self._thumbnail(index)
        except ImageReadError as e:
            self.send({**reply, "error": str(e)})
        except Exception as e:  # broad on purpose: the ack must come whatever failed
            done.set_exception(e)
            raise
        else:
            self.send(reply, [jpeg])
        if len(indices) > 1:
            self._worker.submit(partial(self._thumbnail_job, indices[1:], done))
        else:
            done.set_result(None)

    def _thumbnail(self, index: int) -> bytes:
        key = (index, self._image_versions.get(index, 0))
        jpeg = self._thumbs.get(key)
        if jpeg is None:
            jpeg = thumbnail(self._images.pixels(index), self._current_runs(index))
            self._thumbs.put(key, jpeg)
        return jpeg

    def _current_runs(self, index: int) -> dict[int, np.ndarray]:
        """``{obj_id: runs}`` drawn on image ``index``: the session's once visited, else the labels as read."""
        dataset = self._dataset
        if dataset.annotations is None or index in dataset.seeded:
            return {o: e.runs for o, e in self._session.mask_entries(index).items()}
        return {max(o.obj_id, 1): o.runs for o in dataset.annotations.objects(index)}

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
        if self._dataset is not None and changed:
            for index in changed:
                self._image_changed(index)  # requests the autosave too
        else:
            self._request_autosave()
        return result, futures

    def _hidden(self) -> set[int]:
        return {o.id for o in self._session.objects() if not o.visible}

    def _goto(self, index: int) -> tuple[None, list[Future]]:
        index = self._session.check_index(index)
        if index != self.image_index:
            self._travel = ("any", 1 if index > self.image_index else -1)
        return None, self._show_image(index)

    def _everything_input(self, index: int) -> Callable[[], np.ndarray]:
        self._images.size(index)  # an unreadable image raises here, not in the worker
        return partial(self._images.model_input, index)

    def _add_everything(self, index: int, records: list[dict]) -> tuple[list[int], list[Future]]:
        masks = [(r["segmentation"], r["predicted_iou"]) for r in records]
        return self._apply(self._session.add_mask_objects, index, masks)

    def _write_autosave(self, path: Path) -> Path:
        extra = {} if self._dataset is None else {"dataset": self._dataset.to_meta()}
        return write_session(path, self._session, model_reference(self._model), self.image_index, extra)

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

    def _background_work(self) -> bool:
        """Encode the image the user is likely to show next (the neighbour in the direction of
        travel within the filter, or the next of the status ``next`` went to), so going there
        costs no encoder wait. One encoding per wake: it runs only while no job waits, so a
        click on the shown image waits for at most this one encoding."""
        cache = self._cache
        if not self._prefetch or self._dataset is None or cache is None or cache.size < 2:
            return False  # (a cache of one would evict the shown image's embedding)
        status, direction = self._travel
        index = self.image_index
        dataset = self._dataset
        target = dataset.step(index, direction) if status == "any" else dataset.next(index, status, direction)
        if target is None or target in cache:
            return False
        try:
            cache.get(target, partial(self._images.model_input, target))
            self._display_jpeg(target)  # from the pixels just decoded: showing it needs no decode
        except ImageReadError:
            pass  # shown, it says why; nothing to prepare
        return False

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
            if self._dataset is not None:
                self._image_changed(index)

    # -- the view ----------------------------------------------------------------

    def _show_image(self, index: int) -> list[Future]:
        """Show image ``index`` (read here: the display needs it now), start encoding it.

        Raises ImageReadError, after showing the index, for an unreadable image.
        """
        if self._dataset is not None:
            self._dataset.seed(index)  # the image's labels, on its first visit
        with self._view_lock, self.hold_sync():
            self.set_trait("image_index", index)
            self.set_trait("image_name", self._images.name(index))
            try:
                (height, width), jpeg = self._display_jpeg(index)
            except ImageReadError:
                for name, empty in (("image_width", 0), ("image_height", 0), ("image_jpeg", b"")):
                    self.set_trait(name, empty)
                self._refresh(masks=True)
                raise
            self.set_trait("image_width", width)
            self.set_trait("image_height", height)
            self.set_trait("image_jpeg", jpeg)
            self._refresh(masks=True)
        self._worker.submit(partial(self._encode_job, index), key=("encode", index))
        self._worker.wake()  # then, while idle, the image the user goes to next
        return self._schedule_stale()

    def _display_jpeg(self, index: int) -> tuple[tuple[int, int], bytes]:
        """``((H, W), JPEG)`` of image ``index`` for the display, kept in a byte-bounded LRU."""
        jpeg = self._jpegs.get(index)
        if jpeg is None:
            pixels = self._images.pixels(index)
            jpeg = codecs.encode_jpeg(pixels, **self._display)
            self._jpegs.put(index, jpeg)
            return pixels.shape[:2], jpeg
        return tuple(self._images.size(index)), jpeg

    def _refresh(self, masks: bool) -> None:
        """Copy the session into the traits (``masks``: the label map too)."""
        s = self._session
        index = self.image_index
        with self._view_lock, self.hold_sync():
            with s.lock:
                self.set_trait("objects", [o.to_dict() for o in self._listed_objects(index)])
                self.set_trait("selected_id", s.state.selected_id)
                self.set_trait("prompts", [p.to_dict() for p in s.prompts(index)])
                self.set_trait("can_undo", s.can_undo)
                self.set_trait("can_redo", s.can_redo)
                self._set_review_trait()
                if masks:
                    visible = {o.id for o in s.objects() if o.visible}
                    entries = {o: e for o, e in s.mask_entries(index).items() if o in visible}
            if masks:
                self.set_trait("label_rle", self._label_rle(index, entries))

    def _listed_objects(self, index: int) -> list[Any]:
        """A labelled set lists only the shown image's objects and the selected one (10,000 labels
        would make a list nobody reads); otherwise every object."""
        s = self._session
        if self._dataset is None or self._dataset.annotations is None:
            return s.objects()
        img = s.state.images[index]
        here = img.masks.keys() | img.seeds.keys() | {p.obj_id for p in img.prompts} | {s.state.selected_id}
        return [o for o in s.objects() if o.id in here]

    def _label_rle(self, index: int, entries: Mapping[int, Any]) -> bytes:
        if not entries:
            return b""
        hw = self._images.size(index)
        masks = [(obj_id, e.runs) for obj_id, e in entries.items()]
        if sum(len(runs) for _, runs in masks) <= hw[0] * hw[1] // 8:  # smooth masks, as a trained model's
            return _label_rle_of_runs(masks, hw[0] * hw[1])
        label = codecs.masks_to_label_map({o: e.mask(hw) for o, e in entries.items()}, hw, dtype=np.uint32)
        return codecs.encode_label_rle(label)


def _is_dataset(source: Any) -> bool:
    """A folder, or a lazy sequence (anything with len and [i] that is not an image or a list of
    them): listed by ``DatasetSource`` without reading an image."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).is_dir()
    from PIL import Image

    if isinstance(source, (list, tuple, np.ndarray, bytes, torch.Tensor, Image.Image)):
        return False
    return hasattr(source, "__len__") and hasattr(source, "__getitem__")


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
