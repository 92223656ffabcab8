"""Accessibility in a real browser, in JupyterLab and in Notebook 7: every control of the
widget has an accessible name (Playwright's ARIA snapshot), Tab reaches each one with a
visible focus ring, the status line is a live region, and the whole prompt flow works from
the keyboard: Tab to the canvas, move its keyboard cursor with the arrow keys, Enter for a
positive point (a mask in Python), Shift+Enter for a negative one, B ... B for a box, Escape
drops a box being made, Ctrl+Z / Ctrl+Shift+Z and N work there too, and none of these keys
reaches the notebook. The cursor is drawn only while the canvas has the keyboard, and a
point lands on the image pixel that the fitted view puts under it (js/geometry.ts).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")

from tests.e2e.helpers import cells, focus_widget, read_canvas, read_state, wait_for
from tests.e2e.test_e2e_image_widget import IMAGE_H, IMAGE_W, masks_of, open_widget, write_image_notebook

# js/keyboard_cursor.ts: screen pixels per arrow press, and with Shift.
STEP, BIG_STEP = 4, 32
# js/draw.ts: the cursor's ticks run 5..15 screen px from its centre along the axes.
TICK_PX = 12
EXACT = 0.05  # image pixels: the cursor maps through the same view as the test's arithmetic

# Roles of controls that must carry a name in the ARIA snapshot.
NAMED_ROLES = (
    "button",
    "slider",
    "checkbox",
    "spinbutton",
    "textbox",
    "application",
    "list",
    "dialog",
    "progressbar",
    "group",
)

# The focused element of the page, seen from the widget's root, and how its focus shows.
FOCUS_JS = """(root) => {
  const e = document.activeElement;
  const cs = getComputedStyle(e);
  return {
    inside: root.contains(e) && e !== root,
    name: e.getAttribute("aria-label") || e.textContent.trim(),
    canvas: e.classList.contains("sam2w-canvas"),
    focusVisible: e.matches(":focus-visible"),
    outline: cs.outlineStyle,
    outlineWidth: parseFloat(cs.outlineWidth),
  };
}"""


def unnamed_controls(snapshot: str) -> list[str]:
    """Lines of an ARIA snapshot whose control has no accessible name (`- button:` or `- button [..]`)."""
    pattern = re.compile(rf"^\s*- '?({'|'.join(NAMED_ROLES)})(?=[\s:\[]|$)(?!\s+\")")
    return [line for line in snapshot.splitlines() if pattern.match(line)]


def tab_to(page, root, stop: str = "canvas") -> list[str]:
    """Focus the widget as a person would (a click on its status line) and press Tab until
    ``stop`` has the keyboard (the canvas, or the control of that name), checking each stop:
    inside the widget, :focus-visible, and a solid outline of at least 2 px. Returns the names
    of the stops."""
    focus_widget(page, root)
    assert root.evaluate("r => getComputedStyle(r).boxShadow") != "none", "the focused root shows no ring"
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        f = root.evaluate(FOCUS_JS)
        assert f["inside"], f"Tab left the widget before {stop}, after {stops}"
        assert f["focusVisible"] and f["outline"] != "none" and f["outlineWidth"] >= 2, (
            f"{f['name']!r} has the keyboard without a visible focus ring: {f}"
        )
        stops.append(f["name"])
        if f["canvas"] if stop == "canvas" else f["name"] == stop:
            return stops
    raise AssertionError(f"40 Tabs never reached {stop}: {stops}")


def tab_to_canvas(page, root) -> list[str]:
    return tab_to(page, root, "canvas")


def device_rgb(canvas_read, at: tuple[float, float]) -> np.ndarray:
    """RGB of the device pixel under CSS point ``at`` of a canvas read."""
    col = int(np.floor(at[0] * canvas_read.dpr))
    row = int(np.floor(at[1] * canvas_read.dpr))
    return canvas_read.rgba[row, col, :3]


def ticks_white(canvas_read, at: tuple[float, float]) -> bool:
    """Whether the keyboard cursor's four white ticks show around CSS point ``at``."""
    ticks = [(at[0] + dx, at[1] + dy) for dx, dy in ((TICK_PX, 0), (-TICK_PX, 0), (0, TICK_PX), (0, -TICK_PX))]
    return all((device_rgb(canvas_read, t) >= 240).all() for t in ticks)


def cursor_drawn(canvas, at: tuple[float, float]) -> bool:
    return ticks_white(read_canvas(canvas, IMAGE_W, IMAGE_H), at)


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def notebook_untouched(page, n_cells: int) -> None:
    """No key of the widget reached the notebook: no cell added, no editor opened, no dialog."""
    page.wait_for_timeout(300)  # what a leaked key would do shows by then
    assert cells(page).count() == n_cells, "a key pressed on the canvas added or removed a notebook cell"
    assert page.locator(".jp-Notebook.jp-mod-editMode").count() == 0, "Enter on the canvas opened a cell's editor"
    assert page.locator(".jp-Dialog").count() == 0, "a key on the canvas opened a notebook dialog"


def test_names_focus_rings_and_the_keyboard_prompt_flow(page, jupyter):
    notebook = write_image_notebook(jupyter.folder, "a11y")
    root, canvas, before = open_widget(page, jupyter, notebook)
    view = before.view

    # Names and roles: every control named; the status line a polite live region, errors alerts.
    snapshot = root.aria_snapshot()
    assert unnamed_controls(snapshot) == [], f"controls without a name:\n{snapshot}"
    for line in (
        '- button "New object"',
        '- button "Clear image"',
        '- button "Segment everything"',
        '- slider "Mask opacity"',
        '- checkbox "Mask outlines"',
        '- button "Reset view"',
        '- button "Help"',
        '- list "Objects"',
    ):
        assert line in snapshot, f"{line!r} is not in the ARIA snapshot:\n{snapshot}"
    assert re.search(r'^\s*- .?application "Image: [^"]*Enter[^"]*B[^"]*"', snapshot, re.M), snapshot
    assert re.search(r"^- status: .*encoded", snapshot, re.M), snapshot
    status = root.locator(".sam2w-status")
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
    assert root.locator(".sam2w-error").get_attribute("role") == "alert"
    assert root.locator(".sam2w-cursor").get_attribute("aria-hidden") == "true"  # coordinates are not read out

    # Tab through the toolbar to the canvas, each stop with a focus ring; the cursor shows.
    stops = tab_to_canvas(page, root)
    n_cells = cells(page).count()  # a state cell run with Shift+Enter adds one at the end: count here
    toolbar = ("New object", "Clear image", "Segment everything", "Mask opacity", "Mask outlines", "Reset view", "Help")
    for name in toolbar:
        assert name in stops, f"Tab never reached {name!r}: {stops}"
    home = view.to_css(IMAGE_W / 2, IMAGE_H / 2)  # the cursor starts at the image's centre
    wait_for(lambda: cursor_drawn(canvas, home), 10, "the keyboard cursor drawn at the image's centre")
    assert not ticks_white(before, home), "the image itself looks like the cursor there"

    # Arrows (Shift: big steps), then Enter: a positive point exactly where a click there lands.
    press(page, "ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowDown")
    at_point = (home[0] + 3 * STEP, home[1] + BIG_STEP)
    wait_for(lambda: cursor_drawn(canvas, at_point), 10, "the cursor drawn where the arrows moved it")
    press(page, "Enter")
    root.locator(".sam2w-object").first.wait_for(timeout=60_000)
    notebook_untouched(page, n_cells)
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == "", state
    [point] = state["prompts"]
    [obj] = state["objects"]
    expected = view.to_image(*at_point)
    assert point["type"] == "point" and point["label"] == 1 and point["obj_id"] == obj["id"], point
    assert abs(point["x"] - expected[0]) <= EXACT and abs(point["y"] - expected[1]) <= EXACT, (
        f"Enter put the point at ({point['x']:.3f}, {point['y']:.3f}), a click there gives {expected}"
    )
    assert masks_of(arrays)[obj["id"]].any(), "Enter gave no mask"

    # Back to the canvas (the cursor kept its place): Shift+Enter a negative point, B ... B a
    # box, and B, a move, Escape: no box.
    tab_to_canvas(page, root)
    n_cells = cells(page).count()
    wait_for(lambda: cursor_drawn(canvas, at_point), 10, "the cursor where it was before the canvas lost the keyboard")
    press(page, "Shift+ArrowLeft", "Shift+ArrowLeft", "Shift+Enter")
    at_negative = (at_point[0] - 2 * BIG_STEP, at_point[1])
    press(page, "b", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowDown", "b")
    at_box_end = (at_negative[0] + 3 * BIG_STEP, at_negative[1] + BIG_STEP)
    press(page, "b", "Shift+ArrowUp", "Escape")
    notebook_untouched(page, n_cells)
    assert root.evaluate("r => document.activeElement === r.querySelector('canvas')"), "Escape left the canvas"
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == "", state
    assert len(state["prompts"]) == 3, f"want point, negative point, box: {state['prompts']}"
    _, negative, box = state["prompts"]
    expected = view.to_image(*at_negative)
    assert negative["type"] == "point" and negative["label"] == 0, negative
    assert abs(negative["x"] - expected[0]) <= EXACT and abs(negative["y"] - expected[1]) <= EXACT, negative
    corners = np.array([box["x0"], box["y0"], box["x1"], box["y1"]])
    want = np.array([*view.to_image(*at_negative), *view.to_image(*at_box_end)])
    assert box["type"] == "box" and np.abs(corners - want).max() <= EXACT, f"B ... B gave {box}, want {want}"
    with_box = state["prompts"]

    # Undo, redo and a new object from the canvas.
    tab_to_canvas(page, root)
    n_cells = cells(page).count()
    press(page, "Control+z")
    redo = root.locator('button[data-action="redo"]')
    wait_for(lambda: redo.is_enabled(), 30, "Ctrl+Z on the canvas to undo (Redo enabled)")
    press(page, "Control+Shift+z", "n")
    wait_for(lambda: root.locator(".sam2w-object").count() == 2, 30, "N on the canvas to add object 2")
    notebook_untouched(page, n_cells)
    state, _ = read_state(page, jupyter, 1, "state")
    assert state["prompts"] == with_box, f"undo then redo gave {state['prompts']}"
    assert len(state["objects"]) == 2 and state["selected_id"] == state["objects"][1]["id"], state

    # Leaving the canvas hides the cursor; the object list's buttons are named, show the
    # selection and have focus rings too.
    tab_to_canvas(page, root)
    n_cells = cells(page).count()
    at_last = (at_box_end[0], at_box_end[1] - BIG_STEP)
    wait_for(lambda: cursor_drawn(canvas, at_last), 10, "the cursor back on the canvas")
    page.keyboard.press("Tab")
    wait_for(lambda: not cursor_drawn(canvas, at_last), 10, "the cursor to go when the canvas loses the keyboard")
    f = root.evaluate(FOCUS_JS)
    assert f["inside"] and f["focusVisible"] and f["outlineWidth"] >= 2, f
    objects = root.locator(".sam2w-objects").aria_snapshot()
    assert unnamed_controls(objects) == [], objects
    assert re.search(r'- button "Select [^"]+" \[pressed\]', objects), f"no selected object shown:\n{objects}"
    assert len(re.findall(r'- button "Select [^"]+"', objects)) == 2, objects

    # The help lists the keyboard cursor's keys; it takes the focus and Escape gives it back.
    tab_to_canvas(page, root)
    n_cells = cells(page).count()
    page.keyboard.press("?")
    help_box = root.locator(".sam2w-help")
    help_box.wait_for()
    help_text = help_box.aria_snapshot()
    for keys in ("← ↑ → ↓", "Shift Enter", "start a box", "Page Up"):
        assert keys in help_text, f"the help does not list {keys!r}:\n{help_text}"
    assert root.evaluate(FOCUS_JS)["name"] == "Close help"
    assert root.locator('button[data-action="help"]').first.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Escape")
    help_box.wait_for(state="hidden")
    assert root.evaluate(FOCUS_JS)["canvas"], "closing the help did not give the keyboard back to the canvas"
    notebook_untouched(page, n_cells)

    # + on the canvas zooms at the cursor (as the wheel zooms at the pointer); a point after a
    # move lands where the zoomed view puts the cursor.
    page.keyboard.press("+")
    zoomed = view.zoom_at(at_last, 1.25)  # js/actions.ts KEY_ZOOM
    press(page, "Shift+ArrowLeft", "Enter")
    at_zoomed = (at_last[0] - BIG_STEP, at_last[1])
    state, _ = read_state(page, jupyter, 1, "state")
    point = state["prompts"][-1]
    expected, unzoomed = zoomed.to_image(*at_zoomed), view.to_image(*at_zoomed)
    assert point["type"] == "point" and point["obj_id"] == state["selected_id"], state["prompts"]
    assert abs(point["x"] - expected[0]) <= EXACT and abs(point["y"] - expected[1]) <= EXACT, (
        f"after + the point landed at ({point['x']:.3f}, {point['y']:.3f}), not at {expected} "
        f"(the unzoomed view gives {unzoomed})"
    )
    assert abs(expected[0] - unzoomed[0]) > 1, "the zoom moved nothing the test could see"


def test_the_video_timeline_is_named_and_works_from_the_keyboard(page, jupyter):
    """The timeline: named controls, the scrubber a slider with its value, min, max and a
    spoken frame number, Play a toggle; Tab reaches its controls with focus rings and the
    scrubber's arrow keys move the kernel's frame."""
    pytest.importorskip("av", reason="video e2e tests need PyAV")
    from tests.e2e.test_e2e_video_widget import open_widget as open_clip_widget
    from tests.e2e.test_e2e_video_widget import write_video_notebook

    frames = 6
    notebook = write_video_notebook(jupyter.folder, "a11y_clip", frames)
    root, _, _ = open_clip_widget(page, jupyter, notebook)
    timeline = root.locator(".sam2w-timeline")
    snapshot = timeline.aria_snapshot()
    assert unnamed_controls(snapshot) == [], f"controls without a name:\n{snapshot}"
    for line in (
        '- group "Video timeline"',
        '- slider "Frame"',
        '- button "Previous frame"',
        '- button "Play"',
        '- button "Next frame"',
        '- spinbutton "Go to frame"',
        '- button "Track forward from this frame"',
        '- progressbar "Tracking progress"',
    ):
        assert line in snapshot, f"{line!r} is not in the timeline's ARIA snapshot:\n{snapshot}"
    slider = root.locator("input.sam2w-scrubber")
    attrs = slider.evaluate(
        "s => [s.type, s.min, s.max, s.value, s.getAttribute('aria-valuetext'), s.getAttribute('aria-label')]"
    )
    assert attrs == ["range", "0", str(frames - 1), "0", f"frame 1 of {frames}", "Frame"], attrs
    assert root.locator('button[data-action="play"]').get_attribute("aria-pressed") == "false"

    # Tab to the scrubber (focus rings all the way), two frames on with its arrow keys.
    tab_to(page, root, "Frame")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_for(
        lambda: slider.get_attribute("aria-valuetext") == f"frame 3 of {frames}",
        10,
        f"the scrubber to read frame 3 (it reads {slider.get_attribute('aria-valuetext')!r})",
    )
    state, _ = read_state(page, jupyter, 1, "a11y_clip")
    assert state["image_index"] == 2 and state["error"] == "", state
    tab_to(page, root, "Track forward from this frame")
