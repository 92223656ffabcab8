"""Frame sources: the same frames from every kind of input, lazily, with clear errors."""

from __future__ import annotations

import io
import random
import threading

import numpy as np
import pytest
import torch
from PIL import Image

av = pytest.importorskip("av")

from sam2_backend.image_files import natural_sort_key  # noqa: E402
from sam2_backend.video.sources import (  # noqa: E402
    ArraySource,
    FolderSource,
    FrameNotAvailableError,
    FrameReadError,
    FrameSource,
    IteratorSource,
    ListSource,
    Prefetcher,
    VideoFileSource,
    open_source,
)
from tests.clips import has_encoder, write_video  # noqa: E402

T, H, W = 24, 96, 128
TOL = 6.0  # mean absolute difference (of 255) allowed for lossy codecs


def make_frames(n: int = T, noise: int = 0, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8: a background whose brightness steps per frame, moving shapes.

    Neighbouring frames differ a lot, so a frame decoded at the wrong index is caught.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W]
    out = np.empty((n, H, W, 3), np.uint8)
    for t in range(n):
        img = np.zeros((H, W, 3), np.int32)
        img[...] = 20 + (t * 37) % 160
        img[..., 2] += xx // 4
        img[10 + t : 40 + t, 5 + 4 * t : 35 + 4 * t] = (230, 40, 40)
        img[(yy - 60) ** 2 + (xx - 110 + 3 * t) ** 2 < 15**2] = (40, 210, 60)
        if noise:
            img += rng.integers(-noise, noise + 1, size=img.shape)
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


FRAMES = make_frames()


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def assert_is_frame(frame: np.ndarray, index: int, frames: np.ndarray = FRAMES, tol: float = TOL):
    """Close to frames[index] and closer to it than to any other frame."""
    assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
    diffs = [mad(frame, f) for f in frames]
    assert int(np.argmin(diffs)) == index, (index, np.round(diffs, 1))
    assert diffs[index] < tol, (index, diffs[index])


# (file name, encoder, encoder options, pixel format, lossless). Only what this PyAV has.
VIDEO_CASES = [
    c
    for c in [
        ("h264.mp4", "libx264", {}, "yuv420p", False),  # B-frames: decode order != display order
        ("mpeg4_bframes.mp4", "mpeg4", {"bf": "2", "b": "2M"}, "yuv420p", False),
        ("vp9.webm", "libvpx-vp9", {"crf": "20", "b": "0"}, "yuv420p", False),
        ("vp8.webm", "libvpx", {"crf": "4", "b": "2M"}, "yuv420p", False),
        ("h264.mkv", "libx264", {}, "yuv420p", False),
        ("ffv1.mkv", "ffv1", {}, "bgr0", True),
        ("mpeg4.mov", "mpeg4", {"b": "2M"}, "yuv420p", False),
        ("mpeg4_bframes.avi", "mpeg4", {"bf": "2", "b": "2M"}, "yuv420p", False),
    ]
    if has_encoder(c[1])
]
CASE_IDS = [c[0] for c in VIDEO_CASES]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    out = {}
    for name, codec, opts, pix, _ in VIDEO_CASES:
        write_video(d / name, FRAMES, codec, opts, pix_fmt=pix)
        out[name] = d / name
    return out


def plain_decode_count(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


# --------------------------------------------------------------------------- video files


def test_expected_codecs_are_available():
    # PyAV wheels bundle these; if one goes missing the parametrisation shrinks silently.
    assert {"h264.mp4", "vp9.webm", "ffv1.mkv", "mpeg4.mov"} <= set(CASE_IDS)


@pytest.mark.parametrize("case", VIDEO_CASES, ids=CASE_IDS)
def test_video_frames_in_order(videos, case):
    name, _, _, _, lossless = case
    with VideoFileSource(videos[name]) as src:
        assert src.num_frames == len(src) == T == plain_decode_count(videos[name])
        assert (src.height, src.width) == (H, W)
        assert src.fps == pytest.approx(24.0)
        for i in range(T):
            frame = src.get(i)
            if lossless:
                np.testing.assert_array_equal(frame, FRAMES[i])
            else:
                assert_is_frame(frame, i)


@pytest.mark.parametrize("case", VIDEO_CASES, ids=CASE_IDS)
def test_video_random_access_equals_sequential(videos, case, monkeypatch):
    path = videos[case[0]]
    with VideoFileSource(path) as src:
        seq = [src.get(i) for i in range(T)]
    # A tiny cache forces real seeks; random order, then backwards across keyframes (gop 8).
    with VideoFileSource(path, cache_size=1) as src:
        order = list(range(T))
        random.Random(0).shuffle(order)
        for i in order + list(range(T - 1, -1, -1)) + [0, 23, 7, 8, 9, 16, 15]:
            np.testing.assert_array_equal(src.get(i), seq[i], err_msg=f"frame {i}")
        assert len(src._cache._d) <= 1  # lazy: never more than cache_size frames held


def test_sequential_reads_do_not_seek(videos, monkeypatch):
    seeks = []
    orig = VideoFileSource._seek

    def counting(self, i, attempt):
        seeks.append(i)
        return orig(self, i, attempt)

    monkeypatch.setattr(VideoFileSource, "_seek", counting)
    with VideoFileSource(videos["h264.mp4"]) as src:
        assert seeks == [0]  # opening decodes frame 0
        for i in range(T):
            src.get(i)
        assert seeks == [0]
        src.get(20)  # same GOP ahead: decode forward, no seek
        src.get(3)  # backwards: one seek to the keyframe at 0
        assert seeks == [0, 3]
        src.get(19)  # a keyframe (16) lies ahead of the position: seek there
        assert seeks == [0, 3, 19]


def test_video_without_timestamps_counts_frames(videos):
    # The fallback for files without usable timestamps: count from the start, rewind to seek.
    with VideoFileSource(videos["h264.mp4"]) as ref:
        seq = [ref.get(i) for i in range(T)]
    with VideoFileSource(videos["h264.mp4"], cache_size=1) as src:
        src._pts = None
        src._kf_index = np.zeros(0, np.int64)
        src._kf_ts = np.zeros(0, np.int64)
        for i in [5, 6, 2, 23, 0, 11]:
            np.testing.assert_array_equal(src.get(i), seq[i])


def test_video_indexing_and_iteration(videos):
    src = VideoFileSource(videos["vp9.webm"])  # webm does not report a frame count
    assert src._stream.frames == 0 and len(src) == T
    np.testing.assert_array_equal(src.get(-1), src.get(T - 1))
    np.testing.assert_array_equal(src[np.int64(3)], src.get(3))
    with pytest.raises(IndexError, match=r"out of range.*24 frames"):
        src.get(T)
    with pytest.raises(IndexError):
        src.get(-T - 1)
    with pytest.raises(TypeError, match="integer"):
        src.get(1.5)
    frames = list(src)
    assert len(frames) == T
    frames[0][:] = 0  # the caller owns returned frames: the cache is not affected
    assert src.get(0).any()
    assert "VideoFileSource" in repr(src) and "24 frames" in repr(src)
    src.close()
    src.close()
    with pytest.raises(ValueError, match="closed"):
        src.get(0)


def test_video_display_rotation(tmp_path):
    path = tmp_path / "portrait.mp4"
    write_video(path, FRAMES[:6], "libx264", rotation=90)
    with VideoFileSource(path) as src:
        assert (src.height, src.width) == (W, H)
        # rotation=90 in the display matrix: shown turned 90 degrees counter-clockwise.
        assert mad(src.get(2), np.rot90(FRAMES[2])) < TOL
    with VideoFileSource(path, autorotate=False) as src:
        assert (src.height, src.width) == (H, W)
        assert_is_frame(src.get(2), 2)


def test_video_from_bytes_and_file_object(videos):
    data = videos["h264.mp4"].read_bytes()
    with open_source(data) as src:
        assert isinstance(src, VideoFileSource) and len(src) == T
        assert_is_frame(src.get(17), 17)
    with VideoFileSource(io.BytesIO(data), cache_size=1) as src:
        assert_is_frame(src.get(20), 20)
        assert_is_frame(src.get(1), 1)


def test_truncated_video(tmp_path):
    frames = make_frames(noise=25, seed=1)  # noise: every frame costs bytes, so the cut is mid-clip
    full = tmp_path / "full.mp4"
    write_video(full, frames, options={"crf": "10"}, gop=4, faststart=True)  # index first: the cut keeps it
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with VideoFileSource(cut, cache_size=1) as src:
        assert len(src) == T  # the container still reports 24 frames
        ok, failed = [], []
        for i in [T - 1, 0, 12, 3, 20, 1] + list(range(T)):  # random order first
            try:
                assert_is_frame(src.get(i), i, frames, tol=12)
                ok.append(i)
            except FrameReadError as e:
                assert e.index == i and e.source == str(cut)
                assert f"frame {i} " in str(e) and "cut.mp4" in str(e)
                assert "truncated" in str(e)
                failed.append(i)
        ok, failed = sorted(set(ok)), sorted(set(failed))
        assert len(ok) >= 3 and len(failed) >= 5
        assert ok == list(range(len(ok)))  # the frames before the cut decode, in order
        assert failed == list(range(len(ok), T))


def test_video_open_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Video file not found"):
        VideoFileSource(tmp_path / "missing.mp4")
    with pytest.raises(FileNotFoundError, match="No such video file or frame folder"):
        open_source(tmp_path / "missing.mp4")
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    for opener in (VideoFileSource, open_source):
        with pytest.raises(ValueError, match=r"Could not open .*notes\.mp4 as a video") as e:
            opener(fake)
        assert ".mp4" in str(e.value) and ".webm" in str(e.value) and "folder" in str(e.value)
    with pytest.raises(IsADirectoryError, match="FolderSource"):
        VideoFileSource(tmp_path)
    # An audio-only file opens fine in FFmpeg but has no video stream.
    wav = tmp_path / "sound.wav"
    with av.open(str(wav), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(ValueError, match=r"sound\.wav has no video stream.*audio"):
        VideoFileSource(wav)


# --------------------------------------------------------------------------- folders


def write_png_folder(folder, frames, prefix="frame_", start=1, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    order = list(range(len(frames)))
    random.Random(seed).shuffle(order)  # creation order must not matter
    for i in order:
        Image.fromarray(frames[i]).save(folder / f"{prefix}{i + start}.png")
    return folder


def test_natural_sort():
    names = [
        "frame10.png",
        "Frame2.png",
        "frame1.png",
        "a_b_3.jpg",
        "a_b_03.jpg",
        "img-2-10.png",
        "img-2-9.png",
        "z.png",
    ]
    assert sorted(names, key=natural_sort_key) == [
        "a_b_03.jpg",
        "a_b_3.jpg",
        "frame1.png",
        "Frame2.png",
        "frame10.png",
        "img-2-9.png",
        "img-2-10.png",
        "z.png",
    ]


def test_folder_source(tmp_path):
    folder = write_png_folder(tmp_path / "pngs", FRAMES)
    (folder / "notes.txt").write_text("not a frame")
    (folder / "._frame_3.png").write_bytes(b"macOS resource fork")  # hidden: ignored
    (folder / "sub").mkdir()
    with FolderSource(folder) as src:
        assert len(src) == T and (src.height, src.width) == (H, W)
        assert [f.name for f in src.files[:3]] == ["frame_1.png", "frame_2.png", "frame_3.png"]
        assert src.files[9].name == "frame_10.png"
        for i in [5, 0, 23, 10, 9, 2]:
            np.testing.assert_array_equal(src.get(i), FRAMES[i])
        assert len(src._cache._d) <= 2
    assert isinstance(open_source(str(folder)), FolderSource)


def test_folder_jpeg_and_other_extensions(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, ext in enumerate([".jpg", ".JPEG", ".bmp", ".webp", ".tif", ".tiff"]):
        img = Image.fromarray(FRAMES[i])
        img.save(folder / f"f{i}{ext}", **({"quality": 95} if "jp" in ext.lower() else {}))
    with FolderSource(folder) as src:
        assert len(src) == 6
        for i in range(6):
            assert_is_frame(src.get(i), i)


def test_a_gif_is_one_frame_in_a_folder_and_a_video_alone(tmp_path):
    frames = [Image.fromarray(np.full((32, 48, 3), 60 * i, np.uint8)) for i in range(4)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    frames[3].save(tmp_path / "still.png")
    with FolderSource(tmp_path) as src:  # Pillow reads the first frame, as an image set does
        assert [f.name for f in src.files] == ["anim.gif", "still.png"]
        assert src.get(0)[0, 0].tolist() == [0, 0, 0] and src.get(1)[0, 0].tolist() == [180, 180, 180]
    with open_source(tmp_path / "anim.gif") as src:  # alone, FFmpeg reads the animation
        assert isinstance(src, VideoFileSource) and len(src) == 4
        assert src.get(2)[0, 0].tolist() == [120, 120, 120]


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Frame folder not found"):
        FolderSource(tmp_path / "nope")
    some_file = tmp_path / "file.png"
    Image.fromarray(FRAMES[0]).save(some_file)
    with pytest.raises(NotADirectoryError, match="not a folder"):
        FolderSource(some_file)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"No image frames in .*empty.*\.jpg.*\.png"):
        FolderSource(empty)
    with pytest.raises(ValueError, match="No image frames"):
        open_source(empty)

    # A PNG whose pixel data is cut: the header reads, decoding fails on get.
    corrupt = write_png_folder(tmp_path / "corrupt", FRAMES[:5])
    data = (corrupt / "frame_3.png").read_bytes()
    (corrupt / "frame_3.png").write_bytes(data[: len(data) // 2])
    with FolderSource(corrupt) as src:
        np.testing.assert_array_equal(src.get(1), FRAMES[1])
        with pytest.raises(FrameReadError, match=r"frame 2 'frame_3\.png'") as e:
            src.get(2)
        assert e.value.index == 2 and e.value.source.endswith("frame_3.png")
        np.testing.assert_array_equal(src.get(3), FRAMES[3])

    # Garbage with an image extension: caught on opening, naming the file.
    garbage = write_png_folder(tmp_path / "garbage", FRAMES[:3])
    (garbage / "frame_2.png").write_bytes(b"definitely not a png")
    with pytest.raises(FrameReadError, match=r"frame_2\.png"):
        FolderSource(garbage)

    mixed = write_png_folder(tmp_path / "mixed", FRAMES[:3])
    Image.fromarray(FRAMES[0][:50]).save(mixed / "frame_4.png")
    with pytest.raises(ValueError, match=r"different sizes.*frame_1\.png is 128x96.*frame_4\.png.*128x50"):
        FolderSource(mixed)
    with FolderSource(mixed, check_sizes=False) as src:  # found on read instead
        with pytest.raises(FrameReadError, match="same size"):
            src.get(3)


# --------------------------------------------------------------------------- in memory


def test_array_source():
    with ArraySource(FRAMES) as src:
        assert len(src) == T and (src.height, src.width) == (H, W)
        for i in [3, 0, 23]:
            out = src.get(i)
            np.testing.assert_array_equal(out, FRAMES[i])
            assert not np.shares_memory(out, FRAMES)
    gray = FRAMES[..., 0]
    np.testing.assert_array_equal(ArraySource(gray).get(4), np.repeat(gray[4, :, :, None], 3, 2))
    np.testing.assert_array_equal(ArraySource(gray[..., None]).get(4)[..., 2], gray[4])
    rgba = np.concatenate([FRAMES, np.full((T, H, W, 1), 7, np.uint8)], axis=3)
    np.testing.assert_array_equal(ArraySource(rgba).get(5), FRAMES[5])
    floats = FRAMES.astype(np.float32) / 255.0
    np.testing.assert_array_equal(ArraySource(floats).get(6), FRAMES[6])
    tensor = torch.from_numpy(FRAMES).permute(0, 3, 1, 2)  # (T, 3, H, W), the torch way
    src = open_source(tensor)
    assert isinstance(src, ArraySource) and (src.height, src.width) == (H, W)
    np.testing.assert_array_equal(src.get(7), FRAMES[7])


def test_array_source_errors():
    with pytest.raises(ValueError, match="ambiguous"):
        ArraySource(FRAMES[0])
    with pytest.raises(ValueError, match="one image, not a clip"):
        open_source(FRAMES[0, :, :, 0])
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        ArraySource(np.zeros((2, 3, 4, 5, 6), np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        ArraySource(FRAMES.astype(np.int32))
    with pytest.raises(ValueError, match="empty"):
        ArraySource(FRAMES[:0])
    bad = FRAMES[:3].astype(np.float32)  # 0..255 floats
    src = ArraySource(bad)
    with pytest.raises(FrameReadError, match=r"Frame 1 .*\[0, 1\]"):
        src.get(1)


def test_list_source(tmp_path):
    p = tmp_path / "f2.png"
    Image.fromarray(FRAMES[2]).save(p)
    items = [
        FRAMES[0],
        Image.fromarray(FRAMES[1]),
        str(p),
        p,
        torch.from_numpy(FRAMES[4]).permute(2, 0, 1),
        FRAMES[5].astype(np.float64) / 255,
    ]
    src = open_source(items)
    assert isinstance(src, ListSource) and len(src) == 6 and (src.height, src.width) == (H, W)
    for i, want in enumerate([0, 1, 2, 2, 4, 5]):
        np.testing.assert_array_equal(src.get(i), FRAMES[want])
    assert isinstance(open_source(tuple(FRAMES[:2])), ListSource)
    one = open_source(p)  # a single image file is a one-frame clip
    assert isinstance(one, ListSource) and len(one) == 1

    with pytest.raises(ValueError, match="empty"):
        ListSource([])
    with pytest.raises(ValueError, match=r"different sizes.*frame 0 is 128x96.*frame 2 is 64x96"):
        ListSource([FRAMES[0], FRAMES[1], FRAMES[2][:, :64]])
    with pytest.raises(TypeError, match=r"Frame 1 of the list.*dict"):
        ListSource([FRAMES[0], {"x": 1}])
    with pytest.raises(FileNotFoundError, match="Frame file not found"):
        ListSource([tmp_path / "missing.png"])


def frame_generator(frames, pulled=None, fail_at=None):
    for i, f in enumerate(frames):
        if i == fail_at:
            raise OSError("camera unplugged")
        if pulled is not None:
            pulled.append(i)
        yield f


def test_iterator_source_window():
    pulled = []
    src = IteratorSource(frame_generator(FRAMES, pulled), keep=4)
    assert pulled == [0] and (src.height, src.width) == (H, W)  # only the first frame, for the size
    assert src.num_frames is None and bool(src)
    with pytest.raises(TypeError, match="not known yet"):
        len(src)
    np.testing.assert_array_equal(src.get(3), FRAMES[3])
    assert pulled == [0, 1, 2, 3]  # pulled on demand, not ahead
    np.testing.assert_array_equal(src.get(10), FRAMES[10])
    for i in (7, 8, 9, 10):  # the window holds the last `keep` frames
        np.testing.assert_array_equal(src.get(i), FRAMES[i])
    with pytest.raises(FrameNotAvailableError, match=r"Frame 6 is no longer available.*last 4.*7\.\.10"):
        src.get(6)
    with pytest.raises(IndexError, match="(?i)negative"):
        src.get(-1)
    assert len(src._window) == 4
    with pytest.raises(IndexError, match=r"out of range.*ended after 24 frames"):
        src.get(30)
    assert src.num_frames == len(src) == T
    np.testing.assert_array_equal(src.get(-1), FRAMES[-1])
    with pytest.raises(IndexError):
        src.get(T)


def test_iterator_source_iteration_and_errors():
    assert np.array_equal(np.stack(list(IteratorSource(iter(FRAMES), keep=1))), FRAMES)
    src = open_source(frame_generator(FRAMES, fail_at=5))
    assert isinstance(src, IteratorSource)
    np.testing.assert_array_equal(src.get(4), FRAMES[4])
    for _ in range(2):  # the failure sticks: no silent end of the clip
        with pytest.raises(FrameReadError, match=r"frame 5.*camera unplugged") as e:
            src.get(5)
        assert e.value.index == 5
    np.testing.assert_array_equal(src.get(4), FRAMES[4])

    src = IteratorSource(iter([FRAMES[0], FRAMES[1][:50]]))
    with pytest.raises(FrameReadError, match="same size"):
        src.get(1)
    with pytest.raises(ValueError, match="no frames"):
        IteratorSource(iter([]))
    with pytest.raises(ValueError, match="keep"):
        IteratorSource(iter(FRAMES), keep=0)

    declared = IteratorSource(iter(FRAMES[:5]), num_frames=8)
    assert declared.num_frames == 8
    with pytest.raises(FrameReadError, match="ended after 5 frames, but num_frames=8"):
        declared.get(6)
    with pytest.raises(IndexError):
        declared.get(8)

    class Clip:  # a sized iterable (e.g. a dataset): its len() is used
        def __len__(self):
            return 3

        def __iter__(self):
            return iter(FRAMES[:3])

    sized = open_source(Clip())
    assert isinstance(sized, IteratorSource) and sized.num_frames == 3


def test_open_source_dispatch(tmp_path):
    src = ArraySource(FRAMES)
    assert open_source(src) is src
    assert isinstance(open_source(Image.fromarray(FRAMES[0])), ListSource)
    for bad in (3, 2.5, None, object()):
        with pytest.raises(TypeError, match=r"Cannot use .* as a frame source.*video file.*folder"):
            open_source(bad)


# --------------------------------------------------------------------------- prefetch


def test_prefetcher(videos):
    threads = set()

    def to_input(frame):
        threads.add(threading.current_thread().name)
        return torch.from_numpy(frame).permute(2, 0, 1).float() / 255

    with VideoFileSource(videos["h264.mp4"]) as ref:
        want = [ref.get(i) for i in range(T)]
    with VideoFileSource(videos["h264.mp4"], cache_size=2) as src, Prefetcher(src, to_input) as pf:
        got = dict(pf.iterate(range(T)))
        assert sorted(got) == list(range(T))
        for i in range(T):
            torch.testing.assert_close(got[i], torch.from_numpy(want[i]).permute(2, 0, 1).float() / 255)
        assert any(name.startswith("sam2-frames") for name in threads)  # really in the background
        back = [i for i, _ in pf.iterate(range(T - 1, -1, -1))]
        assert back == list(range(T - 1, -1, -1))
        assert pf.prefetch(T) is None and pf.prefetch(-1) is None
        fut = pf.prefetch(5)
        np.testing.assert_array_equal(fut.result().permute(1, 2, 0).mul(255).round().byte().numpy(), want[5])
        with pytest.raises(IndexError):
            pf.get(T)

    # Plain frames, an iterator source of unknown length: iterate stops at its end.
    with Prefetcher(IteratorSource(iter(FRAMES[:7]))) as pf:
        out = list(pf.iterate(range(100)))
    assert [i for i, _ in out] == list(range(7))
    np.testing.assert_array_equal(out[6][1], FRAMES[6])

    # Errors come out of get, as if read there.
    with Prefetcher(IteratorSource(frame_generator(FRAMES, fail_at=3))) as pf:
        pf.prefetch(3)
        with pytest.raises(FrameReadError, match="frame 3"):
            pf.get(3)


def test_frame_source_is_the_common_interface(videos, tmp_path):
    folder = write_png_folder(tmp_path / "f", FRAMES[:4])
    sources = [
        VideoFileSource(videos["h264.mp4"]),
        FolderSource(folder),
        ArraySource(FRAMES),
        ListSource(list(FRAMES[:4])),
        IteratorSource(iter(FRAMES)),
    ]
    for src in sources:
        assert isinstance(src, FrameSource)
        with src:
            assert (src.height, src.width) == (H, W)
            assert_is_frame(src.get(1), 1)
        assert src.closed
