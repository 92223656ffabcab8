"""The "quality" policy against SAM 3's own memory-selection code (quality.json, recorded by
record_quality_policy.py): the same score per tracked frame, the same frames chosen, and
those frames in the spatial-memory slots where SAM 3's tracker puts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sam2_backend.video.memory_policies import FrameScores, MemoryQuery, make_policy
from sam2_backend.video.memory_policies.quality import confidence

GOLDEN = json.loads(Path(__file__).with_name("quality.json").read_text())
NUM_MASKMEM = 7  # SAM 2.1's (and SAM 3's tracker's) memory slots: 6 past frames + the prompted ones


def _query(case: dict) -> MemoryQuery:
    max_pointers = min(case["num_frames"], GOLDEN["meta"]["max_obj_ptrs"])
    return MemoryQuery(
        case["frame"], case["reverse"], case["num_frames"], NUM_MASKMEM, case["stride"], -1, max_pointers, {}, {}.get
    )


def test_the_recording_chooses_otherwise_than_the_last_frames():
    # Not a trivial golden: on many cases SAM 3 leaves out unconfident frames that SAM 2 would read.
    skipped = 0
    for case in GOLDEN["cases"]:
        chosen = case["sam3_chosen"]
        step = -1 if case["reverse"] else 1
        nearest = [case["frame"] - step * k for k in range(1, len(chosen) + 1)]
        skipped += sorted(chosen) != sorted(t for t in nearest if 0 <= t < case["num_frames"])
    assert len(GOLDEN["cases"]) == 60 and skipped >= 20


@pytest.mark.parametrize("n", range(60))
def test_quality_chooses_what_sam3_chooses(n):
    case = GOLDEN["cases"][n]
    policy = make_policy("quality", threshold=case["threshold"])
    state = policy.new_state()
    for t, (iou, logit) in case["scores"].items():
        state.scores[int(t)] = FrameScores(iou, logit)
        assert confidence(state.scores[int(t)]) == pytest.approx(case["sam3_scores"][t], abs=1e-6)
    q = _query(case)
    assert policy.candidates(state, q) == case["sam3_chosen"]
    # SAM 3's slots: the t_rel-th newest chosen frame (t_rel = 1..6) goes to temporal slot 7 - t_rel.
    chosen = case["sam3_chosen"]
    expected = sorted((NUM_MASKMEM - k, chosen[-k]) for k in range(1, min(NUM_MASKMEM - 1, len(chosen)) + 1))
    assert sorted(policy.memory_frames(state, q, {})) == expected
