"""Editing a tracked clip: undo/redo, clicks while tracking, and which frames' masks changed.

Fixtures (tests/widget/conftest.py) and helpers (tests/widget/harness.py) as tests/widget/test_video_widget.py: a
random-weight model at image size 128, the synthetic clip, and a direct ``VideoTracker``
session as reference.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import sam2_backend as sb
from sam2_widget.video_session import VideoSession
from tests.widget.harness import VIDEO_FRAMES as T
from tests.widget.harness import all_masks, ok, prompt_track_and_correct, video_widget


def direct(model, clip) -> sb.VideoTracker:
    return sb.VideoTracker(model, clip, add_all_frames_to_correct_as_cond=True, clear_non_cond_mem_around_input=True)


def assert_masks_equal(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for f, masks in want.items():
        assert list(got[f]) == list(masks), f
        for o, mask in masks.items():
            np.testing.assert_array_equal(got[f][o], mask, err_msg=f"frame {f} object {o}")


def changes(front) -> list[dict]:
    return [m for m in front.sent if m.get("type") == "masks_changed"]


def test_undo_redo_equal_a_direct_session_with_the_final_prompts(clip, video_model):
    w, front = video_widget(clip, video_model)
    prompt_track_and_correct(front)
    tracked_box = {f: w.results.mask(f, 2) for f in range(T)}
    assert w.can_undo and not w.can_redo

    ok(front, front.send("undo"))  # Ctrl-Z sends this same message for images and clips
    assert [(p["x"], p["label"]) for p in w.prompts] == [(70.0, 1)]
    ok(front, front.send("undo"))
    assert w.prompts == [] and w.prompt_frames == [0]
    assert 1 not in w.results.frame_masks(4)  # its mask there came from the undone click: dropped
    assert 1 in w.results.frame_masks(5)  # tracked frames are kept (stale until tracked again)
    ok(front, front.send("redo"))
    assert w.can_undo and w.can_redo
    assert [(p["x"], p["label"]) for p in w.prompts] == [(70.0, 1)] and w.prompt_frames == [0, 4]
    for f in range(T):  # the box object was not touched
        np.testing.assert_array_equal(w.results.mask(f, 2), tracked_box[f])

    # the final prompts fed once to a fresh tracker: the undone object was rebuilt from them
    trk = direct(video_model, clip)
    trk.add_points(0, 1, [[30.0, 40.0]], [1])
    trk.add_points(4, 1, [[70.0, 40.0]], [1])
    trk.add_box(0, 2, [60.0, 28.0, 110.0, 60.0], None, None)
    for f in (0, 4):  # on prompted frames, the masks those prompts give
        np.testing.assert_array_equal(w.results.mask(f, 1), trk.results.mask(f, 1), err_msg=f"frame {f}")
    ok(front, front.send("goto", index=0))
    ok(front, front.send("track", direction="forward"))
    list(trk.propagate("forward", start=0))
    assert_masks_equal(all_masks(w.results, T), all_masks(trk.results, T))
    trk.close()
    w.close()


def test_undo_brings_objects_back_with_their_tracked_masks(clip, video_model):
    w, _ = video_widget(clip, video_model)
    first = w.add_points([[30, 40]], [1])
    assert list(first) == [1]
    box = w.add_object("box")
    w.add_box([60, 28, 110, 60], obj_id=box)
    w.track("forward")
    before, spans = all_masks(w.results, T), list(w.tracked)
    w.delete_object(box)
    assert [o["id"] for o in w.objects] == [1] and box not in w.results.object_ids
    w.rename_object(1, "disk")  # names and selection are not undo steps
    assert w.undo()
    assert [o["name"] for o in w.objects] == ["disk", "box"]
    assert_masks_equal(all_masks(w.results, T), before)
    assert w.tracked == spans
    assert w.redo() and box not in w.results.object_ids
    assert w.undo()
    assert_masks_equal(all_masks(w.results, T), before)
    # undoing the click that made an object removes it; redo brings it back, masks and all
    w.undo()  # the box
    w.undo()  # "add_object"
    assert w.undo() and w.objects == [] and w.results.frames == [] and w.prompt_frames == []
    assert not w.undo() and not w.can_undo
    assert w.redo() and [o["id"] for o in w.objects] == [1]
    for f in range(T):
        np.testing.assert_array_equal(w.results.mask(f, 1), before[f][1])
    w.add_points([[40, 40]], [1], obj_id=1)  # a new step clears redo
    assert not w.can_redo and not w.redo()
    w.close()


def test_click_while_tracking_is_kept_and_applied_after_the_run(clip, video_model):
    w, front = video_widget(clip, video_model)
    w.add_points([[30, 40]], [1])
    reached, resume = threading.Event(), threading.Event()

    def hold(widget, frame, masks):
        if frame == 2:
            reached.set()
            assert resume.wait(30)

    w.on_change(hold)
    track = front.send("track", direction="forward")
    assert reached.wait(60)
    click = front.send("add_point", x=44.0, y=52.0, label=0)  # on frame 0, while frame 2 is tracked
    assert click not in front.acks() and not w.error  # queued, not refused
    assert [p["label"] for p in w.prompts] == [1, 0]  # drawn at once
    assert "applied when tracking ends" in w.status_text
    resume.set()
    ok(front, track)
    ok(front, click)
    w.on_change(hold, remove=True)

    trk = direct(video_model, clip)
    trk.add_points(0, 1, [[30.0, 40.0]], [1])
    list(trk.propagate("forward", start=0))
    trk.add_points(0, 1, [[30.0, 40.0], [44.0, 52.0]], [1, 0])
    assert_masks_equal(all_masks(w.results, T), all_masks(trk.results, T))
    trk.close()
    w.close()


def test_masks_changed_names_exactly_the_changed_frames(clip, video_model):
    w, front = video_widget(clip, video_model)
    ok(front, front.send("add_point", x=30.0, y=40.0, label=1))
    assert [(m["version"], m["frames"]) for m in changes(front)] == [(1, [[0, 0]])]
    assert w.masks_version == 1
    ok(front, front.send("fetch_frames", indices=[0, 5]))
    replies = [m for m in front.sent if m.get("type") == "frame"]
    assert [(m["index"], m["masks_version"]) for m in replies] == [(0, 1), (5, 1)]

    ok(front, front.send("goto", index=5))  # showing another frame changes no masks
    assert len(changes(front)) == 1
    del front.sent[:]
    ok(front, front.send("track", direction="forward"))
    tracked = changes(front)
    versions = [m["version"] for m in tracked]
    assert versions == list(range(2, 2 + len(versions))) and w.masks_version == versions[-1]
    frames = sorted(f for m in tracked for a, b in m["frames"] for f in range(a, b + 1))
    assert frames == list(range(5, T))  # tracked from the shown frame 5 on
    # a correction changes its frame only; a fetch after it carries the new version
    del front.sent[:]
    ok(front, front.send("add_point", x=70.0, y=40.0, label=1))
    assert [m["frames"] for m in changes(front)] == [[[5, 5]]]
    ok(front, front.send("fetch_frames", indices=[5]))
    assert [m["masks_version"] for m in front.sent if m.get("type") == "frame"] == [w.masks_version]
    # hiding or deleting an object changes every frame's label map; renaming none
    del front.sent[:]
    ok(front, front.send("set_visible", id=1, visible=False))
    assert [m["frames"] for m in changes(front)] == [None]
    ok(front, front.send("rename_object", id=1, name="disk"))
    assert len(changes(front)) == 1
    w.close()


def test_add_mask_objects_makes_new_objects_ready_to_track_in_one_step(clip, video_model):
    # what "Everything" on a clip records: the automatic masks of the shown frame as new objects
    session = VideoSession(video_model, clip)
    first = session.add_object("kept")
    h, w = session.hw
    disk, bar = np.zeros((h, w), bool), np.zeros((h, w), bool)
    disk[30:50, 20:40] = True
    bar[20:40, 70:110] = True
    assert session.add_mask_objects(2, [disk, bar]) == [first + 1, first + 2]
    assert [o.id for o in session.objects()] == [first, first + 1, first + 2]
    assert session.selected_id == first + 2 and session.prompt_frames() == [2]
    dirty, deleted, rebuilt = session.take_work()
    assert dirty == [(2, first + 1), (2, first + 2)] and not deleted and not rebuilt
    for frame, obj_id in dirty:
        session.apply(frame, obj_id)
    list(session.tracker.propagate("forward", start=2))

    trk = direct(video_model, clip)
    trk.add_mask(2, first + 1, disk)
    trk.add_mask(2, first + 2, bar)
    list(trk.propagate("forward", start=2))
    assert_masks_equal(all_masks(session.tracker.results, T), all_masks(trk.results, T))
    trk.close()

    assert session.add_mask_objects(2, []) == [] and session.can_undo
    assert session.undo() and [o.id for o in session.objects()] == [first]  # both in one step
    assert session.prompt_frames() == [] and session.take_work()[1] == [first + 1, first + 2]
    assert session.redo() and [o.id for o in session.objects()] == [first, first + 1, first + 2]
    with pytest.raises(ValueError, match="the size of the image or frame"):
        session.add_mask_objects(2, [disk, disk[:10]])
    assert [o.id for o in session.objects()] == [first, first + 1, first + 2]  # nothing changed
    session.close()
