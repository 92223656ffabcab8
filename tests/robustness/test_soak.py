"""The short soak (benchmarks/soak.py): a clip and an image set with autosave on, driven through
the message protocol (objects added and, past six, deleted); every message answered, nothing
left behind, nothing growing."""

from __future__ import annotations

from benchmarks import soak


def test_a_short_soak_answers_everything_and_leaves_nothing():
    report = soak.run(clicks=100, gotos=12, tracks=4, undos=6, saves=3, images=4, frames=8)
    assert report.sent > 100 and report.answered == report.sent and report.errors == []
    assert (report.end.fds, report.end.threads) == (report.warm.fds, report.warm.threads)
    assert report.after_close.temp_files == 0  # spilled memories and save temporaries are gone
    assert report.after_close.threads <= report.warm.threads - 2  # both widgets' workers ended
    # A short run is noisy; the 5 % bound is for the long soak (benchmarks/README.md).
    assert report.end.rss_mb < report.warm.rss_mb * 1.25
