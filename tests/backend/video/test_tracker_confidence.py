"""VideoTracker: the object score and predicted IoU of each step reach TrackResults; tracking a
subset of the objects; the diff a re-track leaves. A tiny randomised model on the clip of tests/clips.py."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_backend import VideoTracker
from sam2_backend.video import tracker as tracker_module
from tests.backend.reference import randomize_
from tests.clips import make_clip
from tests.models import tiny_model

CLIP = make_clip(8)
DISK_CLICK = [[20, 40]]
SQUARE_BOX = [98, 28, 127, 59]
BAR_BOX = [10, 70, 60, 84]


@pytest.fixture(scope="module")
def model():
    return randomize_(tiny_model(128), seed=0)  # visible objects, varied scores (see test_tracker.py)


def _prompted(model, objects=(1, 2, 3)) -> VideoTracker:
    trk = VideoTracker(model, CLIP, add_all_frames_to_correct_as_cond=True)  # a correction is kept, as in the widget
    if 1 in objects:
        trk.add_points(0, 1, DISK_CLICK, [1])
    if 2 in objects:
        trk.add_box(0, 2, SQUARE_BOX)
    if 3 in objects:
        trk.add_box(0, 3, BAR_BOX)
    return trk


def test_results_hold_the_score_and_iou_each_step_computed(model, monkeypatch):
    trk = _prompted(model)
    computed = {}  # (frame, obj_id) -> (score, iou) of the step's output
    real_step = tracker_module.track_step

    def recording_step(model, frame, feats, obj, **kw):
        out = real_step(model, frame, feats, obj, **kw)
        obj_id = next(i for i, o in trk._objects.items() if o is obj)
        computed[(frame, obj_id)] = (out.object_score.item(), out.iou.item())
        return out

    monkeypatch.setattr(tracker_module, "track_step", recording_step)
    trk.add_points(0, 1, DISK_CLICK, [1])  # the prompt frame again, through the recording step
    list(trk.propagate())
    scores, ious = trk.results.object_scores(), trk.results.predicted_ious()
    assert scores.shape == ious.shape == (len(CLIP), 3)
    for f in range(len(CLIP)):
        for n, o in enumerate((1, 2, 3)):
            if (f, o) not in computed:
                assert f == 0 and o in (2, 3)  # prompted before recording began
                continue
            score, iou = computed[(f, o)]
            assert scores[f, n] == np.float32(score) and ious[f, n] == np.float32(iou), (f, o)
    assert len({float(v) for v in ious[1:].ravel()}) > 3  # the IoUs vary: the check is not trivial
    conf = trk.results.confidence()
    np.testing.assert_allclose(conf, 1 / (1 + np.exp(-scores.astype(np.float64))) * ious, rtol=1e-5)
    trk.close()


def test_a_mask_prompt_has_iou_one(model):
    trk = VideoTracker(model, CLIP)
    mask = np.zeros(CLIP.shape[1:3], bool)
    mask[30:50, 10:40] = True
    trk.add_mask(0, 1, mask)
    assert trk.results.ious(0) == {1: 1.0}
    trk.close()


def _masks_and_scores(trk, obj_id):
    r = trk.results
    return {f: (r.mask(f, obj_id), r.scores(f)[obj_id], r.ious(f)[obj_id]) for f in r.frames if obj_id in r.scores(f)}


def _assert_same(a, b):
    assert sorted(a) == sorted(b)
    for f in a:
        np.testing.assert_array_equal(a[f][0], b[f][0], err_msg=f"frame {f}")
        assert a[f][1:] == b[f][1:], f


def test_subset_tracking_leaves_others_and_equals_tracking_them_alone(model):
    everyone = _prompted(model)
    list(everyone.propagate())
    before = {o: _masks_and_scores(everyone, o) for o in (1, 3)}
    # a correction of the square on frame 4, re-tracked for the square alone
    everyone.add_points(4, 2, [[100, 60]], [0])
    tracked = [f for f, masks in everyone.propagate(start=4, objects=[2])]
    assert tracked == list(range(4, len(CLIP)))
    for o in (1, 3):
        _assert_same(_masks_and_scores(everyone, o), before[o])

    alone = _prompted(model, objects=(2,))
    list(alone.propagate())
    alone.add_points(4, 2, [[100, 60]], [0])
    list(alone.propagate(start=4))
    _assert_same(_masks_and_scores(everyone, 2), _masks_and_scores(alone, 2))

    # the diff of the re-track names the square's frames only
    changes = everyone.results.diff()
    assert changes and {c.obj_id for c in changes} == {2}
    assert {c.frame for c in changes} <= set(range(4, len(CLIP)))
    assert all(c.kind == "changed" and 0 <= c.iou < 1 for c in changes)
    everyone.close()
    alone.close()


def test_subset_from_its_own_first_prompt_and_bad_ids(model):
    trk = _prompted(model, objects=(1,))
    trk.add_box(3, 2, SQUARE_BOX)
    frames = [f for f, masks in trk.propagate(objects=[2])]
    assert frames[0] == 3  # the default start is the subset's earliest prompt
    assert all(set(trk.results.scores(f)) == {2} for f in range(4, len(CLIP)))
    with pytest.raises(KeyError, match="No object 9"):
        list(trk.propagate(objects=[9]))
    with pytest.raises(ValueError, match="at least one"):
        list(trk.propagate(objects=[]))
    trk.close()
