"""``"quality"``: SAM 2's step, leaving out the memories the model was not confident in (SAM 3's tracker rule).

A tracked frame's confidence is sigmoid(object score) x predicted IoU of its mask. The
memory slots are SAM 2's (the last frames in the direction of travel); a slot whose
frame's confidence is below ``threshold`` is left out, so that frame is not read. Prompted
frames are always read. Masks are chosen as in SAM 2, so with every frame confident this
is exactly ``"sam2"``.
"""

from __future__ import annotations

import math
from typing import Any

from .base import FrameScores, MemoryPolicy, MemoryQuery, PolicyState, sam2_frames


def confidence(scores: FrameScores) -> float:
    """Presence probability x predicted IoU."""
    return scores.iou / (1.0 + math.exp(-max(scores.object_score, -60.0)))


class QualityPolicy(MemoryPolicy):
    name = "quality"

    def __init__(self, threshold: float = 0.01) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}.")
        self.threshold = threshold

    def options(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def memory_frames(self, state: PolicyState, q: MemoryQuery, selected) -> list[tuple[int, int]]:
        out = []
        for t_pos, t in sam2_frames(q.frame, q.reverse, q.num_maskmem, q.stride):
            scores = state.scores.get(t)
            if scores is None or confidence(scores) >= self.threshold:
                out.append((t_pos, t))
        return out
