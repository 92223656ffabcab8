"""``Sam2Widget(source)`` picks the widget, each widget handles the messages of its table, and
"Everything" on a clip makes objects ready to track.

A tiny random-weight video_model at image size 128 and the synthetic clip of
tests/clips.py (fixtures of tests/widget/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import sam2_backend as sb
from sam2_widget import Sam2ImageWidget, Sam2VideoWidget, Sam2Widget, messages
from tests.widget.harness import VIDEO_FRAMES as T
from tests.widget.harness import Frontend, ok

# The mask generator with no filter and no NMS keeps one mask per grid point: 4 masks whatever
# the random weights are (with its filters on it may find none).
AMG = dict(
    points_per_side=2, multimask_output=False, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0
)
SHOWN = 2  # the frame "Everything" runs on


def test_the_front_door_picks_the_widget_and_both_are_sam2widgets(clip, video_model, tmp_path):
    images = Sam2Widget(list(clip[:2]), model=video_model)
    video = Sam2Widget(clip, model=video_model, video=True)
    assert isinstance(images, Sam2ImageWidget) and not isinstance(images, Sam2VideoWidget)
    assert isinstance(video, Sam2VideoWidget) and not isinstance(video, Sam2ImageWidget)
    assert isinstance(images, Sam2Widget) and isinstance(video, Sam2Widget)
    assert not issubclass(Sam2VideoWidget, Sam2ImageWidget) and not issubclass(Sam2ImageWidget, Sam2VideoWidget)
    # load_session gives the kind the file was saved from, also when asked of the other class
    path = images.save_session(tmp_path / "images.npz")
    loaded = Sam2Widget.load_session(path, model=video_model)
    assert isinstance(loaded, Sam2ImageWidget)
    with pytest.raises(ValueError, match="holds a session of images.*Sam2Widget.load_session"):
        Sam2VideoWidget.load_session(path, model=video_model)
    # a sibling asked for the other kind of source says which call to make
    with pytest.raises(ValueError, match=r"Sam2ImageWidget shows images, but video=True.*Sam2Widget\(source"):
        Sam2ImageWidget(clip, model=video_model, video=True)
    for w in (images, video, loaded):
        w.close()


def test_each_widget_declares_its_messages_and_refuses_the_others(clip, video_model):
    for widget_class in (Sam2ImageWidget, Sam2VideoWidget):
        for kind in widget_class._messages:
            assert callable(getattr(widget_class, f"_msg_{kind}")), (widget_class, kind)
    assert set(Sam2ImageWidget._messages) | set(Sam2VideoWidget._messages) == set(messages.TYPES)

    images = Sam2Widget(list(clip[:2]), model=video_model)
    video = Sam2Widget(clip, model=video_model, video=True)
    assert images._supported_messages == list(Sam2ImageWidget._messages)
    assert video._supported_messages == list(Sam2VideoWidget._messages)
    assert "track" not in images._supported_messages and "merge_objects" not in video._supported_messages
    assert "segment_everything" in images._supported_messages and "segment_everything" in video._supported_messages
    for widget, refused, text in ((images, "fetch_frames", "for videos"), (video, "merge_objects", "for clips")):
        front = Frontend(widget)
        ack = front.ack(front.send(refused))
        assert not ack["ok"] and f"{refused} is not supported" in ack["error"] and text in ack["error"], ack
        assert f"this widget handles {', '.join(widget._messages)}." in ack["error"]
        assert widget.error == ack["error"] and widget.status == "error"
        ok(front, front.send("add_object"))  # the next message works and clears the error
        assert widget.error == ""
    images.close()
    video.close()


def test_an_unexpected_error_in_a_handler_is_acked_and_shown(clip, video_model, monkeypatch):
    w = Sam2Widget(list(clip[:2]), model=video_model)
    front = Frontend(w)

    def broken(self, msg):
        raise AttributeError("'Sam2ImageWidget' object has no attribute '_nothing'")

    monkeypatch.setattr(Sam2ImageWidget, "_msg_add_object", broken)
    ack = front.ack(front.send("add_object"))
    assert not ack["ok"] and "add_object failed unexpectedly: AttributeError" in ack["error"], ack
    assert w.error == ack["error"] and w.status == "error"
    monkeypatch.undo()
    ok(front, front.send("add_object"))
    assert [o["id"] for o in w.objects] == [1] and w.error == ""
    w.close()


def reference_everything(model, clip, start: int) -> tuple[list[np.ndarray], sb.VideoTracker]:
    """The generator's masks of frame ``start``, each given to a plain tracker as a new object's
    mask and tracked forward: what the widget must show."""
    masks = [r["segmentation"] for r in sb.AutomaticMaskGenerator(model, **AMG).generate(clip[start])]
    trk = sb.VideoTracker(model, clip, add_all_frames_to_correct_as_cond=True, clear_non_cond_mem_around_input=True)
    for obj_id, mask in enumerate(masks, start=1):
        trk.add_mask(start, obj_id, mask)
    return masks, trk


def test_everything_on_a_clip_makes_objects_ready_to_track(clip, video_model):
    masks, trk = reference_everything(video_model, clip, SHOWN)
    assert len(masks) == 4
    w = Sam2Widget(clip, model=video_model, video=True, amg_options=AMG)
    front = Frontend(w)
    ok(front, front.send("goto", index=SHOWN))
    ok(front, front.send("segment_everything"))  # the toolbar's "Everything"
    ids = list(range(1, len(masks) + 1))
    assert [o["id"] for o in w.objects] == ids and w.selected_id == ids[-1]
    assert w.prompt_frames == [SHOWN] and w.prompts == []  # mask prompts: nothing to draw as points
    want = trk.results.frame_masks(SHOWN)
    assert list(w.masks) == ids and w.label_rle
    for o in ids:
        np.testing.assert_array_equal(w.masks[o], want[o], err_msg=f"object {o}")

    ok(front, front.send("track", direction="forward"))
    assert len(list(trk.propagate("forward", start=SHOWN))) == T - SHOWN
    assert w.results.frames == list(range(SHOWN, T))
    for f in range(SHOWN, T):
        got, want = w.results.frame_masks(f), trk.results.frame_masks(f)
        assert list(got) == list(want) == ids
        for o in ids:
            np.testing.assert_array_equal(got[o], want[o], err_msg=f"frame {f} object {o}")
    trk.close()
    w.close()


def test_everything_on_a_clip_is_one_undo_step(clip, video_model):
    w = Sam2Widget(clip, model=video_model, video=True)
    w.add_points([[30, 40]], [1], frame=0)
    w.goto(SHOWN)
    ids = w.segment_everything(**AMG)
    assert len(ids) == 4 and [o["id"] for o in w.objects] == [1, *ids]
    assert list(w.masks) == ids and w.prompt_frames == [0, SHOWN]
    assert w.undo()
    w.wait_idle(60)
    assert [o["id"] for o in w.objects] == [1] and w.masks == {} and w.prompt_frames == [0]
    assert w.redo()
    w.wait_idle(60)
    assert [o["id"] for o in w.objects] == [1, *ids] and list(w.masks) == ids
    assert w.track("forward", frame=SHOWN) == T - SHOWN
    for f in range(SHOWN + 1, T):
        assert set(ids) <= set(w.results.frame_masks(f)), f"frame {f}"
    # a bad option is refused before anything is added
    with pytest.raises(ValueError, match="points_per_side"):
        w.segment_everything(points_per_side=0)
    assert [o["id"] for o in w.objects] == [1, *ids]
    w.close()
