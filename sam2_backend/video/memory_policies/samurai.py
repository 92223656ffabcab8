"""``"samurai"``: SAMURAI's motion-aware mask choice and memory selection (Yang et al., 2024).

Mask choice: a Kalman filter follows each object's box. Until it has been confirmed on
``stable_frames`` frames in a row (predicted IoU above ``stable_iou``) the mask with the
best predicted IoU is kept, as in SAM 2, and its box feeds the filter; after that each
candidate is scored ``motion_weight`` x IoU(its box, the filter's predicted box) +
(1 - ``motion_weight``) x predicted IoU, and the best is kept. A kept mask with a predicted
IoU below ``stable_iou`` restarts the filter on the next frame.

Memory: the spatial memory slots take the most recent tracked frames whose predicted IoU
exceeds ``iou_threshold`` and object score exceeds ``object_threshold`` (the previous frame
is always kept); ``motion_threshold``, when set, also asks the motion score to exceed it.
The authors' code stores the motion score under another key than the one it reads, so its
motion test never applies: None (the default) does the same.

Where we differ from the authors' code, which tracks one object forwards: a filter per
object; backwards tracking runs the filter over frames in the order they are tracked, and
a filter restarts when an object's frames stop following each other (a new pass, a jump).
The authors' search for memories never looks at the clip's first two frames (index 0 and
1) other than as the previous frame; we keep that bound forwards (the goldens need it)
and mirror it at the clip's end backwards. Their configs also keep masks with an object
score logit above -1 (SAM 2: 0): ``visible_above``. Prompted frames keep SAM 2's choice.
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Candidates, FrameScores, MemoryPolicy, MemoryQuery, PolicyState, recent_passing
from .kalman import BoxFilter, box_iou, mask_box

# The authors' search stops before this frame index (forwards) and as far from the end (backwards).
_UNSEARCHED = 1


class SamuraiPolicy(MemoryPolicy):
    name = "samurai"
    needs_candidates = True

    def __init__(
        self,
        *,
        motion_weight: float = 0.25,
        stable_frames: int = 15,
        stable_iou: float = 0.3,
        iou_threshold: float = 0.5,
        object_threshold: float = 0.0,
        motion_threshold: float | None = None,
        visible_above: float = -1.0,
        look_back: int = 15,
    ) -> None:
        if not 0.0 <= motion_weight <= 1.0:
            raise ValueError(f"motion_weight must be in [0, 1], got {motion_weight}.")
        if stable_frames < 1 or look_back < 1:
            raise ValueError("stable_frames and look_back must be >= 1.")
        self.motion_weight = motion_weight
        self.stable_frames = stable_frames
        self.stable_iou = stable_iou
        self.iou_threshold = iou_threshold
        self.object_threshold = object_threshold
        self.motion_threshold = motion_threshold
        self.visible_above = visible_above
        self.look_back = look_back

    def options(self) -> dict[str, Any]:
        keys = ("motion_weight", "stable_frames", "stable_iou", "iou_threshold", "object_threshold")
        keys += ("motion_threshold", "visible_above", "look_back")
        return {k: getattr(self, k) for k in keys}

    def choose_mask(self, state: PolicyState, frame: int, reverse: bool, candidates: Candidates) -> int:
        """The kept candidate; its motion score (None before the filter is trusted) goes to ``extra["motion"]``."""
        masks, ious = candidates.high_res, candidates.ious
        x = state.extra
        follows = x.get("last") == frame + (1 if reverse else -1) and x.get("reverse") == reverse
        x["last"], x["reverse"] = frame, reverse
        kf: BoxFilter | None = x.get("filter") if follows else None
        stable = x.get("stable", 0) if follows else 0
        iou_values = ious.float().tolist()
        if kf is None or stable == 0:  # (re)start the filter on SAM 2's choice
            best = max(range(len(iou_values)), key=iou_values.__getitem__)
            x["filter"], x["stable"] = BoxFilter(mask_box(masks[best])), stable + 1
            x["motion"] = None
            return best
        kf.predict()
        if stable < self.stable_frames:  # not yet trusted: SAM 2's choice feeds the filter
            best = max(range(len(iou_values)), key=iou_values.__getitem__)
            if iou_values[best] > self.stable_iou:
                kf.update(mask_box(masks[best]))
                x["stable"] = stable + 1
            else:
                x["stable"] = 0
            x["motion"] = None
            return best
        boxes = [mask_box(m) for m in masks]
        predicted = kf.predicted_box()
        motions = [box_iou(predicted, b) for b in boxes]
        w = self.motion_weight
        # Weighed in float32 as the authors' tensors are, so near-ties break alike.
        weighted = w * torch.tensor(motions, dtype=torch.float32) + (1 - w) * ious.float().cpu()
        best = int(torch.argmax(weighted))
        if iou_values[best] < self.stable_iou:
            x["stable"] = 0
        else:
            kf.update(boxes[best])
        x["motion"] = motions[best]
        return best

    def observe(self, state: PolicyState, frame: int, reverse: bool, scores: FrameScores, kept) -> bool:
        return super().observe(state, frame, reverse, scores._replace(motion=state.extra.pop("motion", None)), kept)

    def memory_frames(self, state: PolicyState, q: MemoryQuery, selected) -> list[tuple[int, int]]:
        if q.reverse and q.num_frames is None:
            raise ValueError("SAMURAI's memory tracks backwards only in a clip of known length.")
        stop = q.num_frames - 1 - _UNSEARCHED if q.reverse else _UNSEARCHED

        def passes(s) -> bool:
            motion_ok = self.motion_threshold is None or s.motion is None or s.motion > self.motion_threshold
            return s.iou > self.iou_threshold and s.object_score > self.object_threshold and motion_ok

        return recent_passing(state, q, passes, stop=stop, look_back=self.look_back)
