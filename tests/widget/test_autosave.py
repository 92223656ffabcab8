"""Autosave (sam2_widget/autosave.py): a killed kernel loses at most its last action.

The crash test runs tests/widget/autosave_child.py in a subprocess, kills it with
SIGKILL after completed actions and again in the middle of a track, and restores
each state in this process with ``Sam2Widget.load_session``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from sam2_widget import Sam2VideoWidget, Sam2Widget
from tests.widget import autosave_child as child
from tests.widget.harness import Recorder, ok

ROOT = Path(__file__).resolve().parents[2]


def state(widget) -> dict:
    return json.loads(json.dumps(child.state(widget)))  # as the child wrote it (JSON keys are strings)


def read_line(proc: subprocess.Popen, stderr: Path) -> str:
    line = proc.stdout.readline().strip()
    assert line, f"the child died: {stderr.read_text()[-3000:]}"
    return line


def test_killed_kernel_restores_the_last_action_and_most_of_a_track(tmp_path, video_model, clip):
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.widget.autosave_child", str(tmp_path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    watchdog = threading.Timer(300, proc.kill)
    watchdog.start()
    try:
        assert read_line(proc, stderr) == "A"
        # the file as a crash here would leave it (the child is idle, waiting on stdin)
        shutil.copy(tmp_path / "autosave.npz", tmp_path / "a_autosave.npz")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert read_line(proc, stderr) == "HOLD"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        watchdog.cancel()
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not list(tmp_path.glob(".autosave.npz.*")), "a temporary file was left behind"

    # after completed actions: exactly the prompts, objects and masks the kernel had
    a = Sam2Widget.load_session(tmp_path / "a_autosave.npz", clip, model=video_model)
    assert isinstance(a, Sam2VideoWidget)
    assert state(a) == json.loads((tmp_path / "a.json").read_text())
    assert [o["name"] for o in a.objects] == ["disk", "car"]
    a_masks = dict(np.load(tmp_path / "a_masks.npz"))
    assert len(a_masks) == 2 * child.T
    assert {f"{f}_{o}" for f in a.results.frames for o in a.results.frame_masks(f)} == set(a_masks)
    for key, mask in a_masks.items():
        f, o = map(int, key.split("_"))
        np.testing.assert_array_equal(a.results.mask(f, o), mask, err_msg=key)

    # killed mid-track: the prompts, and every frame tracked before the last autosave
    b = Sam2Widget.load_session(tmp_path / "autosave.npz", clip, model=video_model)
    assert state(b) == json.loads((tmp_path / "b.json").read_text())
    assert [o["name"] for o in b.objects] == ["disk", "car", "third"]
    for f in range(child.T):
        got = b.results.frame_masks(f)
        if f < child.HOLD:  # re-tracked with the third object, and saved after each frame
            want = {int(k): v for k, v in np.load(tmp_path / f"b_{f}.npz").items()}
            assert sorted(got) == [1, 2, 3], f
        else:  # not reached: the masks of phase A
            want = {o: a_masks[f"{f}_{o}"] for o in (1, 2)}
            assert 3 not in got, f
        assert sorted(got) == sorted(want), f
        for o in want:
            np.testing.assert_array_equal(got[o], want[o], err_msg=f"frame {f} object {o}")
    assert b.track("forward", frame=0) == child.T  # and the restored session tracks on
    a.close()
    b.close()


def test_bad_or_failing_autosave_path_is_clear_and_loses_nothing(tmp_path, video_model, clip):
    folder = tmp_path / "saves"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        Sam2Widget(clip, model=video_model, video=True, autosave=folder)
    with pytest.raises(ValueError, match="does not exist: create it"):
        Sam2Widget(clip, model=video_model, video=True, autosave=tmp_path / "missing" / "s.npz")
    with pytest.raises(TypeError, match="file path"):
        Sam2Widget(clip, model=video_model, video=True, autosave=3)

    path = folder / "s.npz"
    w = Sam2Widget(clip, model=video_model, video=True, autosave=path)
    front = Recorder(w)
    ok(front, front.send("add_point", x=30.0, y=40.0, label=1))
    w.wait_idle(60)
    assert path.is_file() and not w.error
    path.unlink()
    folder.rmdir()  # the folder goes away (an unplugged disk, a full quota behaves alike)
    seq = front.send("add_point", x=50.0, y=44.0, label=1)
    ok(front, seq)  # the click itself worked ...
    w.wait_idle(60)
    assert "autosave to" in w.error and "failed" in w.error and "intact" in w.error  # ... the save did not
    assert w.status == "error"
    assert len(w.prompts) == 2 and w.masks[1].shape == clip.shape[1:3]
    prompts, masks = list(w.prompts), w.masks[1].copy()

    folder.mkdir()  # fixed: the next action saves everything again
    assert w.track("forward") == child.T
    w.wait_idle(60)
    assert not w.error and path.is_file()
    # a second widget must not overwrite the only copy of a (crashed) session ...
    with pytest.raises(ValueError, match="already exists.*load_session"):
        Sam2Widget(clip, model=video_model, video=True, autosave=path)
    # ... and loading it can go on saving into it
    r = Sam2Widget.load_session(path, clip, model=video_model, autosave=path)
    assert r.prompts == prompts
    np.testing.assert_array_equal(r.masks[1], masks)
    np.testing.assert_array_equal(r.results.masks(), w.results.masks())
    r.add_object("late")
    r.wait_idle(60)
    assert [o["name"] for o in Sam2Widget.load_session(path, clip, model=video_model).objects] == ["object 1", "late"]
    w.close()
    r.close()


def test_image_widget_autosaves_too(tmp_path, video_model, clip):
    path = tmp_path / "images.npz"
    w = Sam2Widget(list(clip[:2]), model=video_model, autosave=path)
    w.add_points([[30, 40]], [1])
    w.goto(1)
    w.add_box([60, 28, 110, 60])
    w.wait_idle(60)
    r = Sam2Widget.load_session(path, model=video_model)
    assert r.image_index == 1 and r.prompts == w.prompts and r.objects == w.objects
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # a normal file, not the temp file's 0600
    for i in range(2):
        assert r._session.prompts(i) == w._session.prompts(i)
        want = w.results.masks(i)
        assert list(r.results.masks(i)) == list(want) == [1]
        np.testing.assert_array_equal(r.results.masks(i)[1], want[1])
    w.close()
    r.close()
