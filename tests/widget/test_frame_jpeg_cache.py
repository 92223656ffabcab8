"""The video widget's kernel-side frame JPEG cache and its background fill (sam2_widget/frame_cache.py).

Ordering, not timing: a gate holds the frames worker's JPEG encodes, and clip frames
carry their index in pixel (0, 0, 0), so the order in which frames were encoded is
known exactly.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sam2_backend.video.sources import FrameReadError
from sam2_widget import Sam2Widget, codecs
from sam2_widget.frame_cache import FillWalk, JpegCache
from tests.clips import make_clip, write_video
from tests.widget.harness import Recorder

av = pytest.importorskip("av")

ENCODE_JPEG = codecs.encode_jpeg


def marked_clip(n: int) -> np.ndarray:
    clip = make_clip(n)
    clip[:, 0, 0, 0] = np.arange(n)
    return clip


class EncodeGate:
    """Wraps ``codecs.encode_jpeg``: records the frame of every encode on the frames worker
    and holds it until :meth:`open`."""

    def __init__(self, monkeypatch) -> None:
        self.encoded: list[int] = []
        self.waiting = threading.Event()
        self._open = threading.Event()

        def encode(pixels, *args, **kwargs):
            if threading.current_thread().name.startswith("sam2_widget-frames-"):
                self.encoded.append(int(pixels[0, 0, 0]))
                self.waiting.set()
                assert self._open.wait(60), "the test never opened the gate"
            return ENCODE_JPEG(pixels, *args, **kwargs)

        monkeypatch.setattr(codecs, "encode_jpeg", encode)

    def open(self) -> None:
        self._open.set()

    def wait_blocked(self) -> None:
        assert self.waiting.wait(60), "the background fill never started"


def wait_filled(w, n: int) -> None:
    """Wait (not a timing assertion: a hang guard) until the fill has every frame."""
    deadline = time.monotonic() + 60
    while len(w._jpegs) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(w._jpegs.indices()) == list(range(n))


# -- the cache and the walk on their own -------------------------------------------------


def test_cache_is_lru_bounded_in_bytes():
    cache = JpegCache(100)
    cache.put(0, b"a" * 40)
    cache.put(1, b"b" * 40)
    assert cache.get(0) == b"a" * 40  # 0 is now the most recently used
    cache.put(2, b"c" * 40)  # 120 > 100: the least recently used (1) goes
    assert cache.indices() == [0, 2] and cache.nbytes == 80 and 1 not in cache
    cache.put(0, b"d" * 60)  # replacing counts the new size only: 100 fits
    assert cache.indices() == [2, 0] and cache.nbytes == 100
    cache.put(0, b"d" * 70)  # 110 does not: 2 goes
    assert cache.indices() == [0] and cache.nbytes == 70
    cache.put(3, b"e" * 101)  # larger than the whole cache: not kept, nothing evicted
    assert cache.indices() == [0] and cache.nbytes == 70
    with pytest.raises(ValueError):
        JpegCache(-1)


def test_walk_order_bound_and_unreadable_frames():
    cache = JpegCache(1000)
    encoded: list[int] = []

    def encode(i: int) -> bytes:
        encoded.append(i)
        if i == 4:
            raise FrameReadError("damaged", i, "clip")
        return bytes(100)

    walk = FillWalk(cache, 30, encode, back=8)
    walk.restart(10)
    while walk.step():
        assert cache.nbytes <= cache.max_bytes
    # from cursor - 8 on, skipping the unreadable frame, until the covered bytes fill the cache
    assert encoded == list(range(2, 13)) and cache.indices() == [2, 3, *range(5, 13)]
    walk.restart(10)  # covered again: cached frames are passed, none (nor frame 4) is tried twice
    assert not walk.step() and encoded == list(range(2, 13))
    walk.restart(28)  # a clip larger than the cache: the part from the cursor on, wrapping to 0
    steps = 0
    while walk.step():
        steps += 1
        assert cache.nbytes <= cache.max_bytes
    assert steps == 10 and cache.indices() == [*range(20, 30)]
    assert FillWalk(JpegCache(0), 5, encode, back=8).step() is False  # 0 turns it off


# -- the widget ------------------------------------------------------------------------------


def test_fill_when_idle_yields_to_a_fetch(monkeypatch, video_model):
    n = 30
    clip = marked_clip(n)
    gate = EncodeGate(monkeypatch)
    w = Sam2Widget(clip, model=video_model, video=True)
    front = Recorder(w)
    gate.wait_blocked()  # the fill started on its own after frame 0 was shown: it holds frame 1
    seq = front.send("fetch_frames", indices=[20])
    gate.open()
    assert front.ack(seq)["ok"]
    wait_filled(w, n)
    # The fetch ran right after the one slice in progress, then the walk went on from the
    # fetched frame's window (20 - 8) in order, wrapped to the start, and encoded each frame once.
    assert gate.encoded == [1, 20, *range(12, 20), *range(21, n), *range(2, 12)]
    assert [c["index"] for c, _ in front.frames] == [20]
    w.close()


def test_cached_replies_are_byte_identical_and_masks_fresh(monkeypatch, video_model):
    n = 12
    clip = marked_clip(n)
    gate = EncodeGate(monkeypatch)
    gate.open()
    w = Sam2Widget(clip, model=video_model, video=True)
    front = Recorder(w)
    wait_filled(w, n)
    encoded = list(gate.encoded)
    assert sorted(encoded) == list(range(1, n))
    mask = np.zeros(clip.shape[1:3], bool)
    mask[10:40, 20:70] = True
    w.add_mask(mask, frame=3)
    assert front.ack(front.send("fetch_frames", indices=[5, 3, 7, 4]))["ok"]
    replies = front.frames
    assert [c["index"] for c, _ in replies] == [5, 3, 4, 7]  # the first asked first, then ascending
    for content, (jpeg, rle) in replies:
        i = content["index"]
        assert (content["width"], content["height"]) == (clip.shape[2], clip.shape[1])
        assert jpeg == ENCODE_JPEG(clip[i])
        label = codecs.decode_label_rle(rle, content["height"], content["width"])
        np.testing.assert_array_equal(label, w.results.label_map(i))
    label3 = codecs.decode_label_rle(replies[1][1][1], clip.shape[1], clip.shape[2])
    assert (label3 > 0).any()  # the mask made after the frame's JPEG was cached is in the reply
    assert front.ack(front.send("goto", index=9))["ok"]
    assert w.image_jpeg == ENCODE_JPEG(clip[9])
    assert gate.encoded == encoded  # every reply came from the cache
    w.close()


def test_nothing_is_encoded_in_the_background_while_tracking(monkeypatch, video_model):
    n = 8
    clip = marked_clip(n)
    gate = EncodeGate(monkeypatch)
    w = Sam2Widget(clip, model=video_model, video=True)
    gate.wait_blocked()  # the fill holds frame 1
    w.add_points([[30, 40]], [1], frame=0)
    seen: list[int] = []

    def on_change(widget, index, masks):
        if not seen:  # tracking is running (this callback holds it): let the fill go on, and
            gate.open()  # wait until it has stopped (at the end of the clip if it ignored tracking)
            deadline = time.monotonic() + 60
            while w._frames_worker._background_due and time.monotonic() < deadline:
                time.sleep(0.01)
        seen.append(len(gate.encoded))

    w.on_change(on_change)
    assert w.track("forward") == n
    assert seen == [1] * n  # only the frame in progress when tracking began
    wait_filled(w, n)  # the end of tracking woke the fill
    assert gate.encoded == list(range(1, n))
    w.close()


def test_close_stops_the_background_fill(monkeypatch, video_model):
    clip = marked_clip(20)
    gate = EncodeGate(monkeypatch)
    w = Sam2Widget(clip, model=video_model, video=True)
    gate.wait_blocked()
    thread = w._frames_worker._thread
    w.close()
    gate.open()
    thread.join(60)
    assert not thread.is_alive()
    assert gate.encoded == [1]  # the slice in progress finished; no other started


def test_video_file_has_its_own_display_decoder(tmp_path, video_model):
    clip = make_clip(12)
    path = tmp_path / "clip.mp4"
    write_video(path, clip, options={"crf": "10"}, gop=6)
    w = Sam2Widget(path, model=video_model, frame_cache_mb=0)  # no cache: every reply decodes
    front = Recorder(w)
    assert w._frames_source is not w.tracker.source
    assert front.ack(front.send("fetch_frames", indices=[6, 7, 5, 8, 4]))["ok"]
    assert [c["index"] for c, _ in front.frames] == [6, 4, 5, 7, 8]
    for content, (jpeg, _) in front.frames:
        assert jpeg == ENCODE_JPEG(w.tracker.source.get(content["index"]))
    assert len(w._jpegs) == 0
    source = w._frames_source
    w.close()
    assert source.closed and w.tracker.source.closed
