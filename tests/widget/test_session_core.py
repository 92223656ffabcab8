"""The session core both sessions share: objects, prompts and their checks, undo/redo history,
and the one session-file reader. Pure Python except where a clip needs a tracker."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sam2_backend.inputs import check_object_mask as check_mask
from sam2_widget.checks import check_flag, check_index, check_int
from sam2_widget.history import History
from sam2_widget.images import ImageSet
from sam2_widget.objects import ObjectList, ObjectRegistry
from sam2_widget.prompts import Box, Point, check_box, check_clicks, with_box
from sam2_widget.session import Session
from sam2_widget.session_file import (
    SavedSession,
    SavedVideoSession,
    read_session_file,
    write_session,
    write_video_session,
)
from sam2_widget.video_session import VideoSession


def image_session(n: int = 2) -> Session:
    return Session(ImageSet.from_source([np.zeros((60, 80, 3), np.uint8)] * n))


def test_history_keeps_a_bounded_undo_stack_and_clears_redo_on_a_new_step():
    h: History[int] = History(limit=3)
    assert not h.can_undo and h.undo(0) is None and h.redo(0) is None
    for before in range(5):
        h.push(before)
    assert h.undo(5) == 4 and h.undo(4) == 3 and h.undo(3) == 2 and h.undo(2) is None  # oldest dropped
    assert h.can_redo and h.redo(2) == 3
    h.update(lambda s: s * 10)
    assert h.undo(30) == 20 and h.redo(20) == 30 and h.redo(30) == 40
    h.push(7)
    assert not h.can_redo and h.depth == 3
    h.clear()
    assert not h.can_undo and not h.can_redo


def test_object_list_and_registry():
    reg = ObjectRegistry()
    objects, first = reg.add(ObjectList())
    objects, second = reg.add(objects, "  cat ")
    assert (first, second) == (1, 2) and objects == ObjectList((1, 2), 2)
    assert [(o.id, o.name) for o in reg.listed(objects)] == [(1, "object 1"), (2, "cat")]
    assert reg.target(objects) == (objects, 2) and reg.target(objects, np.int64(1)) == (objects, 1)
    assert reg.target(objects.selecting(0)) == (ObjectList((1, 2, 3), 3), 3)  # none selected: a new one
    assert objects.removed([2]) == ObjectList((1,), 0) and objects.removed([1]) == ObjectList((2,), 2)
    with pytest.raises(KeyError, match=r"unknown object id 5 \(objects: 1, 2\)"):
        objects.check(5)
    with pytest.raises(TypeError, match="object id must be an int"):
        objects.selecting(True)
    with pytest.raises(ValueError, match="non-empty"):
        reg.add(objects, " ")
    reg.set_visible(objects, 1, np.bool_(False))
    reg.rename(objects, 1, "dog")
    assert reg.info(1).visible is False and reg.info(1).name == "dog"


def test_checks():
    assert check_int(np.int32(3), "x") == 3 and type(check_int(np.int32(3), "x")) is int
    with pytest.raises(TypeError, match="x must be an int, got float 1.0"):
        check_int(1.0, "x")
    with pytest.raises(ValueError, match=r"frame index 4 is out of range: the clip has 4 frames \(0 to 3\)"):
        check_index(4, 4, "frame", "clip")
    assert check_flag(np.bool_(True), "visible") is True
    with pytest.raises(TypeError, match="True or False"):
        check_flag(1, "visible")


def test_prompt_checks_keep_coordinates_as_given():
    clicks = check_clicks([[30.1, 20.7]], [1], (60, 80))
    assert clicks == [(30.1, 20.7, 1)]  # float64 as given, not 30.100000381469727
    assert check_box(np.array([1.1, 2.2, 30.3, 40.4]), (60, 80)) == (1.1, 2.2, 30.3, 40.4)
    with pytest.raises(ValueError, match=r"\(N, 2\) for one object"):
        check_clicks(np.ones((2, 1, 2)), np.ones((2, 1)), (60, 80))
    with pytest.raises(ValueError, match="one object"):
        check_box([[1, 1, 5, 5], [1, 1, 6, 6]], (60, 80))
    ones = np.ones((60, 80), np.uint8)
    assert check_mask(ones, (60, 80)).dtype == bool and check_mask(torch.zeros(60, 80), (60, 80)).sum() == 0
    assert check_mask(ones * 255, (60, 80)).all()  # a 0/255 label PNG: non-zero is the object
    with pytest.raises(ValueError, match="only 0 and 1.*mask > 0.5"):
        check_mask(ones * 0.5, (60, 80))
    with pytest.raises(ValueError, match=r"\(H, W\) = \(60, 80\); got shape \(80, 60\)"):
        check_mask(ones.T, (60, 80))
    prompts = (Point(1, 1.0, 1.0, 1), Box(1, 0, 0, 5, 5), Box(2, 0, 0, 9, 9))
    assert with_box(prompts, Box(1, 1, 1, 4, 4)) == (prompts[0], Box(1, 1, 1, 4, 4), prompts[2])
    assert with_box(prompts[:1], Box(3, 1, 1, 4, 4)) == (prompts[0], Box(3, 1, 1, 4, 4))


def test_a_stored_click_keeps_its_float64_coordinates_in_both_sessions(clip, video_model):
    s = image_session()
    s.add_points(0, [[30.1, 20.7]], [1])
    s.add_box(0, [1.1, 2.2, 30.3, 40.4])
    assert s.prompts(0) == (Point(1, 30.1, 20.7, 1), Box(1, 1.1, 2.2, 30.3, 40.4))
    v = VideoSession(video_model, clip)
    v.add_points(3, [[30.1, 20.7]], [1])
    v.add_box(3, [1.1, 2.2, 30.3, 40.4])
    assert v.prompts(3) == (Point(1, 30.1, 20.7, 1), Box(1, 1.1, 2.2, 30.3, 40.4))
    v.close()


def test_both_sessions_take_numpy_bools_for_visibility_and_share_object_rules(clip, video_model):
    for s in (image_session(), VideoSession(video_model, clip)):
        obj = s.add_object()
        s.set_visible(obj, np.bool_(False))
        assert s.objects()[0].visible is False
        with pytest.raises(TypeError, match="visible must be True or False"):
            s.set_visible(obj, "no")
        with pytest.raises(ValueError, match="non-empty"):
            s.add_object("")
        with pytest.raises(KeyError, match="unknown object id 9"):
            s.rename_object(9, "x")
        s.select_object(0)
        assert s.selected_id == 0 if isinstance(s, VideoSession) else s.state.selected_id == 0
        s.select_object(np.int64(obj))
        assert s.undo() and s.objects() == [] and s.redo()
        assert s.objects()[0].visible is False  # visibility is not undone


def test_one_reader_for_both_kinds_of_session_file(tmp_path, clip, video_model):
    s = image_session()
    s.add_points(1, [[30.1, 20.7]], [0])
    write_session(tmp_path / "image.npz", s, "tiny", 1)
    v = VideoSession(video_model, clip)
    v.add_box(2, [1.5, 2.5, 30.5, 40.5])
    write_video_session(tmp_path / "clip.npz", v, "tiny", None, 2)
    v.close()

    image = read_session_file(tmp_path / "image.npz")
    assert isinstance(image, SavedSession) and image.image_index == 1
    assert image.state.images[1].prompts == (Point(1, 30.1, 20.7, 0),) and image.state.selected_id == 1
    video = read_session_file(tmp_path / "clip.npz")
    assert isinstance(video, SavedVideoSession) and (video.source, video.frame) == (None, 2)
    restored = VideoSession(video_model, clip)
    restored.restore(video.meta, video.runs)
    assert restored.prompts(2) == (Box(1, 1.5, 2.5, 30.5, 40.5),) and restored.selected_id == 1
    restored.close()

    write_meta(tmp_path / "other.npz", {"format": "other", "version": 1}, [])
    with pytest.raises(ValueError, match="not a readable sam2_widget session file.*format marker is 'other'"):
        read_session_file(tmp_path / "other.npz")
    write_meta(tmp_path / "newer.npz", {"format": "sam2_widget.video_session", "version": 2}, [])
    with pytest.raises(ValueError, match=r"version 2 is newer than this sam2_widget reads \(1\)"):
        read_session_file(tmp_path / "newer.npz")
    with pytest.raises(FileNotFoundError):
        read_session_file(tmp_path / "none.npz")


def write_meta(path, meta: dict, runs: list[int], **arrays) -> None:
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), runs=np.array(runs, np.uint32), **arrays)


def test_files_in_the_version_1_layouts_still_load(tmp_path, clip, video_model):
    # Written out by hand as the first sam2_widget that saved sessions wrote them.
    write_meta(
        tmp_path / "image.npz",
        {
            "format": "sam2_widget.session",
            "version": 1,
            "model": "tiny",
            "images": [{"name": "a", "array": "image_0"}],
            "objects": [{"id": 2, "name": "cat", "color": "#ff7f0e", "visible": False}],
            "object_ids": [2],
            "selected_id": 2,
            "next_id": 3,
            "image_index": 0,
            "per_image": [
                {
                    "prompts": [{"obj_id": 2, "type": "point", "x": 5.5, "y": 6.0, "label": 1}],
                    "seeds": [],
                    "masks": [{"obj_id": 2, "offset": 0, "length": 2, "score": 0.5, "fresh": True}],
                }
            ],
        },
        [10, 2],
        image_0=np.zeros((3, 4, 3), np.uint8),
    )
    saved = read_session_file(tmp_path / "image.npz")
    assert isinstance(saved, SavedSession) and saved.next_id == 3 and saved.objects[0].name == "cat"
    img = saved.state.images[0]
    assert saved.state.object_ids == (2,) and img.prompts == (Point(2, 5.5, 6.0, 1),)
    assert img.masks[2].key == img.key(2) and img.stale_objects() == []
    s = Session(ImageSet.from_source(saved.source))
    s.restore(saved.objects, saved.next_id, saved.state)
    assert s.masks(0)[2].sum() == 2 and s.add_object() == 3

    h, w = clip.shape[1:3]
    write_meta(
        tmp_path / "clip.npz",
        {
            "format": "sam2_widget.video_session",
            "version": 1,
            "model": "tiny",
            "source": None,
            "frame": 1,
            "objects": [{"id": 1, "name": "object 1", "color": "#1f77b4", "visible": True}],
            "selected_id": 1,
            "next_id": 2,
            "prompts": [{"frame": 1, "prompts": [{"obj_id": 1, "type": "point", "x": 30.0, "y": 40.0, "label": 1}]}],
            "mask_prompts": [],
            "tracked": [{"frame": 1, "obj_id": 1, "score": 1.0, "offset": 0, "length": 2}],
        },
        [5, h * w - 5],
    )
    video = read_session_file(tmp_path / "clip.npz")
    assert isinstance(video, SavedVideoSession) and video.frame == 1
    v = VideoSession(video_model, clip)
    v.restore(video.meta, video.runs)
    assert v.prompts(1) == (Point(1, 30.0, 40.0, 1),) and v.masks(1)[1].sum() == h * w - 5
    v.close()
