"""The timeline's tracked spans, kept frame by frame (sam2_widget/tracked_spans.py; gpu_readiness.md S6).

They must equal a full rescan of the results after any mix of tracking and edits, and an update
must read only the frames that changed: its cost may not grow with the number of tracked frames.
"""

import random

import pytest

from sam2_backend.video import TrackResults
from sam2_widget.mask_versions import to_ranges
from sam2_widget.tracked_spans import FrameRuns, TrackedSpans
from sam2_widget.video_session import VideoSession
from tests.widget.harness import ok, prompt_track_and_correct, video_widget


def rescan(results: TrackResults, ids) -> list[dict]:
    """The spans by reading every tracked frame (what the widget did before, every 0.1 s)."""
    frames = {o: [] for o in ids}
    for frame in results.frames:
        for o, area in results.areas(frame).items():
            if area and o in frames:
                frames[o].append(frame)
    return [{"obj_id": o, "ranges": to_ranges(frames[o])} for o in ids]


def test_frame_runs_hold_the_set_they_were_given():
    rng = random.Random(0)
    runs, expected = FrameRuns(), set()
    for _ in range(5000):
        f = rng.randrange(60)
        if rng.random() < 0.6:
            runs.add(f)
            expected.add(f)
        else:
            runs.discard(f)
            expected.discard(f)
        assert runs.ranges() == to_ranges(sorted(expected))
    assert len(runs.ranges()) > 3  # joins and splits were exercised


class Areas:
    """A stand-in for TrackResults' areas, counting reads."""

    def __init__(self) -> None:
        self.frames: dict[int, dict[int, int]] = {}
        self.reads = 0

    def __call__(self, frame: int) -> dict[int, int]:
        self.reads += 1
        if frame not in self.frames:
            raise KeyError(frame)
        return self.frames[frame]


@pytest.mark.parametrize("objects", [1, 3])
def test_an_update_reads_only_the_changed_frame_however_many_are_tracked(objects):
    areas = Areas()
    spans = TrackedSpans(areas, lambda: sorted(areas.frames))
    ids = list(range(1, objects + 1))
    for frame in range(10_000):
        # object 1 leaves the picture for frames 5000-5099
        areas.frames[frame] = {o: 0 if o == 1 and 5000 <= frame < 5100 else 9 for o in ids}
        before = areas.reads
        spans.mark([frame])
        got = spans.ranges(ids)  # the widget's update after a tracked frame
        assert areas.reads - before == 1  # this frame only, not the `frame` before it
        if frame % 997 == 0 or frame == 9_999:
            assert got[0]["ranges"] == to_ranges([f for f in range(frame + 1) if not 5000 <= f < 5100])
            assert all(span["ranges"] == [[0, frame]] for span in got[1:])
    assert areas.reads == 10_000  # each frame read once in all
    del areas.frames[20]  # a frame cleared, then a full rescan
    spans.mark([20])
    assert spans.ranges([2])[0]["ranges"] == ([] if objects == 1 else [[0, 19], [21, 9_999]])
    spans.mark(None)
    assert spans.ranges(ids)[0]["ranges"] == [[0, 19], [21, 4999], [5100, 9_999]]
    assert areas.reads == 10_000 + 1 + 9_999


def test_spans_equal_a_rescan_after_track_edit_and_retrack(clip, video_model):
    w, front = video_widget(clip, video_model)
    s, results = w._session, w._session.tracker.results
    try:
        prompt_track_and_correct(front)  # two objects, tracked, then a correction on frame 4
        w.wait_idle(60)
        assert s.tracked_spans() == rescan(results, [1, 2])
        ok(front, front.send("track", direction="forward"))  # re-track from the correction (frame 4, shown)
        assert s.tracked_spans() == rescan(results, [1, 2])
        ok(front, front.send("delete_object", id=2))
        w.wait_idle(60)
        assert s.tracked_spans() == rescan(results, [1]) == w.tracked
        ok(front, front.send("undo"))  # object 2 back with its tracked masks
        w.wait_idle(60)
        assert s.tracked_spans() == rescan(results, [1, 2])
        assert any(span["ranges"] for span in s.tracked_spans())
    finally:
        w.close()


def test_a_tracked_frame_reads_one_frame_of_areas(clip, video_model, monkeypatch):
    reads = []
    areas = TrackResults.areas
    monkeypatch.setattr(TrackResults, "areas", lambda self, frame: reads.append(frame) or areas(self, frame))
    s = VideoSession(video_model, clip)
    try:
        s.add_points(0, [[30.0, 40.0]], [1])
        s.add_box(0, [60.0, 28.0, 110.0, 60.0], obj_id=s.add_object())
        for frame, obj in s.take_work()[0]:
            s.apply(frame, obj)
        for frame, _ in s.propagate("forward", start=0):
            reads.clear()
            spans = s.tracked_spans()
            assert reads == [frame]  # not every frame tracked so far
            assert spans == rescan(s.tracker.results, [1, 2])
    finally:
        s.close()
