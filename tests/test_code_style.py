"""The Python code passes ruff's linter and formatter, as configured in pyproject.toml.

Runs `ruff check` and `ruff format --check` over the whole repository (files git ignores,
such as .venv and node_modules, are skipped). To fix what they report:
`ruff check --fix .` and `ruff format .` from the repository root. ruff missing is a
failure, not a skip: it is one of the test extras (`pip install -e '.[test]'`).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("ruff") is None:
        pytest.fail(f"ruff is not installed in {sys.executable}: pip install -e '.[test]'", pytrace=False)
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ruff_check() -> None:
    proc = _ruff("check", "--output-format", "concise", "--no-fix", ".")
    if proc.returncode != 0:
        pytest.fail(
            f"`ruff check` found problems (`ruff check --fix .` fixes some):\n{proc.stdout}{proc.stderr}", pytrace=False
        )


def test_ruff_format() -> None:
    proc = _ruff("format", "--check", "--output-format", "concise", ".")
    if proc.returncode != 0:
        pytest.fail(
            f"`ruff format --check` wants to reformat (`ruff format .` does it):\n{proc.stdout}{proc.stderr}",
            pytrace=False,
        )
