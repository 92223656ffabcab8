"""The video widget's confidence lanes (``lanes`` trait and messages), tracking a subset of the
objects, and the predicted IoUs in session files. Tiny random-weight model, the clip of tests/clips.py."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_widget import Sam2Widget
from sam2_widget.confidence_lanes import change_byte, confidence_byte
from tests.widget.harness import VIDEO_FRAMES as T
from tests.widget.harness import ok, prompt_track_and_correct, video_widget

pytest.importorskip("av")


def lanes_of(trait: dict) -> tuple[np.ndarray, np.ndarray]:
    """The ``lanes`` trait as (N, T) confidence and change byte arrays."""
    n, t = len(trait["obj_ids"]), trait["num_frames"]
    conf = np.frombuffer(trait["confidence"], np.uint8).reshape(n, t)
    return conf, np.frombuffer(trait["changes"], np.uint8).reshape(n, t)


def expected_confidence(results, obj_ids) -> np.ndarray:
    out = np.zeros((len(obj_ids), T), np.uint8)
    for f in results.frames:
        scores, ious = results.scores(f), results.ious(f)
        for k, o in enumerate(obj_ids):
            if o in scores:
                out[k, f] = confidence_byte(scores[o], ious[o])
    return out


def test_lanes_follow_the_results_and_messages_patch_them(clip, video_model):
    w, front = video_widget(clip, video_model)
    prompt_track_and_correct(front)
    ok(front, front.send("track", direction="forward"))
    lanes = w.lanes
    assert lanes["obj_ids"] == [1, 2] and lanes["num_frames"] == T
    conf, changes = lanes_of(lanes)
    np.testing.assert_array_equal(conf, expected_confidence(w.results, [1, 2]))
    assert (conf[:, :] >= 2).any()  # objects seen, with a confidence
    # the re-track after the correction on frame 4: the change lane is the results' diff
    diff = w.results.diff()
    want = np.zeros_like(changes)
    for c in diff:
        want[c.obj_id - 1, c.frame] = change_byte(c.kind, c.iou)
    np.testing.assert_array_equal(changes, want)
    assert any(c.kind == "changed" for c in diff) and changes[0].any()

    # while tracking, ``lanes`` messages carry the frames tracked since the last one, each once
    start = len(front.buffers)
    ok(front, front.send("goto", index=2))
    ok(front, front.send("add_point", x=40.0, y=40.0, label=0))
    ok(front, front.send("track", direction="forward"))
    messages = [(c, b) for c, b in front.buffers[start:] if c.get("type") == "lanes"]
    assert messages, "no lanes message while tracking"
    final_conf, _ = lanes_of(w.lanes)
    sent = []
    for content, (conf_bytes, change_bytes) in messages:
        assert content["obj_ids"] == [1, 2]
        at = 0
        for a, b in content["runs"]:
            count = b - a + 1
            for k in range(2):
                got = np.frombuffer(conf_bytes[at : at + count], np.uint8)
                np.testing.assert_array_equal(got, final_conf[k, a : b + 1])
                at += count
            sent += range(a, b + 1)
        assert at == len(conf_bytes) == len(change_bytes)
    assert len(sent) == len(set(sent)) and set(sent) <= set(range(2, T))
    w.close()


def test_track_selected_objects_only(clip, video_model):
    w, front = video_widget(clip, video_model)
    prompt_track_and_correct(front)
    r = w.results
    masks_before = r.masks()
    scores_before = {f: r.scores(f)[2] for f in r.frames}
    ok(front, front.send("track", direction="forward", objects=[1]))
    masks_after = r.masks()
    np.testing.assert_array_equal(masks_after[:, 1], masks_before[:, 1])  # object 2 untouched
    assert {f: r.scores(f)[2] for f in r.frames} == scores_before
    assert {c.obj_id for c in r.diff()} == {1}
    for bad in ([], [7], "1", [True]):
        seq = front.send("track", direction="forward", objects=bad)
        assert not front.ack(seq)["ok"]
    assert w.track("forward", frame=4, objects=[2]) == T - 4
    w.close()


def test_session_files_keep_the_ious(tmp_path, clip, video_model):
    w, front = video_widget(clip, video_model)
    prompt_track_and_correct(front)
    ok(front, front.send("track", direction="forward"))
    path = w.save_session(tmp_path / "clip.npz")
    w2 = Sam2Widget.load_session(path, clip, model=video_model)
    for f in range(T):
        assert w2.results.ious(f) == w.results.ious(f)
        assert w2.results.scores(f) == w.results.scores(f)
    np.testing.assert_array_equal(w2.results.confidence(), w.results.confidence())
    assert not np.isnan(w2.results.predicted_ious()).any()
    assert w2.lanes["confidence"] == w.lanes["confidence"]
    w.close()
    w2.close()
