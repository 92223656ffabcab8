"""Fixtures of the browser end-to-end tests: a Jupyter server and headless Chromium.

How it works and how to run it: tests/e2e/README.md. In short, every test runs twice, once
in JupyterLab and once in Notebook 7 (the ``jupyter`` fixture is parametrized by front end):
a server of this environment runs on 127.0.0.1 with a random token in a temporary folder, and
Playwright drives Debian's ``chromium`` (``playwright install`` cannot download its own
browsers here). Without a browser or Playwright every test here skips with the reason;
the project's conftest turns those skips into failures when ``CI=true``.

When a test fails, its page screenshot, the browser console and the server log are
saved to ``test-artifacts/e2e/`` (git-ignored).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.e2e_server import (
    FRONTENDS,
    BundleError,
    JupyterServer,
    chromium,
    ensure_bundle,
    find_chromium,
    running_jupyter,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


def chromium_path() -> str:
    """The system Chromium, or skip: the e2e tests need a real browser."""
    path = find_chromium()
    if path is None:
        pytest.skip("browser e2e tests need Debian's chromium on PATH (apt-get update && apt-get install -y chromium)")
    return path


def _require_python_packages(*extra: tuple[str, str]) -> None:
    for module, package in (
        ("playwright.sync_api", "playwright"),
        ("jupyterlab", "jupyterlab"),
        ("ipykernel", "ipykernel"),
        ("nbformat", "nbformat"),
        *extra,
    ):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"browser e2e tests need {package}: pip install -e '.[test]'")


@pytest.fixture(scope="session")
def browser_executable() -> str:
    _require_python_packages()
    return chromium_path()


@pytest.fixture(scope="session", params=FRONTENDS)
def jupyter(
    request: pytest.FixtureRequest, browser_executable: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    """The front end's server (e2e_server.running_jupyter) in a fresh temporary folder.
    pytest runs every test of one front end before the next one starts, so one server runs
    at a time."""
    frontend = request.param
    if frontend == "notebook":
        _require_python_packages(("notebook", "notebook"))
    try:
        ensure_bundle()
    except BundleError as e:
        pytest.fail(str(e))
    with running_jupyter(frontend, tmp_path_factory.mktemp(frontend)) as server:
        yield server


@pytest.fixture(scope="session")
def browser(browser_executable: str):
    with chromium(browser_executable) as b:
        yield b


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"e2e_report_{report.when}", report)


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])


@pytest.fixture
def page(browser, jupyter: JupyterServer, request: pytest.FixtureRequest):
    """A fresh browser page (1400x1100). When the test fails: a screenshot, the console
    messages and the server log go to test-artifacts/e2e/<test>[<front end>].*"""
    name = _artifact_name(request.node.nodeid)
    for stale in ARTIFACTS.glob(f"{name}.*"):  # from an earlier failed run
        stale.unlink()
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.set_default_timeout(30_000)
    p = context.new_page()
    console: list[str] = []
    p.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    p.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    try:
        yield p
    finally:
        report = getattr(request.node, "e2e_report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                p.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as e:  # noqa: BLE001 - a failed screenshot must not hide the test's failure
                console.append(f"[e2e] screenshot failed: {e}")
            (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console) + "\n")
            shutil.copyfile(jupyter.log, ARTIFACTS / f"{name}.server.log")
        context.close()
