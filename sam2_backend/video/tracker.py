"""VideoTracker: prompt objects on any frame, track them both ways through a clip.

Behaves like the official ``SAM2VideoPredictor`` (the December 2024 version
where every object is tracked independently) and gives the same numbers, but
streams: frames are decoded on demand, image features sit in a small LRU,
per-frame memories beyond the working set are spilled to disk, and result
masks are stored compactly in :class:`TrackResults`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import postprocess, transfer
from ..device_support import prepares_on_device
from ..devices import reject_autocast
from ..inputs import check_boxes, check_object_mask, check_points, image_to_pixels, image_to_tensor
from ..modeling.sam2 import SAM2Model
from ..transforms import coords_to_model, mask_to_model, preprocess, preprocess_uint8
from .memory_bank import FrameState, MemoryStore, ObjectMemory
from .memory_policies import FrameScores, MemoryPolicy, PolicyState, make_policy
from .results import TrackResults
from .sources import FrameSource, Prefetcher, open_source
from .step import NO_OBJ_SCORE, FrameFeatures, encode_memory, frame_features, track_step

Masks = dict[int, np.ndarray]


class VideoTracker:
    """Track many objects through a video with SAM 2.

    Args:
        model: a :class:`SAM2Model` (``load_model``/``build_model``).
        source: a video file, a folder of frames, a (T, H, W[, 3]) array, a list
            of frames, an iterator of frames, or a ``FrameSource``.
        fill_hole_area: fill background holes of at most this many low-res pixels
            in every mask (the official builder uses 8; 0 = off).
        non_overlap_masks: where objects overlap, keep only the highest-scoring one.
        clear_non_cond_mem_around_input: forget the tracked memories within
            ``num_maskmem`` frames of a new prompt, so old appearance does not fight
            a correction.
        add_all_frames_to_correct_as_cond: make a correction on a tracked frame a
            conditioning frame, so re-tracking keeps it (the widget turns this on).
        feature_cache: frames whose image features are kept in RAM.
        memory_frames_in_ram: per object, tracked-frame memories kept in RAM; the
            rest are spilled to a private temporary folder (inside ``spill_dir`` when
            given), removed on :meth:`close`.
            ``None`` keeps everything in RAM, as the official predictor.
        compile: ``torch.compile`` the per-frame parts (image encoder, memory
            attention, memory encoder, decoder). Slow first frame, faster after.
        memory: the memory policy: ``"sam2"`` (the official behaviour), ``"quality"``
            (SAM 3's rule: leave out unconfident memories), ``"samurai"`` (SAMURAI's
            motion-aware mask choice and memory) or ``"dam4sam"`` (DAM4SAM's
            distractor-aware memory); see ``sam2_backend.video.memory_policies``.
        memory_options: the policy's options (the papers' defaults for those not given).

    Tracking computes in the model's precision (``model.precision``, chosen by
    ``load_model(precision=...)``).
    """

    def __init__(
        self,
        model: SAM2Model,
        source: Any,
        *,
        fill_hole_area: int = 0,
        non_overlap_masks: bool = False,
        clear_non_cond_mem_around_input: bool = False,
        add_all_frames_to_correct_as_cond: bool = False,
        feature_cache: int = 2,
        memory_frames_in_ram: int | None = 32,
        spill_dir: str | None = None,
        compile: bool = False,
        autocast: None = None,
        memory: str | MemoryPolicy = "sam2",
        memory_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, SAM2Model):
            raise TypeError(f"VideoTracker needs a SAM2Model, got {type(model).__name__}.")
        reject_autocast(autocast)
        if memory_frames_in_ram is not None and memory_frames_in_ram < 2 * model.config.max_obj_ptrs_in_encoder:
            raise ValueError(
                f"memory_frames_in_ram must be at least {2 * model.config.max_obj_ptrs_in_encoder} "
                "(the frames tracking reads) or None."
            )
        self._lock = threading.RLock()
        self.set_memory(memory, memory_options)  # a bad policy fails before the clip is opened
        self.model = model.eval()
        self.source: FrameSource = open_source(source)
        # Off the CPU, frames travel as uint8 and are resized and normalised on the device.
        self._prepare_on_device = prepares_on_device(model.device)
        # Decodes (and on the CPU resizes) the next frame in a background thread while this one runs.
        self._frames = Prefetcher(self.source, self._to_input)
        self.fill_hole_area = fill_hole_area
        self.non_overlap_masks = non_overlap_masks
        self.clear_non_cond_mem_around_input = clear_non_cond_mem_around_input
        self.add_all_frames_to_correct_as_cond = add_all_frames_to_correct_as_cond
        self._feature_cache_size = max(1, feature_cache)
        self._features: OrderedDict[int, FrameFeatures] = OrderedDict()
        self._store = MemoryStore(model.device, memory_frames_in_ram, spill_dir)
        self._objects: dict[int, ObjectMemory] = {}
        self._cancel = threading.Event()
        self.results = TrackResults(self.height, self.width, self.num_frames)
        if compile:
            model.compile_parts(video=True)

    # -- the clip --------------------------------------------------------------------

    @property
    def num_frames(self) -> int | None:
        """Frames in the clip; ``None`` while an iterator source has not ended."""
        return self.source.num_frames

    @property
    def height(self) -> int:
        return self.source.height

    @property
    def width(self) -> int:
        return self.source.width

    @property
    def object_ids(self) -> list[int]:
        return list(self._objects)

    def _check_frame(self, frame: Any) -> int:
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
            raise TypeError(f"frame must be an integer index, got {type(frame).__name__}.")
        frame = int(frame)
        n = self.num_frames
        if frame < 0 or (n is not None and frame >= n):
            raise IndexError(f"Frame {frame} is out of range: the video has {n} frames (0..{n - 1 if n else 0}).")
        return frame

    def _to_input(self, frame: np.ndarray) -> torch.Tensor:
        """A decoded (H, W, 3) uint8 frame -> what goes to the device: the normalised model input
        (1, 3, S, S) with the model on the CPU (or on a device without the resize's kernel), else
        the frame's uint8 pixels, pinned for CUDA (see ``_frame_features``). Runs in the prefetch thread."""
        if self._prepare_on_device:
            return image_to_pixels(frame, pin=self.model.device.type == "cuda")
        return preprocess(image_to_tensor(frame)[None], self.model.image_size)

    def _frame_exists(self, frame: int) -> bool:
        if self.num_frames is not None:
            return frame < self.num_frames
        try:  # an iterator source only knows its end when it gets there
            self.source.get(frame)
        except IndexError:
            return False
        return True

    def _frame_features(self, frame: int) -> FrameFeatures:
        if frame in self._features:
            self._features.move_to_end(frame)
            return self._features[frame]
        image = transfer.to_device(self._frames.get(frame), self.model.device)
        if self._prepare_on_device:
            image = preprocess_uint8(image, self.model.image_size)
        feats = frame_features(self.model, image)
        self._features[frame] = feats
        while len(self._features) > self._feature_cache_size:
            self._features.popitem(last=False)
        return feats

    # -- prompts ---------------------------------------------------------------------

    def _object(self, obj_id: Any, create: bool) -> ObjectMemory:
        if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)) or obj_id < 1:
            raise ValueError(f"obj_id must be a positive integer (0 is background), got {obj_id!r}.")
        obj_id = int(obj_id)
        if obj_id not in self._objects:
            if not create:
                raise KeyError(f"No object {obj_id}; objects are {self.object_ids}.")
            self._objects[obj_id] = self._store.new_object()
        return self._objects[obj_id]

    @torch.inference_mode()
    def add_points(self, frame: int, obj_id: int, points: Any, labels: Any, *, clear_old: bool = True) -> Masks:
        """Clicks (N, 2) as (x, y) pixels with labels 1 (object) / 0 (not object).

        ``clear_old=False`` adds to the frame's earlier clicks for that object.
        Returns every object's mask on ``frame``.
        """
        frame = self._check_frame(frame)
        pts, lab = check_points(points, labels, (self.height, self.width))
        if pts.shape[0] != 1:
            raise ValueError("add_points takes the clicks of one object: points of shape (N, 2).")
        return self._add_points(frame, obj_id, pts, lab, clear_old)

    @torch.inference_mode()
    def add_box(self, frame: int, obj_id: int, box: Any, points: Any = None, labels: Any = None) -> Masks:
        """A box (x0, y0, x1, y1) in pixels, optionally with clicks; replaces the frame's prompts."""
        frame = self._check_frame(frame)
        hw = (self.height, self.width)
        b = check_boxes(box, hw)
        if b.shape[0] != 1:
            raise ValueError("add_box takes one box (4,) for one object.")
        pts, lab = b.reshape(1, 2, 2), np.array([[2, 3]], np.int32)
        if points is not None:
            new_pts, new_lab = check_points(points, labels, hw)
            pts, lab = np.concatenate([pts, new_pts], 1), np.concatenate([lab, new_lab], 1)
        return self._add_points(frame, obj_id, pts, lab, clear_old=True)

    def _add_points(self, frame, obj_id, pts, lab, clear_old) -> Masks:
        with self._lock, self.model.autocast():
            obj = self._object(obj_id, create=True)
            device = self.model.device
            coords = coords_to_model(
                transfer.to_device(torch.from_numpy(pts), device), (self.height, self.width), self.model.image_size
            )
            labels = transfer.to_device(torch.from_numpy(lab), device)
            old = obj.points.get(frame) if not clear_old else None
            if old is not None:
                coords, labels = torch.cat([old[0], coords], 1), torch.cat([old[1], labels], 1)
            obj.points[frame] = (coords, labels)
            obj.masks.pop(frame, None)
            return self._run_prompt(frame, obj, points=(coords, labels), mask=None)

    @torch.inference_mode()
    def add_mask(self, frame: int, obj_id: int, mask: Any) -> Masks:
        """A full (H, W) boolean mask of the object on ``frame``; replaces its prompts there."""
        frame = self._check_frame(frame)
        m = check_object_mask(mask, (self.height, self.width))
        with self._lock, self.model.autocast():
            obj = self._object(obj_id, create=True)
            t = transfer.to_device(torch.from_numpy(m), self.model.device)[None, None].float()
            t = mask_to_model(t, self.model.image_size)
            obj.masks[frame] = t
            obj.points.pop(frame, None)
            return self._run_prompt(frame, obj, points=None, mask=t)

    def _policy_state(self, obj: ObjectMemory) -> PolicyState | None:
        if self._policy is None:
            return None
        obj_id = next(k for k, v in self._objects.items() if v is obj)
        state = self._policy_states.get(obj_id)
        if state is None:
            state = self._policy_states[obj_id] = self._policy.new_state()
            state.video_size = (self.height, self.width)
        return state

    def _run_prompt(self, frame: int, obj: ObjectMemory, points, mask) -> Masks:
        is_init_cond = frame not in obj.tracked
        reverse = False if is_init_cond else obj.tracked[frame]
        is_cond = is_init_cond or self.add_all_frames_to_correct_as_cond
        prev_logits = None
        if points is not None:
            prev = obj.state(frame, prefer_cond=is_cond)
            if prev is not None:
                prev_logits = prev.low_res.clamp(-32.0, 32.0)
        out = track_step(
            self.model,
            frame,
            self._frame_features(frame),
            obj,
            is_init_cond=is_init_cond,
            points=points,
            mask=mask,
            num_frames=self.num_frames,
            reverse=reverse,
            prev_logits=prev_logits,
            policy=self._policy,
            policy_state=self._policy_state(obj),
        )
        obj.pending[frame] = FrameState(self._fill_holes(out.low_res), out.obj_ptr, out.object_score, iou=out.iou)
        obj.pending_is_cond[frame] = is_cond
        return self._publish(frame, prefer_cond=is_cond)

    def _fill_holes(self, logits: torch.Tensor) -> torch.Tensor:
        if self.fill_hole_area > 0:
            return postprocess.fill_holes_in_mask_scores(logits, self.fill_hole_area)
        return logits

    def _publish(
        self, frame: int, prefer_cond: bool | None = None, states: dict[int, FrameState] | None = None
    ) -> Masks:
        """Every object's mask on ``frame`` at video resolution (only those of ``states`` when
        given), recorded in ``results`` with its object score and predicted IoU."""
        ids = list(states) if states is not None else self.object_ids
        if not ids:
            return {}
        logits = torch.full((len(ids), 1, self.height, self.width), NO_OBJ_SCORE, device=self.model.device)
        scored, scores, ious = [], [], []  # objects with an output here, their score logits and IoUs (on the device)
        for i, obj_id in enumerate(ids):
            state = states[obj_id] if states else self._objects[obj_id].state(frame, prefer_cond)
            if state is None:
                self.results.clear_frame(frame, obj_id, missing_ok=True)
                continue
            logits[i : i + 1] = F.interpolate(
                state.low_res.float(), size=(self.height, self.width), mode="bilinear", align_corners=False
            )
            scored.append(obj_id)
            scores.append(state.object_score.float().reshape(1))
            ious.append(state.iou.float().reshape(1) if state.iou is not None else scores[-1].new_full((1,), torch.nan))
        if self.non_overlap_masks and len(ids) > 1:
            winner = logits.argmax(0, keepdim=True) == torch.arange(len(ids), device=logits.device)[:, None, None, None]
            logits = torch.where(winner, logits, logits.clamp(max=-10.0))
        # The frame's masks, scores and IoUs reach the host in one copy.
        masks, host_scores, host_ious = transfer.to_host(
            logits[:, 0] > 0, *((torch.cat(v) if v else logits.new_zeros(0)) for v in (scores, ious))
        )
        masks = masks.numpy()
        out = {obj_id: masks[i] for i, obj_id in enumerate(ids)}
        for obj_id, score, iou in zip(scored, host_scores.tolist(), host_ious.tolist()):
            self.results.set(frame, obj_id, out[obj_id], score, iou)
        return out

    # -- propagation -----------------------------------------------------------------

    def _preflight(self, ids: list[int]) -> None:
        """Encode the memories of the new prompts of ``ids`` and file them as conditioning or tracked frames."""
        if not self._objects:
            raise RuntimeError("Nothing to track: add points, a box or a mask for an object first.")
        for obj_id in ids:
            obj = self._objects[obj_id]
            for frame in sorted(obj.pending, key=lambda f: obj.pending_is_cond[f]):
                state = obj.pending[frame]
                if state.maskmem is None:
                    feats = self._frame_features(frame)
                    high = F.interpolate(
                        state.low_res,
                        size=(self.model.image_size,) * 2,
                        mode="bilinear",
                        align_corners=False,
                    )
                    state.maskmem = encode_memory(self.model, feats, high, state.object_score, prompted=True)
                if obj.pending_is_cond[frame]:
                    obj.cond[frame] = state
                else:
                    obj.non_cond[frame] = state
                if self.clear_non_cond_mem_around_input:
                    self._forget_around(obj, frame)
            obj.pending.clear()
            obj.pending_is_cond.clear()
            if not obj.cond:
                raise RuntimeError(
                    f"Object {obj_id} has no prompt on any untracked frame to start from; add points, "
                    "a box or a mask for it (or remove it) before tracking."
                )
            for frame in obj.cond:
                obj.non_cond.remove(frame)

    def _forget_around(self, obj: ObjectMemory, frame: int) -> None:
        r = self.model.config.memory_temporal_stride_for_eval * self.model.config.num_maskmem
        for t in range(frame - r, frame + r + 1):
            obj.non_cond.remove(t)

    def cancel(self) -> None:
        """Ask a running :meth:`propagate` to stop after the current frame (thread-safe)."""
        self._cancel.set()

    def propagate(
        self,
        direction: str = "forward",
        start: int | None = None,
        max_frames: int | None = None,
        *,
        objects: list[int] | None = None,
        progress: bool = False,
    ) -> Iterator[tuple[int, Masks]]:
        """Track every object (or those of ``objects``) frame by frame, yielding ``(frame, {obj_id: mask})``.

        Args:
            direction: "forward", "backward" or "both" (forward from ``start``, then
                backward from ``start - 1``).
            start: first frame; by default the earliest prompted frame (of ``objects``).
            max_frames: track at most this many frames beyond ``start``.
            objects: track only these object ids: the others' memories and results stay
                as they are (objects are tracked independently, so each gets what tracking
                it alone gives; ``non_overlap_masks`` then only weighs these against each other).
            progress: show a tqdm progress bar.

        Stop early by breaking out of the loop, closing the generator or calling
        :meth:`cancel` from another thread; every frame done so far is kept. When the
        generator ends, ``results.end_run()`` makes this run the version ``results.diff()`` reports.
        """
        if direction not in ("forward", "backward", "both"):
            raise ValueError(f"direction must be 'forward', 'backward' or 'both', got {direction!r}.")
        if max_frames is not None:
            if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)):
                raise TypeError(f"max_frames must be None or an int (frames beyond start), got {max_frames!r:.80}.")
            if max_frames < 0:
                raise ValueError(f"max_frames must be None or >= 0 (frames beyond start), got {max_frames}.")
        # Under the model's precision like every step: the prompted frames' memories are encoded
        # here (bf16 weights stored on CUDA would refuse fp32 inputs outside autocast).
        with torch.inference_mode(), self._lock, self.model.autocast():
            ids = self._tracked_ids(objects)
            self._preflight(ids)
        if start is None:
            start = min(t for obj_id in ids for t in self._objects[obj_id].cond)
        start = self._check_frame(start)
        self._cancel.clear()
        passes = []
        if direction in ("forward", "both"):
            passes.append((start, False))
        if direction in ("backward", "both"):
            back_start = start - 1 if direction == "both" else start
            if back_start >= 0 and not (direction == "backward" and start == 0):
                passes.append((back_start, True))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            total = None
            if self.num_frames is not None:
                total = sum(len(self._order(first, reverse, max_frames, start)) for first, reverse in passes)
            bar = tqdm(total=total, desc="tracking")
        try:
            for first, reverse in passes:
                for frame in self._order(first, reverse, max_frames, start):
                    if self._cancel.is_set() or not self._frame_exists(frame):
                        break
                    self._frames.prefetch(frame - 1 if reverse else frame + 1)
                    with torch.inference_mode(), self._lock, self.model.autocast():
                        masks = self._track_frame(frame, reverse, ids)
                    if bar is not None:
                        bar.update(1)
                    yield frame, masks
                if self._cancel.is_set():
                    return
        finally:
            self.results.end_run()
            if bar is not None:
                bar.close()

    def _order(self, first: int, reverse: bool, max_frames: int | None, start: int):
        # max_frames counts from ``start`` in both legs: "both" goes back to start - max_frames.
        n = self.num_frames
        span = max_frames if max_frames is not None else (n if n is not None else None)
        if reverse:
            last = max(start - span, 0) if span is not None else 0
            return range(first, last - 1, -1)
        if n is None:
            return range(first, first + span + 1) if span is not None else _count_from(first)
        last = min(first + span, n - 1)
        return range(first, last + 1)

    def _tracked_ids(self, objects: list[int] | None) -> list[int]:
        """Every object, or the ``objects`` given (each once, in their order; KeyError for an unknown one)."""
        if objects is None:
            return self.object_ids
        for obj_id in objects:
            self._object(obj_id, create=False)
        ids = list(dict.fromkeys(int(o) for o in objects))
        if not ids:
            raise ValueError("objects must list at least one object id (or None for every object).")
        return ids

    def _track_frame(self, frame: int, reverse: bool, ids: list[int]) -> Masks:
        states, tracked = {}, []
        for obj_id in ids:
            obj = self._objects[obj_id]
            if frame in obj.cond:
                states[obj_id] = obj.cond[frame]
                if self.clear_non_cond_mem_around_input:
                    self._forget_around(obj, frame)
            else:
                feats = self._frame_features(frame)
                policy_state = self._policy_state(obj)
                out = track_step(
                    self.model,
                    frame,
                    feats,
                    obj,
                    is_init_cond=False,
                    points=None,
                    mask=None,
                    num_frames=self.num_frames,
                    reverse=reverse,
                    policy=self._policy,
                    policy_state=policy_state,
                )
                maskmem = encode_memory(self.model, feats, out.high_res, out.object_score, prompted=False)
                states[obj_id] = FrameState(out.low_res, out.obj_ptr, out.object_score, maskmem, out.iou)
                tracked.append(obj_id)
            obj.tracked[frame] = reverse
        if tracked and self.fill_hole_area > 0:  # every object's holes in one host round trip
            filled = self._fill_holes(torch.cat([states[obj_id].low_res for obj_id in tracked]))
            for i, obj_id in enumerate(tracked):
                states[obj_id].low_res = filled[i : i + 1]
        for obj_id in tracked:  # filed after every step: objects never read each other's memories
            self._objects[obj_id].non_cond[frame] = states[obj_id]
        if self._policy is not None and tracked:
            self._observe(frame, reverse, tracked, states)
        return self._publish(frame, states=states)

    def _observe(self, frame: int, reverse: bool, tracked: list[int], states: dict[int, FrameState]) -> None:
        """Tell the policy each object's scores (one host copy for all); re-encode the memory of a frame
        it makes a conditioning memory, as a prompted frame's (as the authors' code does)."""
        ious = torch.cat([states[obj_id].iou.float().reshape(1) for obj_id in tracked])
        scores = torch.cat([states[obj_id].object_score.float().reshape(1) for obj_id in tracked])
        ious, scores = transfer.to_host(ious, scores)
        for obj_id, iou, score in zip(tracked, ious.tolist(), scores.tolist()):
            state = states[obj_id]
            if self._policy.observe(self._policy_states[obj_id], frame, reverse, FrameScores(iou, score), state):
                high = F.interpolate(
                    state.low_res, size=(self.model.image_size,) * 2, mode="bilinear", align_corners=False
                )
                state.maskmem = encode_memory(
                    self.model, self._frame_features(frame), high, state.object_score, prompted=True
                )

    # -- editing ---------------------------------------------------------------------

    @torch.inference_mode()
    def clear_prompts(self, frame: int, obj_id: int | None = None) -> Masks:
        """Remove the prompts on ``frame`` (of one object, or of all); returns the frame's masks.

        As the official predictor, a prompted frame's output stays as a tracked
        (non-conditioning) memory and the frame counts as untracked again.
        """
        frame = self._check_frame(frame)
        with self._lock:
            ids = self.object_ids if obj_id is None else [obj_id]
            for oid in ids:
                obj = self._object(oid, create=False)
                obj.points.pop(frame, None)
                obj.masks.pop(frame, None)
                obj.pending.pop(frame, None)
                obj.pending_is_cond.pop(frame, None)
                state = obj.cond.pop(frame, None)
                if state is not None:
                    obj.non_cond[frame] = state
                    obj.tracked.pop(frame, None)
            return self._publish(frame)

    def set_memory(self, memory: str | MemoryPolicy = "sam2", memory_options: dict[str, Any] | None = None) -> None:
        """Switch the memory policy (see the class) for the frames tracked from now on; the masks and
        memories made before stay as they are, and each object's policy state starts afresh."""
        policy = make_policy(memory, **(memory_options or {}))
        with self._lock:
            self.memory_policy = policy
            # SAM 2's own policy runs the step as it always has (no scores read back per frame).
            self._policy = None if type(policy) is MemoryPolicy else policy
            self._policy_states: dict[int, PolicyState] = {}

    def remove_object(self, obj_id: int) -> None:
        """Forget an object: its prompts, memories and results."""
        with self._lock:
            obj = self._object(obj_id, create=False)
            obj.non_cond.discard()
            del self._objects[int(obj_id)]
            self._policy_states.pop(int(obj_id), None)
            if int(obj_id) in self.results.object_ids:  # it may never have had a mask
                self.results.remove_object(int(obj_id))

    def reset(self) -> None:
        """Forget every object, prompt, memory and result (the decoded clip stays)."""
        with self._lock:
            for obj in self._objects.values():
                obj.non_cond.discard()
            self._objects.clear()
            self._policy_states.clear()
            self.results.clear()

    def prompts(self, obj_id: int) -> dict[int, dict[str, Any]]:
        """The prompts of an object per frame, in original pixels: ``{"points", "labels"}`` or ``{"mask"}``."""
        obj = self._object(obj_id, create=False)
        scale = np.array([self.width, self.height]) / self.model.image_size
        out: dict[int, dict[str, Any]] = {}
        for frame, (coords, labels) in obj.points.items():
            coords, labels = transfer.to_host(coords[0], labels[0])
            out[frame] = {"points": coords.numpy() * scale, "labels": labels.numpy()}
        for frame in obj.masks:
            out[frame] = {"mask": True}
        return out

    def frame_output(self, frame: int, obj_id: int) -> tuple[np.ndarray, float] | None:
        """The model's raw output for an object on a frame: low-res mask logits (s, s)
        and the object-score logit (> 0: visible); ``None`` if it was never predicted there."""
        state = self._object(obj_id, create=False).state(self._check_frame(frame))
        if state is None:
            return None
        low_res, score = transfer.to_host(state.low_res[0, 0].float(), state.object_score.float())
        return low_res.numpy(), float(score)

    def close(self) -> None:
        """Release the frame source, and drop the cached features and every memory (on the model's
        device, and spilled ones on disk); ``results`` stay readable."""
        self._frames.close()
        with self._lock:
            self._features.clear()
            self._objects.clear()
        self._store.close()
        self.source.close()

    def __enter__(self) -> VideoTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _count_from(first: int) -> Iterator[int]:
    frame = first
    while True:
        yield frame
        frame += 1
