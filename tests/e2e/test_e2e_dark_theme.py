"""The widget follows its host's dark theme, in a real browser: JupyterLab's dark theme (through
its --jp-* variables), marimo's dark mode (`.dark` around the widget in the shadow root marimo
mounts it in) and VS Code's (`body.vscode-dark`, with its --vscode-* colours); light where the
host is light. The checks read the computed colours of the widget's root and of a button.

js/theme.css holds the dark rules; js/widget.css the light defaults and the --jp-* variables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")
pytest.importorskip("marimo", reason="the marimo e2e tests need marimo: pip install -e '.[test]'")

from tests.e2e.e2e_server import STATIC, BundleError, ensure_bundle, running_jupyter
from tests.e2e.helpers import cell, open_notebook, run_cell, write_notebook
from tests.e2e.marimo_server import recorded_page, running_marimo, write_marimo_notebook
from tests.e2e.test_e2e_marimo import WIDGET_CELL
from tests.images import synthetic_image

# The colours a person sees: the root's background and text, a toolbar button's, and the
# colour scheme the browser draws native controls (slider, checkbox, inputs) in.
COLOURS_JS = """(root) => {
  const button = root.querySelector(".sam2w-button");
  const cs = getComputedStyle(root), bs = getComputedStyle(button);
  return {bg: cs.backgroundColor, fg: cs.color, scheme: cs.colorScheme,
          buttonBg: bs.backgroundColor, buttonFg: bs.color};
}"""


JUPYTER_CELL = """\
import torch
import sam2_backend as sb
from sam2_widget import Sam2Widget

torch.manual_seed(0)
Sam2Widget("image.png", model=sb.build_model(sb.get_config("tiny").replace(image_size=256), device="cpu"))"""


def luminance(css: str) -> float:
    """Relative luminance (0 black .. 1 white) of a computed ``rgb(...)`` / ``rgba(...)`` colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def assert_scheme(colours: dict, dark: bool) -> None:
    """Dark: dark backgrounds with light text (contrast well above WCAG's 4.5:1), and the dark
    colour scheme; light: the reverse."""
    for bg, fg in ((colours["bg"], colours["fg"]), (colours["buttonBg"], colours["buttonFg"])):
        back, text = luminance(bg), luminance(fg)
        assert (back < 0.1 and text > 0.5) if dark else (back > 0.7 and text < 0.1), colours
        assert (max(back, text) + 0.05) / (min(back, text) + 0.05) > 7, colours
    assert ("dark" in colours["scheme"]) == dark, colours


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_marimo_theme(browser, request, tmp_path: Path, theme: str):
    Image.fromarray(synthetic_image()).save(tmp_path / "image.png")
    notebook = write_marimo_notebook(
        tmp_path / "notebook.py", [WIDGET_CELL.format(source='"image.png"', image_size=256)]
    )
    logs: list[Path] = []
    with recorded_page(browser, request, logs) as page, running_marimo(notebook, theme) as server:
        logs.append(server.log)
        page.goto(server.url)
        root = page.locator(".sam2w-root")
        root.wait_for(timeout=120_000)
        # marimo itself is in that theme: the class on the widget's container in its shadow root.
        assert root.evaluate("r => r.closest('.dark, .light').classList.contains('dark')") == (theme == "dark")
        assert_scheme(root.evaluate(COLOURS_JS), dark=theme == "dark")


def test_jupyterlab_dark_theme(browser, request, tmp_path: Path):
    try:
        ensure_bundle()
    except BundleError as e:
        pytest.fail(str(e))
    themes = tmp_path / "settings" / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings"
    themes.parent.mkdir(parents=True)
    themes.write_text(json.dumps({"theme": "JupyterLab Dark"}))
    logs: list[Path] = []
    with recorded_page(browser, request, logs) as page, running_jupyter("lab", tmp_path) as server:
        logs.append(server.log)
        Image.fromarray(synthetic_image()).save(server.folder / "image.png")
        open_notebook(page, server, write_notebook(server.folder / "dark.ipynb", [JUPYTER_CELL]))
        assert page.evaluate("document.body.dataset.jpThemeLight") == "false", "JupyterLab did not start dark"
        run_cell(page, 0)
        root = cell(page, 0).locator(".sam2w-root")
        root.wait_for(timeout=90_000)
        colours = root.evaluate(COLOURS_JS)
        assert_scheme(colours, dark=True)
        # The colours are JupyterLab's own, through its variables.
        layout = page.evaluate("""() => {
          const probe = document.createElement("div");
          probe.style.background = "var(--jp-layout-color1)";
          document.body.append(probe);
          const bg = getComputedStyle(probe).backgroundColor;
          probe.remove();
          return bg;
        }""")
        assert colours["bg"] == layout, (colours, layout)


@pytest.mark.parametrize("body_class", ["vscode-dark", "vscode-high-contrast", "vscode-light"])
def test_vscode_theme_classes(browser, request, body_class: str):
    """VS Code's notebook outputs: its webview's body class says the theme kind and its html
    element carries the --vscode-* colours (two of them set here, as VS Code's Dark+ has them)."""
    try:
        ensure_bundle()
    except BundleError as e:
        pytest.fail(str(e))
    css = (STATIC / "widget.css").read_text()
    with recorded_page(browser, request, []) as page:
        page.set_content(
            f"<html style='--vscode-editor-background: #1e1e1e; --vscode-foreground: #cccccc'>"
            f"<head><style>{css}</style></head><body class='{body_class}'>"
            "<div class='sam2w-root'><button class='sam2w-button'>New object</button></div></body></html>"
        )
        colours = page.locator(".sam2w-root").evaluate(COLOURS_JS)
        dark = body_class != "vscode-light"
        assert_scheme(colours, dark=dark)
        if dark:
            assert (colours["bg"], colours["fg"]) == ("rgb(30, 30, 30)", "rgb(204, 204, 204)"), colours
