"""Objects and prompts of a video clip on top of a ``VideoTracker``. No widget code.

The widget records prompts here on the comm thread (cheap, under :attr:`lock`);
its worker thread then calls :meth:`VideoSession.apply` for each (frame, object)
whose prompts changed, the one place the tracker is asked for a prompt mask.
Masks live in the tracker's ``results`` (a ``TrackResults``), which is what the
widget shows and what ``Sam2Widget.results`` returns.

How prompts become tracker calls (so a scripted ``VideoTracker`` session can
reproduce a widget session call for call):

* the points and box of one object on one frame go in together, replacing what
  the tracker had there: ``add_box(frame, obj, box, points, labels)`` when there
  is a box, else ``add_points(frame, obj, points, labels, clear_old=True)``;
* a mask from Python (``add_mask``) replaces that object's points and box on
  that frame, and a later click replaces the mask;
* no prompt left for an object on a frame: ``clear_prompts(frame, obj)``.

Undo and redo (choices where the SAM 2 demo, which has none, and CVAT leave room):

* A step is an action on prompts or objects: a prompt added or removed, an object
  or frame cleared, an object added or deleted. Selection, names, colours and
  visibility are not steps (as for images), nor is a tracking run: undo never
  throws tracked frames away.
* The tracker's memories are not snapshots, so an object whose prompts an undo or
  redo changes is *rebuilt*: the tracker forgets it and gets its prompts again in
  frame order (:meth:`VideoSession.rebuild`), exactly as loading a session or a
  fresh ``VideoTracker`` fed the same prompts. Its masks on prompted frames are
  what those prompts give; on a frame whose last prompt was undone its mask is
  dropped (it came from that prompt); on every other frame its tracked mask is
  kept, stale until you track again.
* Undoing a deletion (or redoing an undone creation) brings the object back with
  every tracked mask it had when it went.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_backend import SAM2Model, VideoTracker
from sam2_backend.inputs import check_object_mask
from sam2_backend.rle import decode_mask, encode_mask

from .checks import check_index, check_int, to_host
from .confidence_lanes import ConfidenceLanes
from .history import History
from .objects import ObjectInfo, ObjectList, ObjectRegistry
from .prompts import (
    Box,
    Point,
    Prompt,
    check_box,
    check_clicks,
    of_object,
    prompt_from_dict,
    with_box,
)
from .tracked_spans import TrackedSpans


class VideoSession:
    """Objects (ids, names, colours, visibility), the selection and the prompts of every frame.

    Args:
        model: the SAM 2 model.
        source: anything ``VideoTracker`` opens (a video file, a folder, an array, a list).
        tracker_options: extra ``VideoTracker`` keywords. The widget's defaults are
            ``add_all_frames_to_correct_as_cond=True`` and
            ``clear_non_cond_mem_around_input=True``, so corrections stick when re-tracking.
    """

    def __init__(self, model: SAM2Model, source: Any, **tracker_options: Any) -> None:
        opts = {"add_all_frames_to_correct_as_cond": True, "clear_non_cond_mem_around_input": True, **tracker_options}
        self.tracker = VideoTracker(model, source, **opts)
        if self.tracker.num_frames is None:
            self.tracker.close()
            raise ValueError(
                "The widget needs a clip of known length: pass a video file, a folder, "
                "an array or a list of frames (not an iterator without len())."
            )
        self.lock = threading.RLock()
        self._objects = ObjectList()
        self._registry = ObjectRegistry()
        self._prompts: dict[int, tuple[Prompt, ...]] = {}  # frame -> points and boxes, in order
        self._mask_prompts: dict[tuple[int, int], np.ndarray] = {}  # (frame, obj) -> runs
        self._dirty: list[tuple[int, int]] = []  # (frame, obj) whose prompts changed, to apply
        self._deleted: list[int] = []  # objects to remove from the tracker
        self._rebuilt: list[tuple[int, frozenset[int]]] = []  # (object, frames whose masks to drop) to rebuild
        self._history: History[_Snapshot] = History()
        self._depth = 0  # nesting of _step (clear_image clears each object in one step)
        # Tracked masks of removed objects, {obj: {frame: (runs, score, iou)}}, for an undo that brings
        # one back. Worker thread only. Ids are never reused, so one entry per object is enough.
        self._stash: dict[int, dict[int, tuple[np.ndarray, float, float]]] = {}
        results = self.tracker.results
        # The timeline's spans, told of every frame whose masks change here (this class and
        # propagate are the only writers of results in the widget).
        self._spans = TrackedSpans(results.areas, lambda: results.frames)
        self._lanes = ConfidenceLanes(results, self.num_frames)

    # -- reading ---------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        return int(self.tracker.num_frames)

    @property
    def hw(self) -> tuple[int, int]:
        return self.tracker.height, self.tracker.width

    @property
    def next_id(self) -> int:
        return self._registry.next_id

    @property
    def selected_id(self) -> int:
        """The object new prompts go to (0: none, the next click makes one)."""
        return self._objects.selected_id

    def objects(self) -> list[ObjectInfo]:
        with self.lock:
            return self._registry.listed(self._objects)

    def prompts(self, frame: int) -> tuple[Prompt, ...]:
        """Points and boxes on ``frame`` (what the front end draws), in the order added."""
        with self.lock:
            return self._prompts.get(frame, ())

    def prompt_frames(self) -> list[int]:
        """Sorted frames holding any prompt (points, boxes or masks)."""
        with self.lock:
            frames = {f for f, p in self._prompts.items() if p} | {f for f, _ in self._mask_prompts}
            return sorted(frames)

    def masks(self, frame: int, visible_only: bool = False) -> dict[int, np.ndarray]:
        """``{obj_id: (H, W) bool}`` on ``frame`` from the tracker's results, in display order."""
        results = self.tracker.results
        with self.lock:
            ids = [o.id for o in self._registry.listed(self._objects) if not visible_only or o.visible]
        if frame not in results:
            return {}
        stored = results.frame_masks(frame)
        return {o: stored[o] for o in ids if o in stored}

    def tracked_spans(self) -> list[dict]:
        """``[{"obj_id", "ranges": [[a, b], ...]}]``: inclusive runs of frames where an object's mask is
        non-empty. Reads only the frames changed since the last call (see tracked_spans.py)."""
        with self.lock:
            ids = list(self._objects.ids)
        return self._spans.ranges(ids)

    def lanes(self) -> dict:
        """The ``lanes`` trait: every object's confidence and change bytes (see confidence_lanes.py)."""
        return self._lanes.snapshot(self._lane_ids())

    def lane_update(self) -> tuple[dict, list[bytes]] | None:
        """A ``lanes`` message with the frames changed since the last (None if none) and its buffers."""
        ids = self._lane_ids()
        runs, confidence, changes = self._lanes.take(ids)
        if not runs:
            return None
        return {"type": "lanes", "obj_ids": ids, "runs": runs}, [confidence, changes]

    def _lane_ids(self) -> list[int]:
        with self.lock:
            return list(self._objects.ids)

    def _mark(self, frames: Any) -> None:
        """Masks of ``frames`` (None: any) changed: the spans and lanes read them again."""
        self._spans.mark(frames)
        self._lanes.mark(frames)

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    def take_work(self) -> tuple[list[tuple[int, int]], list[int], list[tuple[int, frozenset[int]]]]:
        """Tracker work since the last call, to do in this order: the objects to remove, the objects
        to rebuild (with the frames whose masks to drop) and the (frame, object) pairs to apply."""
        with self.lock:
            work = list(dict.fromkeys(self._dirty)), self._deleted, self._rebuilt
            self._dirty, self._deleted, self._rebuilt = [], [], []
            return work

    def has_prompts(self) -> bool:
        with self.lock:
            return bool(self.prompt_frames())

    # -- objects ----------------------------------------------------------------

    def add_object(self, name: str | None = None) -> int:
        """A new object, selected; returns its id (undoable)."""
        with self._step():
            self._objects, obj_id = self._registry.add(self._objects, name)
            return obj_id

    def select_object(self, obj_id: int) -> None:
        """Send the next clicks to ``obj_id`` (0: to a new object)."""
        with self.lock:
            self._objects = self._objects.selecting(obj_id)

    def rename_object(self, obj_id: int, name: str) -> None:
        with self.lock:
            self._registry.rename(self._objects, obj_id, name)

    def set_visible(self, obj_id: int, visible: bool) -> None:
        with self.lock:
            self._registry.set_visible(self._objects, obj_id, visible)

    def delete_object(self, obj_id: int) -> None:
        """Forget an object: its prompts on every frame and (in the worker) its tracked masks (undoable)."""
        with self._step():
            obj_id = self._objects.check(obj_id)
            self._objects = self._objects.removed([obj_id])
            for frame in list(self._prompts):
                self._prompts[frame] = tuple(p for p in self._prompts[frame] if p.obj_id != obj_id)
            for key in [k for k in self._mask_prompts if k[1] == obj_id]:
                del self._mask_prompts[key]
            self._dirty = [d for d in self._dirty if d[1] != obj_id]
            self._deleted.append(obj_id)

    def undo(self) -> bool:
        """Go back one step (see the module docstring); False when there is nothing to undo."""
        with self.lock:
            return self._go_to(self._history.undo(self._snapshot()))

    def redo(self) -> bool:
        """Redo the last undone step; False when there is nothing to redo."""
        with self.lock:
            return self._go_to(self._history.redo(self._snapshot()))

    def merge_objects(self, ids: Any) -> int:
        raise ValueError(
            "merging objects is not supported for clips yet (the tracker keeps one memory "
            "per object); merge the masks after tracking, from results. Nothing was changed."
        )

    # -- prompts ------------------------------------------------------------------

    def add_points(self, frame: int, points: Any, labels: Any, obj_id: int | None = None) -> int:
        """Record clicks (N, 2) (x, y) with labels (N,) for ``obj_id`` (default: selected or new)."""
        frame = self.check_index(frame)
        clicks = check_clicks(points, labels, self.hw)
        with self._step():
            obj_id = self._target(obj_id)
            new = tuple(Point(obj_id, *click) for click in clicks)
            self._mask_prompts.pop((frame, obj_id), None)
            self._set(frame, obj_id, self._prompts.get(frame, ()) + new)
            return obj_id

    def add_box(self, frame: int, box: Any, obj_id: int | None = None) -> int:
        """Record a box (x0, y0, x1, y1), replacing the object's box on ``frame``."""
        frame = self.check_index(frame)
        xyxy = check_box(box, self.hw)
        with self._step():
            obj_id = self._target(obj_id)
            self._mask_prompts.pop((frame, obj_id), None)
            self._set(frame, obj_id, with_box(self._prompts.get(frame, ()), Box(obj_id, *xyxy)))
            return obj_id

    def add_mask(self, frame: int, mask: Any, obj_id: int | None = None) -> int:
        """Record a full (H, W) mask for the object on ``frame`` (replacing its points and box there)."""
        frame = self.check_index(frame)
        runs = encode_mask(check_object_mask(to_host(mask), self.hw))
        with self._step():
            obj_id = self._target(obj_id)
            self._mask_prompts[(frame, obj_id)] = runs
            kept = tuple(p for p in self._prompts.get(frame, ()) if p.obj_id != obj_id)
            self._set(frame, obj_id, kept)
            return obj_id

    def add_mask_objects(self, frame: int, masks: Sequence[np.ndarray]) -> list[int]:
        """New objects on ``frame``, one per (H, W) bool mask, each with that mask as its prompt there
        (as :meth:`add_mask` for a new object), ready to track; one undo step. Returns their ids."""
        frame = self.check_index(frame)
        runs = [encode_mask(check_object_mask(to_host(m), self.hw)) for m in masks]
        with self._step():
            ids = []
            for r in runs:
                self._objects, obj_id = self._registry.add(self._objects)
                self._mask_prompts[(frame, obj_id)] = r
                self._dirty.append((frame, obj_id))
                ids.append(obj_id)
            return ids

    def remove_prompt(self, frame: int, prompt_index: int) -> None:
        """Delete prompt ``prompt_index`` (into :meth:`prompts`) of ``frame``."""
        frame = self.check_index(frame)
        with self._step():
            prompts = self._prompts.get(frame, ())
            k = check_int(prompt_index, "prompt index")
            if not 0 <= k < len(prompts):
                raise ValueError(f"prompt index {k} is out of range: frame {frame} has {len(prompts)} prompts.")
            self._set(frame, prompts[k].obj_id, prompts[:k] + prompts[k + 1 :])

    def clear_object(self, frame: int, obj_id: int | None = None) -> bool:
        """Delete the prompts of ``obj_id`` (default: selected) on ``frame``; returns whether there were any."""
        frame = self.check_index(frame)
        with self._step():
            obj_id = self.selected_id if obj_id is None else self._objects.check(obj_id)
            had_mask = self._mask_prompts.pop((frame, obj_id), None) is not None
            prompts = self._prompts.get(frame, ())
            kept = tuple(p for p in prompts if p.obj_id != obj_id)
            if kept == prompts and not had_mask:
                return False
            self._set(frame, obj_id, kept)
            return True

    def clear_image(self, frame: int) -> bool:
        """Delete every prompt on ``frame``; returns whether there were any."""
        frame = self.check_index(frame)
        with self._step():
            ids = {p.obj_id for p in self._prompts.get(frame, ())} | {o for f, o in self._mask_prompts if f == frame}
            for obj_id in ids:
                self.clear_object(frame, obj_id)
            return bool(ids)

    # -- prompts -> tracker (worker thread) ------------------------------------------

    def propagate(
        self, direction: str, start: int, objects: list[int] | None = None
    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """Worker thread: the tracker's ``propagate`` (of ``objects`` only, when given), each frame
        noted for the spans and lanes as it is stored."""
        frames = self.tracker.propagate(direction, start=start, objects=objects)
        try:
            for frame, masks in frames:
                self._mark([frame])
                yield frame, masks
        finally:
            frames.close()  # the tracker ends the results' version (TrackResults.end_run)
            self._lanes.version_closed()

    def apply(self, frame: int, obj_id: int) -> bool:
        """Give the tracker the current prompts of ``obj_id`` on ``frame``; returns whether it had any work."""
        t = self.tracker
        with self.lock:
            if obj_id not in self._objects.ids:
                return False  # deleted meanwhile
            points, box = of_object(self._prompts.get(frame, ()), obj_id)
            runs = self._mask_prompts.get((frame, obj_id))
        xy = [[p.x, p.y] for p in points] or None
        labels = [p.label for p in points] or None
        if runs is not None:
            t.add_mask(frame, obj_id, decode_mask(runs, *self.hw))
        elif box is not None:
            t.add_box(frame, obj_id, [box.x0, box.y0, box.x1, box.y1], xy, labels)
        elif points:
            t.add_points(frame, obj_id, xy, labels, clear_old=True)
        elif obj_id in t.object_ids:
            t.clear_prompts(frame, obj_id)
        else:
            return False
        self._mark([frame])  # the tracker answers a prompt on its frame only
        return True

    def remove_from_tracker(self, obj_id: int) -> None:
        """Worker thread: forget a deleted object's memories and masks, keeping the masks for an undo."""
        self._stash[obj_id] = self._take_masks(obj_id)

    def rebuild(self, obj_id: int, dropped: Collection[int]) -> bool:
        """Worker thread: after an undo or redo changed an object's prompts, make its tracker state
        what those prompts alone give (see the module docstring). Returns False for a deleted object."""
        with self.lock:
            if obj_id not in self._objects.ids:
                return False
            frames = sorted(
                {f for f, ps in self._prompts.items() if any(p.obj_id == obj_id for p in ps)}
                | {f for f, o in self._mask_prompts if o == obj_id}
            )
        masks = self._stash.pop(obj_id) if obj_id in self._stash else self._take_masks(obj_id)
        for frame, (runs, score, iou) in masks.items():
            if frame not in dropped:
                self.tracker.results.set_runs(frame, obj_id, runs, score, iou)
        self._mark(masks)
        for frame in frames:
            self.apply(frame, obj_id)
        return True

    def _take_masks(self, obj_id: int) -> dict[int, tuple[np.ndarray, float, float]]:
        """Remove an object from the tracker and the results; returns its masks ``{frame: (runs, score, iou)}``."""
        t, results = self.tracker, self.tracker.results
        masks = {}
        for frame in results.frames:
            score = results.scores(frame).get(obj_id)
            if score is not None:
                masks[frame] = (results.rle(frame, obj_id), score, results.ious(frame)[obj_id])
        if obj_id in t.object_ids:
            t.remove_object(obj_id)
        elif obj_id in results.object_ids:  # rebuilt without prompts: masks but no tracker state
            results.remove_object(obj_id)
        self._mark(masks)
        return masks

    # -- checks -------------------------------------------------------------------

    def check_objects(self, objects: Any) -> list[int]:
        """A non-empty list of ids of existing objects, each once, in the order given."""
        if not isinstance(objects, (list, tuple)) or not objects or not all(_is_id(o) for o in objects):
            raise ValueError(f"objects must be a non-empty list of object ids, got {objects!r:.80}.")
        with self.lock:
            unknown = [o for o in objects if o not in self._objects.ids]
        if unknown:
            raise ValueError(f"no object {unknown[0]}; the objects are {list(self._objects.ids)}.")
        return list(dict.fromkeys(int(o) for o in objects))

    def check_index(self, frame: Any) -> int:
        return check_index(frame, self.num_frames, "frame", "clip")

    def _target(self, obj_id: int | None) -> int:
        """The object a prompt goes to (call inside a step: it may make a new one)."""
        self._objects, obj_id = self._registry.target(self._objects, obj_id)
        return obj_id

    @contextmanager
    def _step(self) -> Iterator[None]:
        """One undo step around an action, if it changed prompts or objects (nested ones fold in)."""
        with self.lock:
            before = self._snapshot() if self._depth == 0 else None
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            if before is not None and not before.same(self._snapshot()):
                self._history.push(before)

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self._objects, dict(self._prompts), dict(self._mask_prompts))

    def _go_to(self, target: _Snapshot | None) -> bool:
        """Make ``target`` current and queue the tracker work: objects it lacks are removed, objects it
        brings back or whose prompts it changes are rebuilt. False when there is no ``target``."""
        if target is None:
            return False
        current = self._snapshot()
        now, then = current.objects.ids, target.objects.ids
        for o in now:
            if o not in then:
                self._deleted.append(o)
            elif current.object_key(o) != target.object_key(o):
                self._rebuilt.append((o, frozenset(current.frames_of(o) - target.frames_of(o))))
        self._rebuilt += [(o, frozenset()) for o in then if o not in now]
        self._objects = target.objects
        self._prompts = dict(target.prompts)
        self._mask_prompts = dict(target.mask_prompts)
        return True

    def _set(self, frame: int, obj_id: int, prompts: tuple[Prompt, ...]) -> None:
        self._prompts[frame] = prompts
        if not prompts:
            del self._prompts[frame]
        self._dirty.append((frame, obj_id))

    # -- persistence ----------------------------------------------------------------

    def to_meta(self) -> tuple[dict, np.ndarray]:
        """Everything but the clip, as JSON-able meta and one uint32 array of mask runs."""
        runs: list[np.ndarray] = []
        offset = 0

        def place(r: np.ndarray) -> dict:
            nonlocal offset
            runs.append(r)
            offset += len(r)
            return {"offset": offset - len(r), "length": len(r)}

        results = self.tracker.results
        tracked = []
        for frame in results.frames:
            ious = results.ious(frame)
            for o, s in results.scores(frame).items():
                iou = None if math.isnan(ious[o]) else ious[o]  # JSON has no NaN
                tracked.append({"frame": frame, "obj_id": o, "score": s, "iou": iou, **place(results.rle(frame, o))})
        with self.lock:
            meta = {
                "objects": [o.to_dict() for o in self._registry.listed(self._objects)],
                "selected_id": self.selected_id,
                "next_id": self.next_id,
                "prompts": [
                    {"frame": f, "prompts": [p.to_dict() for p in ps]} for f, ps in sorted(self._prompts.items())
                ],
                "mask_prompts": [
                    {"frame": f, "obj_id": o, **place(r)} for (f, o), r in sorted(self._mask_prompts.items())
                ],
                "tracked": tracked,
            }
        return meta, (np.concatenate(runs) if runs else np.zeros(0, np.uint32)).astype(np.uint32)

    def restore(self, meta: Mapping[str, Any], runs: np.ndarray) -> None:
        """Load what :meth:`to_meta` wrote: objects and prompts, replayed into the tracker
        (so re-tracking starts from them), then the saved masks exactly."""
        hw = self.hw
        with self.lock:
            objects = [ObjectInfo(**o) for o in meta["objects"]]
            self._registry.restore(objects, int(meta["next_id"]))
            self._objects = ObjectList(tuple(o.id for o in objects), int(meta["selected_id"]))
            for entry in meta["prompts"]:
                frame = self.check_index(entry["frame"])
                self._prompts[frame] = tuple(prompt_from_dict(p) for p in entry["prompts"])
            for e in meta["mask_prompts"]:
                r = runs[e["offset"] : e["offset"] + e["length"]].copy()
                decode_mask(r, *hw)  # checks the size
                self._mask_prompts[(self.check_index(e["frame"]), int(e["obj_id"]))] = r
            pairs = sorted({(f, p.obj_id) for f, ps in self._prompts.items() for p in ps} | set(self._mask_prompts))
        for frame, obj_id in pairs:
            self.apply(frame, obj_id)
        results = self.tracker.results
        results.clear()
        for e in meta["tracked"]:
            mask = decode_mask(runs[e["offset"] : e["offset"] + e["length"]], *hw)
            iou = e.get("iou")  # absent from files written before IoUs were kept
            results.set(int(e["frame"]), int(e["obj_id"]), mask, float(e["score"]), math.nan if iou is None else iou)
        results.end_run()  # the restored masks are the version the next re-track is compared with
        self._mark(None)

    def close(self) -> None:
        self.tracker.close()


@dataclass(frozen=True)
class _Snapshot:
    """One undo step: the objects (display order) with the selection, and the prompts of every frame."""

    objects: ObjectList
    prompts: Mapping[int, tuple[Prompt, ...]]
    mask_prompts: Mapping[tuple[int, int], np.ndarray]

    def same(self, other: _Snapshot) -> bool:
        """Same objects and prompts (the selection alone is not a step)."""
        return (
            self.objects.ids == other.objects.ids
            and self.prompts == other.prompts
            and self.mask_prompts.keys() == other.mask_prompts.keys()
            and all(self.mask_prompts[k] is other.mask_prompts[k] for k in self.mask_prompts)
        )

    def frames_of(self, obj_id: int) -> set[int]:
        return {f for f, ps in self.prompts.items() if any(p.obj_id == obj_id for p in ps)} | {
            f for f, o in self.mask_prompts if o == obj_id
        }

    def object_key(self, obj_id: int) -> tuple:
        """What the object's tracker state is made from: its prompts on every frame (masks by identity)."""
        points = tuple((f, p) for f, ps in sorted(self.prompts.items()) for p in ps if p.obj_id == obj_id)
        masks = tuple(sorted((f, id(r)) for (f, o), r in self.mask_prompts.items() if o == obj_id))
        return points, masks


def _is_id(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
