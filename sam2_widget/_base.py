"""What the image widget and the video widget share: the front door, the worker, the Python API, autosave.

``Sam2Widget`` is the name users call and the base class of both widgets:
``Sam2Widget(source)`` returns a ``Sam2ImageWidget`` (image_widget.py) or a
``Sam2VideoWidget`` (video_widget.py), and ``Sam2Widget.load_session(path)`` the
widget the file was saved from. The two are siblings: each imports this module
only, and this one finds them as its subclasses, so no module imports another
widget module back.

The protocol with the front end (traits and messages) is docs/widget_protocol.md; the
traits are declared in front_end.py, the message dispatch and its acks in message_dispatch.py.
Threads: the comm handler (the kernel's shell thread) validates a message,
records it in the widget's session and schedules work; one worker thread per
widget encodes, predicts and tracks, then updates the traits and sends the acks.
Python API calls record the same way and then wait for their masks.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from sam2_backend import AutomaticMaskGenerator, SAM2Model

from . import standalone_html
from ._options import ModelArg, check_options, is_clip, mask_generator, resolve_model
from .autosave import Autosave, AutosaveError
from .front_end import SyncedState
from .message_dispatch import Futures, MessageDispatch
from .messages import describe_error
from .model_cache import ReleasedModel, free_device_cache
from .session_file import SavedVideoSession, read_session_file
from .snapshot import NOTEBOOK_MAX_SIDE, ViewState, png_bytes, render
from .worker import Worker, failure, when_done

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sam2.1-hiera-tiny"

OnChange = Callable[["Sam2Widget", int, dict], None]


class Sam2Widget(MessageDispatch, SyncedState):
    """SAM 2 in a notebook: click points and drag boxes on an image or a clip and see its masks.

    Args:
        source: an image (path, HxWx3 array, PIL image, tensor) or a set of images:
            a list of them, a folder, or an (N, H, W, C) array. ``goto`` and
            ``image_index`` move through a set; each image is segmented on its own.
            A video file (.mp4, .mov, .webm, .mkv, .avi, .m4v) is always a clip, and
            gives a ``Sam2VideoWidget`` (prompts on any frame, tracking, a timeline);
            anything else gives a ``Sam2ImageWidget``.
        video: ``True`` makes a folder, an (T, H, W, 3) array or a list a clip to track
            instead of an image set; ``False`` or ``None`` (default) leaves them image sets.
        model: a model name for ``sam2_backend.load_model`` (``"sam2.1-hiera-tiny"``,
            ``"large"``, a ``.pt`` path, ...) or a loaded ``SAM2Model``, which several
            widgets can share.
        device: where a model loaded by name runs (``"auto"``: cuda, mps, cpu).
        opacity, outline: how masks are drawn.
        cache_size: how many images' embeddings are kept (each is computed once; at most 256 MiB
            of them, the latest always).
        display_max_side, jpeg_quality: the JPEG sent for display.
        frame_cache_mb: for a clip, MiB of display JPEGs kept in the kernel (default 256,
            ~2,600 frames of 720p), filled in the background while the widget is idle so
            that jumping anywhere skips the video decoder; 0 turns it off.
        memory, memory_options: for a clip, the tracker's memory policy (``"sam2"``, the official
            behaviour and the default; ``"quality"``, ``"samurai"``, ``"dam4sam"``: see
            ``sam2_backend.video.memory_policies``) and its options (the papers' defaults for
            those not given); kept in session files and autosave.
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

    # What each widget declares (see image_widget.py and video_widget.py).
    _for_clips: ClassVar[bool | None] = None  # which sources Sam2Widget(source) hands to the class
    _messages: ClassVar[tuple[str, ...]] = ()  # the message types it handles, each by a _msg_<type> method
    _shows: ClassVar[str] = ""  # "images" or "clips", for messages
    _item: ClassVar[str] = ""  # "image" or "frame", for messages
    _unsupported_note: ClassVar[str] = ""  # appended to the refusal of a message of the other kind

    def __new__(cls, source: Any = None, *args: Any, video: bool | None = None, **kwargs: Any) -> Sam2Widget:
        if cls is Sam2Widget:  # the front door: a clip gets the video widget, anything else the image one
            cls = _widget_class(is_clip(source, video))
        return super().__new__(cls, source, *args, video=video, **kwargs)

    def __init__(
        self,
        source: Any,
        model: ModelArg = DEFAULT_MODEL,
        device: str = "auto",
        video: bool | None = None,
        **options: Any,
    ) -> None:
        """What both widgets set up once they have read their source (their ``__init__`` does that
        first, then calls this with the same arguments, ``model`` loaded)."""
        if video is not None and bool(video) != self._for_clips:
            raise ValueError(
                f"{type(self).__name__} shows {self._shows}, but video={video!r} was given; "
                "call Sam2Widget(source, video=...) to get the widget for it."
            )
        opts = check_options(options)
        if not self._for_clips and (opts["memory"] != "sam2" or opts["memory_options"]):
            raise ValueError(
                "memory= and memory_options= choose a clip tracker's memory policy; "
                f"{type(self).__name__} shows {self._shows}, which are not tracked."
            )
        sam = resolve_model(model, device)
        amg_options = dict(opts["amg_options"] or {})
        mask_generator(sam, amg_options)  # bad options fail now, not at the first click
        autosave = None if opts["autosave"] is None else Autosave(opts["autosave"], self._write_autosave)
        super().__init__(opacity=opts["opacity"], outline=opts["outline"])
        self._model = sam
        self._display = {"max_side": int(opts["display_max_side"]), "quality": int(opts["jpeg_quality"])}
        self._amg_options = amg_options
        self._autosave = autosave
        self._worker = Worker(
            f"sam2_widget-{self.model_id}",
            on_error=self._show_error,
            on_idle=self._on_worker_idle,
            on_close=self._interrupt_work,
            background=self._background_work,
        )
        self._view_lock = threading.RLock()  # traits are set from the comm and the worker thread
        self._on_change: list[OnChange] = []
        self._last_timing = ""
        self.set_trait("_supported_messages", list(self._messages))
        self.on_msg(self._on_frontend_msg)

    @classmethod
    def load_session(
        cls,
        path: str | os.PathLike,
        source: Any = None,
        model: ModelArg | None = None,
        device: str = "auto",
        **options: Any,
    ) -> Sam2Widget:
        """A widget with a saved session restored exactly (objects, prompts, masks), of the kind
        the file was saved from (an image set or a clip: its format marker says which).

        ``source`` replaces the saved images or clip (e.g. after moving the files; it must be
        passed for an in-memory clip); ``model`` defaults to the one the session was saved with;
        ``autosave=path`` keeps autosaving (into the loaded file itself, if you like).
        """
        saved = read_session_file(path)
        widget_class = _widget_class(isinstance(saved, SavedVideoSession))
        if not issubclass(widget_class, cls):
            raise ValueError(
                f"{path} holds a session of {widget_class._shows}, which {cls.__name__} does "
                f"not show; load it with Sam2Widget.load_session."
            )
        return widget_class._restore(path, saved, source, model, device, **options)

    # -- Python API: reading ---------------------------------------------------

    @property
    def masks(self) -> dict[int, np.ndarray]:
        """``{obj_id: (H, W) bool}`` of the shown image or frame, in display order (what is drawn now)."""
        return self._session.masks(self.image_index)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every job queued so far is done (TimeoutError after ``timeout`` seconds).
        The Python methods already wait for their own masks; use this after clicking in the
        widget, or before reading ``results`` in a script."""
        self._worker.wait_idle(timeout)

    def on_change(self, callback: OnChange, remove: bool = False) -> None:
        """Call ``callback(widget, index, masks)`` whenever the masks of an image or frame change
        (new mask, undo, deletion, every tracked frame, ...); ``remove=True`` unregisters it.

        It runs on the thread that made the change, often the widget's worker thread:
        it may read the widget (``masks``, ``results``, traits) but not call its methods.
        """
        if remove:
            if callback in self._on_change:
                self._on_change.remove(callback)
        elif callback not in self._on_change:
            self._on_change.append(callback)

    def snapshot(self, size: int | tuple[int, int] | None = None, legend: bool = True) -> Image.Image:
        """The view as a PIL image: the shown image or frame with its masks (fill and outlines as
        drawn now), its points and boxes, and, when ``legend``, the objects listed to its right.

        ``size``: the picture's size, default the image's own; an int is its longest side;
        ``(width, height)`` fits the image into a canvas of that size, centred, as the widget
        does (then it matches the widget's canvas of that size). Markers are drawn at their
        size on screen, whatever the picture's size.
        """
        return render(self._view_state(), size, legend)

    def save_html(
        self,
        path: str | os.PathLike,
        indices: Iterable[int] | None = None,
        max_items: int = standalone_html.MAX_ITEMS,
        max_side: int = standalone_html.MAX_SIDE,
        jpeg_quality: int = standalone_html.JPEG_QUALITY,
    ) -> Path:
        """Write one self-contained HTML page of the images or frames with their masks, viewable in
        any browser without Python or a network: step through images or scrub frames, show or hide
        objects, change the opacity and outlines. Waits for pending work first.

        ``indices`` chooses the images or frames (default: all); more than ``max_items`` are
        subsampled evenly (every k-th), and each is stored as a JPEG of at most ``max_side``
        pixels a side at ``jpeg_quality`` with its masks at that size, which bounds the file
        (~100 KB a 960-pixel photo: 300 frames ~30 MB).
        """
        if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 16:
            raise ValueError(f"save_html: max_side must be an int of at least 16 pixels, got {max_side!r:.80}.")
        if isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, int) or not 1 <= jpeg_quality <= 100:
            raise ValueError(f"save_html: jpeg_quality must be an int in 1..100, got {jpeg_quality!r:.80}.")
        chosen, step = standalone_html.choose_indices(self.image_count, indices, max_items)
        self.wait_idle()
        names = self._page_names()

        def item(index: int) -> dict:
            pixels, masks = self._pixels(index), self._session.masks(index)
            return standalone_html.page_item(names(index), index, pixels, masks, max_side, jpeg_quality)

        kind = "frames" if self.is_video else "images"
        title, count = self._page_title(), self.image_count
        return standalone_html.write_page(
            path, title, kind, count, chosen, step, item, self.objects, self.opacity, self.outline
        )

    # -- Python API: objects, undo, navigation ------------------------------------

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
        """Remove an object with its prompts and masks everywhere."""
        self._call(self._apply, self._session.delete_object, obj_id)

    def merge_objects(self, ids: list[int]) -> int:
        """Merge objects ``ids`` (at least two) into the first; returns its id.

        On every image where any of them has a mask, the first object's mask becomes
        their union, as a mask without prompts (like a "segment everything" object: a
        click refines it, the union going in as ``mask_input``). Their prompts are
        dropped, since no prompts reproduce a union; the others are deleted. One undo
        step restores everything. Waits for pending masks first, so it merges what the
        prompts give. Not supported for clips (the session says why).
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
        """Show image or frame ``index`` (0-based); an image's embedding is computed in the background.

        An unreadable image or frame is shown as an error in the widget, and raises here.
        """
        self._call(self._goto, index)

    def segment_everything(self, **amg_options: Any) -> list[int]:
        """Run ``sam2_backend.AutomaticMaskGenerator(model, **amg_options)`` on the shown image or
        frame and add each mask as a new object (undoable, in one step); returns their ids.
        Options not given come from the widget's ``amg_options``.

        On an image these objects start as masks without prompts: a click on one refines its
        mask (the mask goes in as ``mask_input``), and removing the clicks brings it back. On a
        clip each mask is its object's mask prompt on that frame, ready to track.
        """
        return self._call(self._segment_everything, {**self._amg_options, **amg_options}).result()

    def close(self) -> None:
        """Stop the worker thread, close the widget and let go of the model and the image embeddings
        made with it (a model loaded by name is freed once no other widget uses it; one passed in is
        left to its owner). ``save_session`` still works."""
        worker = getattr(self, "_worker", None)  # None when __init__ failed before making it
        if worker is not None:
            worker.close()
        super().close()
        model = getattr(self, "_model", None)
        if isinstance(model, SAM2Model):
            self._model, device = ReleasedModel.of(model), model.device
            if hasattr(self, "_cache"):  # the image widget's embeddings, on the model's device
                self._cache = None
            del model
            free_device_cache(device)

    # -- what each widget implements ---------------------------------------------

    def _interrupt_work(self) -> None:
        """Cut a long running job short when the worker closes (the widget is closed or the
        interpreter exits); an image widget's jobs are short enough to wait for."""

    @classmethod
    def _restore(
        cls, path: str | os.PathLike, saved: Any, source: Any, model: ModelArg | None, device: str, **options: Any
    ) -> Sam2Widget:
        """``load_session`` for this kind of widget: ``saved`` is what ``read_session_file(path)`` read."""
        raise NotImplementedError

    def _apply(self, action: Callable[..., Any], *args: Any) -> tuple[Any, Futures]:
        """Run a session action, update the view, schedule the work it made due."""
        raise NotImplementedError

    def _goto(self, index: int) -> tuple[None, Futures]:
        """Show image or frame ``index``; raises for a bad index or an unreadable image."""
        raise NotImplementedError

    def _everything_input(self, index: int) -> Callable[[], np.ndarray]:
        """A reader of the (H, W, 3) pixels of ``index`` for the mask generator (checked now if cheap)."""
        raise NotImplementedError

    def _add_everything(self, index: int, records: list[dict]) -> tuple[list[int], Futures]:
        """Add the mask generator's ``records`` on ``index`` as new objects in one undo step;
        returns their ids and the work it scheduled (by way of :meth:`_apply`)."""
        raise NotImplementedError

    def _write_autosave(self, path: Path) -> None:
        """Write the session to ``path`` (the autosave's writer; same format as ``save_session``)."""
        raise NotImplementedError

    # -- autosave (sam2_widget/autosave.py) -------------------------------------

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

    # -- actions shared by messages and the Python API -------------------------

    def _call(self, op: Callable[..., tuple[Any, Futures]], *args: Any, wait: bool = True) -> Any:
        """Run a Python API action: show and raise bad input, then (``wait``) wait for the work it
        queued, re-raising its failure."""
        if self._worker.on_worker_thread():
            raise RuntimeError(
                "widget methods cannot be called from an on_change callback: they "
                "wait for the worker thread that runs the callback."
            )
        try:
            result, futures = op(*args)
        except Exception as e:  # shown in the widget too, then raised to the caller as it is
            self._show_error(e)
            raise
        self._clear_error()
        for future in futures if wait else ():
            future.result()  # re-raises a failed prediction (already shown in the widget)
        return result

    def _segment_everything(self, amg_options: Mapping[str, Any]) -> tuple[Future, Futures]:
        """Queue the mask generator on the shown image or frame; the future gives the new objects'
        ids once they are added and their masks are in place."""
        generator = mask_generator(self._model, amg_options)
        index = self.image_index
        pixels = self._everything_input(index)
        job = self._worker.submit(partial(self._segment_everything_job, index, generator, pixels))
        done: Future = Future()

        def added(_: Future) -> None:  # the job's (ids, work it scheduled): done when that work is
            error = failure(job)
            if error is not None:
                done.set_exception(error)
                return
            ids, scheduled = job.result()
            when_done(scheduled, lambda error: done.set_result(ids) if error is None else done.set_exception(error))

        job.add_done_callback(added)
        return done, [done]

    def _segment_everything_job(
        self, index: int, generator: AutomaticMaskGenerator, pixels: Callable[[], np.ndarray]
    ) -> tuple[list[int], Futures]:
        self._set_status("predicting", f"segmenting everything on {self._item} {index + 1}")
        start = time.perf_counter()
        records = generator.generate(pixels())
        self._last_timing = f"{len(records)} masks in {time.perf_counter() - start:.1f} s"
        return self._add_everything(index, records)

    def _background_work(self) -> bool:
        """One slice of low-priority work, run while no job waits (after ``_worker.wake()``);
        returns whether more is left. None here."""
        return False

    def _on_worker_idle(self) -> None:
        self._set_status("error" if self.error else "idle", self._last_timing)

    # -- the view ----------------------------------------------------------------

    def _notify(self, index: int, masks: dict[int, np.ndarray] | None = None) -> None:
        """Call the ``on_change`` callbacks with the masks of ``index`` (read now unless given)."""
        if not self._on_change:
            return
        if masks is None:
            masks = self._session.masks(index)
        for callback in list(self._on_change):
            try:
                callback(self, index, masks)
            except Exception as e:  # broad on purpose: user code must not break the widget's job or ack
                log.exception("on_change callback %r failed", callback)
                self._show_error(RuntimeError(f"on_change callback failed: {describe_error(e)}"))

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        """anywidget's bundle (the live view and text/plain) plus the view as ``image/png``, which is
        what a saved notebook shows where there is no widget state (GitHub, nbviewer, nbconvert).
        It is the view when the cell ran: updating it later would make JupyterLab render the
        widget a second time, so for the final view end a notebook with ``w.snapshot()``."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        side = min(NOTEBOOK_MAX_SIDE, max(self.image_width, self.image_height))
        if side <= 0:  # an image that could not be read: the widget says why, there is no picture
            return bundle
        try:
            png = png_bytes(self.snapshot(size=side))
        except Exception:  # broad on purpose: a picture that cannot be drawn must not hide the widget
            log.exception("sam2_widget: no static picture for the notebook")
            return bundle
        return {**data, "image/png": base64.b64encode(png).decode("ascii")}, metadata

    def _view_state(self) -> ViewState:
        """What the front end draws now, read under the view lock (traits change on two threads)."""
        with self._view_lock:
            return ViewState(
                self.image_width,
                self.image_height,
                self.image_jpeg,
                self.label_rle,
                objects=list(self.objects),
                prompts=list(self.prompts),
                selected_id=self.selected_id,
                opacity=self.opacity,
                outline=self.outline,
                title=self.image_name,
            )

    # What save_html reads of either widget: an image set's images (``_images``) or a clip's frames.

    def _pixels(self, index: int) -> np.ndarray:
        images = getattr(self, "_images", None)
        return images.pixels(index) if images is not None else self._session.tracker.source.get(index)

    def _page_names(self) -> Callable[[int], str]:
        images = getattr(self, "_images", None)
        return images.name if images is not None else (lambda index: f"frame {index + 1}")

    def _page_title(self) -> str:
        if self.is_video:
            return f"{self.image_count} frames"
        return self.image_name if self.image_count == 1 else f"{self.image_count} images"

    def _set_status(self, status: str, text: str) -> None:
        with self._view_lock, self.hold_sync():
            self.set_trait("status", status)
            self.set_trait("status_text", text)

    def _show_error(self, error: BaseException) -> None:
        message = describe_error(error)
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


def _widget_class(clip: bool) -> type[Sam2Widget]:
    """The widget for clips or for images: the subclass that declares it. Both are defined
    when the package is imported (sam2_widget/__init__.py imports widget.py, which imports both)."""
    for widget_class in Sam2Widget.__subclasses__():
        if widget_class._for_clips is clip:
            return widget_class
    raise RuntimeError(f"no widget for {'clips' if clip else 'images'}: import sam2_widget, not only its _base.")
