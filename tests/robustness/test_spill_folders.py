"""A VideoTracker's spill folder (memories kept on disk) goes with its owner: on close, on
garbage collection, at a normal exit without close; a killed process's folder goes when the
next tracker starts in the same place. Only ours: a folder without the owner's pid marker, or
of a live process, is never touched."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

from sam2_backend import VideoTracker
from sam2_backend.video.memory_bank import SPILL_PREFIX
from tests.clips import make_clip

ROOT = Path(__file__).resolve().parents[2]


def _spill_folders(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{SPILL_PREFIX}*"))


def _tracker(video_model, folder: Path) -> VideoTracker:
    tracker = VideoTracker(video_model, make_clip(36), memory_frames_in_ram=32, spill_dir=str(folder))
    tracker.add_points(0, 1, [[30, 30]], [1])
    for _ in tracker.propagate():
        pass
    return tracker


def test_closed_or_collected_trackers_leave_no_folder(video_model, tmp_path):
    closed = _tracker(video_model, tmp_path)
    (folder,) = _spill_folders(tmp_path)
    assert any(p.is_file() for p in folder.rglob("*"))  # memories were spilled
    closed.close()
    assert _spill_folders(tmp_path) == []
    forgotten = _tracker(video_model, tmp_path)
    assert len(_spill_folders(tmp_path)) == 1
    del forgotten
    gc.collect()
    assert _spill_folders(tmp_path) == []


EXIT_WITHOUT_CLOSE = """
import sys, time
from sam2_backend import VideoTracker
from tests.clips import make_clip
from tests.models import tiny_model
tracker = VideoTracker(tiny_model(128), make_clip(36), memory_frames_in_ram=32, spill_dir=sys.argv[1])
tracker.add_points(0, 1, [[30, 30]], [1])
for _ in tracker.propagate():
    pass
print("tracked", flush=True)
if sys.argv[2] == "hang":
    time.sleep(600)
"""


def _run(tmp_path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", EXIT_WITHOUT_CLOSE, str(tmp_path), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_script_ending_without_close_removes_its_folder(tmp_path):
    proc = _run(tmp_path, "exit")
    out, err = proc.communicate(timeout=240)
    assert (proc.returncode, out.strip(), err) == (0, "tracked", "")
    assert _spill_folders(tmp_path) == []


def test_a_killed_process_folder_goes_with_the_next_tracker_and_nothing_else(video_model, tmp_path):
    proc = _run(tmp_path, "hang")
    try:
        assert proc.stdout.readline().strip() == "tracked", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    (orphan,) = _spill_folders(tmp_path)
    assert orphan.name.startswith(f"{SPILL_PREFIX}{proc.pid}.")
    foreign = tmp_path / f"{SPILL_PREFIX}notes"  # no pid marker: not ours to judge
    live = tmp_path / f"{SPILL_PREFIX}{os.getppid()}.abc"  # a running process's
    foreign.mkdir()
    live.mkdir()
    tracker = _tracker(video_model, tmp_path)
    remaining = {p.name for p in _spill_folders(tmp_path)}
    assert orphan.name not in remaining and {foreign.name, live.name} <= remaining
    tracker.close()
    assert {p.name for p in _spill_folders(tmp_path)} == {foreign.name, live.name}
