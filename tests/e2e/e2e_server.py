"""A Jupyter server of this environment and headless Chromium, without pytest.

Named so as not to shadow the `jupyter_server` package (pytest puts tests/e2e on sys.path).
Used by the e2e fixtures (conftest.py, which adds the skips and the pytest failures) and by
benchmarks/bench_scrub.py. How it works: tests/e2e/README.md.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "sam2_widget" / "static"

# Chromium as the tests run it: no sandbox (it cannot start one as root in a container), no GPU
# (the test machines have none), no traffic of its own and no first-run dialogs.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SERVER_START_TIMEOUT_S = 90

# The front ends: JupyterLab (`jupyter lab`) and Notebook 7 (`jupyter notebook`, built on
# JupyterLab's components: same settings, cells and outputs).
FRONTENDS = ("lab", "notebook")

# User settings of the server's JupyterLab / Notebook 7: no news / update toast, no notification
# popups, and every cell kept in the DOM (no virtual scrolling) so that locators find
# cells below the widget.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": (
        '{"fetchNews": "false", "checkForUpdates": false, "doNotDisturbMode": true}'
    ),
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
}


def find_chromium() -> str | None:
    """The system Chromium (Debian's ``chromium``), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BundleError(RuntimeError):
    """The front end's bundle is stale or missing and could not be rebuilt."""


def ensure_bundle() -> None:
    """The front end must be built, and not older than js/ (a stale bundle tests old code):
    rebuild it with npm when needed, else raise BundleError."""
    bundle = [STATIC / "widget.js", STATIC / "widget.css"]
    sources = list((ROOT / "js").glob("*.ts")) + list((ROOT / "js").glob("*.css"))
    newest_source = max((p.stat().st_mtime for p in sources), default=0.0)
    if all(p.is_file() and p.stat().st_mtime >= newest_source for p in bundle):
        return
    npm = shutil.which("npm")
    if npm is None or not (ROOT / "node_modules").is_dir():
        raise BundleError(
            "sam2_widget/static is missing or older than js/, and npm (with node_modules) "
            "is not there to rebuild it: run `npm install && npm run build`."
        )
    done = subprocess.run([npm, "run", "build"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise BundleError(f"npm run build failed:\n{done.stdout}\n{done.stderr}")


def free_port() -> int:
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
        # notebooks opened before (their cells first in the DOM, hidden behind the new tab).
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
    raise RuntimeError(
        f"the jupyter server did not answer within {SERVER_START_TIMEOUT_S} s:\n{log.read_text(errors='replace')}"
    )


def stop_process(proc: subprocess.Popen) -> None:
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


@contextlib.contextmanager
def running_jupyter(
    frontend: str, base: Path, env: Mapping[str, str] | None = None, python: str = sys.executable
) -> Iterator[JupyterServer]:
    """A JupyterLab (``lab``) or Notebook 7 (``notebook``) server of this environment on a free
    port of 127.0.0.1, with a random token, serving ``base``/notebooks (``base``: an empty
    folder that also gets its config, settings and log); stopped, with its kernels, on exit.
    ``env``: extra environment variables of the server and its kernels. ``python``: the
    interpreter of the server and its kernels (another environment's: the wheel test)."""
    folder = base / "notebooks"
    folder.mkdir()
    settings = base / "settings"
    for name, text in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    port = free_port()
    token = secrets.token_hex(16)
    full_env = {
        **os.environ,
        # Keep the user's Jupyter and IPython configuration out; kernels come from this
        # environment (sys.prefix/share/jupyter), where ipykernel installed python3, and
        # jupyter_client runs its "python" as this interpreter.
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    full_env.pop("JUPYTER_TOKEN", None)
    # Notebook 7 is its own app (JupyterNotebookApp) for settings and workspaces; JupyterLab's
    # server extension (LabApp: news, update check, extension manager) runs in both servers.
    app = "LabApp" if frontend == "lab" else "JupyterNotebookApp"
    # The app's module, not `jupyter lab`: that looks for a `jupyter-lab` script on PATH, which
    # an environment that only sees these packages (the wheel test's) does not have.
    cmd = [
        python,
        "-m",
        "jupyterlab" if frontend == "lab" else "notebook",
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
        proc = subprocess.Popen(
            cmd,
            cwd=folder,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, url, token, log)
        yield JupyterServer(frontend=frontend, url=url, token=token, folder=folder, log=log)
    finally:
        stop_process(proc)


@contextlib.contextmanager
def chromium(executable_path: str) -> Iterator[object]:
    """Headless Chromium from ``executable_path``, driven by Playwright; yields its Browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
