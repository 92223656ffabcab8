"""Dataset review in a real browser (JupyterLab): a labelled set of four images opens with a
COCO dict, each image's annotation drawn as an object and shown in the thumbnail strip with
its mask count. Keys and clicks in the browser change what Python holds: R marks the shown
image reviewed, F flags one, Shift+G jumps to the next flagged image, a click on the canvas
refines a loaded mask (exported under its COCO id, the others unchanged), and a click on a
thumbnail goes to that image. From the keyboard: every review control is named and shows a
focus ring, the strip is one Tab stop whose arrows move the focus, not the image, and Enter
goes to the focused thumbnail.

The model has random weights (tests/e2e/README.md), so a refined mask's shape is arbitrary:
the test checks that it changed, never where it lies.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nbformat", reason="browser e2e tests need nbformat: pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="browser e2e tests need playwright: pip install -e '.[test]'")

from tests.e2e.helpers import DUMP_CODE, focus_widget, open_notebook, read_canvas, read_state, run_cell, write_notebook
from tests.e2e.test_e2e_accessibility import tab_to, unnamed_controls
from tests.e2e.test_e2e_image_widget import IMAGE_H, IMAGE_W

COUNT = 4
DISK = (72, 72)  # image pixels: the red disk's centre on every image
ANN_IDS = [101, 102, 103, 104]  # the COCO annotations' ids, image k's is ANN_IDS[k]

# Four images with a red disk, each labelled by a COCO polygon: a square around the disk
# (a deliberately rough mask to refine); image 3's is categorised "square".
SETUP_CELL = (
    DUMP_CODE
    + f"""\
import os
import torch
from PIL import Image
import sam2_backend as sb
from sam2_widget import Sam2Widget

H, W = {IMAGE_H}, {IMAGE_W}
os.makedirs("set", exist_ok=True)
yy, xx = np.mgrid[:H, :W]
coco = {{"images": [], "annotations": [], "categories": [{{"id": 1, "name": "disk"}}, {{"id": 2, "name": "square"}}]}}
for k in range({COUNT}):
    img = np.full((H, W, 3), 90 + 20 * k, np.uint8)
    img[(xx - {DISK[0]}) ** 2 + (yy - {DISK[1]}) ** 2 <= 30**2] = (220, 40, 40)
    Image.fromarray(img).save(f"set/img_{{k}}.png")
    coco["images"].append({{"id": k + 1, "file_name": f"img_{{k}}.png", "width": W, "height": H}})
    x0, y0, x1, y1 = 42, 42, 102, 102
    coco["annotations"].append({{"id": {ANN_IDS[0]} + k, "image_id": k + 1, "category_id": 2 if k == 3 else 1,
        "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]], "bbox": [x0, y0, x1 - x0, y1 - y0],
        "area": (x1 - x0) * (y1 - y0), "iscrowd": 0}})

torch.manual_seed(0)
model = sb.build_model(sb.get_config("tiny").replace(image_size=256), device="cpu")
w = Sam2Widget("set", model=model, annotations=coco)
w"""
)

# The kernel's view: the review trait, every image's status, the shown image and its masks, and
# the set as it would export (annotation id -> area).
STATE_CELL = """\
w.wait_idle(60)
e2e_dump("state", {"review": w.review, "image_index": w.image_index, "selected_id": w.selected_id,
                   "objects": w.objects, "error": w.error,
                   "statuses": [r["status"] for r in w.review_table.records()],
                   "areas": {a["id"]: a["area"] for a in w.results.to_coco()["annotations"]}},
         **{f"mask_{k}": v for k, v in w.masks.items()})"""


def position(root) -> str:
    return root.locator(".sam2w-position").inner_text()


def pressed(root) -> str:
    return root.locator(".sam2w-review-toggle[aria-pressed='true']").inner_text()


@pytest.mark.parametrize("jupyter", ["lab"], indirect=True)
def test_review_keys_thumbnails_and_refining_a_loaded_mask(page, jupyter):
    notebook = write_notebook(jupyter.folder / "review.ipynb", [SETUP_CELL, STATE_CELL])
    open_notebook(page, jupyter, notebook)
    run_cell(page, 0)
    root = page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".sam2w-root")
    root.wait_for(timeout=90_000)  # torch import and model build happen first
    root.locator('.sam2w-status[data-status="idle"] .sam2w-status-text', has_text="encoded").wait_for(timeout=60_000)
    assert root.locator(".sam2w-error").inner_text() == ""

    # The review bar and a thumbnail per image, each with its loaded mask counted.
    bar, strip = root.locator(".sam2w-review"), root.locator(".sam2w-thumbs")
    bar.wait_for(state="visible", timeout=10_000)
    assert pressed(root) == "Unreviewed"
    assert root.locator(".sam2w-review-counts").inner_text() == "0 reviewed, 0 flagged, 4 to go"
    thumbs = strip.locator(".sam2w-thumb")
    for k in range(COUNT):
        thumbs.nth(k).locator(".sam2w-thumb-label", has_text="1 mask").wait_for(timeout=30_000)
    assert thumbs.count() == COUNT
    assert thumbs.nth(0).get_attribute("aria-selected") == "true"
    assert "img_2.png" in thumbs.nth(2).get_attribute("aria-label")

    # R: the shown image is reviewed, in the bar, its thumbnail and Python.
    focus_widget(page, root)
    page.keyboard.press("r")
    root.locator(".sam2w-review-counts", has_text="1 reviewed, 0 flagged, 3 to go").wait_for(timeout=10_000)
    assert pressed(root) == "Reviewed"
    thumbs.nth(0).locator(".sam2w-thumb-badge", has_text="✓").wait_for(timeout=10_000)

    # A click on a thumbnail goes there; F flags that image.
    thumbs.nth(2).click()
    root.locator(".sam2w-position", has_text="3 / 4").wait_for(timeout=30_000)
    page.keyboard.press("f")
    root.locator(".sam2w-review-counts", has_text="1 reviewed, 1 flagged, 2 to go").wait_for(timeout=10_000)
    assert pressed(root) == "Flagged"
    state, _ = read_state(page, jupyter, 1, "state")
    assert state["statuses"] == ["reviewed", "unreviewed", "flagged", "unreviewed"], state
    assert state["review"]["status"] == "flagged" and state["image_index"] == 2, state

    # Back to the first image (the strip keeps the keyboard), then Shift+G: the next flagged one.
    thumbs.nth(0).click()
    root.locator(".sam2w-position", has_text="1 / 4").wait_for(timeout=30_000)
    assert thumbs.nth(0).evaluate("t => document.activeElement === t")
    page.keyboard.press("Shift+G")
    root.locator(".sam2w-position", has_text="3 / 4").wait_for(timeout=30_000)
    assert thumbs.nth(2).get_attribute("aria-selected") == "true"
    root.locator('.sam2w-status[data-status="idle"]').wait_for(timeout=60_000)

    # The loaded annotation is the shown image's one object, named by its category: select it
    # and click inside the disk: the click refines that mask (no new object).
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["image_index"] == 2, state
    [obj] = state["objects"]
    loaded = obj["id"]
    assert obj["name"] == "disk", obj
    areas = {int(k): v for k, v in state["areas"].items()}
    assert sorted(areas) == ANN_IDS, areas
    before = arrays[f"mask_{loaded}"]
    assert 55**2 < before.sum() < 65**2, "the loaded polygon's mask: a 60 px square"
    root.locator(f'.sam2w-object[data-id="{loaded}"] .sam2w-name').click()
    root.locator(f'.sam2w-object.sam2w-selected[data-id="{loaded}"]').wait_for(timeout=10_000)
    canvas = root.locator("canvas.sam2w-canvas")
    canvas.scroll_into_view_if_needed()
    fitted = read_canvas(canvas, IMAGE_W, IMAGE_H)
    canvas.click(position=dict(zip("xy", fitted.to_css(*DISK))))
    root.locator('.sam2w-status[data-status="idle"]').wait_for(timeout=60_000)
    state, arrays = read_state(page, jupyter, 1, "state")
    assert state["error"] == "" and state["selected_id"] == loaded, state
    assert [o["id"] for o in state["objects"]] == [loaded], "the click made a new object instead of refining"
    after = arrays[f"mask_{loaded}"]
    assert after.shape == before.shape and not np.array_equal(after, before), "the refined mask did not change"
    # Exported: the same ids, only image 2's annotation with the refined mask's area.
    refined = {int(k): v for k, v in state["areas"].items()}
    assert sorted(refined) == ANN_IDS, refined
    assert refined[ANN_IDS[2]] == int(after.sum()) != areas[ANN_IDS[2]], (refined, areas)
    assert all(refined[i] == areas[i] for i in ANN_IDS if i != ANN_IDS[2]), (refined, areas)

    # A click on another thumbnail lands there, in the browser and in Python.
    thumbs.nth(1).click()
    root.locator(".sam2w-position", has_text="2 / 4").wait_for(timeout=30_000)
    state, _ = read_state(page, jupyter, 1, "state")
    assert state["image_index"] == 1 and state["review"]["status"] == "unreviewed", state
    assert state["statuses"] == ["reviewed", "unreviewed", "flagged", "unreviewed"], state

    # The keyboard: named controls with focus rings up to the strip's one stop, the shown image's.
    assert unnamed_controls(root.aria_snapshot()) == [], root.aria_snapshot()
    stops = tab_to(page, root, thumbs.nth(1).get_attribute("aria-label"))
    assert "Note on this image" in stops and "Next flagged" in stops, stops
    assert sum(s.startswith("Image ") for s in stops) == 1, f"the strip is more than one Tab stop: {stops}"
    focused = "() => document.activeElement.dataset.index"
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == "2" and position(root) == "2 / 4", "ArrowRight in the strip moved the image"
    page.keyboard.press("End")
    assert page.evaluate(focused) == "3"
    page.keyboard.press("Enter")
    root.locator(".sam2w-position", has_text="4 / 4").wait_for(timeout=30_000)

    # The filter: flagged images only; the shown one is not, so the flagged one is shown.
    root.get_by_label("Show images with status").select_option("flagged")
    root.locator(".sam2w-position", has_text="3 / 4").wait_for(timeout=30_000)
    root.locator(".sam2w-review-filter-text", has_text="1 of 1 image passes the filter").wait_for(timeout=10_000)
    state, _ = read_state(page, jupyter, 1, "state")
    assert state["image_index"] == 2 and state["review"]["filter"] == {"status": "flagged", "category": None}, state
