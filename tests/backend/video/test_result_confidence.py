"""TrackResults: predicted IoUs, confidence, weak frames, appear/disappear, and diff between versions."""

import math

import numpy as np
import pytest

from sam2_backend.video import TrackResults
from sam2_backend.video.results import MaskChange

H, W = 6, 8


def _mask(x0: int, x1: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[1:4, x0:x1] = True
    return m


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def scripted() -> TrackResults:
    """Frames 0-7 of object 1, 2-5 of object 2; object 1 absent on 3-4, weak on 6; frame 8 untracked."""
    r = TrackResults(H, W, num_frames=10)
    ious = {0: 0.9, 1: 0.9, 2: 0.95, 3: 0.8, 4: 0.7, 5: 0.9, 6: 0.3, 7: 0.9}
    for f, iou in ious.items():
        absent = f in (3, 4)
        r.set(f, 1, _mask(0, 0) if absent else _mask(0, 3), -4.0 if absent else 6.0, iou)
    for f in range(2, 6):
        r.set(f, 2, _mask(4, 7), 5.0 if f != 5 else 0.5, 0.6)
    r.set(9, 1, _mask(0, 3), 6.0, 0.9)  # after an untracked gap: no transition across it
    return r


def test_ious_and_arrays_follow_what_was_stored():
    r = scripted()
    assert r.ious(6) == {1: pytest.approx(0.3)}
    assert r.scores(6) == {1: 6.0}
    conf = r.confidence()
    assert conf.shape == (10, 2) and conf.dtype == np.float32
    assert np.isnan(conf[8]).all() and np.isnan(conf[0, 1]) and np.isnan(conf[9, 1])
    assert conf[6, 0] == pytest.approx(_sigmoid(6.0) * 0.3, rel=1e-6)
    assert conf[5, 1] == pytest.approx(_sigmoid(0.5) * 0.6, rel=1e-6)
    assert r.object_scores()[3, 0] == -4.0 and r.predicted_ious()[4, 0] == pytest.approx(0.7)
    assert r.confidence(2, 4, [2]).shape == (2, 1)


def test_unknown_iou_counts_as_one():
    r = TrackResults(H, W)
    r.set(0, 1, _mask(0, 3), 2.0)
    assert math.isnan(r.ious(0)[1])
    assert r.confidence()[0, 0] == pytest.approx(_sigmoid(2.0))


def test_weak_frames_are_present_objects_below_the_threshold():
    r = scripted()
    # object 2 on 2-5: sigmoid(5) * 0.6 ~ 0.596, frame 5: sigmoid(0.5) * 0.6 ~ 0.374; object 1 on 6: ~0.299
    assert r.weak_frames(0.5) == [5, 6]
    assert r.weak_frames(0.5, obj_id=1) == [6]
    assert r.weak_frames(0.7) == [2, 3, 4, 5, 6]
    assert r.weak_frames(0.1) == []


def test_transitions_compare_neighbouring_tracked_frames():
    assert scripted().transitions() == [(3, 1, "disappears"), (5, 1, "appears")]
    r = scripted()
    r.set(6, 2, _mask(0, 0), -1.0, 0.5)
    assert r.transitions(obj_id=2) == [(6, 2, "disappears")]


def test_diff_reports_the_last_closed_version():
    r = scripted()
    r.end_run()
    first = r.diff()
    assert all(c.kind == "added" for c in first) and len(first) == 9 + 4
    r.set(6, 1, _mask(1, 3), 6.0, 0.8)  # IoU with (0, 3): 2/3
    r.set(7, 1, _mask(0, 3), 5.0, 0.1)  # same mask: not a change
    r.set(6, 2, _mask(4, 7), 5.0, 0.6)
    r.clear_frame(9)
    assert r.diff() == first  # until the run ends
    r.end_run()
    assert r.diff() == [
        MaskChange(6, 1, "changed", pytest.approx(2 / 3)),
        MaskChange(6, 2, "added", pytest.approx(math.nan, nan_ok=True)),
        MaskChange(9, 1, "removed", pytest.approx(math.nan, nan_ok=True)),
    ]
    r.end_run()
    assert r.diff() == []


def test_diff_compares_with_the_first_value_of_the_version():
    r = scripted()
    r.end_run()
    r.set(0, 1, _mask(2, 5), 6.0, 0.9)
    r.set(0, 1, _mask(0, 3), 6.0, 0.9)  # back as it was
    r.set(1, 1, _mask(2, 3), 6.0, 0.9)
    r.set(1, 1, _mask(1, 3), 6.0, 0.9)
    r.end_run()
    assert r.diff() == [MaskChange(1, 1, "changed", pytest.approx(2 / 3))]


def test_clear_forgets_versions():
    r = scripted()
    r.end_run()
    r.clear()
    r.end_run()
    assert r.diff() == []
