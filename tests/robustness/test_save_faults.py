"""Saving under faults: a full disk gives an error naming the file and keeps the previous one;
a process killed (SIGKILL) in the middle of saves never leaves a damaged file, and its
temporary files are removed by the next save."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sam2_widget import Sam2Widget, session_file
from sam2_widget.session_file import read_session_file
from tests.images import synthetic_image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def widget(model):
    w = Sam2Widget(synthetic_image(48, 64), model=model)
    w.add_points([[20, 20]], [1])
    yield w
    w.close()


@pytest.mark.parametrize("failing", ["fsync", "savez_compressed", "replace"])
def test_a_full_disk_keeps_the_previous_file_and_says_so(widget, tmp_path, monkeypatch, failing):
    path = tmp_path / "s.npz"
    widget.save_session(path)
    good = path.read_bytes()
    widget.add_points([[40, 30]], [1], obj_id=2)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = np if failing == "savez_compressed" else os
    monkeypatch.setattr(target, failing, no_space)
    with pytest.raises(OSError, match=r"could not write .*s\.npz: No space left on device \(the previous file"):
        widget.save_session(path)
    monkeypatch.undo()
    assert path.read_bytes() == good  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]  # no temporary left
    assert set(widget.masks) == {1, 2}  # the widget lost nothing
    widget.save_session(path)
    assert len(read_session_file(path).objects) == 2


def test_saving_into_a_missing_folder_names_the_file(widget, tmp_path):
    with pytest.raises(OSError, match=r"could not write .*missing.*nothing was written"):
        widget.save_session(tmp_path / "missing" / "s.npz")


SAVER = """
import sys
import numpy as np
from tests.images import synthetic_image
from tests.models import tiny_model
from sam2_widget import Sam2Widget

w = Sam2Widget(synthetic_image(240, 320), model=tiny_model())
for i in range(8):
    w.add_points([[20 + 30 * i, 30 + 20 * i]], [1], obj_id=i + 1)
print("ready", flush=True)
while True:
    w.save_session(sys.argv[1])
"""


def test_a_process_killed_while_saving_never_leaves_a_damaged_file(tmp_path):
    path = tmp_path / "s.npz"
    rng = np.random.default_rng(0)
    for attempt in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert proc.stdout.readline().strip() == b"ready", proc.stderr.read()
            time.sleep(0.2 + rng.uniform(0, 0.3))  # some saves done, one in flight
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            proc.kill()
        saved = read_session_file(path)  # the last complete save, never a partial one
        assert len(saved.objects) == 8, attempt
    # a killed writer's temporary (if it was caught mid-write) goes with the next save
    orphan = tmp_path / f".s.npz.{proc.pid}.abc{session_file._TMP_SUFFIX}"
    orphan.write_bytes(b"partial")
    session_file.write_npz_atomic(path, {"meta": np.zeros(1, np.uint8)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    live = tmp_path / f".s.npz.{os.getppid()}.xyz{session_file._TMP_SUFFIX}"
    foreign = tmp_path / ".s.npz.notapid.tmp"
    live.write_bytes(b"in progress")
    foreign.write_bytes(b"not ours")
    session_file.write_npz_atomic(tmp_path / "s.npz", {"meta": np.zeros(1, np.uint8)})
    assert live.exists() and foreign.exists()
