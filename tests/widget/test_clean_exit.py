"""A script that ends while a widget's worker is inside a torch call must exit cleanly.

Without waiting for running jobs at exit, the daemon worker thread is stopped by the
interpreter's finalization inside torch's C++ frames and the process aborts
("terminate called without an active exception", status 134)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BUSY_WORKER = """
import time, torch
from sam2_widget.worker import Worker

def busy():
    x = torch.randn(512, 512)
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        x = torch.tanh(x @ x)

w = Worker("busy")
w.submit(busy)
w.submit(busy)  # still waiting at exit: dropped, not run
time.sleep(0.3)  # the first job is running when the script ends
"""

WIDGET_MID_WORK = """
import sys, numpy as np
from PIL import Image
from tests.models import tiny_model
from sam2_widget import Sam2Widget
for i in range(6):
    Image.fromarray(np.full((64, 80, 3), 20 * i, np.uint8)).save(f"{sys.argv[1]}/{i}.png")
try:
    Sam2Widget(np.zeros((8, 8, 3), np.uint8), model=3)
except TypeError:
    pass
w = Sam2Widget(sys.argv[1], model=tiny_model())
w.add_points([[40, 30]], [1])
w.goto(5)  # its encoding is queued or running when the script ends
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_script_ending_during_a_job_exits_cleanly():
    for _ in range(2):  # the failure this guards against depends on timing
        proc = _run(BUSY_WORKER)
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr


def test_a_widget_script_ending_mid_work_exits_cleanly(tmp_path):
    for _ in range(3):
        proc = _run(WIDGET_MID_WORK, str(tmp_path))
        assert proc.returncode == 0, proc.stderr
        assert "terminate called" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


EVERY_KIND_BUSY = """
import sys, numpy as np
from PIL import Image
from tests.clips import make_clip
from tests.models import tiny_model
from sam2_widget import Sam2Widget

model, video_model = tiny_model(), tiny_model(128)
single = Sam2Widget(np.zeros((64, 80, 3), np.uint8) + 90, model=model)
single.add_points([[40, 30]], [1])
# "Everything" from the front end runs on the worker: it is still running when the script ends.
single._on_frontend_msg(single, {"type": "segment_everything", "seq": 1}, [])

for i in range(4):
    Image.fromarray(np.full((64, 80, 3), 40 * i, np.uint8)).save(f"{sys.argv[1]}/{i}.png")
image_set = Sam2Widget(sys.argv[1], model=model)
image_set.add_points([[40, 30]], [1])
image_set.goto(3)

clip = Sam2Widget(make_clip(12), model=video_model, video=True)
clip.add_points([[30, 30]], [1])
clip.track("forward", wait=False)  # tracking runs on when the script ends

closed = Sam2Widget(make_clip(12), model=video_model, video=True)
closed.add_points([[30, 30]], [1])
closed.track("forward", wait=False)
closed.close()  # closed mid-tracking
print("done")
"""


def test_a_script_with_every_kind_of_widget_busy_at_its_end_exits_cleanly(tmp_path):
    proc = _run(EVERY_KIND_BUSY, str(tmp_path))
    assert (proc.returncode, proc.stderr, proc.stdout.strip()) == (0, "", "done"), proc.stderr


KERNEL_CODE = """
from tests.clips import make_clip
from tests.models import tiny_model
from sam2_widget import Sam2Widget
w = Sam2Widget(make_clip(1000), model=tiny_model(128), video=True)
w.add_points([[30, 30]], [1])
w.track("forward", wait=False)
import time
deadline = time.monotonic() + 60
while w.progress.get("done", 0) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
print("tracking" if w.progress.get("running") else "idle")
"""


def _kernel_tracking(km, stderr) -> subprocess.Popen:
    """Start ``km``'s kernel (stderr to ``stderr``), have it track in the background; its process."""
    km.start_kernel(stderr=stderr, stdout=subprocess.DEVNULL, cwd=str(ROOT))
    kc = km.client()
    kc.start_channels()
    said: list[str] = []
    try:
        kc.wait_for_ready(120)
        reply = kc.execute_interactive(
            KERNEL_CODE, timeout=240, output_hook=lambda m: said.append(m["content"].get("text", ""))
        )
    finally:
        kc.stop_channels()
    assert reply["content"]["status"] == "ok" and "".join(said).strip() == "tracking"
    return km.provisioner.process


@pytest.mark.parametrize("how", ["shutdown", "restart"])
def test_a_kernel_shut_down_or_restarted_mid_tracking_exits_cleanly(tmp_path, how):
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    # Jupyter's default wait before it kills the kernel (SIGTERM) is 5 s; on a loaded 2-core
    # machine a clean exit (cancel the run, join the threads, finalise torch) has taken longer.
    # The test is about how the kernel ends, not how fast, so it waits longer.
    km.shutdown_wait_time = 60.0
    err = tmp_path / "kernel.err"
    with err.open("w") as stderr:
        process = _kernel_tracking(km, stderr)
        if how == "restart":
            km.restart_kernel(now=False)  # what the notebook's "Restart kernel" does
        else:
            km.shutdown_kernel(now=False)
        assert process.wait(60) == 0
        assert err.read_text() == "", err.read_text()
    if how == "restart":
        km.shutdown_kernel(now=True)
