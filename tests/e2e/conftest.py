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

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
STATIC = ROOT / "sam2_widget" / "static"

# The flags that have been seen to work on these machines (DESIGN.md, "Tests and checks").
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SERVER_START_TIMEOUT_S = 90

# The front ends every e2e test runs in: JupyterLab (`jupyter lab`) and Notebook 7
# (`jupyter notebook`, built on JupyterLab's components: same settings, cells and outputs).
FRONTENDS = ("lab", "notebook")

# User settings of the test's JupyterLab / Notebook 7: no news / update toast, no notification
# popups, and every cell kept in the DOM (no virtual scrolling) so that locators find
# cells below the widget.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        '{"fetchNews": "false", "checkForUpdates": false, "doNotDisturbMode": true}',
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
}


def chromium_path() -> str:
    """The system Chromium, or skip: the e2e tests need a real browser."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("browser e2e tests need Debian's chromium on PATH "
                "(apt-get update && apt-get install -y chromium)")


def _require_python_packages(*extra: tuple[str, str]) -> None:
    for module, package in (("playwright.sync_api", "playwright"), ("jupyterlab", "jupyterlab"),
                            ("ipykernel", "ipykernel"), ("nbformat", "nbformat"), *extra):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"browser e2e tests need {package}: pip install -e '.[test]'")


def _ensure_bundle() -> None:
    """The front end must be built, and not older than js/ (a stale bundle tests old code)."""
    bundle = [STATIC / "widget.js", STATIC / "widget.css"]
    sources = list((ROOT / "js").glob("*.ts")) + list((ROOT / "js").glob("*.css"))
    newest_source = max((p.stat().st_mtime for p in sources), default=0.0)
    if all(p.is_file() and p.stat().st_mtime >= newest_source for p in bundle):
        return
    npm = shutil.which("npm")
    if npm is None or not (ROOT / "node_modules").is_dir():
        pytest.fail("sam2_widget/static is missing or older than js/, and npm (with node_modules) "
                    "is not there to rebuild it: run `npm install && npm run build`.")
    done = subprocess.run([npm, "run", "build"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"npm run build failed:\n{done.stdout}\n{done.stderr}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class JupyterServer:
    frontend: str  # "lab" (JupyterLab) or "notebook" (Notebook 7)
    url: str  # http://127.0.0.1:<port>
    token: str
    folder: Path  # the server's root_dir: notebooks written here open by their name
    log: Path  # the server's stdout and stderr

    def notebook_url(self, notebook: str) -> str:
        if self.frontend == "notebook":
            return f"{self.url}/notebooks/{notebook}?token={self.token}"  # one page per notebook
        # A workspace of its own per notebook: the default one would restore the tabs of the
        # tests before (their cells first in the DOM, hidden behind the new tab).
        workspace = re.sub(r"[^A-Za-z0-9_-]+", "-", notebook)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"


def _wait_until_up(proc: subprocess.Popen, url: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the jupyter server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the jupyter server did not answer within {SERVER_START_TIMEOUT_S} s:\n"
                       f"{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    # The server was started in its own process group (with its kernels): end that group.
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser_executable() -> str:
    _require_python_packages()
    return chromium_path()


@pytest.fixture(scope="session", params=FRONTENDS)
def jupyter(request: pytest.FixtureRequest, browser_executable: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A JupyterLab (``lab``) or Notebook 7 (``notebook``) server of this environment on a free
    port of 127.0.0.1, with a random token, serving a fresh temporary folder; stopped (with
    its kernels) afterwards. pytest runs every test of one front end before the next one
    starts, so one server runs at a time."""
    frontend = request.param
    if frontend == "notebook":
        _require_python_packages(("notebook", "notebook"))
    _ensure_bundle()
    base = tmp_path_factory.mktemp(frontend)
    folder = base / "notebooks"
    folder.mkdir()
    settings = base / "settings"
    for name, text in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    port = _free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        # Keep the user's Jupyter and IPython configuration out; kernels come from this
        # environment (sys.prefix/share/jupyter), where ipykernel installed python3, and
        # jupyter_client runs its "python" as this interpreter.
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("JUPYTER_TOKEN", None)
    # Notebook 7 is its own app (JupyterNotebookApp) for settings and workspaces; JupyterLab's
    # server extension (LabApp: news, update check, extension manager) runs in both servers.
    app = "LabApp" if frontend == "lab" else "JupyterNotebookApp"
    cmd = [
        sys.executable, "-m", "jupyter", frontend,
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.allow_root=True",  # CI runs as root here
        f"--ServerApp.root_dir={folder}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--{app}.user_settings_dir={settings}",
        f"--{app}.workspaces_dir={base / 'workspaces'}",
    ]
    log = base / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, url, token, log)
        yield JupyterServer(frontend=frontend, url=url, token=token, folder=folder, log=log)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def browser(browser_executable: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=browser_executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


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
