import os
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.models import TEST_DEVICE  # noqa: E402  (SAM2_TEST_DEVICE: the one switch; default "cpu")

ON_CPU = TEST_DEVICE == "cpu"
if TEST_DEVICE.startswith("cuda"):
    # "Exact fp32" must be exact for the parity tests: TF32 (Ampere and newer; on by default for
    # cuDNN convolutions) would round every matmul and convolution input to 10 mantissa bits.
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def pytest_configure(config):
    if not ON_CPU and not config.option.collectonly:
        from sam2_backend.devices import resolve_device

        try:
            resolve_device(TEST_DEVICE)
        except ValueError as e:
            raise pytest.UsageError(f"SAM2_TEST_DEVICE={TEST_DEVICE}: {e}") from e


_DESELECTED = pytest.StashKey[list]()  # (node id, reason) of the cpu_only tests deselected


def _cpu_only_reason(item) -> str:
    mark = item.get_closest_marker("cpu_only")
    return mark.args[0] if mark.args else "tests a CPU-only path"


def pytest_collection_modifyitems(config, items):
    # Off the CPU, the tests of CPU-only paths are deselected, not skipped (CI=true fails skips),
    # and listed with their reasons (pytest_report_collectionfinish).
    if ON_CPU:
        return
    dropped = [item for item in items if item.get_closest_marker("cpu_only")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("cpu_only")]
    config.stash[_DESELECTED] = [(item.nodeid, _cpu_only_reason(item)) for item in dropped]


def pytest_report_collectionfinish(config, start_path, items):
    dropped = config.stash.get(_DESELECTED, [])
    if not dropped:
        return []
    lines = [f"SAM2_TEST_DEVICE={TEST_DEVICE}: {len(dropped)} cpu_only tests deselected:"]
    return lines + [f"  deselected (cpu_only: {reason}): {nodeid}" for nodeid, reason in dropped]


def _fail_skips_in_ci(report) -> None:
    # In CI nothing may skip: a skip there is reported as a failure with its reason.
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true forbids skips): {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skips_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skips_in_ci(outcome.get_result())


# Groups whose counts the CI log states on their own line (the browser tests and the example
# notebooks must be seen to run, not to skip): (label, prefix of the test id).
COUNTED = (
    ("browser e2e tests", "tests/e2e/"),
    ("example notebooks executed", "tests/examples/test_example_notebooks.py::test_notebook_runs_top_to_bottom"),
)


def pytest_terminal_summary(terminalreporter):
    for label, prefix in COUNTED:
        counts = Counter()
        for outcome in ("passed", "failed", "skipped", "error"):
            for report in terminalreporter.stats.get(outcome, []):
                # a passing test reports setup, call and teardown: count its call only
                if getattr(report, "nodeid", "").startswith(prefix) and (report.when == "call" or outcome != "passed"):
                    counts[outcome] += 1
        if counts:
            terminalreporter.write_line(f"{label}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
