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
  the model's low-resolution grid as logits of +-``MASK_LOGIT``, 10), so the click
  refines that mask instead of starting over; removing every prompt brings the
  seed back.

The state is immutable snapshots (:class:`SessionState`), so undo/redo is two
stacks of references. Masks are stored as row-major run lengths
(``sam2_backend.rle.encode_mask``). Selection, names, colours and
visibility are not undone: they are how you look at the work, not the work.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from sam2_backend import ImagePredictor
from sam2_backend.inputs import check_object_mask
from sam2_backend.rle import decode_mask, encode_mask
from sam2_backend.transforms import mask_to_low_res_logits

from .checks import check_index, check_int, to_host
from .history import History
from .images import ImageSet
from .objects import ObjectInfo, ObjectList, ObjectRegistry
from .prompts import Box, Point, Prompt, check_box, check_clicks, of_object, with_box


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
    """One undo step: the objects (display order) with the selection, and every image's state."""

    objects: ObjectList
    images: tuple[ImageState, ...]

    @property
    def object_ids(self) -> tuple[int, ...]:
        return self.objects.ids

    @property
    def selected_id(self) -> int:
        return self.objects.selected_id


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
        self._state = SessionState(ObjectList(), tuple(ImageState() for _ in range(len(images))))
        self._registry = ObjectRegistry()
        self._history: History[SessionState] = History()

    # -- reading ---------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def next_id(self) -> int:
        return self._registry.next_id

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    def objects(self) -> list[ObjectInfo]:
        """The current objects in display order."""
        with self.lock:
            return self._registry.listed(self._state.objects)

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
        with self.lock:
            objects, obj_id = self._registry.add(self._state.objects, name)
            self._commit(replace(self._state, objects=objects))
            return obj_id

    def delete_object(self, obj_id: int) -> None:
        """Remove an object and its prompts and masks on every image (undoable)."""
        with self.lock:
            s = self._state
            obj_id = s.objects.check(obj_id)
            self._commit(
                SessionState(s.objects.removed([obj_id]), tuple(_without_object(img, obj_id) for img in s.images))
            )

    def select_object(self, obj_id: int) -> None:
        """Make ``obj_id`` the object new prompts go to (0: none, the next click makes one)."""
        with self.lock:
            self._state = replace(self._state, objects=self._state.objects.selecting(obj_id))

    def rename_object(self, obj_id: int, name: str) -> None:
        with self.lock:
            self._registry.rename(self._state.objects, obj_id, name)

    def set_visible(self, obj_id: int, visible: bool) -> None:
        with self.lock:
            self._registry.set_visible(self._state.objects, obj_id, visible)

    def add_mask_objects(self, index: int, masks: Sequence[tuple[np.ndarray, float]]) -> list[int]:
        """New mask-only objects on image ``index``, one per ``(HxW bool mask, score)`` (one undo step)."""
        index = self.check_index(index)
        hw = self.images.size(index)
        entries = [make_entry(check_object_mask(to_host(mask), hw), score, ((), True)) for mask, score in masks]
        if not entries:
            return []
        with self.lock:
            state, ids = self._state, []
            for entry in entries:
                objects, obj_id = self._registry.add(state.objects)
                state = replace(state, objects=objects)
                img = state.images[index]
                img = replace(img, seeds={**img.seeds, obj_id: entry}, masks={**img.masks, obj_id: entry})
                state = _with_image(state, index, img)
                ids.append(obj_id)
            self._commit(state)
            return ids

    def add_seed_objects(self, index: int, seeds: Sequence[tuple[int, str, np.ndarray]]) -> None:
        """Existing labels of image ``index`` as mask-only objects, one per ``(obj_id, name, runs)``
        (``runs``: row-major, as stored; kept as given). Not an undo step: they are added to every
        undo snapshot too, as if they had always been there, so no undo takes them away.
        Nothing is selected. ``obj_id`` must be new."""
        index = self.check_index(index)
        if not seeds:
            return
        with self.lock:
            taken = [obj_id for obj_id, _, _ in seeds if self._registry.known(obj_id)]
            if taken:
                raise ValueError(f"object id {taken[0]} is taken; existing labels need new ids.")
            for obj_id, name, _ in seeds:
                self._registry.register(obj_id, name)
            entries = {obj_id: MaskEntry(runs, 1.0, ((), True)) for obj_id, _, runs in seeds}

            def seeded(state: SessionState) -> SessionState:
                img = state.images[index]
                img = replace(img, seeds={**img.seeds, **entries}, masks={**img.masks, **entries})
                objects = replace(state.objects, ids=state.objects.ids + tuple(entries))
                return _with_image(replace(state, objects=objects), index, img)

            self._state = seeded(self._state)
            self._history.update(seeded)

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
        # Every check is linear in len(ids): a message with 100,000 ids is refused in milliseconds.
        checked = [check_int(i, "object id") for i in ids]
        if len(checked) < 2:
            raise ValueError(f"merging needs at least two object ids, got {checked}.")
        repeated = sorted(i for i, n in Counter(checked).items() if n > 1)
        if repeated:
            shown = ", ".join(map(str, repeated[:10])) + (
                f" and {len(repeated) - 10} more" if len(repeated) > 10 else ""
            )
            raise ValueError(f"each object can be merged once; repeated ids: {shown}.")
        with self.lock:
            s = self._state
            merged = [s.objects.check(i) for i in checked]
            first, gone = merged[0], set(merged)
            for index, img in enumerate(s.images):
                stale = [o for o in img.stale_objects() if o in gone]
                if stale:
                    raise ValueError(
                        f"the mask of object {stale[0]} on image {index + 1} is not predicted "
                        "from its prompts yet (still pending, or its prediction failed); "
                        "merge when the widget is idle. Nothing was changed."
                    )
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
            self._commit(SessionState(s.objects.removed(gone - {first}).selecting(first), tuple(images)))
            return first

    # -- prompts ---------------------------------------------------------------

    def add_points(self, index: int, points: Any, labels: Any, obj_id: int | None = None) -> int:
        """Record clicks (N, 2) as (x, y) pixels with labels (N,) for ``obj_id`` (default: the
        selected object, or a new one); returns the object id. One undo step."""
        index = self.check_index(index)
        clicks = check_clicks(points, labels, self.images.size(index))
        with self.lock:
            state, obj_id = self._target(obj_id)
            new = tuple(Point(obj_id, *click) for click in clicks)
            img = state.images[index]
            self._commit(_with_image(state, index, _settled(replace(img, prompts=img.prompts + new))))
            return obj_id

    def add_box(self, index: int, box: Any, obj_id: int | None = None) -> int:
        """Record a box (x0, y0, x1, y1) in pixels for ``obj_id`` (default as in :meth:`add_points`),
        replacing the object's box on this image; returns the object id. One undo step."""
        index = self.check_index(index)
        xyxy = check_box(box, self.images.size(index))
        with self.lock:
            state, obj_id = self._target(obj_id)
            img = state.images[index]
            prompts = with_box(img.prompts, Box(obj_id, *xyxy))
            self._commit(_with_image(state, index, _settled(replace(img, prompts=prompts))))
            return obj_id

    def remove_prompt(self, index: int, prompt_index: int) -> None:
        """Delete prompt ``prompt_index`` (into :meth:`prompts`) of image ``index`` (undoable)."""
        index = self.check_index(index)
        with self.lock:
            img = self._state.images[index]
            k = check_int(prompt_index, "prompt index")
            if not 0 <= k < len(img.prompts):
                raise ValueError(f"prompt index {k} is out of range: image {index + 1} has {len(img.prompts)} prompts.")
            self._set_prompts(index, img.prompts[:k] + img.prompts[k + 1 :])

    def clear_object(self, index: int, obj_id: int | None = None) -> bool:
        """Delete the prompts of ``obj_id`` (default: the selected object) on image ``index``;
        returns whether there were any (undoable)."""
        index = self.check_index(index)
        with self.lock:
            obj_id = self._state.selected_id if obj_id is None else self._state.objects.check(obj_id)
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
            return self._go_to(self._history.undo(self._state))

    def redo(self) -> bool:
        """Redo the last undone step; returns False when there is nothing to redo."""
        with self.lock:
            return self._go_to(self._history.redo(self._state))

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
        points, box = of_object(prompts, obj_id)
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
            self._history.update(lambda s: _filled(s, index, obj_id, entry))
            return self._state is not before

    # -- persistence -----------------------------------------------------------

    def reserve_ids(self, max_id: int) -> None:
        """New objects get ids above ``max_id`` (kept for existing labels not added yet)."""
        with self.lock:
            self._registry.reserve(max_id)

    def restore(self, objects: Sequence[ObjectInfo], next_id: int, state: SessionState) -> None:
        """Replace everything with a saved state (history is cleared)."""
        if len(state.images) != len(self.images):
            raise ValueError(f"the saved session has {len(state.images)} images, the source has {len(self.images)}.")
        with self.lock:
            self._registry.restore(objects, next_id)
            self._state = replace(state, images=tuple(_settled(img) for img in state.images))
            self._history.clear()

    # -- internals -------------------------------------------------------------

    def _commit(self, state: SessionState) -> None:
        self._history.push(self._state)
        self._state = state

    def _go_to(self, state: SessionState | None) -> bool:
        if state is None:
            return False
        self._state = state
        return True

    def _set_prompts(self, index: int, prompts: tuple[Prompt, ...]) -> bool:
        img = self._state.images[index]
        if prompts == img.prompts:
            return False
        self._commit(_with_image(self._state, index, _settled(replace(img, prompts=prompts))))
        return True

    def _target(self, obj_id: int | None) -> tuple[SessionState, int]:
        """The state to build on and the object prompts go to; makes one if none is selected."""
        objects, obj_id = self._registry.target(self._state.objects, obj_id)
        return replace(self._state, objects=objects), obj_id

    def check_index(self, index: int) -> int:
        return check_index(index, len(self.images), "image", "set")


def seed_logits(mask: np.ndarray, image_size: int) -> np.ndarray:
    """An (H, W) bool mask as (1, s, s) low-resolution logits (s = image_size / 4), for ``mask_input``.

    Squashed to a square like the image itself (see ``sam2_backend.transforms``).
    """
    m = torch.from_numpy(np.ascontiguousarray(mask))[None, None]
    return mask_to_low_res_logits(m, image_size)[0].numpy()


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
    return replace(state, images=state.images[:index] + (img,) + state.images[index + 1 :])


def _without_object(img: ImageState, obj_id: int) -> ImageState:
    if obj_id not in img.masks and obj_id not in img.seeds and not img.object_prompts(obj_id):
        return img
    return ImageState(
        tuple(p for p in img.prompts if p.obj_id != obj_id),
        {o: e for o, e in img.seeds.items() if o != obj_id},
        {o: e for o, e in img.masks.items() if o != obj_id},
    )
