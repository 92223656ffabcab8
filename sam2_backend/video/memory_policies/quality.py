"""``"quality"``: SAM 2's step reading only memories the model was confident in (SAM 3's tracker rule).

SAM 3's tracker (``use_memory_selection``, after SAM2Long) scores each tracked frame by
(2 sigmoid(object score) - 1, or 0 for an absent object) x predicted IoU of its mask. The
frames scoring above ``threshold`` (0.01), searched back from the previous frame (every
``stride``-th frame; at most 15), are the candidates; the previous frame is always one. The
newest six fill the spatial-memory slots, and the object pointers come from the candidates
too, the newest first, each encoded at its rank (1, 2, ...) rather than its distance.
Masks are chosen as in SAM 2.

As SAM 3's code: forwards the search stops before frame 0, backwards it reaches the last
frame; the oldest candidate gives no pointer. SAM 3 scores a frame by the mean over the
objects it tracks together; here each object has its own score and memory.
"""

from __future__ import annotations

import math
from typing import Any

from .base import FrameScores, MemoryPolicy, MemoryQuery, PolicyState


def confidence(scores: FrameScores) -> float:
    """SAM 3's memory score: the presence probability rescaled to [0, 1] x predicted IoU."""
    if scores.object_score <= 0:
        return 0.0
    return (2.0 / (1.0 + math.exp(-scores.object_score)) - 1.0) * scores.iou


class QualityPolicy(MemoryPolicy):
    name = "quality"

    def __init__(self, threshold: float = 0.01) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}.")
        self.threshold = threshold

    def options(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def candidates(self, state: PolicyState, q: MemoryQuery) -> list[int]:
        """The confident frames, oldest first, the previous frame last (SAM 3's ``frame_filter``)."""
        if q.num_frames is None and q.reverse:
            raise ValueError("'quality' tracks backwards only in a clip of known length.")
        if (q.frame == 0 and not q.reverse) or (q.reverse and q.frame == q.num_frames - 1):
            return []
        limit = q.max_pointers - 1
        sign = -1 if q.reverse else 1
        ends = range(q.frame + 1, q.num_frames, q.stride) if q.reverse else range(q.frame - 1, 0, -q.stride)
        chosen: list[int] = []
        for t in ends:
            scores = state.scores.get(t)
            if scores is not None and confidence(scores) > self.threshold:
                chosen.insert(0, t)
            if len(chosen) >= limit:
                break
        if q.frame - sign not in chosen:
            chosen.append(q.frame - sign)
        return chosen

    def memory_frames(self, state: PolicyState, q: MemoryQuery, selected) -> list[tuple[int, int]]:
        chosen = self.candidates(state, q)
        newest = chosen[-(q.num_maskmem - 1) :]
        return [(q.num_maskmem - len(newest) + i, t) for i, t in enumerate(newest)]

    def pointer_frames(self, state: PolicyState, q: MemoryQuery) -> list[tuple[int, int]]:
        chosen = self.candidates(state, q)
        return [(rank, chosen[-rank]) for rank in range(1, min(q.max_pointers, len(chosen)))]
