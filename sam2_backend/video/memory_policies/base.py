"""What a memory policy decides, and SAM 2's own answers (the ``"sam2"`` policy).

A policy never changes the model's blocks. Per object and tracked frame it may decide:
which of the decoder's candidate masks to keep (SAM 2: the highest predicted IoU), which
stored frames count as conditioning memories (SAM 2: the prompted frames closest in
time), and which tracked frames fill the recent-memory slots (SAM 2: the last
``num_maskmem - 1`` frames in the direction of travel). After every tracked frame it sees
what the step computed, and keeps what it needs in a per-object :class:`PolicyState`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from ..memory_bank import FrameState, select_cond_frames


class FrameScores(NamedTuple):
    """What the step said about one object on one tracked frame.

    iou: predicted IoU of the kept mask; object_score: the presence logit (> 0: visible);
    motion: IoU of the kept mask's box with a motion model's prediction, when a policy has one.
    """

    iou: float
    object_score: float
    motion: float | None = None


@dataclass
class PolicyState:
    """A policy's memory of one object: the scores of its tracked frames, and the policy's own extras.

    video_size: (height, width) of the clip, set by the tracker.
    """

    scores: dict[int, FrameScores] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    video_size: tuple[int, int] | None = None


class MemoryQuery(NamedTuple):
    """What a policy may look at when it picks the memories of ``frame``.

    max_cond: the model's ``max_cond_frames_in_attn``; max_pointers: the object pointers read at most
    (``max_obj_ptrs_in_encoder``, at most the clip's length); cond: the object's prompted frames;
    tracked: a tracked frame's state (None if there is none).
    """

    frame: int
    reverse: bool
    num_frames: int | None
    num_maskmem: int
    stride: int
    max_cond: int
    max_pointers: int
    cond: dict[int, FrameState]
    tracked: Callable[[int], FrameState | None]


class Candidates(NamedTuple):
    """The decoder's candidate masks of one object on one tracked frame (before a policy chooses).

    low_res: (M, s, s) logits; high_res: (M, S, S) logits at the model's input size; ious: (M,).
    """

    low_res: torch.Tensor
    high_res: torch.Tensor
    ious: torch.Tensor


class MemoryPolicy:
    """SAM 2's behaviour. ``visible_above``: the object-score logit above which the decoder's
    mask is kept (SAM 2: 0). ``needs_candidates``: the step hands every candidate mask to
    :meth:`choose_mask` (SAM 2 does not need them, and its step stays as it is)."""

    name = "sam2"
    visible_above = 0.0
    needs_candidates = False

    def options(self) -> dict[str, Any]:
        """The policy's options, as keywords that rebuild it (for session files)."""
        return {}

    def new_state(self) -> PolicyState:
        return PolicyState()

    def choose_mask(self, state: PolicyState, frame: int, reverse: bool, candidates: Candidates) -> int:
        """Index of the kept candidate on a tracked frame."""
        return int(torch.argmax(candidates.ious))

    def select_cond(self, state: PolicyState, q: MemoryQuery) -> tuple[dict[int, FrameState], dict[int, FrameState]]:
        """The conditioning memories attended to, and the other conditioning frames."""
        return select_cond_frames(q.frame, q.cond, q.max_cond)

    def memory_frames(
        self, state: PolicyState, q: MemoryQuery, selected: dict[int, FrameState]
    ) -> list[tuple[int, int]] | None:
        """(t_pos, frame) of the recent memories read (t_pos in 1..num_maskmem - 1, the newest
        highest), or None for SAM 2's choice."""
        return None

    def pointer_frames(self, state: PolicyState, q: MemoryQuery) -> list[tuple[int, int]] | None:
        """(temporal position, frame) of the tracked frames whose object pointers are read (fewer than
        ``q.max_pointers``), or None for SAM 2's choice (the frames just before, at their distance)."""
        return None

    def observe(self, state: PolicyState, frame: int, reverse: bool, scores: FrameScores, kept: FrameState) -> bool:
        """Record a tracked frame (called once per object and tracked frame, after its memory is encoded).

        True: the frame becomes a conditioning memory, and the tracker encodes its memory again as
        it encodes a prompted frame's (SAM 2 binarises those masks).
        """
        state.scores[frame] = scores
        return False

    def forget(self, state: PolicyState) -> None:
        """The object's tracked frames were dropped (a reset): start afresh."""
        state.scores.clear()
        state.extra.clear()


def sam2_frames(frame: int, reverse: bool, num_maskmem: int, stride: int) -> list[tuple[int, int]]:
    """SAM 2's (t_pos, frame) of the recent memories: every ``stride``-th frame, the previous frame last."""
    sign = -1 if reverse else 1
    out = []
    for t_pos in range(1, num_maskmem):
        back = num_maskmem - t_pos
        if back == 1:
            prev = frame - sign
        elif not reverse:
            prev = ((frame - 2) // stride) * stride - (back - 2) * stride
        else:
            prev = -(-(frame + 2) // stride) * stride + (back - 2) * stride
        out.append((t_pos, prev))
    return out


def recent_passing(
    state: PolicyState,
    q: MemoryQuery,
    passes: Callable[[FrameScores], bool],
    *,
    stop: int,
    look_back: int,
) -> list[tuple[int, int]]:
    """The most recent tracked frames (direction of travel) whose scores pass, for the
    ``num_maskmem - 1`` slots, the newest in the highest; the previous frame is always kept.
    ``stop``: the first frame index, counted in the direction of travel, that is not searched;
    at most ``look_back`` passing frames are gathered before the previous frame is added."""
    sign = -1 if q.reverse else 1
    chosen: list[int] = []
    t = q.frame - sign
    while (t < stop if q.reverse else t > stop) and len(chosen) < look_back:
        scores = state.scores.get(t)
        if scores is not None and passes(scores):
            chosen.insert(0, t)
        t -= sign
    if q.frame - sign not in chosen:
        chosen.append(q.frame - sign)
    slots = q.num_maskmem - 1
    picked = chosen[-slots:]
    return [(slots - len(picked) + 1 + i, t) for i, t in enumerate(picked)]
