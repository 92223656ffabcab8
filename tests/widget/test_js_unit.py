"""The front end's own checks, run through pytest (the project's one runner).

`npm run typecheck` (tsc, strict) and `npm test` (vitest, the unit tests of the
pure modules in js/) must both pass. Without node_modules, `npm ci` installs
the locked devDependencies first. npm missing is a failure, not a skip: the
widget cannot be built without it either.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _npm(*args: str) -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "npm is not on PATH: install Node.js (20 or newer) with npm to build and test the front end in js/",
            pytrace=False,
        )
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    proc = subprocess.run([npm, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, f"`npm {' '.join(args)}` failed (exit {proc.returncode}):\n{output}"
    return output


@pytest.fixture(scope="module")
def node_modules() -> None:
    bins = ROOT / "node_modules" / ".bin"
    if not ((bins / "tsc").exists() and (bins / "vitest").exists()):
        _npm("ci", "--no-audit", "--no-fund")


def test_typecheck(node_modules: None) -> None:
    _npm("run", "typecheck")


def test_vitest(node_modules: None) -> None:
    output = _npm("test")
    assert " passed" in output and " failed" not in output, output
