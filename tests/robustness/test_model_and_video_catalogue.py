"""Checkpoints, clips and tracker calls that are wrong: each is refused with an error naming what
was wrong (and never blocks), and a tracker keeps what it had: the same frames and masks, and
the next valid call works. tests/backend/test_checkpoint.py holds the damaged-file cases."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_backend import VideoTracker, build_model, get_config, load_model
from sam2_backend.checkpoint import CheckpointError
from sam2_backend.video.sources import FrameReadError, open_source
from tests.clips import make_clip, write_video
from tests.images import synthetic_image

# -- checkpoints and model names ---------------------------------------------------------


def _fifo(tmp: Path) -> Path:
    path = tmp / "weights.pt"
    os.mkfifo(path)
    return path


def _module_prefixed(tmp: Path) -> Path:
    """A state dict saved from ``nn.DataParallel`` (every key starts with ``module.``)."""
    sd = {f"module.{k}": v for k, v in build_model(get_config("tiny").replace(image_size=128)).state_dict().items()}
    path = tmp / "dp.pt"
    torch.save({"model": sd}, path)
    return path


class _Payload:
    """Unpickling it would create a file: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _with_code(tmp: Path) -> Path:
    path = tmp / "sam2.1_hiera_tiny.pt"
    torch.save({"model": {"w": torch.ones(1)}, "payload": _Payload(tmp / "pwned")}, path)
    return path


BAD_MODELS = {
    "a pickle that runs code": (_with_code, CheckpointError, "Python objects other than tensors"),
    "empty name": (lambda tmp: "", ValueError, "model name is empty"),
    "blank name": (lambda tmp: "   ", ValueError, "model name is empty"),
    "misspelt name": (lambda tmp: "sam2.1-hiera-tinyy", ValueError, "sam2.1-hiera-tiny"),
    "a number": (lambda tmp: 3, TypeError, "name_or_path must be a model name"),
    "None": (lambda tmp: None, TypeError, "name_or_path must be a model name"),
    "a named pipe": (_fifo, ValueError, "not a regular file"),
    "a character device": (lambda tmp: Path("/dev/null"), ValueError, "not a regular file"),
    "a folder": (lambda tmp: tmp, IsADirectoryError, "is a directory"),
    "a missing file": (lambda tmp: tmp / "sam2.1_hiera_tiny.pt", FileNotFoundError, "load_model('sam2.1-hiera-tiny')"),
}


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_a_bad_model_argument_is_refused_by_name(tmp_path, case):
    make, error, words = BAD_MODELS[case]
    with pytest.raises(error) as raised:
        load_model(make(tmp_path), device="cpu")
    assert words in str(raised.value), str(raised.value)
    assert not (tmp_path / "pwned").exists()  # nothing in the file was run


def test_a_checkpoint_saved_from_data_parallel_loads(tmp_path):
    path = _module_prefixed(tmp_path)
    model = load_model(path, device="cpu", config=get_config("tiny").replace(image_size=128))
    saved = torch.load(path, weights_only=True)["model"]
    assert all(torch.equal(v, saved[f"module.{k}"]) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(image_size=1000), r"multiple of 32 \(e.g. 992\)"),
        (dict(image_size=0), "multiple of 32"),
        (dict(image_size=512.0), "multiple of 32"),
        (dict(directly_add_no_mem_embed=False), "is not supported"),
    ],
)
def test_an_impossible_config_is_refused_when_made(changes, words):
    with pytest.raises(ValueError, match=words):
        get_config("tiny").replace(**changes)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(device="tpu"), ValueError, "tpu"),
        (dict(device=3.5), (TypeError, ValueError), "device"),
        (dict(precision="int8"), ValueError, "int8"),
        (dict(precision=16), (TypeError, ValueError), "precision"),
    ],
)
def test_bad_device_or_precision_is_refused_before_any_download(kwargs, error, words):
    with pytest.raises(error, match=words):
        load_model("tiny", **kwargs)


# -- clips ---------------------------------------------------------------------------------


def _corrupt_video(tmp: Path) -> Path:
    path = tmp / "clip.mp4"
    write_video(path, make_clip(6))
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 400] = b"\x00" * 400
    path.write_bytes(bytes(data[: len(data) // 2]))
    return path


def _audio_only(tmp: Path) -> Path:
    import av

    path = tmp / "sound.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _folder(tmp: Path, sizes: list[tuple[int, int]], extra: dict[str, bytes] | None = None) -> Path:
    folder = tmp / "frames"
    folder.mkdir()
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(synthetic_image(h, w, seed=i)).save(folder / f"{i:03d}.png")
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    return folder


def _failing_iterator():
    yield from make_clip(2)
    raise OSError("camera unplugged")


BAD_CLIPS = {
    "a text file as .mp4": (lambda tmp: _write(tmp / "notes.mp4", b"hello"), (FrameReadError, ValueError), "notes.mp4"),
    "an empty .mp4": (lambda tmp: _write(tmp / "empty.mp4", b""), (FrameReadError, ValueError), "empty.mp4"),
    "a damaged video": (_corrupt_video, (FrameReadError, ValueError), "clip.mp4"),
    "audio only": (_audio_only, (FrameReadError, ValueError), "video stream"),
    "an empty folder": (lambda tmp: _folder(tmp, []), ValueError, "no image frames"),
    "frames of two sizes": (lambda tmp: _folder(tmp, [(48, 64), (48, 64), (40, 64)]), ValueError, "different sizes"),
    "a folder of only text": (lambda tmp: _folder(tmp, [], {"a.txt": b"x"}), ValueError, "no image frames"),
    "an empty array": (lambda tmp: np.zeros((0, 8, 8, 3), np.uint8), ValueError, "empty"),
    "a 2-D array": (lambda tmp: np.zeros((8, 8), np.uint8), ValueError, "(T, H, W"),
    "an empty list": (lambda tmp: [], ValueError, "empty"),
    "a list of mixed sizes": (
        lambda tmp: [np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)],
        ValueError,
        "different sizes",
    ),
    "a failing iterator": (lambda tmp: _failing_iterator(), FrameReadError, "camera unplugged"),
    "a missing path": (lambda tmp: tmp / "nothing.mp4", FileNotFoundError, "nothing.mp4"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(BAD_CLIPS))
def test_a_bad_clip_is_refused_by_name(tmp_path, case):
    make, error, words = BAD_CLIPS[case]
    with pytest.raises(error) as raised:
        source = open_source(make(tmp_path))
        for _ in source:  # some faults show only while reading
            pass
    assert words.lower() in str(raised.value).lower(), str(raised.value)


# -- tracker calls -------------------------------------------------------------------------

FRAMES = 6


@pytest.fixture(scope="module")
def tracker(video_model):
    t = VideoTracker(video_model, make_clip(FRAMES))
    t.add_points(0, 1, [[30, 30]], [1])
    for _ in t.propagate(max_frames=2):
        pass
    yield t
    t.close()


BAD_CALLS = {
    "points on frame -1": (lambda t: t.add_points(-1, 1, [[5, 5]], [1]), IndexError, "out of range"),
    "points past the end": (lambda t: t.add_points(FRAMES, 1, [[5, 5]], [1]), IndexError, "out of range"),
    "points on frame 1.5": (lambda t: t.add_points(1.5, 1, [[5, 5]], [1]), TypeError, "frame must be an integer"),
    "points on a huge frame": (lambda t: t.add_points(10**12, 1, [[5, 5]], [1]), IndexError, "out of range"),
    "a string object id": (lambda t: t.add_points(0, "cat", [[5, 5]], [1]), ValueError, "obj_id must be a positive"),
    "point outside": (lambda t: t.add_points(0, 1, [[1e6, 5]], [1]), ValueError, "outside"),
    "box flipped": (lambda t: t.add_box(0, 1, [20, 20, 5, 5]), ValueError, "x1 < x0"),
    "mask of the wrong size": (lambda t: t.add_mask(0, 2, np.ones((5, 5), bool)), ValueError, "mask"),
    "mask with NaN": (lambda t: t.add_mask(0, 2, np.full(make_clip(1).shape[1:3], np.nan)), ValueError, "NaN"),
    "a soft mask": (lambda t: t.add_mask(0, 2, np.full(make_clip(1).shape[1:3], 0.3)), ValueError, "mask > 0.5"),
    "direction up": (lambda t: list(t.propagate("up")), ValueError, "direction must be"),
    "max_frames -1": (lambda t: list(t.propagate(max_frames=-1)), ValueError, "max_frames must be None or >= 0"),
    "max_frames 2.5": (lambda t: list(t.propagate(max_frames=2.5)), TypeError, "max_frames must be None or an int"),
    "start past the end": (lambda t: list(t.propagate(start=FRAMES + 3)), IndexError, "out of range"),
    "remove an unknown object": (lambda t: t.remove_object(99), KeyError, "99"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_a_bad_tracker_call_is_refused_and_keeps_the_tracks(tracker, case):
    call, error, words = BAD_CALLS[case]
    before = {f: tracker.results.frame_masks(f) for f in tracker.results.frames}
    with pytest.raises(error) as raised:
        call(tracker)
    assert words.lower() in str(raised.value).lower(), str(raised.value)
    assert sorted(tracker.results.frames) == sorted(before)
    for f, masks in before.items():
        got = tracker.results.frame_masks(f)
        assert got.keys() == masks.keys() and all(np.array_equal(got[o], masks[o]) for o in masks)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(memory_frames_in_ram=5), ValueError, "memory_frames_in_ram must be at least"),
        (dict(autocast=True), TypeError, "precision"),
    ],
)
def test_bad_tracker_options_are_refused(video_model, kwargs, error, words):
    with pytest.raises(error, match=words):
        VideoTracker(video_model, make_clip(2), **kwargs)


def test_after_all_that_the_tracker_still_tracks(tracker):
    tracker.add_points(3, 1, [[40, 30]], [1])
    frames = [f for f, _ in tracker.propagate("both", start=3)]
    assert sorted(frames) == list(range(FRAMES))
