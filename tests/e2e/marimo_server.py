"""marimo for the browser tests: a headless ``marimo run`` of one notebook and writing such notebooks.

``marimo run`` serves the notebook as an app: every page that connects gets its own session,
which runs every cell at once (no editor to drive), and a UI element's changes re-run the cells
that read it, as in the editor. The server listens on 127.0.0.1 with a random access token; its
user configuration (theme included) is a temporary file, so the user's own marimo settings stay
out. How the widget lives there: test_e2e_marimo.py's docstring.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.e2e.e2e_server import free_port, stop_process

SERVER_START_TIMEOUT_S = 60
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


@dataclass(frozen=True)
class MarimoServer:
    url: str  # http://127.0.0.1:<port>/?access_token=...: the app, one new session per page load
    folder: Path  # the notebook's folder, the sessions' working directory and where state files go
    log: Path  # the server's stdout and stderr (the kernels run in it)


def _wait_until_up(proc: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"marimo exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"marimo did not answer within {SERVER_START_TIMEOUT_S} s:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def running_marimo(notebook: Path, theme: str = "light") -> Iterator[MarimoServer]:
    """``marimo run notebook`` on a free port of 127.0.0.1 with a random token, ``theme``
    ("light" or "dark") in a user configuration of its own; stopped, with its sessions, on exit."""
    folder = notebook.parent
    config = folder / "marimo-config" / "marimo"
    config.mkdir(parents=True, exist_ok=True)
    (config / "marimo.toml").write_text(f'[display]\ntheme = "{theme}"\n')
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(config.parent),  # marimo reads $XDG_CONFIG_HOME/marimo/marimo.toml
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [
        *(sys.executable, "-m", "marimo", "-y", "run", str(notebook)),
        *("--headless", "--host", "127.0.0.1", "--port", str(port)),
        *("--token", "--token-password", token, "--no-sandbox"),
    ]
    log = folder / "marimo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, base_url, log)
        yield MarimoServer(url=f"{base_url}/?access_token={token}", folder=folder, log=log)
    finally:
        stop_process(proc)


def write_marimo_notebook(path: Path, cells: list[str]) -> Path:
    """A marimo notebook of ``cells`` (code; the last expression of a cell is its output). marimo
    finds what each cell defines and reads from its code, so each cell is written as a function
    without arguments that returns nothing (`marimo edit` fills both in when it saves)."""

    def cell(code: str) -> str:
        lines = "".join(f"    {line}\n" if line else "\n" for line in code.splitlines())
        return f"@app.cell\ndef _():\n{lines}    return"

    body = "\n\n\n".join(cell(code) for code in cells)
    path.write_text(f"import marimo\n\napp = marimo.App()\n\n\n{body}\n\n\nif __name__ == '__main__':\n    app.run()\n")
    return path


# Put first in a notebook: ``e2e_dump(path, state, **arrays)`` writes what a test checks; the
# arrays go first and the JSON is renamed into place, so a test that sees the JSON can read both.
DUMP_CELL = """\
import json, os
import numpy as np

def e2e_dump(path, state, **arrays):
    np.savez(path + ".npz", **arrays)
    with open(path + ".json.tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".json.tmp", path + ".json")"""


def read_dump(stem: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """What ``e2e_dump(str(stem), ...)`` wrote, or None while nothing is there."""
    json_path = stem.with_suffix(".json")
    if not json_path.exists():
        return None
    state = json.loads(json_path.read_text())
    with np.load(stem.with_suffix(".npz")) as npz:
        return state, {k: npz[k] for k in npz.files}


@contextlib.contextmanager
def recorded_page(browser, request, logs: list[Path]) -> Iterator[object]:
    """A new 1400x1100 page that records its console. When the test fails (conftest.py's report
    hook tells), its screenshot, the console and every server log in ``logs`` (filled while the
    test runs) go to test-artifacts/e2e/<test>.*, as with the Jupyter tests' ``page`` fixture."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    for stale in ARTIFACTS.glob(f"{name}.*"):  # from an earlier failed run
        stale.unlink()
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.set_default_timeout(30_000)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    try:
        yield page
    finally:
        report = getattr(request.node, "e2e_report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as e:  # noqa: BLE001 - a failed screenshot must not hide the test's failure
                console.append(f"[e2e] screenshot failed: {e}")
            (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console) + "\n")
            for i, log in enumerate(logs):
                if log.exists():
                    (ARTIFACTS / f"{name}.server{i or ''}.log").write_bytes(log.read_bytes())
        context.close()
