"""``track(wait=False)`` returns at once with a Future while tracking runs on the worker (it used
to wait for the whole run); ``cancel`` stops it and keeps the frames done."""

from __future__ import annotations

import time

from sam2_widget import Sam2Widget
from tests.clips import make_clip


def test_track_without_waiting_returns_a_running_future_that_cancel_stops(video_model):
    w = Sam2Widget(make_clip(300), model=video_model, video=True)
    try:
        w.add_points([[30, 30]], [1])
        start = time.perf_counter()
        future = w.track("forward", wait=False)
        assert not future.done() and time.perf_counter() - start < 5.0
        deadline = time.monotonic() + 60
        while w.progress.get("done", 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # until some frames are done
        assert w.cancel() is True
        done = future.result(60)
        assert 0 < done < 300 and w.progress["cancelled"]
        assert len(w.results.frames) >= done  # every frame done is kept
    finally:
        w.close()
