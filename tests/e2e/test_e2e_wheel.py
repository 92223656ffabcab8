"""The installable wheel: built from the sdist, installed into a fresh virtual environment with
no node on PATH, and a widget of that install clicked in JupyterLab.

``python -m build`` makes the sdist from the source tree and then the wheel from the unpacked
sdist, whose front end npm builds there (the sdist carries js/, not the built bundle): so the
wheel test is also the test that the sdist builds on a machine with npm. It builds without
isolation, with hatchling and hatch-jupyter-builder of this environment (the test extra), and
npm prefers its cache: no index is needed where setup.sh has run.

Installing torch again would take minutes, so the fresh environment gets only the wheel
(``pip install --no-deps --no-index``) and sees this environment's packages through a ``.pth``
file listing their site-packages. Folders added by a ``.pth`` line are not scanned for
``.pth`` files of their own, so the editable install's (which puts the source tree on
sys.path) stays inactive there; the kernel's dump proves it: ``sam2_widget``, ``sam2_backend``
and the bundle sent to the browser come from the fresh environment, and no folder of the
source tree but the dependencies' site-packages is on sys.path.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

for _module, _package in (
    ("build", "build"),
    ("hatchling", "hatchling"),
    ("hatch_jupyter_builder", "hatch-jupyter-builder"),
    ("nbformat", "nbformat"),
    ("playwright.sync_api", "playwright"),
):
    pytest.importorskip(_module, reason=f"the wheel test needs {_package}: pip install -e '.[test]'")

from tests.e2e.e2e_server import running_jupyter
from tests.e2e.helpers import read_state
from tests.e2e.test_e2e_image_widget import (
    CLICK,
    POS_TOL,
    expect_overlay,
    masks_of,
    near,
    open_widget,
    write_image_notebook,
)

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ("sam2_widget/static/widget.js", "sam2_widget/static/widget.css")
BUILD_TIMEOUT_S = 300

# Cell 2 of the notebook (after the image test's widget and state cells): where the kernel's
# interpreter, packages and bundle come from, and whether node is on its PATH.
INSTALL_CELL = """\
import importlib.metadata, shutil, sys
import sam2_backend, sam2_widget
from sam2_widget import front_end

bundle = front_end._STATIC / "widget.js"
e2e_dump("install", {
    "executable": sys.executable,
    "sys_path": sys.path,
    "modules": [sam2_widget.__file__, sam2_backend.__file__],
    "dist": str(importlib.metadata.distribution("sam2-widget").locate_file("")),
    "bundle": str(bundle),
    "sent_installed_bundle": bundle.is_file() and w._esm == bundle.read_text(),
    "node": shutil.which("node"),
    "npm": shutil.which("npm"),
})"""


def path_without_node() -> str:
    """This process's PATH less every folder that holds node or npm (/usr/bin on Debian)."""
    folders = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    kept = [p for p in folders if not any(Path(p, tool).exists() for tool in ("node", "npm"))]
    path = os.pathsep.join(kept)
    assert shutil.which("node", path=path) is None and shutil.which("npm", path=path) is None
    return path


def tail(done: subprocess.CompletedProcess, chars: int = 6000) -> str:
    return (done.stdout + done.stderr)[-chars:]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel): the sdist of the source tree and the wheel built from that sdist."""
    if shutil.which("npm") is None:
        pytest.skip("building the wheel from the sdist needs npm on PATH")
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "npm_config_prefer_offline": "true", "npm_config_audit": "false", "npm_config_fund": "false"}
    env.pop("HATCH_JUPYTER_BUILDER_SKIP_NPM", None)  # it would leave the bundle out of the wheel
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"python -m build failed:\n{tail(done)}"
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return sdist, wheel


def test_the_wheel_carries_the_front_end_and_only_the_packages(dists):
    _, wheel = dists
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        bundle = {name: z.read(name) for name in BUNDLE if name in names}
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(z.read(metadata_name))
    assert set(bundle) == set(BUNDLE), f"the wheel lacks the front end: {sorted(set(BUNDLE) - set(bundle))}"
    assert b"export" in bundle[BUNDLE[0]] and len(bundle[BUNDLE[0]]) > 10_000, "widget.js is not the ES module bundle"
    assert b".sam2w-root" in bundle[BUNDLE[1]], "widget.css is not the widget's stylesheet"
    assert {n.split("/")[0] for n in names} == {"sam2_backend", "sam2_widget", metadata_name.split("/")[0]}
    # Every module of both packages, and nothing of the source tree's other folders.
    sources = [p for pkg in ("sam2_backend", "sam2_widget") for p in (ROOT / pkg).rglob("*.py")]
    modules = {p.relative_to(ROOT).as_posix() for p in sources}
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    unwanted = ("tests/", "node_modules/", ".venv/", "js/", "__pycache__/", ".pyc")
    assert not [n for n in names if any(u in n for u in unwanted)], "the wheel carries files that are no part of it"
    assert metadata["Name"] == "sam2-widget"
    requires = [r.split(";")[0] for r in metadata.get_all("Requires-Dist")]
    assert any(r.startswith("anywidget") for r in requires) and any(r.startswith("torch") for r in requires)


def test_the_sdist_carries_the_front_end_sources_not_the_build(dists):
    sdist, _ = dists
    with tarfile.open(sdist) as t:
        top = sdist.name.removesuffix(".tar.gz")
        names = {n.removeprefix(f"{top}/") for n in t.getnames()}
    needed = {"pyproject.toml", "package.json", "package-lock.json", "tsconfig.json", "js/widget.ts", "js/widget.css"}
    assert needed <= names, f"the sdist lacks {sorted(needed - names)}"
    # The wheel has the bundle, so npm built it from the sdist's js/ (python -m build makes
    # the wheel from the unpacked sdist).
    unwanted = ("node_modules/", ".venv/", "sam2_widget/static/", "dist/", "test-artifacts/")
    assert not [n for n in names if n.startswith(unwanted) or "__pycache__" in n], "the sdist carries built files"


@pytest.fixture(scope="module")
def jupyter(dists, tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab of a fresh virtual environment that has the wheel and sees this environment's
    packages; no node or npm on the PATH of pip, the server or the kernel. Overrides the
    conftest's ``jupyter`` (both front ends, this environment) for this file's browser test."""
    _, wheel = dists
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    bare_path = os.pathsep.join([str(venv / "bin"), path_without_node()])
    env = {**os.environ, "PATH": bare_path, "PYTHONPATH": ""}
    # This environment's pip, run as the fresh interpreter: it installs into the fresh one.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"pip install of the wheel failed:\n{tail(done)}"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    # Added after the install, so that pip did not see the editable sam2-widget here.
    dependencies = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    Path(site, "_dependencies.pth").write_text("".join(f"{p}\n" for p in dependencies))
    # Fail here, with the traceback, if the install does not import (the browser would only time out).
    probe = subprocess.run(
        [python, "-c", "import sam2_widget.widget"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert probe.returncode == 0, f"the installed wheel does not import:\n{tail(probe)}"
    jupyter_env = {
        "PATH": bare_path,
        "PYTHONPATH": "",
        # The dependencies' Jupyter files: labextensions (widgets manager, anywidget), the
        # server extensions' config. sam2-widget installs none of its own.
        "JUPYTER_PATH": str(Path(sys.prefix, "share", "jupyter")),
        "JUPYTER_CONFIG_PATH": str(Path(sys.prefix, "etc", "jupyter")),
    }
    with running_jupyter("lab", base, env=jupyter_env, python=python) as server:
        yield server


def test_a_widget_of_the_installed_wheel_gives_a_mask_in_jupyterlab(page, jupyter):
    notebook = write_image_notebook(jupyter.folder, "wheel", (INSTALL_CELL,))
    root, canvas, before = open_widget(page, jupyter, notebook)

    install, _ = read_state(page, jupyter, 2, "install")
    venv = jupyter.folder.parent / "venv"  # the fixture's base folder holds the server's and the venv
    assert Path(install["executable"]).parent == venv / "bin", install["executable"]
    for module in (*install["modules"], install["dist"], install["bundle"]):
        assert Path(module).is_relative_to(venv), f"{module} is not from the fresh environment {venv}"
    assert install["sent_installed_bundle"], "the browser did not get the installed widget.js"
    assert install["node"] is None and install["npm"] is None, install
    dependencies = {Path(sysconfig.get_path(key)).resolve() for key in ("purelib", "platlib")}
    on_path = {Path(p).resolve() for p in install["sys_path"] if p}
    from_tree = {p for p in on_path if p.is_relative_to(ROOT)} - dependencies
    assert not from_tree, f"the source tree is on the kernel's sys.path: {json.dumps(sorted(map(str, from_tree)))}"

    # A click on the red disk: a positive point and its mask in Python, drawn on the canvas.
    canvas.click(position=dict(zip("xy", before.to_css(*CLICK))))
    root.locator(".sam2w-object").first.wait_for(timeout=60_000)
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == "" and state["status"] == "idle", state
    [prompt] = state["prompts"]
    assert prompt["type"] == "point" and prompt["label"] == 1 and near(prompt, CLICK, POS_TOL), prompt
    [obj] = state["objects"]
    masks = masks_of(arrays)
    assert list(masks) == [obj["id"]] and masks[obj["id"]].any(), "no mask came back in Python"
    expect_overlay(canvas, before, state, arrays, f"the mask in {obj['color']}")
