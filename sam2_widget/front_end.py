"""What the front end sees: the bundled JavaScript and the traits it draws (docs/widget_protocol.md).

``SyncedState`` is the base class of ``Sam2Widget``: every trait here is synced to
the browser; the kernel sets them (read-only for the user, except ``opacity`` and
``outline``), the front end draws them.
"""

from __future__ import annotations

import os
from pathlib import Path

import anywidget
import traitlets as t

# The traits the front end may write (the user's display choices); the kernel owns the rest.
FRONT_END_WRITABLE = frozenset({"opacity", "outline"})

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


def _bundle(name: str, fallback: str) -> Path | str:
    """The bundle's text. Not its path (except for live reload, ANYWIDGET_HMR=1): anywidget connects
    every instance to a path's change signal with a strong reference, so no widget, nor the model
    it holds, would ever be freed."""
    path = _STATIC / name
    if not path.is_file():
        return fallback
    return path if os.environ.get("ANYWIDGET_HMR") else path.read_text(encoding="utf-8")


class SyncedState(anywidget.AnyWidget):
    """The front-end bundle and the synced traits both widgets have ("image" reads "frame" on a clip)."""

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
    _supported_messages = t.List(t.Unicode(), read_only=True).tag(sync=True)
    """The message types this widget handles: the front end shows only their controls."""
    is_video = t.Bool(False, read_only=True).tag(sync=True)
    """Whether the source is a clip (then "image" means frame, and the timeline is shown)."""
    prompt_frames = t.List(t.Int(), read_only=True).tag(sync=True)
    """Videos: sorted frames holding any prompt."""
    tracked = t.List(t.Dict(), read_only=True).tag(sync=True)
    """Videos: ``{"obj_id", "ranges": [[first, last], ...]}`` frames where each object's mask is non-empty."""
    lanes = t.Dict(read_only=True).tag(sync=True)
    """Videos: ``{"obj_ids", "num_frames", "confidence", "changes"}``, the timeline's confidence and
    change bytes per object and frame (docs/widget_protocol.md); patched by ``lanes`` messages while tracking."""
    memory = t.Dict(read_only=True).tag(sync=True)
    """Videos: ``{"name", "options"}``, the tracker's memory policy (``set_memory`` changes it)."""
    progress = t.Dict(read_only=True).tag(sync=True)
    """Videos: ``{"running", "direction", "done", "total", "fps", "eta_s", "cancelled"}`` of tracking."""
    masks_version = t.Int(0, read_only=True).tag(sync=True)
    """Videos: bumped whenever masks change, so the front end knows which cached frames are stale."""
    review = t.Dict(read_only=True).tag(sync=True)
    """Image sets: the shown image's review status and note, the set's counts and the filter
    (``{}`` when review is off; docs/widget_protocol.md, "Dataset review")."""
    thumbs_version = t.Int(0, read_only=True).tag(sync=True)
    """Image sets: bumped whenever an image's status, note or masks change (thumbnails to re-fetch)."""

    def set_state(self, sync_data: dict) -> None:
        """An update from the front end: only :data:`FRONT_END_WRITABLE` traits with valid values
        are taken. Anything else (a forged ``image_index``, an opacity of 5) is dropped and the
        kernel's values are sent back, so the view and the kernel never disagree."""
        taken = {k: v for k, v in sync_data.items() if k in FRONT_END_WRITABLE}
        try:
            super().set_state(taken)
        except t.TraitError:
            taken = {}
        refused = [k for k in sync_data if k in self.keys and k not in taken]
        if refused:
            self.send_state(refused)
