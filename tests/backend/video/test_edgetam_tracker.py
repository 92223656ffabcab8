"""VideoTracker on EdgeTAM (random weights): three objects both ways with a correction, perceiver
memories in the bounded memory bank (spilled and read back unchanged), bf16, and the video widget.

Parity of the numbers with the official EdgeTAM code is tested elsewhere. Small: image size 256,
8 frames of 96x128 (``tests/clips.py``), at most 3 object pointers so 6 frames in RAM are allowed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_backend import VideoTracker, build_model, get_config
from tests.backend.reference import randomize_
from tests.clips import make_clip

CONFIG = get_config("edgetam").replace(image_size=256, max_obj_ptrs_in_encoder=3)
CLIP = make_clip(8)
RAM_FRAMES = 6  # the least the tracker accepts with 3 pointers; 7 tracked frames do not fit


def _model(**options):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(CONFIG, device="cpu", **options)
    return randomize_(model, seed=0)


@pytest.fixture(scope="module")
def model():
    return _model()


def _script(trk: VideoTracker) -> list[dict[int, np.ndarray]]:
    """Three objects prompted on frame 3, tracked both ways, then object 1 corrected on frame 6
    and tracked forward again; every frame's masks after each pass."""
    trk.add_points(3, 1, [[56, 40]], [1])  # the disk
    trk.add_box(3, 2, [76, 30, 104, 58])  # the square
    trk.add_points(3, 3, [[30, 75]], [1])  # the bar
    passes = [dict(trk.propagate("both"))]
    trk.add_points(6, 1, [[60, 80]], [0], clear_old=False)
    passes.append(dict(trk.propagate("forward", start=6)))
    return passes


def _options(**more):
    # As the widget tracks: a correction becomes a conditioning frame.
    return dict(add_all_frames_to_correct_as_cond=True, clear_non_cond_mem_around_input=True, **more)


@pytest.fixture(scope="module")
def runs(model, tmp_path_factory):
    """The script on a tracker keeping every memory in RAM and on one spilling beyond 6 frames."""
    in_ram = VideoTracker(model, CLIP, **_options(memory_frames_in_ram=None))
    spill_dir = tmp_path_factory.mktemp("spill")
    spilling = VideoTracker(model, CLIP, **_options(memory_frames_in_ram=RAM_FRAMES, spill_dir=str(spill_dir)))
    yield _script(in_ram), in_ram, _script(spilling), spilling, spill_dir
    in_ram.close()
    spilling.close()


def test_three_objects_both_ways_and_a_correction(runs):
    (both, corrected), trk = runs[0], runs[1]
    assert sorted(both) == list(range(8)) and sorted(corrected) == [6, 7]
    for frame, masks in both.items():
        assert sorted(masks) == [1, 2, 3], frame
        assert all(m.shape == CLIP.shape[1:3] and m.any() for m in masks.values()), frame
    # The correction changed object 1 on frame 6; the pass from there left frames 0-5 as they were.
    assert not np.array_equal(corrected[6][1], both[6][1])
    assert all(sorted(corrected[f]) == [1, 2, 3] for f in corrected)
    masks = trk.results.masks()  # (T, N, H, W), objects in id order
    assert np.array_equal(masks[6, 0], corrected[6][1])
    for f in range(6):
        assert all(np.array_equal(masks[f, i], both[f][i + 1]) for i in range(3)), f
    # Every stored memory is the perceiver's 512 latents of 64 channels, in bf16.
    obj = trk._objects[1]
    assert sorted(obj.cond) == [3, 6]
    for state in [*obj.cond.values(), *(obj.non_cond.get(f) for f in obj.non_cond.keys())]:
        assert state.maskmem.shape == (1, 512, 64) and state.maskmem.dtype == torch.bfloat16


def test_spilled_perceiver_memories_give_identical_results(runs):
    expected, in_ram, got, spilling, spill_dir = runs
    for want, have in zip(expected, got):
        assert want.keys() == have.keys()
        for frame in want:
            assert all(np.array_equal(want[frame][o], have[frame][o]) for o in want[frame]), frame
    # Objects 2 and 3 keep 7 tracked frames (object 1 forgot those around its correction).
    counts = {oid: (len(obj.non_cond), obj.non_cond.in_ram) for oid, obj in spilling._objects.items()}
    assert counts[2][0] == counts[3][0] == 7 and all(ram <= RAM_FRAMES for _, ram in counts.values())
    assert len(list(spill_dir.rglob("*.npz"))) == sum(n - ram for n, ram in counts.values()) > 0
    # Read back from disk, every memory is bit for bit the one kept in RAM.
    for oid, obj in spilling._objects.items():
        kept = in_ram._objects[oid].non_cond
        assert obj.non_cond.keys() == kept.keys()
        for frame in obj.non_cond.keys():
            a, b = obj.non_cond.get(frame).maskmem, kept.get(frame).maskmem
            assert a.shape == (1, 512, 64) and a.dtype == torch.bfloat16 and torch.equal(a, b), (oid, frame)


def test_bf16_tracking_is_close_to_fp32(model):
    masks = []
    for m in (model, _model(precision="bf16")):
        with VideoTracker(m, CLIP[:5]) as trk:
            trk.add_points(0, 1, [[20, 40]], [1])
            masks.append(np.stack([v[1] for _, v in trk.propagate()]))
    exact, approx = masks
    iou = (exact & approx).sum() / (exact | approx).sum()
    assert exact.any() and iou > 0.9


def test_video_widget_tracks_with_edgetam(model):
    from sam2_widget import Sam2Widget

    w = Sam2Widget(CLIP[:5], model=model, video=True)
    try:
        w.add_points([[20, 40]], [1], frame=0)
        assert w.track("forward") == 5
        masks = w.results.masks()
        assert masks.shape == (5, 1, *CLIP.shape[1:3]) and masks.any(axis=(2, 3)).all()
    finally:
        w.close()
