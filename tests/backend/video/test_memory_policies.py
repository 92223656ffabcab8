"""The memory policies' decisions on scripted scores, boxes and masks (no model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_backend.video.memory_bank import FrameState
from sam2_backend.video.memory_policies import Candidates, FrameScores, MemoryPolicy, MemoryQuery, make_policy
from sam2_backend.video.memory_policies.base import sam2_frames
from sam2_backend.video.memory_policies.kalman import BoxFilter, box_iou, corners, mask_box, xyah
from sam2_backend.video.memory_policies.quality import confidence


def _state(low_res: torch.Tensor | None = None) -> FrameState:
    low = torch.zeros(1, 1, 4, 4) if low_res is None else low_res
    return FrameState(low, torch.zeros(1, 8), torch.ones(1, 1), torch.zeros(1, 2, 2, 2))


def _query(frame, tracked: dict[int, FrameState], cond=(0,), reverse=False, num_frames=40, max_cond=-1):
    return MemoryQuery(frame, reverse, num_frames, 7, 1, max_cond, 16, {t: _state() for t in cond}, tracked.get)


def test_make_policy_names_options_and_errors():
    assert type(make_policy()) is MemoryPolicy
    assert make_policy("samurai", stable_frames=3).options()["stable_frames"] == 3
    policy = make_policy("quality", threshold=0.2)
    assert make_policy(policy) is policy
    with pytest.raises(ValueError, match="memory must be one of"):
        make_policy("xmem")
    with pytest.raises(TypeError):
        make_policy("dam4sam", no_such_option=1)
    with pytest.raises(ValueError, match="threshold"):
        make_policy("quality", threshold=2.0)


def test_sam2_frames_forward_backward_and_stride():
    assert sam2_frames(10, False, 7, 1) == [(1, 4), (2, 5), (3, 6), (4, 7), (5, 8), (6, 9)]
    assert sam2_frames(10, True, 7, 1) == [(1, 16), (2, 15), (3, 14), (4, 13), (5, 12), (6, 11)]
    assert [t for _, t in sam2_frames(23, False, 7, 5)] == [0, 5, 10, 15, 20, 22]


def test_box_filter_follows_constant_motion():
    kf = BoxFilter((10, 10, 30, 50))
    for step in range(1, 8):
        kf.predict()
        kf.update((10 + 4 * step, 10, 30 + 4 * step, 50))
    kf.predict()
    x0, y0, x1, y1 = kf.predicted_box()
    assert abs(x0 - 42) < 1.5 and abs(x1 - 62) < 1.5 and abs(y0 - 10) < 0.5 and abs(y1 - 50) < 0.5
    assert np.allclose(corners(xyah((3, 4, 13, 24))), (3, 4, 13, 24))
    assert xyah((5, 5, 9, 5))[3] == 1  # a zero height counts as 1


def test_mask_box_and_box_iou():
    mask = torch.full((16, 16), -1.0)
    mask[3:7, 5:12] = 1.0
    assert mask_box(mask) == (5, 3, 11, 6)
    assert mask_box(torch.full((4, 4), -1.0)) == (0, 0, 0, 0)
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (0, 0, 0, 0)) == 0.0


def _candidates(boxes, ious, size=64):
    masks = torch.full((len(boxes), size, size), -5.0)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        masks[i, y0 : y1 + 1, x0 : x1 + 1] = 5.0
    return Candidates(masks[:, ::4, ::4], masks, torch.tensor(ious))


def test_samurai_prefers_the_candidate_that_follows_the_motion():
    policy = make_policy("samurai", stable_frames=3)
    state = policy.new_state()
    for t in range(6):  # a box moving 2 pixels right per frame, always the best predicted IoU
        x = 10 + 2 * t
        pick = policy.choose_mask(state, t, False, _candidates([(x, 20, x + 12, 32), (40, 40, 60, 60)], [0.9, 0.5]))
        assert pick == 0
    # Now the decoder prefers a jump elsewhere; the motion model keeps the box on its track.
    x = 22
    jump = _candidates([(50, 0, 63, 10), (x, 20, x + 12, 32)], [0.6, 0.5])
    assert policy.choose_mask(state, 6, False, jump) == 1
    assert state.extra["motion"] > 0.5
    # SAM 2 (and SAMURAI before its filter is trusted) keeps the best predicted IoU.
    assert make_policy("sam2").choose_mask(policy.new_state(), 6, False, jump) == 0
    fresh = policy.new_state()
    assert policy.choose_mask(fresh, 6, False, jump) == 0
    # A jump in frames (a new pass) restarts the filter: SAM 2's choice again.
    assert policy.choose_mask(state, 20, False, jump) == 0


def test_samurai_memory_takes_recent_confident_frames_and_always_the_previous_one():
    policy = make_policy("samurai")
    state = policy.new_state()
    tracked = {t: _state() for t in range(1, 20)}
    for t in range(1, 20):
        good = t not in (15, 16, 18, 19)
        state.scores[t] = FrameScores(0.9 if good else 0.2, 1.0)
    plan = policy.memory_frames(state, _query(20, tracked), {})
    assert plan == [(1, 11), (2, 12), (3, 13), (4, 14), (5, 17), (6, 19)]
    state.scores[12] = FrameScores(0.9, -0.5)  # the object judged absent: left out
    assert [t for _, t in policy.memory_frames(state, _query(20, tracked), {})] == [10, 11, 13, 14, 17, 19]
    # Frames 0 and 1 are never searched (the authors' bound); backwards it is mirrored.
    state = policy.new_state()
    state.scores.update({1: FrameScores(0.9, 1.0), 2: FrameScores(0.9, 1.0)})
    assert policy.memory_frames(state, _query(4, tracked), {}) == [(5, 2), (6, 3)]
    state = policy.new_state()
    state.scores.update({t: FrameScores(0.9, 1.0) for t in (36, 37, 38, 39)})
    back = policy.memory_frames(state, _query(35, tracked, cond=(39,), reverse=True), {})
    assert back == [(5, 37), (6, 36)]


def test_quality_reads_the_newest_confident_frames_for_memories_and_pointers():
    policy = make_policy("quality", threshold=0.3)
    assert confidence(FrameScores(0.9, -0.1)) == 0.0  # an absent object scores 0
    assert confidence(FrameScores(0.5, 4.0)) == pytest.approx((2 / (1 + np.exp(-4.0)) - 1) * 0.5)
    state = policy.new_state()
    for t in range(1, 20):
        state.scores[t] = FrameScores(0.9, -4.0 if t in (12, 17, 19) else 4.0)
    q = _query(20, {})
    # SAM 2 would read 14..19; the unconfident 17 is left out (19, the previous frame, stays).
    assert policy.memory_frames(state, q, {}) == [(1, 13), (2, 14), (3, 15), (4, 16), (5, 18), (6, 19)]
    # Pointers: the same candidates (15 found, 2..18, then the previous frame) newest first, at
    # their rank; the oldest candidate (2) gives none.
    pointers = policy.pointer_frames(state, q)
    assert pointers[:4] == [(1, 19), (2, 18), (3, 16), (4, 15)]
    assert len(pointers) == 15 and pointers[-1] == (15, 3)
    assert policy.memory_frames(state, _query(0, {}), {}) == []  # forwards from frame 0: nothing
    back = policy.new_state()
    back.scores.update({t: FrameScores(0.9, 4.0) for t in (36, 37, 38, 39)})
    assert policy.memory_frames(back, _query(35, {}, cond=(39,), reverse=True), {})[-1] == (6, 36)
    # A policy choosing nothing of its own (SAM 2) leaves pointers to the step.
    assert make_policy("sam2").pointer_frames(state, q) is None


def _dam4sam_state(policy, frames_visible: dict[int, bool]):
    state = policy.new_state()
    state.extra["visible"] = dict(frames_visible)
    return state


def test_dam4sam_ram_skips_empty_frames_with_its_stride():
    policy = make_policy("dam4sam")
    visible = {t: t not in (19, 15) for t in range(1, 20)}
    state = _dam4sam_state(policy, visible)
    tracked = {t: _state() for t in range(1, 20)}
    q = _query(20, tracked)
    selected, _ = policy.select_cond(state, q)
    assert list(selected) == [0]
    # previous frame 19 is empty -> 18; then every 5th: 15 (empty) -> 10, 5; frame 0 is the prompt.
    assert policy.memory_frames(state, q, selected) == [(4, 5), (5, 10), (6, 18)]


def test_dam4sam_drm_keeps_the_first_prompt_and_the_newest_before_the_previous_frame():
    policy = make_policy("dam4sam", drm_size=3)
    state = _dam4sam_state(policy, {t: True for t in range(1, 30)})
    policy.drm(state).extend([6, 12, 18, 28])
    tracked = {t: _state() for t in range(1, 30)}
    selected, unselected = policy.select_cond(state, _query(29, tracked))
    assert list(selected) == [18, 0, 12]  # 28 is the previous frame: it stays recent memory
    assert set(unselected) == {6, 28}
    plan = policy.memory_frames(state, _query(29, tracked), selected)
    assert plan[-1] == (6, 28) and all(t not in selected for _, t in plan)


def _masks_with_distractor(size=32):
    kept = torch.full((size, size), -5.0)
    kept[10:20, 10:20] = 5.0
    near = kept.clone()
    near[10:20, 22:30] = 5.0  # a second blob beside the target
    same = kept.clone()
    return kept, torch.stack([kept, near, same])


def test_dam4sam_adds_a_confident_frame_with_a_distractor_to_the_drm():
    policy = make_policy("dam4sam", min_gap=0)
    state = policy.new_state()
    state.video_size = (32, 32)
    kept, low = _masks_with_distractor()
    added = []
    for t in range(1, 5):
        policy.choose_mask(state, t, False, Candidates(low, low, torch.tensor([0.95, 0.5, 0.4])))
        added.append(policy.observe(state, t, False, FrameScores(0.95, 2.0), _state(kept[None, None])))
    # The first frame has no size history; then every frame is confident, of stable size, with a distractor.
    assert added == [False, True, True, True]
    assert policy.drm(state) == [2, 3, 4]
    gapped = make_policy("dam4sam")  # 5 frames between additions
    state = gapped.new_state()
    state.video_size = (32, 32)
    for t in range(1, 5):
        gapped.choose_mask(state, t, False, Candidates(low, low, torch.tensor([0.95, 0.5, 0.4])))
        gapped.observe(state, t, False, FrameScores(0.95, 2.0), _state(kept[None, None]))
    assert gapped.drm(state) == [2]
    unsure = make_policy("dam4sam", min_gap=0)
    state = unsure.new_state()
    state.video_size = (32, 32)
    for t in range(1, 5):
        unsure.choose_mask(state, t, False, Candidates(low, low, torch.tensor([0.7, 0.5, 0.4])))
        unsure.observe(state, t, False, FrameScores(0.7, 2.0), _state(kept[None, None]))
    assert unsure.drm(state) == []  # predicted IoU 0.7 < 0.8
