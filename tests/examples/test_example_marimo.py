"""The marimo example runs top to bottom as a script, as `python examples/01_image_marimo.py` would,
and saves what the Jupyter image example saves (checked the same way: test_example_notebooks.py).

It runs in a subprocess in a temporary working folder, with ``SAM2_MODEL`` pointing at the
random-weight checkpoint of test_example_notebooks.py (no download here). `marimo check` must
find nothing to say about it either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("marimo", reason="the marimo example needs marimo: pip install -e '.[test]'")

import tests.examples.test_example_notebooks as notebooks

EXAMPLE = notebooks.EXAMPLES / "01_image_marimo.py"
checkpoint = notebooks.checkpoint  # the module's fixture, shared


def test_marimo_example_passes_marimo_check():
    done = subprocess.run(
        [sys.executable, "-m", "marimo", "check", "--strict", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"marimo check:\n{done.stdout}{done.stderr}"


def test_marimo_example_runs_as_a_script(checkpoint: Path, tmp_path: Path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env={**os.environ, "SAM2_MODEL": str(checkpoint)},
        capture_output=True,
        text=True,
        timeout=notebooks.CELL_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"the example failed:\n{done.stdout}\n{done.stderr}"
    assert "3 masks written to outputs/table_coco.json" in done.stdout, done.stdout
    notebooks.check_image(tmp_path)
