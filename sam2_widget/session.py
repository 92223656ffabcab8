"""Objects, prompts and masks of an image set, with undo/redo. Pure Python, no widget.

The widget's comm handler and Python API record actions here; its worker thread
turns prompts into masks with :meth:`Session.predict`, the one place an
``ImagePredictor`` is asked for a mask.

How prompts become masks (choices where the SAM 2 demo and CVAT leave room):

* An object's mask on an image is a pure function of its prompts there: all its
  points and its box go into one ``predict`` call, with ``multimask`` only for a
  lone click (the best-scoring of the three candidates is kept).
* The previous low-resolution logits are *not* fed back as ``mask_input``. The
  official demo does that for refinement clicks, but then a mask depends on the
  order and timing of predictions: undo, removing a prompt, rapid clicks that
  were coalesced and a reloaded session would all give other masks for the same
  prompts. Here the same prompts always give the same mask.
* Objects from "segment everything" start as a *seed* mask with no prompts. A
  click on such an object predicts with the seed as ``mask_input`` (squashed to
  the model's low-resolution grid as logits of +-``SEED_LOGIT``), so the click
  refines that mask instead of starting over; removing every prompt brings the
  seed back.

The state is immutable snapshots (:class:`SessionState`), so undo/redo is two
stacks of references. Masks are stored as row-major run lengths
(``sam2_backend.video.results.encode_mask``). Selection, names, colours and
visibility are not undone: they are how you look at the work, not the work.
"""

from __future__ import annotations

import operator
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from sam2_backend import ImagePredictor
from sam2_backend.inputs import check_boxes, check_points
from sam2_backend.video.results import decode_mask, encode_mask

from .colors import color_for
from .images import ImageSet

SEED_LOGIT = 10.0  # sigmoid(10) ~ 0.99995: a confident prior that new clicks can still overrule
MAX_UNDO = 200


@dataclass(frozen=True)
class Point:
    """A click: (x, y) in original-image pixels, label 1 positive / 0 negative."""

    obj_id: int
    x: float
    y: float
    label: int

    def to_dict(self) -> dict:
        return {"obj_id": self.obj_id, "type": "point", "x": self.x, "y": self.y, "label": self.label}


@dataclass(frozen=True)
class Box:
    """A box, XYXY in original-image pixels (an object has at most one per image)."""

    obj_id: int
    x0: float
    y0: float
    x1: float
    y1: float

    def to_dict(self) -> dict:
        return {"obj_id": self.obj_id, "type": "box", "x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1}


Prompt = Union[Point, Box]


def prompt_from_dict(d: Mapping[str, Any]) -> Prompt:
    """Inverse of ``Point.to_dict`` / ``Box.to_dict``."""
    if d["type"] == "point":
        return Point(int(d["obj_id"]), float(d["x"]), float(d["y"]), int(d["label"]))
    if d["type"] == "box":
        return Box(int(d["obj_id"]), float(d["x0"]), float(d["y0"]), float(d["x1"]), float(d["y1"]))
    raise ValueError(f"unknown prompt type {d['type']!r}")


@dataclass(frozen=True)
class ObjectInfo:
    """What the object list shows: id, name, ``#rrggbb`` colour, visibility."""

    id: int
    name: str
    color: str
    visible: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class MaskEntry:
    """One object's mask on one image: row-major run lengths, its score, and the
    prompt key it was computed from (stale once the object's prompts change)."""

    runs: np.ndarray
    score: float
    key: tuple | None

    def mask(self, hw: tuple[int, int]) -> np.ndarray:
        return decode_mask(self.runs, *hw)


def make_entry(mask: np.ndarray, score: float, key: tuple | None) -> MaskEntry:
    runs = encode_mask(mask)
    runs.flags.writeable = False  # shared by snapshots
    return MaskEntry(runs, float(score), key)


@dataclass(frozen=True)
class ImageState:
    """Prompts (in display order), seed masks and current masks of one image."""

    prompts: tuple[Prompt, ...] = ()
    seeds: Mapping[int, MaskEntry] = field(default_factory=dict)
    masks: Mapping[int, MaskEntry] = field(default_factory=dict)

    def object_prompts(self, obj_id: int) -> tuple[Prompt, ...]:
        return tuple(p for p in self.prompts if p.obj_id == obj_id)

    def key(self, obj_id: int) -> tuple:
        """What the object's mask here is a function of."""
        return self.object_prompts(obj_id), obj_id in self.seeds

    def stale_objects(self) -> list[int]:
        """Objects with prompts whose mask is missing or was computed from other prompts."""
        prompted = dict.fromkeys(p.obj_id for p in self.prompts)
        return [o for o in prompted if o not in self.masks or self.masks[o].key != self.key(o)]


@dataclass(frozen=True)
class SessionState:
    """One undo step: the objects (display order), the selection and every image's state."""

    object_ids: tuple[int, ...]
    selected_id: int
    images: tuple[ImageState, ...]


class Session:
    """Objects, prompts and masks of every image of ``images``, with undo/redo.

    Actions validate everything first and raise ``ValueError`` (bad values),
    ``TypeError`` (wrong types), ``KeyError`` (unknown object) or
    ``ImageReadError`` (unreadable image) without changing anything. Each
    action that changes prompts or objects is one undo step. Thread-safe:
    every read and write holds :attr:`lock`.
    """

    def __init__(self, images: ImageSet) -> None:
        self.images = images
        self.lock = threading.RLock()
        self._state = SessionState((), 0, tuple(ImageState() for _ in range(len(images))))
        self._info: dict[int, ObjectInfo] = {}  # every object ever made, so undo can bring one back
        self._next_id = 1  # ids are never reused, not even after undo
        self._undo: list[SessionState] = []
        self._redo: list[SessionState] = []

    # -- reading ---------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def next_id(self) -> int:
        return self._next_id

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def objects(self) -> list[ObjectInfo]:
        """The current objects in display order."""
        with self.lock:
            return [self._info[o] for o in self._state.object_ids]

    def prompts(self, index: int) -> tuple[Prompt, ...]:
        return self._state.images[self.check_index(index)].prompts

    def mask_entries(self, index: int) -> dict[int, MaskEntry]:
        """``{obj_id: MaskEntry}`` of one image, in display order."""
        with self.lock:
            masks = self._state.images[self.check_index(index)].masks
            return {o: masks[o] for o in self._state.object_ids if o in masks}

    def masks(self, index: int) -> dict[int, np.ndarray]:
        """``{obj_id: (H, W) bool}`` of one image, in display order."""
        entries = self.mask_entries(index)
        if not entries:
            return {}
        hw = self.images.size(index)
        return {o: e.mask(hw) for o, e in entries.items()}

    def stale(self) -> list[tuple[int, int]]:
        """``(image index, obj_id)`` of every mask that needs a prediction."""
        with self.lock:
            return [(i, o) for i, img in enumerate(self._state.images) for o in img.stale_objects()]

    # -- objects ---------------------------------------------------------------

    def add_object(self, name: str | None = None) -> int:
        """A new object, appended and selected (undoable); returns its id."""
        if name is not None:
            name = _check_name(name)
        with self.lock:
            state, obj_id = self._with_new_object(self._state, name)
            self._commit(state)
            return obj_id

    def delete_object(self, obj_id: int) -> None:
        """Remove an object and its prompts and masks on every image (undoable)."""
        with self.lock:
            obj_id = self._check_object(obj_id)
            s = self._state
            images = tuple(_without_object(img, obj_id) for img in s.images)
            self._commit(SessionState(
                tuple(o for o in s.object_ids if o != obj_id),
                0 if s.selected_id == obj_id else s.selected_id,
                images,
            ))

    def select_object(self, obj_id: int) -> None:
        """Make ``obj_id`` the object new prompts go to (0: none, the next click makes one)."""
        with self.lock:
            if obj_id != 0:
                obj_id = self._check_object(obj_id)
            self._state = replace(self._state, selected_id=obj_id)

    def rename_object(self, obj_id: int, name: str) -> None:
        name = _check_name(name)
        with self.lock:
            obj_id = self._check_object(obj_id)
            self._info[obj_id] = replace(self._info[obj_id], name=name)

    def set_visible(self, obj_id: int, visible: bool) -> None:
        if not isinstance(visible, (bool, np.bool_)):
            raise TypeError(f"visible must be True or False, got {visible!r}.")
        with self.lock:
            obj_id = self._check_object(obj_id)
            self._info[obj_id] = replace(self._info[obj_id], visible=bool(visible))

    def add_mask_objects(self, index: int, masks: Sequence[tuple[np.ndarray, float]]) -> list[int]:
        """New mask-only objects on image ``index``, one per ``(HxW bool mask, score)`` (one undo step)."""
        index = self.check_index(index)
        hw = self.images.size(index)
        entries = []
        for mask, score in masks:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != hw:
                raise ValueError(f"a seed mask must be an {hw} bool array, got {mask.dtype} {mask.shape}.")
            entries.append(make_entry(mask, score, ((), True)))
        if not entries:
            return []
        with self.lock:
            state, ids = self._state, []
            for entry in entries:
                state, obj_id = self._with_new_object(state, None)
                img = state.images[index]
                img = replace(img, seeds={**img.seeds, obj_id: entry}, masks={**img.masks, obj_id: entry})
                state = _with_image(state, index, img)
                ids.append(obj_id)
            self._commit(state)
            return ids

    def merge_objects(self, ids: Sequence[int]) -> int:
        """Merge objects ``ids`` (at least two, all existing) into the first; returns its id.

        On every image where any of them has a mask, the first object's mask becomes
        the union of their masks, stored as a mask-only object (like those of
        "segment everything"): a later click refines the union, which goes in as
        ``mask_input``. Their prompts are dropped: a union of masks has no prompt set
        that reproduces it, and keeping them would turn the first click after the
        merge into a prediction from the first object's old prompts alone. The
        other objects are deleted; the first keeps its name, colour, visibility and
        place, and is selected. The score is the lowest of the merged masks'
        (a union is only as sure as its least sure part). One undo step.

        Raises ``ValueError`` for fewer than two ids, repeated ids, or a mask that is
        not predicted from its prompts yet (pending or failed: merge when idle),
        ``TypeError`` for a non-int id, ``KeyError`` for an unknown one; nothing changes then.
        """
        if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, np.ndarray)):
            raise TypeError(f"ids must be a list of object ids, got {type(ids).__name__} {ids!r:.80}.")
        checked = [_check_int(i, "object id") for i in ids]
        if len(checked) < 2:
            raise ValueError(f"merging needs at least two object ids, got {checked}.")
        repeated = sorted({i for i in checked if checked.count(i) > 1})
        if repeated:
            raise ValueError(f"each object can be merged once; repeated ids: {', '.join(map(str, repeated))}.")
        with self.lock:
            merged = [self._check_object(i) for i in checked]
            s = self._state
            for index, img in enumerate(s.images):
                stale = [o for o in img.stale_objects() if o in merged]
                if stale:
                    raise ValueError(f"the mask of object {stale[0]} on image {index + 1} is not predicted "
                                     "from its prompts yet (still pending, or its prediction failed); "
                                     "merge when the widget is idle. Nothing was changed.")
            first, gone = merged[0], set(merged)
            images = []
            for index, img in enumerate(s.images):
                if not gone & (img.masks.keys() | img.seeds.keys() | {p.obj_id for p in img.prompts}):
                    images.append(img)
                    continue
                seeds = {o: e for o, e in img.seeds.items() if o not in gone}
                masks = {o: e for o, e in img.masks.items() if o not in gone}
                parts = [img.masks[o] for o in merged if o in img.masks]
                if parts:
                    hw = self.images.size(index)
                    union = np.zeros(hw, dtype=bool)
                    for entry in parts:
                        union |= entry.mask(hw)
                    entry = make_entry(union, min(e.score for e in parts), ((), True))
                    seeds[first] = masks[first] = entry
                images.append(ImageState(tuple(p for p in img.prompts if p.obj_id not in gone), seeds, masks))
            self._commit(SessionState(
                tuple(o for o in s.object_ids if o == first or o not in gone),
                first,
                tuple(images),
            ))
            return first

    # -- prompts ---------------------------------------------------------------

    def add_points(self, index: int, points: Any, labels: Any, obj_id: int | None = None) -> int:
        """Record clicks (N, 2) as (x, y) pixels with labels (N,) for ``obj_id`` (default: the
        selected object, or a new one); returns the object id. One undo step."""
        index = self.check_index(index)
        hw = self.images.size(index)
        pts, lab = check_points(points, labels, hw)
        if pts.shape[0] != 1:
            raise ValueError(f"points must have shape (N, 2) for one object; got {np.shape(points)}.")
        xy = _float64(points).reshape(-1, 2)
        with self.lock:
            state, obj_id = self._target(obj_id)
            new = tuple(Point(obj_id, float(x), float(y), int(label)) for (x, y), label in zip(xy, lab[0]))
            img = state.images[index]
            self._commit(_with_image(state, index, _settled(replace(img, prompts=img.prompts + new))))
            return obj_id

    def add_box(self, index: int, box: Any, obj_id: int | None = None) -> int:
        """Record a box (x0, y0, x1, y1) in pixels for ``obj_id`` (default as in :meth:`add_points`),
        replacing the object's box on this image; returns the object id. One undo step."""
        index = self.check_index(index)
        hw = self.images.size(index)
        if check_boxes(box, hw).shape[0] != 1:
            raise ValueError(f"box must have shape (4,) for one object; got {np.shape(box)}.")
        x0, y0, x1, y1 = (float(v) for v in _float64(box).reshape(4))
        with self.lock:
            state, obj_id = self._target(obj_id)
            new = Box(obj_id, x0, y0, x1, y1)
            img = state.images[index]
            old = next((k for k, p in enumerate(img.prompts) if isinstance(p, Box) and p.obj_id == obj_id), None)
            prompts = img.prompts + (new,) if old is None else img.prompts[:old] + (new,) + img.prompts[old + 1:]
            self._commit(_with_image(state, index, _settled(replace(img, prompts=prompts))))
            return obj_id

    def remove_prompt(self, index: int, prompt_index: int) -> None:
        """Delete prompt ``prompt_index`` (into :meth:`prompts`) of image ``index`` (undoable)."""
        index = self.check_index(index)
        with self.lock:
            img = self._state.images[index]
            k = _check_int(prompt_index, "prompt index")
            if not 0 <= k < len(img.prompts):
                raise ValueError(f"prompt index {k} is out of range: image {index + 1} has "
                                 f"{len(img.prompts)} prompts.")
            self._set_prompts(index, img.prompts[:k] + img.prompts[k + 1:])

    def clear_object(self, index: int, obj_id: int | None = None) -> bool:
        """Delete the prompts of ``obj_id`` (default: the selected object) on image ``index``;
        returns whether there were any (undoable)."""
        index = self.check_index(index)
        with self.lock:
            obj_id = self._state.selected_id if obj_id is None else self._check_object(obj_id)
            img = self._state.images[index]
            kept = tuple(p for p in img.prompts if p.obj_id != obj_id)
            return self._set_prompts(index, kept)

    def clear_image(self, index: int) -> bool:
        """Delete every prompt on image ``index``; returns whether there were any (undoable)."""
        index = self.check_index(index)
        with self.lock:
            return self._set_prompts(index, ())

    # -- history ---------------------------------------------------------------

    def undo(self) -> bool:
        """Go back one step; returns False when there is nothing to undo."""
        with self.lock:
            if not self._undo:
                return False
            self._redo.append(self._state)
            self._state = self._undo.pop()
            return True

    def redo(self) -> bool:
        """Redo the last undone step; returns False when there is nothing to redo."""
        with self.lock:
            if not self._redo:
                return False
            self._undo.append(self._state)
            self._state = self._redo.pop()
            return True

    # -- prompts -> masks ------------------------------------------------------

    def predict(self, index: int, obj_id: int, predictor: ImagePredictor) -> bool:
        """Compute the mask of ``obj_id`` on image ``index`` from its current prompts.

        ``predictor`` must hold this image's embedding. Only the model call runs
        outside the lock; the result is stored into the current state and every
        undo/redo snapshot with the same prompts for this object, unless the
        prompts changed meanwhile (then a newer prediction is due anyway).
        Returns whether the current masks changed.
        """
        with self.lock:
            img = self._state.images[index]
            key = img.key(obj_id)
            prompts, _ = key
            current = img.masks.get(obj_id)
            if not prompts or (current is not None and current.key == key):
                return False
            seed = img.seeds.get(obj_id)
        hw = self.images.size(index)
        points = [p for p in prompts if isinstance(p, Point)]
        box = next((p for p in prompts if isinstance(p, Box)), None)
        pred = predictor.predict(
            points=[[p.x, p.y] for p in points] if points else None,
            labels=[p.label for p in points] if points else None,
            box=None if box is None else [box.x0, box.y0, box.x1, box.y1],
            mask_input=None if seed is None else seed_logits(seed.mask(hw), predictor.model.image_size),
            multimask=len(points) == 1 and box is None and seed is None,
        )
        best = int(np.argmax(pred.scores))
        entry = make_entry(pred.masks[best], pred.scores[best], key)
        with self.lock:
            before = self._state
            self._state = _filled(self._state, index, obj_id, entry)
            self._undo = [_filled(s, index, obj_id, entry) for s in self._undo]
            self._redo = [_filled(s, index, obj_id, entry) for s in self._redo]
            return self._state is not before

    # -- persistence -----------------------------------------------------------

    def restore(self, objects: Sequence[ObjectInfo], next_id: int, state: SessionState) -> None:
        """Replace everything with a saved state (history is cleared)."""
        if len(state.images) != len(self.images):
            raise ValueError(f"the saved session has {len(state.images)} images, the source has {len(self.images)}.")
        with self.lock:
            self._info = {o.id: o for o in objects}
            self._next_id = next_id
            self._state = replace(state, images=tuple(_settled(img) for img in state.images))
            self._undo.clear()
            self._redo.clear()

    # -- internals -------------------------------------------------------------

    def _commit(self, state: SessionState) -> None:
        self._undo.append(self._state)
        del self._undo[:-MAX_UNDO]
        self._redo.clear()
        self._state = state

    def _set_prompts(self, index: int, prompts: tuple[Prompt, ...]) -> bool:
        img = self._state.images[index]
        if prompts == img.prompts:
            return False
        self._commit(_with_image(self._state, index, _settled(replace(img, prompts=prompts))))
        return True

    def _with_new_object(self, state: SessionState, name: str | None) -> tuple[SessionState, int]:
        obj_id = self._next_id
        self._next_id += 1
        self._info[obj_id] = ObjectInfo(obj_id, name or f"object {obj_id}", color_for(obj_id))
        return replace(state, object_ids=state.object_ids + (obj_id,), selected_id=obj_id), obj_id

    def _target(self, obj_id: int | None) -> tuple[SessionState, int]:
        """The state to build on and the object prompts go to; makes one if none is selected."""
        if obj_id is not None:
            return self._state, self._check_object(obj_id)
        if self._state.selected_id:
            return self._state, self._state.selected_id
        return self._with_new_object(self._state, None)

    def check_index(self, index: int) -> int:
        index = _check_int(index, "image index")
        if not 0 <= index < len(self.images):
            raise ValueError(f"image index {index} is out of range: the set has {len(self.images)} "
                             f"images (0 to {len(self.images) - 1}).")
        return index

    def _check_object(self, obj_id: int) -> int:
        obj_id = _check_int(obj_id, "object id")
        if obj_id not in self._state.object_ids:
            known = ", ".join(map(str, self._state.object_ids)) or "none yet"
            raise KeyError(f"unknown object id {obj_id} (objects: {known}); add one with add_object().")
        return obj_id


def seed_logits(mask: np.ndarray, image_size: int) -> np.ndarray:
    """An (H, W) bool mask as (1, s, s) low-resolution logits (s = image_size / 4), for ``mask_input``.

    Squashed to a square like the image itself (see ``sam2_backend.transforms``).
    """
    s = image_size // 4
    m = torch.from_numpy(np.ascontiguousarray(mask)).float()[None, None]
    low = F.interpolate(m, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
    return ((low[0] * 2 - 1) * SEED_LOGIT).numpy()


def _settled(img: ImageState) -> ImageState:
    """Masks that need no model: none for an object without prompts, its seed for a mask-only one."""
    prompted = {p.obj_id for p in img.prompts}
    masks = {o: e for o, e in img.masks.items() if o in prompted}
    masks.update({o: e for o, e in img.seeds.items() if o not in prompted})
    same = masks.keys() == img.masks.keys() and all(masks[o] is img.masks[o] for o in masks)
    return img if same else replace(img, masks=masks)


def _filled(state: SessionState, index: int, obj_id: int, entry: MaskEntry) -> SessionState:
    """``state`` with ``entry`` as the object's mask on image ``index``, if computed from its prompts there."""
    img = state.images[index]
    current = img.masks.get(obj_id)
    if img.key(obj_id) != entry.key or (current is not None and current.key == entry.key):
        return state
    return _with_image(state, index, replace(img, masks={**img.masks, obj_id: entry}))


def _with_image(state: SessionState, index: int, img: ImageState) -> SessionState:
    return replace(state, images=state.images[:index] + (img,) + state.images[index + 1:])


def _without_object(img: ImageState, obj_id: int) -> ImageState:
    if obj_id not in img.masks and obj_id not in img.seeds and not img.object_prompts(obj_id):
        return img
    return ImageState(
        tuple(p for p in img.prompts if p.obj_id != obj_id),
        {o: e for o, e in img.seeds.items() if o != obj_id},
        {o: e for o, e in img.masks.items() if o != obj_id},
    )


def _check_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, got {value!r}.")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}.") from None


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"an object name must be a non-empty string, got {name!r}.")
    return name.strip()


def _float64(value: Any) -> np.ndarray:
    """Coordinates as given (already validated), without the float32 rounding of the checks."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)
