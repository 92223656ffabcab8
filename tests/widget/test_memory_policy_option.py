"""The widget's memory= / memory_options= (the clip tracker's memory policy): given to the
tracker, checked with clear errors, kept by session files and autosave."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sam2_widget import Sam2Widget
from tests.images import synthetic_image
from tests.widget.harness import Frontend, ok


def _policy(w):
    return w._session.tracker.memory_policy


def test_the_policy_and_its_options_reach_the_tracker(video_model, clip):
    w = Sam2Widget(clip, model=video_model, video=True, memory="quality", memory_options={"threshold": 0.2})
    try:
        assert (_policy(w).name, _policy(w).options()) == ("quality", {"threshold": 0.2})
        w.add_points([[30, 30]], [1])
        w.track("forward")
        assert len(w.results) == len(clip)  # tracks with it
    finally:
        w.close()
    plain = Sam2Widget(clip, model=video_model, video=True)
    try:
        assert _policy(plain).name == "sam2"  # the official behaviour stays the default
    finally:
        plain.close()


@pytest.mark.parametrize(
    ("options", "error", "says"),
    [
        ({"memory": "samurai2"}, ValueError, "memory must be one of 'sam2', 'quality', 'samurai', 'dam4sam'"),
        ({"memory": 3}, TypeError, "memory must be one of"),
        ({"memory": "quality", "memory_options": [0.2]}, TypeError, "memory_options must be None or a dict"),
        ({"memory": "samurai", "memory_options": {"kalman": 1}}, TypeError, "'samurai' has no option(s) 'kalman'"),
        ({"memory": "quality", "memory_options": {"threshold": 2.0}}, ValueError, "threshold must be in [0, 1]"),
    ],
)
def test_bad_policies_and_options_say_what_was_wrong(video_model, clip, options, error, says):
    with pytest.raises(error, match=re.escape(says)):
        Sam2Widget(clip, model=video_model, video=True, **options)


def test_an_image_widget_refuses_a_memory_policy(model):
    with pytest.raises(ValueError, match="memory= and memory_options= choose a clip tracker's memory policy"):
        Sam2Widget(synthetic_image(60, 80), model=model, memory="samurai")


def test_session_files_and_autosave_keep_the_policy(video_model, clip, tmp_path):
    options = {"stable_frames": 3, "motion_weight": 0.5}
    w = Sam2Widget(
        clip, model=video_model, video=True, memory="samurai", memory_options=options, autosave=tmp_path / "auto.npz"
    )
    try:
        w.add_points([[30, 30]], [1])
        w.track("forward")
        w.wait_idle()
        w.save_session(tmp_path / "s.npz")
        masks = w.results.masks()
        expected = _policy(w).options()
    finally:
        w.close()
    assert expected["stable_frames"] == 3 and expected["motion_weight"] == 0.5
    for path in (tmp_path / "s.npz", tmp_path / "auto.npz"):
        loaded = Sam2Widget.load_session(path, clip, model=video_model)
        try:
            assert (_policy(loaded).name, _policy(loaded).options()) == ("samurai", expected)
            np.testing.assert_array_equal(loaded.results.masks(), masks)
        finally:
            loaded.close()
    chosen = Sam2Widget.load_session(tmp_path / "s.npz", clip, model=video_model, memory="quality")
    try:
        assert _policy(chosen).name == "quality"  # a policy given to load_session wins
    finally:
        chosen.close()


def test_set_memory_switches_the_policy_for_what_is_tracked_next(video_model, clip):
    w = Sam2Widget(clip, model=video_model, video=True)
    try:
        front = Frontend(w)
        assert w.memory == {"name": "sam2", "options": {}}
        w.add_points([[30, 30]], [1])
        w.track("forward")
        before = w.results.masks()
        ok(front, front.send("set_memory", memory="quality", options={"threshold": 0.3}))
        assert (
            w.memory
            == {"name": "quality", "options": {"threshold": 0.3}}
            == {
                "name": _policy(w).name,
                "options": _policy(w).options(),
            }
        )
        np.testing.assert_array_equal(w.results.masks(), before)  # what was tracked stays
        w.set_memory("samurai", stable_frames=3)
        assert (_policy(w).name, _policy(w).options()["stable_frames"]) == ("samurai", 3)
        w.track("forward")  # and tracks with it
        assert len(w.results) == len(clip)
        w._tickets.issue()  # as if a run were queued: the policy cannot change under it
        try:
            with pytest.raises(ValueError, match="cannot change while tracking"):
                w.set_memory("sam2")
        finally:
            w._tickets.finish()
        assert _policy(w).name == "samurai"
    finally:
        w.close()
