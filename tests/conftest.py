import os
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
