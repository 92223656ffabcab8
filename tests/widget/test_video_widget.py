"""The video widget (sam2_widget/video_widget.py) driven through its messages.

A tiny random-weight model at image size 128 and the synthetic clip of
tests/clips.py (fixtures of tests/widget/conftest.py). The reference for every mask is the same session driven
directly through ``VideoTracker`` with the widget's tracker options.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import sam2_backend as sb
from sam2_widget import Sam2VideoWidget, Sam2Widget, codecs
from tests.clips import write_video
from tests.widget.harness import VIDEO_FRAMES as T
from tests.widget.harness import Frontend, Recorder, all_masks, ok, prompt_track_and_correct, video_widget

av = pytest.importorskip("av")


def test_messages_equal_direct_tracker(clip, video_model):
    w, front = video_widget(clip, video_model)
    prompt_track_and_correct(front)
    ok(front, front.send("track", direction="both"))
    assert w.prompt_frames == [0, 4]
    assert [p["type"] for p in w.prompts] == ["point", "point"]

    trk = sb.VideoTracker(
        video_model, clip, add_all_frames_to_correct_as_cond=True, clear_non_cond_mem_around_input=True
    )
    trk.add_points(0, 1, [[30.0, 40.0]], [1])
    trk.add_box(0, 2, [60.0, 28.0, 110.0, 60.0], None, None)
    assert len(list(trk.propagate("forward", start=0))) == T
    trk.add_points(4, 1, [[70.0, 40.0]], [1])
    trk.add_points(4, 1, [[70.0, 40.0], [20.0, 80.0]], [1, 0])
    assert len(list(trk.propagate("both", start=4))) == T

    got, want = all_masks(w.results, T), all_masks(trk.results, T)
    assert sorted(got) == sorted(want) == list(range(T))
    for f in range(T):
        assert list(got[f]) == list(want[f]) == [1, 2]
        for o in want[f]:
            np.testing.assert_array_equal(got[f][o], want[f][o], err_msg=f"frame {f} object {o}")
    np.testing.assert_array_equal(w.results.masks(), trk.results.masks())
    # the shown frame's label map is the results' one
    label = codecs.decode_label_rle(w.label_rle, w.image_height, w.image_width)
    np.testing.assert_array_equal(label, trk.results.label_map(4))
    spans = {s["obj_id"]: s["ranges"] for s in w.tracked}
    for o in (1, 2):
        frames = [f for f in range(T) if want[f][o].any()]
        assert sum(b - a + 1 for a, b in spans[o]) == len(frames)
    trk.close()
    w.close()


def test_cancel_keeps_exactly_the_frames_done(clip, video_model):
    w, front = video_widget(clip, video_model)
    w.add_points([[30, 40]], [1])
    seen: list[int] = []
    reached, resume = threading.Event(), threading.Event()

    def on_change(widget, frame, masks):
        seen.append(frame)
        if len(seen) == 3:  # hold the worker after its third tracked frame
            reached.set()
            assert resume.wait(30)

    w.on_change(on_change)
    seq = front.send("track", direction="forward")
    assert reached.wait(60)
    assert w.progress["running"]
    cancel = front.send("cancel")  # handled on this thread while the worker is busy
    assert front.acks()[cancel]["ok"]
    resume.set()
    ok(front, seq)
    assert seen == [0, 1, 2]
    assert w.results.frames == [0, 1, 2]
    assert w.progress["done"] == 3 and w.progress["cancelled"] and not w.progress["running"]
    assert not w.error
    # cancelling again (nothing runs) is harmless, and nothing is lost
    ok(front, front.send("cancel"))
    assert w.cancel() is False and not w.error
    assert w.results.frames == [0, 1, 2]
    w.on_change(on_change, remove=True)
    assert w.track("forward") == T
    assert w.results.frames == list(range(T))
    w.close()


def test_progress_in_order(clip, video_model):
    w, front = video_widget(clip, video_model)
    w.add_points([[30, 40]], [1], frame=3)
    seen: list[dict] = []
    w.observe(lambda change: seen.append(dict(change["new"])), names="progress")
    w.goto(3)
    ok(front, front.send("track", direction="both"))
    assert len(seen) >= 2 and seen[0]["running"] and seen[0]["done"] == 0
    done = [p["done"] for p in seen]
    assert done == sorted(done)
    assert all(p["total"] == T and p["direction"] == "both" for p in seen)
    assert seen[-1]["done"] == T and not seen[-1]["running"] and not seen[-1]["cancelled"]
    assert w.status == "idle" and "tracked 8 frames" in w.status_text
    w.close()


def test_fetch_frames(clip, video_model):
    w, front = video_widget(clip, video_model)
    w.add_points([[30, 40]], [1])
    w.track("forward")
    seq = front.send("fetch_frames", indices=[5, 0])
    ok(front, seq)
    frames = front.frames
    assert [c["index"] for c, _ in frames] == [5, 0]
    for content, (jpeg, rle) in frames:
        i = content["index"]
        assert (content["width"], content["height"]) == (clip.shape[2], clip.shape[1])
        assert jpeg == codecs.encode_jpeg(clip[i])
        label = codecs.decode_label_rle(rle, content["height"], content["width"])
        np.testing.assert_array_equal(label, w.results.label_map(i))
    bad = front.send("fetch_frames", indices=[0, T])
    ack = front.ack(bad)
    assert not ack["ok"] and "out of range" in ack["error"]
    ack = front.ack(front.send("fetch_frames", indices="all"))
    assert not ack["ok"] and "indices" in ack["error"]
    w.close()


def test_save_load_round_trip(tmp_path, clip, video_model):
    w, _ = video_widget(clip, video_model)
    w.add_points([[30, 40]], [1])
    second = w.add_object("square")
    w.add_box([60, 28, 110, 60], obj_id=second, frame=2)
    mask = np.zeros(clip.shape[1:3], bool)
    mask[70:84, 10:60] = True
    third = w.add_object("bar")
    w.add_mask(mask, obj_id=third, frame=1)
    w.track("both", frame=1)
    w.rename_object(1, "disk")
    w.set_visible(second, False)
    w.goto(5)
    path = w.save_session(tmp_path / "clip.npz")
    with pytest.raises(ValueError, match="in-memory clip"):
        Sam2Widget.load_session(path, model=video_model)
    w2 = Sam2Widget.load_session(path, clip, model=video_model)
    assert isinstance(w2, Sam2VideoWidget)
    assert w2.objects == w.objects and w2.selected_id == w.selected_id
    assert w2.image_index == 5 and w2.prompt_frames == w.prompt_frames == [0, 1, 2]
    for f in range(T):
        assert w2._session.prompts(f) == w._session.prompts(f)
    np.testing.assert_array_equal(w2.results.masks(), w.results.masks())
    for f in range(T):
        assert w2.results.scores(f) == w.results.scores(f)
    assert w2.tracked == w.tracked and w2.label_rle == w.label_rle
    assert w2.track("forward", frame=0) == T  # tracking again works from the replayed prompts
    w.close()
    w2.close()


def test_video_file_save_video_and_session(tmp_path, clip, video_model):
    src = tmp_path / "clip.mp4"
    write_video(src, clip, options={"crf": "10"}, gop=4)
    w = Sam2Widget(src, model=video_model)  # a video file is always a clip
    assert isinstance(w, Sam2VideoWidget) and w.image_count == T
    w.add_points([[30, 40]], [1])
    w.track("forward")
    out = w.save_video(tmp_path / "overlay.mp4")
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == T and frames[0].shape == clip.shape[1:]
    blue = np.array([0x1F, 0x77, 0xB4], float)  # object 1's colour
    for i, frame in enumerate(frames):
        m = w.results.mask(i, 1)
        if m.sum() < 50:
            continue
        inside = frame[m].astype(float).mean(0)
        original = w.tracker.source.get(i)[m].astype(float).mean(0)
        assert np.abs(inside - blue).sum() < np.abs(original - blue).sum() - 20, i
    path = w.save_session(tmp_path / "s.npz")
    w2 = Sam2Widget.load_session(path, model=video_model)  # the clip is found by its path
    np.testing.assert_array_equal(w2.results.masks(), w.results.masks())
    w.close()
    w2.close()


def test_bad_inputs(tmp_path, clip, video_model):
    with pytest.raises(FileNotFoundError):
        Sam2Widget(tmp_path / "missing.mp4", model=video_model)
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    with pytest.raises(ValueError, match="Could not open"):
        Sam2Widget(fake, model=video_model)

    w, front = video_widget(clip, video_model)
    w.add_points([[30, 40]], [1])
    w.track("forward")
    before = w.results.masks()
    # out-of-range frames, from the front end and from Python
    ack = front.ack(front.send("goto", index=T))
    assert not ack["ok"] and "out of range" in ack["error"] and "out of range" in w.error
    with pytest.raises(ValueError, match="out of range"):
        w.add_points([[30, 40]], [1], frame=-1)
    with pytest.raises(ValueError, match="direction"):
        w.track("sideways")
    # deleting an object while tracking is refused, and nothing is lost
    reached, resume = threading.Event(), threading.Event()

    def hold(widget, frame, masks):
        reached.set()
        assert resume.wait(30)

    w.on_change(hold)
    seq = front.send("track", direction="forward")
    assert reached.wait(60)
    seq_delete = front.send("delete_object", id=1)
    ack = front.acks()[seq_delete]
    assert not ack["ok"] and "Cancel" in ack["error"]
    seq_undo = front.send("undo")  # undo too: it may remove or bring back objects
    ack = front.acks()[seq_undo]
    assert not ack["ok"] and "undo or redo while tracking" in ack["error"] and "Cancel" in ack["error"]
    assert [o["id"] for o in w.objects] == [1]
    front.send("cancel")
    resume.set()
    ok(front, seq)
    w.on_change(hold, remove=True)
    np.testing.assert_array_equal(w.results.masks(), before)
    assert w.prompt_frames == [0]
    # after the errors, the widget works and deleting when idle removes the masks
    ok(front, front.send("delete_object", id=1))
    assert w.objects == [] and w.results.frames == [] and w.tracked == []
    ack = front.ack(front.send("track", direction="forward"))
    assert not ack["ok"] and "nothing to track" in ack["error"]
    w.close()

    # an image set refuses the video messages
    images = Sam2Widget(list(clip[:2]), model=video_model)
    assert not isinstance(images, Sam2VideoWidget) and not images.is_video
    f = Frontend(images)
    ack = f.ack(f.send("track", direction="forward"))
    assert not ack["ok"] and "for videos" in ack["error"]
    images.close()


def test_truncated_video(tmp_path, video_model):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, size=(24, 96, 128, 3), dtype=np.uint8)  # noise: the cut lands mid-clip
    full = tmp_path / "full.mp4"
    write_video(full, frames, options={"crf": "10"}, gop=4, faststart=True)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    w = Sam2Widget(cut, model=video_model)
    front = Recorder(w)
    assert w.image_count == 24  # the container still says 24
    w.add_points([[30, 40]], [1])
    ack = front.ack(front.send("goto", index=23))
    assert not ack["ok"] and "truncated" in ack["error"] and "truncated" in w.error
    assert w.image_index == 23 and w.image_jpeg == b""
    ok(front, front.send("goto", index=0))
    assert w.image_jpeg and not w.error
    ack = front.ack(front.send("track", direction="forward"))
    assert not ack["ok"] and "truncated" in ack["error"]
    done = w.results.frames
    assert done and done == list(range(len(done))) and len(done) < 24  # the frames before the cut are kept
    assert w.prompt_frames == [0] and not w.progress["running"]
    ack = front.ack(front.send("fetch_frames", indices=[1, 23]))
    assert not ack["ok"] and "truncated" in ack["error"]
    replies = {c["index"]: c for c, _ in front.frames}
    assert "error" not in replies[1] and "truncated" in replies[23]["error"]
    w.close()
