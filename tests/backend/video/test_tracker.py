"""VideoTracker behaviour on a random-weight model.

Parity of the numbers with the official predictor is tested in
``test_tracker_parity.py``; here the tracker is checked against itself and
against what a user expects: every frame source gives the same masks, a
truncated file keeps what was tracked, spilling memories to disk changes
nothing, stopping keeps exactly the frames done, the options do what they say,
editing calls update objects and results, and bad input fails clearly without
losing anything.

Small and fast: a tiny model at image size 128, clips of 10 to 40 frames of
96x128 (``tests/clips.py``).
"""

from __future__ import annotations

import random
import tempfile
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sam2_backend import ImagePredictor, VideoTracker, build_model
from sam2_backend.postprocess import fill_holes_in_mask_scores
from sam2_backend.video import memory_bank
from sam2_backend.video.sources import FrameReadError, VideoFileSource
from tests.backend.reference import randomize_
from tests.clips import LOSSLESS_H264, H, W, disk, has_encoder, make_clip, square, write_video
from tests.models import tiny_model

av = pytest.importorskip("av")

IMAGE_SIZE = 128
NO_OBJ_SCORE = -1024.0
CLIP = make_clip(12)
DISK_CLICK = [[20, 40]]  # on the disk in frame 0
SQUARE_BOX = [98, 28, 130 - 3, 59]  # around the square in frame 0


@pytest.fixture(scope="module")
def model():
    m = tiny_model(IMAGE_SIZE)
    # build_model's own initialisation gives object-score logits of about -0.01 on every
    # frame, so every mask would be empty and every comparison trivially equal. Perturb
    # every tensor as the parity tests do: masks become large blobs, objects "visible".
    return randomize_(m, seed=0)


def tracker(model, clip=CLIP, **options) -> VideoTracker:
    """A tracker with the disk clicked on frame 0 (object 1)."""
    trk = VideoTracker(model, clip, **options)
    trk.add_points(0, 1, DISK_CLICK, [1])
    return trk


def logits(trk, frames, obj_id=1) -> dict[int, np.ndarray]:
    return {f: trk.frame_output(f, obj_id)[0] for f in frames}


def assert_same_sequence(got, expected):
    """Two lists of (frame, {obj_id: mask}) as yielded by propagate: identical."""
    assert [f for f, _ in got] == [f for f, _ in expected]
    for (f, a), (_, b) in zip(got, expected):
        assert list(a) == list(b), f"objects on frame {f}"
        for obj_id in a:
            np.testing.assert_array_equal(a[obj_id], b[obj_id], err_msg=f"frame {f}, object {obj_id}")


@pytest.fixture(scope="module")
def forward_reference(model):
    """An uninterrupted forward pass over CLIP: (yielded sequence, logits per frame)."""
    with tracker(model) as trk:
        seq = list(trk.propagate())
        return seq, logits(trk, range(len(CLIP)))


# --------------------------------------------------------------------------- 1. sources

# 16 frames: "frame_10.png" sorts between 1 and 2 unless sorted naturally, and a generator,
# whose length is unknown while tracking, gives the same numbers only from 16 frames on:
# object pointers are placed in time relative to min(num_frames, max_obj_ptrs_in_encoder=16)
# frames, as in the official predictor, and an open-ended source counts as long.
SOURCE_CLIP = make_clip(16)

# Lossless video files, so the decoded frames are the array's frames bit for bit and the
# masks must be identical: FFV1 in Matroska (RGB as bgr0), and H.264 in MP4 (LOSSLESS_H264).
# File name -> write_video's encoding keywords.
VIDEO_KINDS = {"ffv1.mkv": {"codec": "ffv1", "pix_fmt": "bgr0"}}
if has_encoder("libx264rgb"):
    VIDEO_KINDS["x264rgb_qp0.mp4"] = LOSSLESS_H264


def _source(kind, tmp_path):
    frames = SOURCE_CLIP
    if kind in VIDEO_KINDS:
        path = tmp_path / kind
        write_video(path, frames, **VIDEO_KINDS[kind])
        with VideoFileSource(path) as src:  # lossless: the comparison below must be exact
            assert len(src) == len(frames)
            for i in range(len(frames)):
                np.testing.assert_array_equal(src.get(i), frames[i])
        return path
    if kind == "png-folder":
        folder = tmp_path / "frames"
        folder.mkdir()
        order = list(range(len(frames)))
        random.Random(0).shuffle(order)  # creation order must not matter either
        for i in order:
            Image.fromarray(frames[i]).save(folder / f"frame_{i + 1}.png")
        return str(folder)
    if kind == "list":
        return list(frames)
    if kind == "generator":
        return (f for f in frames)
    raise AssertionError(kind)


def _source_session(model, source):
    with VideoTracker(model, source) as trk:
        first = trk.add_points(0, 1, [[20, 40], [60, 80]], [1, 0])  # the disk, not the bar
        seq = [(0, first)] + list(trk.propagate())
        return seq, logits(trk, range(len(SOURCE_CLIP)))


@pytest.fixture(scope="module")
def array_session(model):
    return _source_session(model, SOURCE_CLIP)


def test_array_session_is_not_trivial(array_session):
    seq, _ = array_session
    assert [f for f, _ in seq] == [0] + list(range(len(SOURCE_CLIP)))
    assert min(m[1].sum() for _, m in seq) > 100  # every mask non-empty, so equal masks mean something


@pytest.mark.parametrize("kind", [*VIDEO_KINDS, "png-folder", "list", "generator"])
def test_every_source_gives_the_same_masks(model, array_session, tmp_path, kind):
    seq, out = _source_session(model, _source(kind, tmp_path))
    ref_seq, ref_out = array_session
    assert_same_sequence(seq, ref_seq)
    for f in range(len(SOURCE_CLIP)):
        np.testing.assert_array_equal(out[f], ref_out[f], err_msg=f"logits of frame {f}")


# --------------------------------------------------------------------------- 2. truncated file


def test_truncated_video_keeps_what_was_tracked(model, tmp_path):
    frames = make_clip(24, seed=1)  # noisy background: every frame costs bytes, so the cut is mid-clip
    full = tmp_path / "full.mp4"
    write_video(full, frames, options={"crf": "10"}, gop=4, faststart=True)  # index first: the cut keeps it
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.5)])

    trk = tracker(model, cut)
    assert trk.num_frames == 24  # the container still announces every frame
    done = []
    with pytest.raises(FrameReadError) as e:
        for frame, _ in trk.propagate():
            done.append(frame)
    bad = e.value.index
    assert 4 <= bad < 20
    assert done == list(range(bad))  # everything before the cut was yielded...
    assert f"frame {bad} " in str(e.value) and "cut.mp4" in str(e.value)
    assert trk.results.frames == done  # ...and kept
    assert all(trk.results.mask(f, 1).any() for f in done)
    assert trk.frame_output(bad, 1) is None

    # The tracker still works on the frames before the cut: a correction, forward to
    # just before the cut, backward to the start.
    kept = logits(trk, done)
    trk.add_points(2, 1, [[50, 40], [20, 80]], [1, 0])
    again = [f for f, _ in trk.propagate(start=2, max_frames=bad - 3)]
    assert again == list(range(2, bad))
    back = [f for f, _ in trk.propagate("backward", start=bad - 1)]
    assert back == list(range(bad - 1, -1, -1))
    assert trk.results.frames == done
    assert not np.array_equal(trk.frame_output(bad - 1, 1)[0], kept[bad - 1])  # re-tracked
    with pytest.raises(FrameReadError, match=f"frame {bad} "):  # the cut is still reported
        list(trk.propagate(start=bad - 1))
    assert trk.results.frames == done
    trk.close()


# --------------------------------------------------------------------------- 3. bounded memory


def _spill_script(trk, loads):
    seq, loaded = [], []
    trk.add_points(0, 1, DISK_CLICK, [1])
    seq += list(trk.propagate())  # 0..39: frames 1..7 leave RAM
    obj = trk._objects[1]
    states = (len(obj.non_cond), obj.non_cond.in_ram)
    loaded.append(len(loads))
    # A correction on an early frame, whose memory was spilled long ago: the previous mask
    # it refines and the memories that re-tracking from there reads come back from disk.
    seq.append((1, trk.add_points(1, 1, [[40, 40], [90, 80]], [1, 0])))
    seq += list(trk.propagate(start=1, max_frames=8))  # 1..9
    loaded.append(len(loads))
    # Backward from frame 9: the memories of the frames after it (10..16) were evicted while
    # 1..9 were tracked again (overwriting a spilled memory deletes it unread).
    seq += list(trk.propagate("backward", start=9, max_frames=6))  # 9..3
    loaded.append(len(loads))
    return seq, states, loaded


def test_spilled_memories_give_identical_results(model, tmp_path, monkeypatch):
    loads = []
    load_state = memory_bank._load_state
    monkeypatch.setattr(memory_bank, "_load_state", lambda *a: loads.append(a[0]) or load_state(*a))
    clip = make_clip(40)

    with VideoTracker(model, clip, memory_frames_in_ram=None) as everything:
        ref_seq, ref_states, _ = _spill_script(everything, loads)
        ref_out = {f: everything.frame_output(f, 1) for f in range(40)}
    assert ref_states == (39, 39) and not loads

    spill = tmp_path / "spill"
    # Another tracker spilling to the same folder gets its own subfolder: no shared files.
    idle = tracker(model, memory_frames_in_ram=32, spill_dir=spill)
    trk = VideoTracker(model, clip, memory_frames_in_ram=32, spill_dir=spill)
    seq, (length, in_ram), loaded = _spill_script(trk, loads)
    assert length == 39 and in_ram <= 32  # states were spilled...
    assert 0 == loaded[0] < loaded[1] < loaded[2]  # ...and read back by both later passes
    folders = sorted(spill.iterdir())
    assert len(folders) == 2
    obj = trk._objects[1]
    files = [len(list(folder.rglob("*.npz"))) for folder in folders]
    assert sorted(files) == [0, len(obj.non_cond) - obj.non_cond.in_ram] and max(files) > 0

    assert_same_sequence(seq, ref_seq)
    for f in range(40):
        low, score = trk.frame_output(f, 1)
        np.testing.assert_array_equal(low, ref_out[f][0], err_msg=f"logits of frame {f}")
        assert score == ref_out[f][1]
    assert obj.non_cond.in_ram <= 32
    masks_before = trk.results.masks()
    trk.close()  # its spilled memories are removed...
    assert sorted(spill.iterdir()) == [folders[files.index(0)]]  # ...and only those
    assert not trk._objects and not trk._features  # memories and features in RAM are dropped too
    np.testing.assert_array_equal(trk.results.masks(), masks_before)  # the results stay
    idle.close()
    assert spill.is_dir() and not list(spill.iterdir())  # the user's folder stays, empty


def test_default_spill_folder_is_temporary(model, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where temporary folders go
    with tracker(model, memory_frames_in_ram=None):
        assert not list(tmp_path.iterdir())  # everything in RAM: no folder
    trk = tracker(model)  # memory_frames_in_ram=32 by default
    (folder,) = tmp_path.glob("sam2_memory_*")
    assert folder.is_dir()
    trk.close()
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- 4. stop and cancel


def test_break_keeps_exactly_the_frames_done(model, forward_reference):
    ref_seq, ref_logits = forward_reference
    trk = tracker(model)
    for i, _ in enumerate(trk.propagate()):
        if i == 3:
            break
    assert trk.results.frames == [0, 1, 2, 3]
    assert all(trk.frame_output(f, 1) is None for f in range(4, 12))
    # Going on from there gives what one uninterrupted pass gives.
    rest = list(trk.propagate(start=4))
    assert_same_sequence(rest, ref_seq[4:])
    for f in range(12):
        np.testing.assert_array_equal(trk.frame_output(f, 1)[0], ref_logits[f])


def test_cancel_inside_the_loop_and_close_the_generator(model, forward_reference):
    ref_seq, ref_logits = forward_reference
    trk = tracker(model)
    got = []
    for frame, _ in trk.propagate():
        got.append(frame)
        if frame == 2:
            trk.cancel()
    assert got == [0, 1, 2]  # stops before the next frame
    assert trk.results.frames == [0, 1, 2]

    gen = trk.propagate(start=3)
    assert [next(gen)[0] for _ in range(2)] == [3, 4]
    gen.close()
    with pytest.raises(StopIteration):
        next(gen)
    assert trk.results.frames == [0, 1, 2, 3, 4]
    assert trk.frame_output(5, 1) is None

    # A stale cancel does not stop the next run, which restarts from the prompt.
    assert_same_sequence(list(trk.propagate()), ref_seq)
    for f in range(12):
        np.testing.assert_array_equal(trk.frame_output(f, 1)[0], ref_logits[f])


def test_cancel_from_another_thread(model, forward_reference):
    ref_seq, ref_logits = forward_reference
    trk = tracker(model)
    got, reached, resume = [], threading.Event(), threading.Event()

    def work(start=None):
        for frame, _ in trk.propagate(start=start):
            got.append(frame)
            if frame == 3:
                reached.set()
                resume.wait(30)

    worker = threading.Thread(target=work)
    worker.start()
    assert reached.wait(60)
    trk.cancel()  # while the loop body of frame 3 runs
    resume.set()
    worker.join(60)
    assert not worker.is_alive()
    assert got == [0, 1, 2, 3] and trk.results.frames == got

    # Cancel at any moment, mid-frame: at most the frame being tracked is finished.
    got.clear()
    worker = threading.Thread(target=work, kwargs={"start": 4})
    worker.start()
    deadline = time.monotonic() + 60
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.002)
    trk.cancel()
    seen = len(got)
    worker.join(60)
    assert not worker.is_alive()
    assert 2 <= len(got) <= seen + 1 and got == list(range(4, 4 + len(got)))
    assert trk.results.frames == list(range(4 + len(got)))
    assert len(got) < 8  # it did stop early

    rest = list(trk.propagate(start=4 + len(got)))
    assert_same_sequence(rest, ref_seq[4 + len(got) :])
    for f in range(12):
        np.testing.assert_array_equal(trk.frame_output(f, 1)[0], ref_logits[f])


# --------------------------------------------------------------------------- 5. directions


def test_both_directions_and_max_frames(model):
    trk = VideoTracker(model, CLIP)
    trk.add_points(5, 1, [[80, 40]], [1])  # the disk on frame 5
    both = list(trk.propagate("both"))  # forward from the prompt, then backward from 4
    assert [f for f, _ in both] == [5, 6, 7, 8, 9, 10, 11, 4, 3, 2, 1, 0]
    assert trk.results.frames == list(range(12))
    both_logits = logits(trk, range(12))

    # The same as a forward pass and a backward pass from the frame before the prompt.
    with VideoTracker(model, CLIP) as two:
        two.add_points(5, 1, [[80, 40]], [1])
        separate = list(two.propagate("forward")) + list(two.propagate("backward", start=4))
        assert_same_sequence(both, separate)
        for f in range(12):
            np.testing.assert_array_equal(two.frame_output(f, 1)[0], both_logits[f])

    def order(*args, **kwargs):
        return [f for f, _ in trk.propagate(*args, **kwargs)]

    # max_frames counts frames beyond start, in each direction; start itself is always done.
    assert order("forward", start=5, max_frames=2) == [5, 6, 7]
    assert order("backward", start=5, max_frames=2) == [5, 4, 3]
    assert order("both", start=5, max_frames=2) == [5, 6, 7, 4, 3]
    assert order("both", start=5, max_frames=0) == [5]
    assert order("forward", start=10, max_frames=5) == [10, 11]  # clipped at the ends
    assert order("backward", start=1, max_frames=5) == [1, 0]
    assert order("backward") == [5, 4, 3, 2, 1, 0]  # default start: the prompted frame
    assert order("backward", start=0) == []  # as the official predictor: nothing before frame 0
    assert order("both", start=0, max_frames=1) == [0, 1]
    assert order("both", start=11, max_frames=2) == [11, 10, 9]

    # A cancel in the forward leg of "both" also skips the backward leg.
    got = []
    for frame, _ in trk.propagate("both"):
        got.append(frame)
        if frame == 7:
            trk.cancel()
    assert got == [5, 6, 7]


# --------------------------------------------------------------------------- 6. clearing memory


def test_clear_non_cond_mem_around_input(model):
    # The official SAM2VideoPredictor (sam2 1.1.0) raises AttributeError with this option
    # on: it calls _clear_obj_non_cond_mem_around_input, which it does not define. Ours
    # forgets, for the corrected object only, the tracked memories within num_maskmem (7)
    # frames of the correction.
    clip = make_clip(18)
    first, after = {}, {}
    for option in (False, True):
        trk = VideoTracker(model, clip, clear_non_cond_mem_around_input=option)
        trk.add_points(0, 1, DISK_CLICK, [1])
        trk.add_box(0, 2, SQUARE_BOX)
        list(trk.propagate())
        first[option] = logits(trk, range(18))
        trk.add_points(9, 1, [[80, 40], [30, 80]], [1, 0])  # a correction on a tracked frame
        gen = trk.propagate(start=9, max_frames=3)
        assert next(gen)[0] == 9  # the prompt was filed, frame 9 tracked again
        kept = trk._objects[1].non_cond.keys()
        if option:
            assert kept == [1, 9, 17]  # 2..16 forgotten; 9 was just tracked again
        else:
            assert kept == list(range(1, 18))
        assert trk._objects[2].non_cond.keys() == list(range(1, 18))  # the other object keeps all
        assert [f for f, _ in gen] == [10, 11, 12]
        after[option] = logits(trk, range(9, 13))
        trk.close()
    for f in range(18):  # the option does nothing until there is a correction
        np.testing.assert_array_equal(first[True][f], first[False][f])
    diff = max(np.abs(after[True][f] - after[False][f]).max() for f in range(9, 13))
    assert diff > 1e-3


def test_binarize_flag_decides_what_a_prompted_frame_remembers(model):
    # binarize_mask_from_pts_for_mem_enc (on in every official build): a prompted frame's
    # memory is encoded from its binary mask; off, from the sigmoid of its logits, as
    # tracked frames always are. Parity with the reference either way: test_tracker_parity.
    soft_model = build_model(
        model.config.replace(binarize_mask_from_pts_for_mem_enc=False), device=model.device, precision=model.precision
    )
    soft_model.load_state_dict(model.state_dict())
    memory, tracked = {}, {}
    for m in (model, soft_model):
        with tracker(m) as trk:
            list(trk.propagate(max_frames=3))
            flag = m.config.binarize_mask_from_pts_for_mem_enc
            memory[flag] = trk._objects[1].cond[0].maskmem
            tracked[flag] = logits(trk, range(4))
    np.testing.assert_array_equal(tracked[True][0], tracked[False][0])  # the click's own answer: the same
    assert not torch.equal(memory[True], memory[False])  # what it remembers: not
    assert max(np.abs(tracked[True][f] - tracked[False][f]).max() for f in (1, 2, 3)) > 1e-3


# --------------------------------------------------------------------------- 7. corrections as conditioning


@pytest.mark.parametrize("as_cond", [False, True], ids=["default", "as-cond"])
def test_correction_survives_repropagation_only_as_cond(model, as_cond):
    trk = tracker(model, add_all_frames_to_correct_as_cond=as_cond)
    list(trk.propagate())
    tracked6 = trk.results.mask(6, 1)
    tracked6_logits = trk.frame_output(6, 1)[0]
    corrected = trk.add_points(6, 1, [[92, 40], [30, 80]], [1, 0])[1]
    corrected_logits = trk.frame_output(6, 1)[0]
    assert (corrected != tracked6).sum() > 500  # the correction changed the mask a lot
    np.testing.assert_array_equal(trk.results.mask(6, 1), corrected)

    frames = [f for f, _ in trk.propagate()]  # from frame 0, through frame 6
    assert frames == list(range(12))
    if as_cond:
        assert 6 in trk._objects[1].cond
        np.testing.assert_array_equal(trk.results.mask(6, 1), corrected)
        np.testing.assert_array_equal(trk.frame_output(6, 1)[0], corrected_logits)
    else:
        # Reference behaviour (SAM2VideoPredictor with add_all_frames_to_correct_as_cond
        # False): a click on an already-tracked frame goes to "non_cond_frame_outputs", so
        # propagate_in_video tracks that frame again from memory and overwrites it. The
        # earlier frames are unchanged, so frame 6 comes back exactly as first tracked.
        assert 6 not in trk._objects[1].cond
        np.testing.assert_array_equal(trk.results.mask(6, 1), tracked6)
        np.testing.assert_array_equal(trk.frame_output(6, 1)[0], tracked6_logits)


# --------------------------------------------------------------------------- 8. editing


def test_remove_clear_reset_and_late_objects(model):
    trk = tracker(model)
    trk.add_box(0, 2, SQUARE_BOX)
    assert [f for f, _ in trk.propagate(max_frames=5)] == [0, 1, 2, 3, 4, 5]
    assert trk.object_ids == [1, 2] and trk.results.object_ids == [1, 2]

    # A new object first prompted on a later frame is tracked by the next propagate.
    shown = trk.add_points(8, 3, [[30, 77]], [1])  # the bar
    assert list(shown) == [1, 2, 3] and shown[3].any()
    assert not shown[1].any() and not shown[2].any()  # frame 8 not tracked yet
    assert trk.results.scores(8).keys() == {3}
    seq = list(trk.propagate(start=8))
    assert [f for f, _ in seq] == [8, 9, 10, 11]
    assert all(list(m) == [1, 2, 3] and m[3].any() for _, m in seq)
    np.testing.assert_array_equal(seq[0][1][3], shown[3])  # its prompted frame stays as prompted
    assert trk.results.object_ids == [1, 2, 3]

    trk.remove_object(2)
    assert trk.object_ids == [1, 3] and trk.results.object_ids == [1, 3]
    assert all(2 not in trk.results.scores(f) for f in trk.results.frames)
    seq = list(trk.propagate(start=0, max_frames=2))
    assert all(list(m) == [1, 3] for _, m in seq)
    assert trk.results.object_ids == [1, 3]

    # Clearing object 3's only prompt: its frame-8 output stays (as a tracked frame)...
    kept8 = trk.results.mask(8, 3)
    cleared = trk.clear_prompts(8, 3)
    np.testing.assert_array_equal(cleared[3], kept8)
    assert trk.prompts(3) == {} and 0 in trk.prompts(1)
    # ...but it has nothing left to start from, which propagate says, keeping every result.
    frames_before = trk.results.frames
    with pytest.raises(RuntimeError, match="Object 3 has no prompt"):
        next(trk.propagate())
    assert trk.results.frames == frames_before
    trk.add_points(8, 3, [[30, 77]], [1])  # prompted again: tracked again
    assert [f for f, _ in trk.propagate(start=8, max_frames=1)] == [8, 9]

    # Clearing one object's prompt on a frame leaves the others' prompts there.
    trk.add_points(10, 1, [[120, 40]], [1])  # frame 10 was tracked: a correction
    trk.add_points(10, 3, [[30, 78]], [1])
    trk.clear_prompts(10, 1)
    assert 10 not in trk.prompts(1) and 10 in trk.prompts(3)
    trk.clear_prompts(10)  # every object
    assert 10 not in trk.prompts(3)

    # reset forgets everything: objects, prompts, memories and results.
    trk.reset()
    assert trk.object_ids == [] and trk.results.object_ids == [] and len(trk.results) == 0
    with pytest.raises(RuntimeError, match="Nothing to track"):
        next(trk.propagate())
    trk.add_points(2, 5, [[44, 40]], [1])
    seq = list(trk.propagate(max_frames=3))
    with VideoTracker(model, CLIP) as fresh:  # as if the tracker were new
        fresh.add_points(2, 5, [[44, 40]], [1])
        assert_same_sequence(seq, list(fresh.propagate(max_frames=3)))
        for f in range(2, 6):
            np.testing.assert_array_equal(trk.frame_output(f, 5)[0], fresh.frame_output(f, 5)[0])
    assert trk.results.frames == [2, 3, 4, 5] and trk.results.object_ids == [5]
    trk.close()


# --------------------------------------------------------------------------- 9. occlusion


def test_absent_object_has_empty_masks(model):
    # An empty mask prompt: object score -10, an empty mask.
    trk = tracker(model)
    shown = trk.add_mask(0, 2, np.zeros((H, W), bool))
    assert not shown[2].any() and shown[1].any()
    assert trk.frame_output(0, 2)[1] == -10.0 and trk.results.scores(0)[2] == -10.0

    # Make the model call every tracked object absent (object-score logits lowered by 1;
    # random weights otherwise score everything about +0.03): tracked frames must then be
    # empty everywhere, whatever the mask head says.
    bias = model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias
    saved = bias.detach().clone()
    try:
        with torch.no_grad():
            bias -= 1.0
        seq = list(trk.propagate())
    finally:
        with torch.no_grad():
            bias.copy_(saved)  # the model is shared by the whole module
    assert [f for f, _ in seq] == list(range(12))
    absent = 0
    for frame, masks in seq:
        for obj_id in (1, 2):
            low, score = trk.frame_output(frame, obj_id)
            assert trk.results.scores(frame)[obj_id] == score
            if score <= 0:
                absent += 1
                assert not masks[obj_id].any() and not trk.results.mask(frame, obj_id).any()
                assert trk.results.boxes(frame)[obj_id] is None
                if frame > 0:  # tracked, not the mask prompt: every logit is "no object"
                    assert (low == NO_OBJ_SCORE).all()
            else:
                np.testing.assert_array_equal(masks[obj_id], trk.results.mask(frame, obj_id))
    assert absent == 2 * 12 - 1  # all but object 1's prompt
    assert seq[0][1][1].any()  # the clicked frame of object 1 stays visible
    coco = trk.results.to_coco()
    assert [(a["frame_index"], a["obj_id"]) for a in coco["annotations"]] == [(0, 1)]
    trk.close()


# --------------------------------------------------------------------------- 10. hole filling


def test_fill_hole_area(model, monkeypatch):
    # Make sure every decoder output has holes: in its (32, 32) low-res logits, a solid
    # square with a 4-pixel and a 1-pixel hole, and one with a 25-pixel hole (too big).
    forward = model.sam_mask_decoder.forward

    def with_holes(*args, **kwargs):
        out = forward(*args, **kwargs)
        masks = out.masks.clone()
        masks[..., 2:10, 2:10] = 5.0
        masks[..., 4:6, 4:6] = -5.0
        masks[..., 7, 7] = -5.0
        masks[..., 14:28, 14:28] = 5.0
        masks[..., 17:22, 17:22] = -5.0
        return out._replace(masks=masks)

    monkeypatch.setattr(model.sam_mask_decoder, "forward", with_holes)
    area = 8
    runs = {}
    for fill in (0, area):
        with VideoTracker(model, CLIP, fill_hole_area=fill) as trk:
            # A mask prompt without holes: the prompt's memory is the same with and without
            # filling, so every tracked frame can be compared (tracked memories are encoded
            # before hole filling, as in the official predictor).
            trk.add_mask(0, 1, disk(0))
            seq = list(trk.propagate())
            runs[fill] = seq, {f: torch.from_numpy(trk.frame_output(f, 1)[0]) for f in range(12)}
    (plain_seq, plain), (filled_seq, filled) = runs[0], runs[area]
    holes = 0
    for f in range(12):
        expected = fill_holes_in_mask_scores(plain[f], area)
        holes += int((expected != plain[f]).sum())
        torch.testing.assert_close(filled[f], expected, rtol=0, atol=0)
        torch.testing.assert_close(fill_holes_in_mask_scores(filled[f], area), filled[f], rtol=0, atol=0)
        video = F.interpolate(expected[None, None], size=(H, W), mode="bilinear", align_corners=False)
        np.testing.assert_array_equal(filled_seq[f][1][1], (video[0, 0] > 0).numpy())
        if f > 0:  # tracked: the small holes are filled, the big one is kept
            assert (filled[f][4:6, 4:6] > 0).all() and filled[f][7, 7] > 0
            assert (filled[f][17:22, 17:22] == -5.0).all()
    assert holes >= 11 * 5
    assert any((a[1][1] != b[1][1]).any() for a, b in zip(plain_seq, filled_seq))


# --------------------------------------------------------------------------- 11. bad input


def _snapshot(trk):
    return {
        "ids": trk.object_ids,
        "prompts": {
            o: {f: {k: np.asarray(v).tolist() for k, v in p.items()} for f, p in trk.prompts(o).items()}
            for o in trk.object_ids
        },
        "frames": trk.results.frames,
        "results": trk.results.masks().tobytes(),
        "outputs": {
            (f, o): (out[0].tobytes(), out[1])
            for o in trk.object_ids
            for f in range(len(CLIP))
            if (out := trk.frame_output(f, o)) is not None
        },
    }


def test_bad_input_fails_clearly_and_loses_nothing(model, forward_reference):
    trk = tracker(model)
    list(trk.propagate(max_frames=3))
    before = _snapshot(trk)
    point, box = [[20, 40]], [10, 10, 50, 50]
    cases = [
        (IndexError, r"Frame 12 is out of range.*12 frames \(0\.\.11\)", lambda: trk.add_points(12, 1, point, [1])),
        (IndexError, r"Frame -1 is out of range", lambda: trk.add_box(-1, 1, box)),
        (TypeError, r"frame must be an integer index, got float", lambda: trk.add_points(1.5, 1, point, [1])),
        (TypeError, r"frame must be an integer index, got str", lambda: trk.add_mask("2", 1, disk(2))),
        (ValueError, r"obj_id must be a positive integer.*got 0", lambda: trk.add_points(1, 0, point, [1])),
        (ValueError, r"obj_id must be a positive integer.*got -2", lambda: trk.add_box(1, -2, box)),
        (ValueError, r"obj_id must be a positive integer.*got 'car'", lambda: trk.add_points(1, "car", point, [1])),
        (
            ValueError,
            r"Point \[200\.0, 40\.0\] lies outside the image \(width 128, height 96\)",
            lambda: trk.add_points(1, 9, [[200, 40]], [1]),
        ),
        (
            ValueError,
            r"Point \[20\.0, -3\.0\] lies outside",
            lambda: trk.add_points(1, 1, [[20, -3]], [1], clear_old=False),
        ),
        (ValueError, r"labels must be 1 \(positive\) or 0", lambda: trk.add_points(1, 1, point, [2])),
        (ValueError, r"Box \[60\.0, 10\.0, 20\.0, 50\.0\] has x1 < x0", lambda: trk.add_box(1, 9, [60, 10, 20, 50])),
        (ValueError, r"mask must .*\(96, 128\).*\(48, 64\)", lambda: trk.add_mask(1, 9, np.ones((48, 64), bool))),
        (ValueError, r"mask must .*\(96, 128, 3\)", lambda: trk.add_mask(1, 1, np.ones((H, W, 3), bool))),
        (KeyError, r"No object 7; objects are \[1\]", lambda: trk.remove_object(7)),
        (KeyError, r"No object 7; objects are \[1\]", lambda: trk.clear_prompts(0, 7)),
        (KeyError, r"No object 7", lambda: trk.frame_output(0, 7)),
        (
            ValueError,
            r"direction must be 'forward', 'backward' or 'both', got 'forwards'",
            lambda: next(trk.propagate("forwards")),
        ),
        (IndexError, r"Frame 40 is out of range", lambda: next(trk.propagate(start=40))),
    ]
    for exc, match, call in cases:
        with pytest.raises(exc, match=match):
            call()
        assert _snapshot(trk) == before, match

    with VideoTracker(model, CLIP) as empty, pytest.raises(RuntimeError, match="Nothing to track: add points"):
        next(empty.propagate())
    with pytest.raises(TypeError, match="VideoTracker needs a SAM2Model, got str"):
        VideoTracker("sam2.1-hiera-tiny", CLIP)
    with pytest.raises(TypeError, match="VideoTracker needs a SAM2Model, got ImagePredictor"):
        VideoTracker(ImagePredictor(model), CLIP)
    with pytest.raises(ValueError, match="memory_frames_in_ram must be at least 32"):
        VideoTracker(model, CLIP, memory_frames_in_ram=8)

    # After all that, the session goes on as if nothing had happened.
    ref_seq, ref_logits = forward_reference
    assert_same_sequence(list(trk.propagate(start=4)), ref_seq[4:])
    for f in range(12):
        np.testing.assert_array_equal(trk.frame_output(f, 1)[0], ref_logits[f])
    trk.close()


# --------------------------------------------------------------------------- 12. results


def test_results_masks_and_coco_match_what_was_yielded(model):
    pytest.importorskip("pycocotools")
    from pycocotools import mask as mask_utils

    trk = tracker(model, non_overlap_masks=True)
    trk.add_box(0, 2, SQUARE_BOX)
    trk.add_mask(0, 4, square(0) & (np.arange(W)[None, :] < 118))
    seq = list(trk.propagate())
    masks = trk.results.masks()
    assert masks.shape == (12, 3, H, W) and masks.dtype == bool
    assert trk.results.object_ids == [1, 2, 4]
    for frame, shown in seq:
        assert list(shown) == [1, 2, 4]
        for n, obj_id in enumerate((1, 2, 4)):
            np.testing.assert_array_equal(masks[frame, n], shown[obj_id])
            assert trk.results.scores(frame)[obj_id] == trk.frame_output(frame, obj_id)[1]
        assert masks[frame].sum(0).max() <= 1  # non_overlap_masks: one object per pixel
    assert masks.any(axis=(2, 3)).sum() >= 12  # not all empty

    coco = trk.results.to_coco()
    assert len(coco["images"]) == 12
    anns = coco["annotations"]
    assert len(anns) == int(masks.any(axis=(2, 3)).sum())
    for ann in anns:
        decoded = mask_utils.decode(ann["segmentation"]).astype(bool)
        np.testing.assert_array_equal(decoded, masks[ann["frame_index"], [1, 2, 4].index(ann["obj_id"])])
    trk.close()


@pytest.mark.cpu_only("the bf16 fast CPU path against the test model")
def test_bf16_model_on_cpu_tracks_close_to_fp32(model, forward_reference):
    """``load_model(precision="bf16")`` on a CPU stores the image encoder in bf16 and runs
    the rest under bf16 autocast: tracking must work end to end and stay close."""
    _, ref_logits = forward_reference
    fast = build_model(model.config, device="cpu", precision="bf16")
    fast.load_state_dict(model.state_dict())
    assert next(fast.image_encoder.parameters()).dtype == torch.bfloat16
    with tracker(fast) as trk:
        frames = [f for f, _ in trk.propagate()]
        got = logits(trk, frames)
    assert frames == list(range(len(CLIP)))
    for f in frames:
        # This random model's logits reach ~0.55 (mean |logit| 0.1); bf16 moves them by
        # up to ~0.01. The bound keeps the sign of every clearly signed pixel.
        diff = np.abs(got[f] - ref_logits[f])
        assert 0 < diff.max() < 0.03, f"frame {f}: bf16 did not run, or drifted ({diff.max()})"
