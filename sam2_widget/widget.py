"""The SAM 2 notebook widget: click and drag boxes on an image (or a set of images), get masks.

The protocol with the front end (traits and messages) is docs/widget_protocol.md.
Threads: the comm handler (the kernel's shell thread) validates a message,
records it in the :class:`~sam2_widget.session.Session` and schedules work; one
worker thread per widget encodes images and predicts masks, then updates the
traits and sends the acks. Python API calls record the same way and then wait
for their masks.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
import time
from concurrent.futures import CancelledError, Future
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import anywidget
import numpy as np
import traitlets as t

from sam2_backend import (
    AutomaticMaskGenerator,
    ImagePredictor,
    ModelConfig,
    SAM2Model,
    load_model,
)
from sam2_backend.checkpoint import resolve_device

from . import codecs
from .autosave import Autosave, AutosaveError
from .embeddings import EmbeddingCache
from .frame_cache import DEFAULT_MAX_MB
from .images import ImageReadError, ImageSet
from .messages import TYPES as MESSAGE_TYPES
from .messages import boolean, integer, integer_list, is_int, number, string
from .results import ImageSetResults
from .session import Session, SessionState
from .session_file import model_reference, read_session, write_session
from .worker import Worker

log = logging.getLogger(__name__)

_STATIC = Path(__file__).parent / "static"
# js/ is bundled into static/ by `npm run build` (pip installs run it through the hatch
# build hook). Without the bundle the Python side still works fully and the cell says why
# nothing is drawn.
_MISSING_BUNDLE_ESM = """
export default {
  render({ el }) {
    el.textContent = "sam2_widget: front end not built: run npm run build";
  },
};
"""

OPTIONS: dict[str, Any] = {
    "opacity": 0.5,  # mask fill opacity, 0..1
    "outline": True,  # draw mask outlines
    "cache_size": 8,  # image embeddings kept (LRU)
    "display_max_side": codecs.DISPLAY_MAX_SIDE,  # longest side of the JPEG sent for display
    "jpeg_quality": codecs.JPEG_QUALITY,
    "amg_options": None,  # AutomaticMaskGenerator options of the front end's "segment everything"
    "autosave": None,  # a file kept current after every action (sam2_widget/autosave.py)
    "frame_cache_mb": DEFAULT_MAX_MB,  # video: MiB of frame JPEGs kept in the kernel (frame_cache.py)
}

OnChange = Callable[["Sam2Widget", int, dict], None]


def _bundle(name: str, fallback: str) -> Path | str:
    path = _STATIC / name
    return path if path.is_file() else fallback


class Sam2Widget(anywidget.AnyWidget):
    """SAM 2 in a notebook: click points and drag boxes on an image and see its masks.

    Args:
        source: an image (path, HxWx3 array, PIL image, tensor) or a set of images:
            a list of them, a folder, or an (N, H, W, C) array. ``goto`` and
            ``image_index`` move through a set; each image is segmented on its own.
            A video file (.mp4, .mov, .webm, .mkv, .avi, .m4v) is always a clip, and
            gives a ``Sam2VideoWidget`` (prompts on any frame, tracking, a timeline).
        video: ``True`` makes a folder, an (T, H, W, 3) array or a list a clip to track
            instead of an image set; ``False`` or ``None`` (default) leaves them image sets.
        model: a model name for ``sam2_backend.load_model`` (``"sam2.1-hiera-tiny"``,
            ``"large"``, a ``.pt`` path, ...) or a loaded ``SAM2Model``, which several
            widgets can share.
        device: where a model loaded by name runs (``"auto"``: cuda, mps, cpu).
        opacity, outline: how masks are drawn.
        cache_size: how many images' embeddings are kept (each is computed once).
        display_max_side, jpeg_quality: the JPEG sent for display.
        frame_cache_mb: for a clip, MiB of display JPEGs kept in the kernel (default 256,
            ~2,600 frames of 720p), filled in the background while the widget is idle so
            that jumping anywhere skips the video decoder; 0 turns it off.
        amg_options: ``AutomaticMaskGenerator`` options used by the widget's "segment
            everything" button (e.g. ``{"points_per_side": 16}``); checked here.
        autosave: a ``.npz`` path written (atomically, by the worker thread) after every
            completed action and every few seconds while tracking, so a kernel crash loses
            at most the last action. Restore it with ``Sam2Widget.load_session(path, source)``.
            An existing file is refused (it may hold a crashed session): load it instead.

    Every button has a Python method. Those that change masks wait for them and
    return them; bad input raises (``ValueError``, ``KeyError``, ``TypeError``) and
    is shown in the widget, and never loses earlier prompts or masks.
    """

    _esm = _bundle("widget.js", _MISSING_BUNDLE_ESM)
    _css = _bundle("widget.css", "")

    image_count = t.Int(1, read_only=True).tag(sync=True)
    """Images in the set (1 for a single image)."""
    image_index = t.Int(0, read_only=True).tag(sync=True)
    """The image shown (0-based); change it with ``goto``."""
    image_name = t.Unicode("", read_only=True).tag(sync=True)
    """The shown image's file name, or ``image 3`` for an in-memory image."""
    image_width = t.Int(0, read_only=True).tag(sync=True)
    """Original width of the shown image in pixels (0 if it cannot be read)."""
    image_height = t.Int(0, read_only=True).tag(sync=True)
    """Original height of the shown image in pixels (0 if it cannot be read)."""
    image_jpeg = t.Bytes(b"", read_only=True).tag(sync=True)
    """The shown image as JPEG, maybe downscaled: draw it stretched to width x height."""
    label_rle = t.Bytes(b"", read_only=True).tag(sync=True)
    """Visible masks of the shown image as a label map: uint32 LE (value, count) pairs, row-major."""
    objects = t.List(t.Dict(), read_only=True).tag(sync=True)
    """``{"id", "name", "color", "visible"}`` of every object, in display order."""
    selected_id = t.Int(0, read_only=True).tag(sync=True)
    """The object clicks go to (0: none yet; the first click makes one)."""
    prompts = t.List(t.Dict(), read_only=True).tag(sync=True)
    """Points and boxes on the shown image (see ``Point.to_dict`` / ``Box.to_dict``)."""
    opacity = t.Float(0.5, min=0.0, max=1.0).tag(sync=True)
    """Mask fill opacity, 0..1 (the front end may change it)."""
    outline = t.Bool(True).tag(sync=True)
    """Whether mask outlines are drawn (the front end may change it)."""
    status = t.Enum(("idle", "encoding", "predicting", "tracking", "error"), "idle", read_only=True).tag(sync=True)
    """What the kernel is doing: idle, encoding, predicting, tracking (videos), or error."""
    status_text = t.Unicode("", read_only=True).tag(sync=True)
    """One human line about it, e.g. ``encoding image 2/5`` or ``mask in 84 ms``."""
    latency_ms = t.Float(0.0, read_only=True).tag(sync=True)
    """Kernel-side time of the last prediction, in milliseconds."""
    error = t.Unicode("", read_only=True).tag(sync=True)
    """The last error message; empty when the last action succeeded."""
    can_undo = t.Bool(False, read_only=True).tag(sync=True)
    """Whether undo would do anything."""
    can_redo = t.Bool(False, read_only=True).tag(sync=True)
    """Whether redo would do anything."""
    is_video = t.Bool(False, read_only=True).tag(sync=True)
    """Whether the source is a clip (then "image" means frame, and the timeline is shown)."""
    prompt_frames = t.List(t.Int(), read_only=True).tag(sync=True)
    """Videos: sorted frames holding any prompt."""
    tracked = t.List(t.Dict(), read_only=True).tag(sync=True)
    """Videos: ``{"obj_id", "ranges": [[first, last], ...]}`` frames where each object's mask is non-empty."""
    progress = t.Dict(read_only=True).tag(sync=True)
    """Videos: ``{"running", "direction", "done", "total", "fps", "eta_s", "cancelled"}`` of tracking."""
    masks_version = t.Int(0, read_only=True).tag(sync=True)
    """Videos: bumped whenever masks change, so the front end knows which cached frames are stale."""

    def __new__(cls, source: Any = None, *args: Any, video: bool | None = None, **kwargs: Any) -> "Sam2Widget":
        # A clip gets the video widget (sam2_widget/video_widget.py): always for a video file,
        # for a folder, array or list only with video=True (else they are image sets).
        if cls is Sam2Widget:
            from .video_widget import Sam2VideoWidget, is_video_source

            if is_video_source(source, video):
                cls = Sam2VideoWidget
        return super().__new__(cls, source, *args, video=video, **kwargs)

    def __init__(self, source: Any, model: str | os.PathLike | ModelConfig | SAM2Model = "sam2.1-hiera-tiny",
                 device: str = "auto", video: bool | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(_unknown_options_message(unknown))
        opts = {**OPTIONS, **options}
        images = ImageSet.from_source(source)
        sam = _resolve_model(model, device)
        cache = EmbeddingCache(sam, opts["cache_size"])
        amg_options = dict(opts["amg_options"] or {})
        _mask_generator(sam, amg_options)  # bad options fail now, not at the first click
        autosave = None if opts["autosave"] is None else Autosave(opts["autosave"], self._write_autosave)
        super().__init__(opacity=opts["opacity"], outline=opts["outline"])
        self._images = images
        self._model = sam
        self._cache = cache
        self._display = {"max_side": int(opts["display_max_side"]), "quality": int(opts["jpeg_quality"])}
        self._amg_options = amg_options
        self._session = Session(images)
        self._worker = Worker(f"sam2_widget-{self.model_id}", on_error=self._show_error,
                              on_idle=self._on_worker_idle)
        self._view_lock = threading.RLock()  # traits are set from the comm and the worker thread
        self._on_change: list[OnChange] = []
        self._last_timing = ""
        self._autosave = autosave
        self.on_msg(self._on_frontend_msg)
        self.set_trait("image_count", len(images))
        try:
            self._show_image(0)
        except ImageReadError as e:  # only in a set: a single unreadable image failed above
            self._show_error(e)

    def __repr__(self) -> str:
        return (f"Sam2Widget({len(self._images)} images, showing {self.image_index}: {self.image_name!r}, "
                f"{len(self.objects)} objects)")

    # -- Python API: reading ---------------------------------------------------

    @property
    def masks(self) -> dict[int, np.ndarray]:
        """``{obj_id: (H, W) bool}`` of the shown image, in display order (what is drawn now)."""
        return self._session.masks(self.image_index)

    @property
    def results(self) -> ImageSetResults:
        """A snapshot of the masks of every image (see :class:`ImageSetResults`)."""
        s = self._session
        with s.lock:
            return ImageSetResults(self._images, s.objects(), [s.mask_entries(i) for i in range(len(self._images))])

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every encoding and prediction queued so far is done (TimeoutError after
        ``timeout`` seconds). The Python methods already wait for their own masks; use this
        after clicking in the widget, or before reading ``results`` in a script."""
        self._worker.wait_idle(timeout)

    def on_change(self, callback: OnChange, remove: bool = False) -> None:
        """Call ``callback(widget, image_index, masks)`` whenever the masks of an image change
        (new mask, undo, deletion, ...); ``remove=True`` unregisters it.

        It runs on the thread that made the change, often the widget's worker thread:
        it may read the widget (``masks``, ``results``, traits) but not call its methods.
        """
        if remove:
            if callback in self._on_change:
                self._on_change.remove(callback)
        elif callback not in self._on_change:
            self._on_change.append(callback)

    # -- Python API: actions ---------------------------------------------------

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
            error = ValueError(f"add_mask on an image always makes a new object; got obj_id={obj_id!r}. "
                               "Leave obj_id out, or delete the object first.")
            self._show_error(error)
            raise error
        self._call(self._apply, self._session.add_mask_objects, self.image_index, [(np.asarray(mask), 1.0)])
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

    def add_object(self, name: str | None = None) -> int:
        """A new, selected object (named ``object <id>`` by default); returns its id."""
        return self._call(self._apply, self._session.add_object, name)

    def select_object(self, obj_id: int) -> None:
        """Send the next clicks to ``obj_id`` (0: to a new object)."""
        self._call(self._apply, self._session.select_object, obj_id)

    def rename_object(self, obj_id: int, name: str) -> None:
        self._call(self._apply, self._session.rename_object, obj_id, name)

    def set_visible(self, obj_id: int, visible: bool) -> None:
        """Hide or show an object's masks in the widget (they stay in the results)."""
        self._call(self._apply, self._session.set_visible, obj_id, visible)

    def delete_object(self, obj_id: int) -> None:
        """Remove an object with its prompts and masks on every image."""
        self._call(self._apply, self._session.delete_object, obj_id)

    def merge_objects(self, ids: list[int]) -> int:
        """Merge objects ``ids`` (at least two) into the first; returns its id.

        On every image where any of them has a mask, the first object's mask becomes
        their union, as a mask without prompts (like a "segment everything" object: a
        click refines it, the union going in as ``mask_input``). Their prompts are
        dropped, since no prompts reproduce a union; the others are deleted. One undo
        step restores everything. Waits for pending masks first, so it merges what the
        prompts give.
        """
        if not self._worker.on_worker_thread():  # else _call raises its clear error
            self.wait_idle()
        return self._call(self._apply, self._session.merge_objects, ids)

    def undo(self) -> bool:
        """Undo the last change of prompts or objects; returns whether there was one."""
        return self._call(self._apply, self._session.undo)

    def redo(self) -> bool:
        """Redo the last undone change; returns whether there was one."""
        return self._call(self._apply, self._session.redo)

    def goto(self, index: int) -> None:
        """Show image ``index`` (0-based) of the set; its embedding is computed in the background.

        An unreadable image is shown as an error in the widget, and raises here.
        """
        self._call(self._goto, index)

    def segment_everything(self, **amg_options: Any) -> list[int]:
        """Run ``sam2_backend.AutomaticMaskGenerator(model, **amg_options)`` on the shown image and
        add each mask as a new object (undoable, in one step); returns their ids. Options not
        given come from the widget's ``amg_options``.

        These objects start as masks without prompts; a click on one refines its mask
        (the mask goes in as ``mask_input``), and removing the clicks brings it back.
        """
        return self._call(self._segment_everything, {**self._amg_options, **amg_options}).result()

    def save_session(self, path: str | os.PathLike) -> Path:
        """Save objects, prompts and masks to one ``.npz`` (after waiting for pending masks).

        Images from files are referenced by path; in-memory images are stored in the file.
        """
        self.wait_idle()
        return write_session(path, self._session, model_reference(self._model), self.image_index)

    @classmethod
    def load_session(cls, path: str | os.PathLike, source: Any = None,
                     model: str | os.PathLike | ModelConfig | SAM2Model | None = None,
                     device: str = "auto", **options: Any) -> "Sam2Widget":
        """A widget with a saved session restored exactly (prompts, objects, masks).

        ``source`` replaces the saved images (same count; e.g. after moving the files);
        ``model`` defaults to the one the session was saved with.
        """
        from .video_session import is_video_session

        if is_video_session(path):
            from .video_widget import Sam2VideoWidget

            return Sam2VideoWidget.load_session(path, source, model, device, **options)
        saved = read_session(path)
        autosave = options.pop("autosave", None)
        widget = cls(saved.source if source is None else source,
                     saved.model if model is None else model, device, **options)
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

    def close(self) -> None:
        """Stop the worker thread and close the widget."""
        worker = getattr(self, "_worker", None)  # None when __init__ failed before making it
        if worker is not None:
            worker.close()
        super().close()

    # -- autosave (sam2_widget/autosave.py) -------------------------------------

    def _write_autosave(self, path: Path) -> None:
        write_session(path, self._session, model_reference(self._model), self.image_index)

    def _resume_autosave(self, autosave: str | os.PathLike | None, loaded_from: str | os.PathLike) -> None:
        """Autosave a loaded session (``load_session(..., autosave=path)``, which may be the file it was
        loaded from); a bad path closes the widget and raises, as it would in ``__init__``."""
        if autosave is None:
            return
        try:
            self._autosave = Autosave(autosave, self._write_autosave, resumed=loaded_from)
        except (ValueError, TypeError):
            self.close()
            raise
        self._request_autosave()

    def _request_autosave(self) -> None:
        """Save once the work queued so far (the action's masks) is done, on the worker thread."""
        if self._autosave is not None:
            self._worker.submit(partial(self._autosave_job, self._autosave.request()))

    def _autosave_job(self, request: int) -> None:
        try:
            self._autosave.save_if_latest(request)
        except AutosaveError as e:  # shown, not raised: the action itself succeeded
            self._show_error(e)

    # -- messages from the front end -------------------------------------------

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: list) -> None:
        """Dispatch a front-end message on its ``type``; every message gets an ``ack``."""
        seq = content.get("seq") if isinstance(content, dict) else None
        try:
            handler = self._message_handler(content)
            futures = handler(content)
        except (ValueError, TypeError, KeyError) as e:
            self._show_error(e)
            self._ack(seq, e)
            return
        self._clear_error()
        self._ack_when_done(seq, futures)

    def _message_handler(self, content: Any) -> Callable[[dict], list[Future]]:
        if not isinstance(content, dict):
            raise TypeError(f"a message must be a JSON object, got {type(content).__name__}.")
        kind = content.get("type")
        if kind not in MESSAGE_TYPES:
            raise ValueError(f"unknown message type {kind!r}; expected one of {', '.join(MESSAGE_TYPES)}.")
        integer(content, "seq")
        return getattr(self, f"_msg_{kind}")

    def _msg_add_point(self, msg: dict) -> list[Future]:
        point = [[number(msg, "x"), number(msg, "y")]]
        return self._apply(self._session.add_points, self.image_index, point, [integer(msg, "label")])[1]

    def _msg_add_box(self, msg: dict) -> list[Future]:
        box = [number(msg, k) for k in ("x0", "y0", "x1", "y1")]
        return self._apply(self._session.add_box, self.image_index, box)[1]

    def _msg_remove_prompt(self, msg: dict) -> list[Future]:
        return self._apply(self._session.remove_prompt, self.image_index, integer(msg, "index"))[1]

    def _msg_undo(self, msg: dict) -> list[Future]:
        return self._apply(self._session.undo)[1]

    def _msg_redo(self, msg: dict) -> list[Future]:
        return self._apply(self._session.redo)[1]

    def _msg_add_object(self, msg: dict) -> list[Future]:
        return self._apply(self._session.add_object)[1]

    def _msg_select_object(self, msg: dict) -> list[Future]:
        return self._apply(self._session.select_object, integer(msg, "id"))[1]

    def _msg_rename_object(self, msg: dict) -> list[Future]:
        return self._apply(self._session.rename_object, integer(msg, "id"), string(msg, "name"))[1]

    def _msg_set_visible(self, msg: dict) -> list[Future]:
        return self._apply(self._session.set_visible, integer(msg, "id"), boolean(msg, "visible"))[1]

    def _msg_delete_object(self, msg: dict) -> list[Future]:
        return self._apply(self._session.delete_object, integer(msg, "id"))[1]

    def _msg_merge_objects(self, msg: dict) -> list[Future]:
        return self._apply(self._session.merge_objects, integer_list(msg, "ids"))[1]

    def _msg_clear_object(self, msg: dict) -> list[Future]:
        return self._apply(self._session.clear_object, self.image_index)[1]

    def _msg_clear_image(self, msg: dict) -> list[Future]:
        return self._apply(self._session.clear_image, self.image_index)[1]

    def _msg_goto(self, msg: dict) -> list[Future]:
        return self._goto(integer(msg, "index"))[1]

    def _msg_segment_everything(self, msg: dict) -> list[Future]:
        return self._segment_everything(self._amg_options)[1]

    def _msg_track(self, msg: dict) -> list[Future]:
        raise ValueError("track is for videos: open a clip with Sam2Widget(path_to_video) or video=True.")

    _msg_cancel = _msg_fetch_frames = _msg_track

    def _ack(self, seq: Any, error: BaseException | None = None) -> None:
        reply = {"type": "ack", "seq": seq if is_int(seq) else None, "ok": error is None}
        if error is not None:
            reply["error"] = _describe(error)
        self.send(reply)

    def _ack_when_done(self, seq: Any, futures: list[Future]) -> None:
        """Ack once every job the message scheduled is done (or was served by a later one)."""
        if not futures:
            self._ack(seq)
            return
        remaining = [len(futures)]
        lock = threading.Lock()

        def done(_: Future) -> None:
            with lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            self._ack(seq, next((e for e in map(_failure, futures) if e is not None), None))

        for future in futures:
            future.add_done_callback(done)

    # -- actions shared by messages and the Python API -------------------------

    def _call(self, op: Callable[..., tuple[Any, list[Future]]], *args: Any) -> Any:
        """Run a Python API action: show and raise bad input, then wait for the masks it needs."""
        if self._worker.on_worker_thread():
            raise RuntimeError("widget methods cannot be called from an on_change callback: they "
                               "wait for the worker thread that runs the callback.")
        try:
            result, futures = op(*args)
        except (ValueError, TypeError, KeyError) as e:
            self._show_error(e)
            raise
        self._clear_error()
        for future in futures:
            future.result()  # re-raises a failed prediction (already shown in the widget)
        return result

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

    def _segment_everything(self, amg_options: Mapping[str, Any]) -> tuple[Future, list[Future]]:
        generator = _mask_generator(self._model, amg_options)
        index = self.image_index
        self._images.size(index)  # an unreadable image raises here, not in the worker
        future = self._worker.submit(partial(self._segment_everything_job, index, generator))
        return future, [future]

    # -- worker jobs -------------------------------------------------------------

    def _schedule_stale(self) -> list[Future]:
        """Queue a prediction for every mask whose prompts changed (one per object and image:
        a prediction still waiting serves every later click too)."""
        return [self._worker.submit(partial(self._predict_job, index, obj_id), key=("predict", index, obj_id))
                for index, obj_id in self._session.stale()]

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
        self._set_status("predicting", "predicting")
        start = time.perf_counter()
        if self._session.predict(index, obj_id, predictor):
            ms = (time.perf_counter() - start) * 1000
            self._last_timing = f"mask in {ms:.0f} ms"
            with self._view_lock:
                self.set_trait("latency_ms", ms)
            self._masks_changed(index)

    def _segment_everything_job(self, index: int, generator: AutomaticMaskGenerator) -> list[int]:
        self._set_status("predicting", f"segmenting everything on image {index + 1}")
        start = time.perf_counter()
        records = generator.generate(self._images.model_input(index))
        self._last_timing = f"{len(records)} masks in {time.perf_counter() - start:.1f} s"
        masks = [(r["segmentation"], r["predicted_iou"]) for r in records]
        return self._apply(self._session.add_mask_objects, index, masks)[0]

    def _on_worker_idle(self) -> None:
        self._set_status("error" if self.error else "idle", self._last_timing)

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
        label = codecs.masks_to_label_map({o: e.mask(hw) for o, e in entries.items()}, hw, dtype=np.uint32)
        return codecs.encode_label_rle(label)

    def _masks_changed(self, index: int) -> None:
        if index == self.image_index:
            self._refresh(masks=True)
        self._notify(index)

    def _notify(self, index: int) -> None:
        if not self._on_change:
            return
        masks = self._session.masks(index)
        for callback in list(self._on_change):
            try:
                callback(self, index, masks)
            except Exception as e:  # broad on purpose: user code must not break the widget's job or ack
                log.exception("on_change callback %r failed", callback)
                self._show_error(RuntimeError(f"on_change callback failed: {_describe(e)}"))

    def _set_status(self, status: str, text: str) -> None:
        with self._view_lock, self.hold_sync():
            self.set_trait("status", status)
            self.set_trait("status_text", text)

    def _show_error(self, error: BaseException) -> None:
        message = _describe(error)
        log.warning("sam2_widget: %s", message)
        with self._view_lock, self.hold_sync():
            self.set_trait("error", message)
            self.set_trait("status", "error")
            self.set_trait("status_text", message)

    def _clear_error(self) -> None:
        with self._view_lock, self.hold_sync():
            if self.error:
                self.set_trait("error", "")
            if self.status == "error":
                self.set_trait("status", "idle")
                self.set_trait("status_text", self._last_timing)


# -- helpers ---------------------------------------------------------------------


def _resolve_model(model: Any, device: str) -> SAM2Model:
    if isinstance(model, SAM2Model):
        if device != "auto" and resolve_device(device).type != model.device.type:
            raise ValueError(f"device={device!r} does not match the given model, which is on {model.device}; "
                             "move the model with model.to(device) or leave device out.")
        return model
    if isinstance(model, (str, os.PathLike, ModelConfig)):
        return load_model(model, device=device)
    raise TypeError(f"model must be a model name, a checkpoint path or a SAM2Model, got {type(model).__name__}.")


def _mask_generator(model: SAM2Model, amg_options: Mapping[str, Any]) -> AutomaticMaskGenerator:
    """The generator for "segment everything"; bad options raise here, before any work is queued."""
    if amg_options.get("output_mode", "binary_mask") != "binary_mask":
        raise ValueError("segment everything needs binary masks; leave output_mode out of its options.")
    return AutomaticMaskGenerator(model, **amg_options)


def _unknown_options_message(unknown: list[str]) -> str:
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, OPTIONS, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"Sam2Widget() got unexpected keyword argument(s) {', '.join(hints)}. "
            f"Valid options: source, model, device, video, {', '.join(OPTIONS)}.")


def _images_with_new_masks(before: SessionState, after: SessionState) -> list[int]:
    """Indices of the images whose masks differ between two states."""
    changed = []
    for index, (a, b) in enumerate(zip(before.images, after.images)):
        if a.masks is b.masks:
            continue
        if a.masks.keys() != b.masks.keys() or any(a.masks[o] is not b.masks[o] for o in a.masks):
            changed.append(index)
    return changed


def _failure(future: Future) -> BaseException | None:
    if future.cancelled():
        return CancelledError("the widget was closed before this finished.")
    return future.exception()


def _describe(error: BaseException) -> str:
    """The message of an exception (a KeyError's without the quotes ``str`` adds)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__
