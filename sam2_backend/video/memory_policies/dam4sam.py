"""``"dam4sam"``: DAM4SAM's distractor-aware memory (Videnovic, Lukezic and Kristan, CVPR 2025).

The memory has two parts in SAM 2's ``num_maskmem`` slots:

* **DRM** (distractor-resolving memory): the prompted frames plus tracked frames added on
  the paper's rule, attended to like prompts (up to ``drm_size`` of them: the newest before
  the previous frame, the first prompt, then the closest in time). A tracked frame is added
  when its kept mask is confident (predicted IoU > ``min_iou``), its size is within
  ``size_ratio`` of the median of the last ``size_history`` non-empty sizes, more than
  ``min_gap`` frames have passed since the last addition, and one of the decoder's other
  candidate masks, minus the kept mask and reduced to its largest connected part, widens the
  kept mask's box so much that the two boxes' IoU is at most ``max_box_iou`` (a likely
  distractor next to the target).
* **RAM** (recent-appearance memory): the rest of the slots, the previous frame and then
  every ``ram_stride``-th frame, skipping frames where the object's mask is empty (and
  searching further back for one where it is not).

Masks are chosen as in SAM 2 (highest predicted IoU). Where we differ from the authors' code,
which tracks one object forwards from frame 0: every object has its own DRM and size history;
backwards, "before" means "after", the clip's first frame is its last, and the first prompt is
the object's prompted frame farthest behind in the direction of travel; the "first prompt" is
the object's earliest prompted frame forwards (theirs: frame 0). Sizes are counted at the
clip's resolution, as theirs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..memory_bank import FrameState
from .base import Candidates, FrameScores, MemoryPolicy, MemoryQuery, PolicyState


def _largest_component(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage  # imported when first needed (~0.25 s)

    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return labels == 1 + int(np.argmax(sizes))


def _pixel_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive pixel box of a non-empty mask."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def _inner_box_iou(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> float:
    """IoU of two pixel boxes, the first inside the second, with a box's area (x1 - x0) * (y1 - y0)
    as the VOT toolkit measures a mask's rectangle; two empty boxes are equal (1)."""

    def area(b):
        return (b[2] - b[0]) * (b[3] - b[1])

    return area(inner) / area(outer) if area(outer) > 0 else 1.0


class Dam4samPolicy(MemoryPolicy):
    name = "dam4sam"
    needs_candidates = True

    def __init__(
        self,
        *,
        drm_size: int = 4,
        ram_stride: int = 5,
        min_iou: float = 0.8,
        size_ratio: float = 0.2,
        size_history: int = 10,
        min_gap: int = 5,
        max_box_iou: float = 0.7,
    ) -> None:
        if drm_size < 2:
            raise ValueError(f"drm_size must be >= 2 (the first prompt and one more), got {drm_size}.")
        if ram_stride < 1 or size_history < 1 or min_gap < 0:
            raise ValueError("ram_stride and size_history must be >= 1, min_gap >= 0.")
        self.drm_size = drm_size
        self.ram_stride = ram_stride
        self.min_iou = min_iou
        self.size_ratio = size_ratio
        self.size_history = size_history
        self.min_gap = min_gap
        self.max_box_iou = max_box_iou

    def options(self) -> dict[str, Any]:
        keys = ("drm_size", "ram_stride", "min_iou", "size_ratio", "size_history", "min_gap", "max_box_iou")
        return {k: getattr(self, k) for k in keys}

    @staticmethod
    def drm(state: PolicyState) -> list[int]:
        """Tracked frames added to the object's distractor-resolving memory, in the order added."""
        return state.extra.setdefault("drm", [])

    # -- the mask ------------------------------------------------------------------

    def choose_mask(self, state: PolicyState, frame: int, reverse: bool, candidates: Candidates) -> int:
        best = int(torch.argmax(candidates.ious))
        state.extra["candidates"] = (candidates.low_res, float(candidates.ious[best]), best)
        return best

    def observe(self, state: PolicyState, frame: int, reverse: bool, scores: FrameScores, kept: FrameState) -> bool:
        """True when the frame joins the DRM: the authors add it through SAM 2's conditioning frames,
        whose memory SAM 2 encodes again from the binarised mask; the tracker does the same."""
        super().observe(state, frame, reverse, scores, kept)
        x = state.extra
        x.setdefault("visible", {})[frame] = bool(torch.any(kept.low_res > 0))
        low_res, iou, best = x.pop("candidates")
        assert state.video_size is not None, "the tracker sets the clip's size"
        kept_mask = self._video_masks(kept.low_res.reshape(1, *kept.low_res.shape[-2:]), state.video_size)[0]
        n = int(kept_mask.sum())
        sizes = x.setdefault("sizes", [])
        sizes.append(n)
        ratio = -1.0
        if len(sizes) > 1 and n >= 1:
            recent = [s for s in sizes[-300:] if s >= 1][-self.size_history :]
            ratio = n / float(np.median(recent))
        last = x.get("last_added")
        if not (
            iou > self.min_iou
            and 1 - self.size_ratio <= ratio <= 1 + self.size_ratio
            and (last is None or abs(frame - last) > self.min_gap)
        ):
            return False
        others = [i for i in range(low_res.shape[0]) if i != best]
        if not others:
            return False
        kept_box = _pixel_box(kept_mask)
        box_ious = []
        for alt in self._video_masks(low_res[others], state.video_size):
            alt = alt & ~kept_mask
            if alt.any():
                widened = _largest_component(alt) | kept_mask
                box_ious.append(_inner_box_iou(kept_box, _pixel_box(widened)))
        if not box_ious or min(box_ious) > self.max_box_iou:
            return False
        x["last_added"] = frame
        self.drm(state).append(frame)
        return True

    @staticmethod
    def _video_masks(low_res: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
        """(M, s, s) logits as (M, H, W) bool masks at the clip's resolution (as the tracker shows them)."""
        video = F.interpolate(low_res[:, None].float(), size=size, mode="bilinear", align_corners=False)
        return (video[:, 0] > 0).cpu().numpy()

    # -- the memory ----------------------------------------------------------------

    def _all_cond(self, state: PolicyState, q: MemoryQuery) -> dict[int, FrameState]:
        frames = dict(q.cond)
        for t in self.drm(state):
            tracked = q.tracked(t)
            if t not in frames and tracked is not None:
                frames[t] = tracked
        return frames

    def select_cond(self, state: PolicyState, q: MemoryQuery):
        frames = self._all_cond(state, q)
        sign = -1 if q.reverse else 1
        prev = q.frame - sign
        chosen: dict[int, FrameState] = {}
        behind = [t for t in frames if (t > prev if q.reverse else t < prev)]
        if behind:
            t = min(behind) if q.reverse else max(behind)
            chosen[t] = frames[t]
        first = max(q.cond) if q.reverse else min(q.cond)
        chosen.setdefault(first, frames[first])
        rest = sorted((t for t in frames if t not in chosen and t != prev), key=lambda t: abs(t - q.frame))
        for t in rest[: self.drm_size - len(chosen)]:
            chosen[t] = frames[t]
        return chosen, {t: s for t, s in frames.items() if t not in chosen}

    def memory_frames(
        self, state: PolicyState, q: MemoryQuery, selected: dict[int, FrameState]
    ) -> list[tuple[int, int]]:
        sign = -1 if q.reverse else 1
        drm = set(self.drm(state))
        visible = state.extra.get("visible", {})
        r = self.ram_stride

        def shown(t: int) -> bool:
            if t in q.cond:
                return bool(torch.any(q.cond[t].low_res > 0))
            return visible.get(t, False)

        def usable(t: int) -> bool:  # a tracked frame outside the DRM, with the object in it
            return t not in q.cond and t not in drm and q.tracked(t) is not None and shown(t) and t not in selected

        def inside(t: int) -> bool:  # the authors' search stops before the clip's first frame
            return t < q.num_frames - 1 if q.reverse else t > 0

        def search(t: int, step: int) -> int | None:
            while True:
                t -= sign * step
                if not inside(t):
                    return None
                if usable(t):
                    return t

        found: list[int] = []
        t = q.frame - sign
        first_ok = (t in q.cond or t in drm or q.tracked(t) is not None) and shown(t) and t not in selected
        current = t if first_ok else search(t, 1)
        for _ in range(q.num_maskmem - len(selected)):
            if current is None:
                break
            found.append(current)
            nxt = ((current - 1) // r) * r if not q.reverse else -(-(current + 1) // r) * r
            current = nxt if usable(nxt) else search(nxt, r)
        top = q.num_maskmem - 1
        return sorted((top - j, t) for j, t in enumerate(found))
