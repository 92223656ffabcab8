"""A JupyterLab server and headless Chromium for browser benchmarks, without pytest.

The same setup as the browser e2e tests (tests/e2e/conftest.py, whose fixtures need
pytest): a JupyterLab server of this environment on 127.0.0.1 with a random token in a
temporary folder, its own config/data/runtime folders and quiet user settings, and
Debian's ``chromium`` driven by Playwright with the flags that work on these machines.
Notebook writing and cell running are small copies of tests/e2e/helpers.py (below).
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
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        '{"fetchNews": "false", "checkForUpdates": false, "doNotDisturbMode": true}',
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
}


@dataclass(frozen=True)
class LabServer:
    url: str
    token: str
    folder: Path  # root_dir: notebooks written here open as /lab/tree/<name>
    log: Path

    def lab_url(self, notebook: str) -> str:
        workspace = "".join(c if c.isalnum() or c in "_-" else "-" for c in notebook)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_bundle() -> None:
    """Rebuild sam2_widget/static when it is missing or older than js/ (needs npm)."""
    static = ROOT / "sam2_widget" / "static"
    bundle = [static / "widget.js", static / "widget.css"]
    sources = list((ROOT / "js").glob("*.ts")) + list((ROOT / "js").glob("*.css"))
    newest = max((p.stat().st_mtime for p in sources), default=0.0)
    if all(p.is_file() and p.stat().st_mtime >= newest for p in bundle):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("sam2_widget/static is missing or older than js/: run `npm install && npm run build`.")
    subprocess.run([npm, "run", "build"], cwd=ROOT, check=True, capture_output=True, timeout=300)


@contextlib.contextmanager
def lab_server(start_timeout_s: float = 90) -> Iterator[LabServer]:
    """A JupyterLab server on a free port, serving a fresh temporary folder; stopped (with its
    kernels) on exit."""
    with tempfile.TemporaryDirectory(prefix="bench_lab_") as tmp:
        base = Path(tmp)
        folder = base / "notebooks"
        folder.mkdir()
        for name, text in LAB_SETTINGS.items():
            path = base / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        port, token = _free_port(), secrets.token_hex(16)
        env = {**os.environ,
               "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_DATA_DIR": str(base / "data"),
               "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "IPYTHONDIR": str(base / "ipython"),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
        env.pop("JUPYTER_TOKEN", None)
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--ServerApp.allow_root=True", f"--ServerApp.root_dir={folder}", "--ServerApp.open_browser=False",
               "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.user_settings_dir={base / 'settings'}", f"--LabApp.workspaces_dir={base / 'workspaces'}"]
        log = base / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
                try:
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer within {start_timeout_s} s")
                time.sleep(0.5)
            yield LabServer(url=url, token=token, folder=folder, log=log)
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group, with its kernels
                    proc.wait(timeout=15)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Debian's, via Playwright); yields the Playwright Browser."""
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise SystemExit("the browser benchmark needs Debian's chromium on PATH (apt-get install -y chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --------------------------------------------------------------------------- notebooks and cells
# Small copies of the e2e helpers (tests/e2e/helpers.py), kept here so that the benchmark
# does not depend on the tests' internals.

KERNEL_IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")
RAN_PROMPT = re.compile(r"\[(\*|\d+)\]")  # "[*]:" queued or running, "[1]:" done


def write_notebook(path: Path, cells: list[str]) -> str:
    """A notebook of code ``cells`` at ``path`` (with kernelspec metadata, so Lab asks nothing)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path.name


def open_notebook(page, server: LabServer, notebook: str) -> None:
    page.goto(server.lab_url(notebook))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    page.locator(".jp-StatusBar-Widget", has_text=KERNEL_IDLE).wait_for(timeout=60_000)


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page, index: int, tries: int = 3) -> None:
    """Click into cell ``index`` and press Shift+Enter; again if the prompt shows it did not run."""
    prompt = cell(page, index).locator(".jp-InputPrompt")
    before = prompt.inner_text()
    for attempt in range(tries):
        cell(page, index).locator(".jp-InputArea-editor .cm-content").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = prompt.inner_text()
            if text != before and RAN_PROMPT.search(text):
                return
            page.wait_for_timeout(200)
    raise RuntimeError(f"cell {index} did not run after {tries} tries")


def wait_output(page, index: int, text: str, timeout_ms: int = 60_000) -> None:
    cell(page, index).locator(".jp-OutputArea-output", has_text=text).wait_for(timeout=timeout_ms)
