"""SAM2_TEST_DEVICE, the suite's one device switch (tests/conftest.py, tests/models.py), checked on a CPU.

A GPU run is ``SAM2_TEST_DEVICE=cuda bash scripts/test.sh``; here the switch is exercised without
one: the collection hook in a subprocess, and the fixtures' models on the ``meta`` device.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Modules holding cpu_only tests (whole modules and single tests) and plain ones.
MODULES = [
    "tests/backend/modeling/test_cpu_kernels.py",
    "tests/backend/test_devices.py",
    "tests/backend/video/test_tracker.py",
]


def _collect(device: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SAM2_TEST_DEVICE"}
    if device is not None:
        env["SAM2_TEST_DEVICE"] = device
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _ids(out: str) -> set[str]:
    return {line for line in out.splitlines() if line.startswith("tests/") and "::" in line}


def test_cpu_only_tests_are_deselected_with_their_reason_off_the_cpu():
    cpu, cuda = _collect(None), _collect("cuda")
    assert cpu.returncode == 0, cpu.stdout + cpu.stderr
    assert cuda.returncode == 0, cuda.stdout + cuda.stderr
    on_cpu, on_cuda = _ids(cpu.stdout), _ids(cuda.stdout)
    assert "deselected" not in cpu.stdout  # on the CPU every test runs, as before the switch

    listed = _listed(cuda.stdout)
    assert on_cuda == on_cpu - set(listed)  # exactly the listed ones are left out
    assert set(listed) <= on_cpu
    kernels = [n for n in listed if n.startswith("tests/backend/modeling/test_cpu_kernels.py::")]
    assert kernels and len(kernels) == sum(n.startswith(MODULES[0]) for n in on_cpu)  # a module-wide mark
    assert listed["tests/backend/video/test_tracker.py::test_bf16_model_on_cpu_tracks_close_to_fp32"] == (
        "the bf16 fast CPU path against the test model"
    )
    assert "tests/backend/test_devices.py::test_auto_device_on_a_machine_without_gpu" in on_cuda
    assert f"SAM2_TEST_DEVICE=cuda: {len(listed)} cpu_only tests deselected" in cuda.stdout
    assert re.search(rf"{len(on_cuda)}/{len(on_cpu)} tests collected \({len(listed)} deselected\)", cuda.stdout)


def _listed(out: str) -> dict[str, str]:
    """``{node id: reason}`` of the deselection lines the conftest prints."""
    return {nodeid: reason for reason, nodeid in re.findall(r"deselected \(cpu_only: (.*)\): (\S+)$", out, re.M)}


def test_models_and_the_reference_follow_the_switch():
    code = textwrap.dedent("""
        import torch
        from tests.models import TEST_DEVICE, TEST_PRECISION, tiny_model
        from tests.backend.reference import PARITY_TOL, build_reference, ours_like
        assert (TEST_DEVICE, TEST_PRECISION, PARITY_TOL) == ("meta", "fp32", 1e-3)
        model = tiny_model(128)
        ref = build_reference("sam2.1-hiera-tiny", image_size=128)
        ours = ours_like(ref, "sam2.1-hiera-tiny", image_size=128)
        for m in (model, ref, ours):
            assert {t.device.type for t in m.state_dict().values()} == {"meta"}
        assert model.precision == ours.precision == "fp32"
        print("ok")
    """)
    env = {**os.environ, "SAM2_TEST_DEVICE": "meta"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
