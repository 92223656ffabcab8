"""``snapshot()``, the notebook's static picture and ``save_html``: what they draw, checked
against the widget's own traits (the browser side is tests/e2e/test_e2e_snapshot.py)."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from sam2_widget import Sam2Widget
from sam2_widget.colors import hex_to_rgb
from sam2_widget.snapshot import NOTEBOOK_MAX_SIDE, POSITIVE, outline_of
from sam2_widget.standalone_html import choose_indices, mask_runs, varints
from tests.images import synthetic_image

H, W = 180, 240


def disk(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (xx - cx) ** 2 + (yy - cy) ** 2 < r**2


@pytest.fixture
def widget(model):
    """Two objects with known masks (given, not predicted): a disk and a square overlapping it."""
    w = Sam2Widget(synthetic_image(H, W), model=model)
    w.add_mask(disk(70, 70, 40))
    square = np.zeros((H, W), bool)
    square[60:150, 100:200] = True
    w.add_mask(square)
    yield w
    w.close()


def shown_jpeg(w) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(w.image_jpeg)).convert("RGB"), dtype=np.float64)


def rgb(color: str) -> np.ndarray:
    return np.array(hex_to_rgb(color)) * 255


def test_snapshot_draws_the_label_map_as_the_front_end_does(widget):
    picture = np.asarray(widget.snapshot(legend=False), dtype=np.float64)
    assert picture.shape == (H, W, 3)
    labels = np.frombuffer(widget.label_rle, "<u4").reshape(-1, 2)
    labels = np.repeat(labels[:, 0], labels[:, 1]).reshape(H, W)
    edge = outline_of(labels)
    image = shown_jpeg(widget)
    alpha = round(255 * widget.opacity) / 255
    for o in widget.objects:
        where = labels == o["id"]
        assert where.any()
        fill = where & ~edge
        expected = image[fill] * (1 - alpha) + rgb(o["color"]) * alpha
        assert np.abs(picture[fill] - expected).max() <= 0.5 + 1e-9, o
        assert np.abs(picture[where & edge] - rgb(o["color"])).max() <= 0.5 + 1e-9, o
    np.testing.assert_allclose(picture[labels == 0], image[labels == 0], atol=0.5)
    # The first listed object wins where they overlap (its label, its colour).
    first = widget.objects[0]
    assert labels[70, 105] == first["id"]


def test_hidden_objects_opacity_and_outline_follow_the_widget(widget):
    first, second = (o["id"] for o in widget.objects)
    before = np.asarray(widget.snapshot(legend=False), dtype=np.float64)
    widget.set_visible(second, False)
    hidden = np.asarray(widget.snapshot(legend=False), dtype=np.float64)
    image = shown_jpeg(widget)
    np.testing.assert_allclose(hidden[120, 180], image[120, 180], atol=0.5)  # only the square was there
    assert np.abs(before[120, 180] - image[120, 180]).max() > 20
    widget.opacity = 0.0
    widget.outline = False
    assert np.abs(np.asarray(widget.snapshot(legend=False), dtype=np.float64) - image).max() <= 0.5
    widget.set_visible(second, True)
    widget.outline = True  # outline pixels are opaque whatever the opacity
    edge = np.asarray(widget.snapshot(legend=False), dtype=np.float64)[70, 31]  # the disk's left edge (x = 30: outside)
    np.testing.assert_allclose(edge, rgb(widget.objects[0]["color"]), atol=0.5)
    assert widget.objects[0]["id"] == first


def test_sizes_legend_and_markers(widget):
    assert widget.snapshot(legend=False).size == (W, H)
    assert widget.snapshot(size=120, legend=False).size == (120, 90)
    assert widget.snapshot(size=(500, 180), legend=False).size == (500, 180)
    with_legend = widget.snapshot()
    assert with_legend.width > W and with_legend.height == H
    legend = np.asarray(with_legend)[:, W:]
    for o in widget.objects:  # each object's swatch is in the legend
        assert (np.abs(legend.astype(int) - rgb(o["color"])).max(axis=2) <= 1).sum() > 50, o
    for bad in (0, (10, 0)):
        with pytest.raises(ValueError):
            widget.snapshot(size=bad)
    with pytest.raises(TypeError):
        widget.snapshot(size="big")

    # A positive point: a green disk of radius 7 screen pixels with a white "+" (pixels off the glyph).
    widget.select_object(widget.objects[0]["id"])
    widget.add_points([[40, 130]], [1])
    picture = np.asarray(widget.snapshot(legend=False), dtype=np.float64)
    np.testing.assert_allclose(picture[133, 43], rgb(POSITIVE), atol=1)  # pixel [43, 44) x [133, 134): all disk
    np.testing.assert_allclose(picture[130, 42], 255, atol=1)  # on the glyph's bar (y 129..131)


def test_notebook_bundle_carries_the_picture_and_nbconvert_shows_it(widget):
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (the test extra)")
    nbconvert = pytest.importorskip("nbconvert", reason="needs nbconvert (installed with jupyterlab)")
    data, metadata = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data and "text/plain" in data
    png = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
    assert png.size == widget.snapshot(size=W).size and W <= NOTEBOOK_MAX_SIDE
    np.testing.assert_array_equal(np.asarray(png.convert("RGB")), np.asarray(widget.snapshot(size=W)))

    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("display_data", data=data, metadata=metadata)
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[out])]
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)  # no widget state saved: the picture
    assert f'src="data:image/png;base64,{data["image/png"]}"' in html


def test_a_picture_that_cannot_be_drawn_leaves_the_bundle_as_anywidget_makes_it(widget, monkeypatch):
    monkeypatch.setattr(type(widget), "snapshot", lambda self, **kw: 1 / 0)
    data, _ = widget._repr_mimebundle_()
    assert "image/png" not in data and "application/vnd.jupyter.widget-view+json" in data


def decode_runs(text: str) -> list[int]:
    runs, value, shift = [], 0, 0
    for b in base64.b64decode(text):
        value += (b & 0x7F) << shift
        if b & 0x80:
            shift += 7
        else:
            runs.append(value)
            value, shift = 0, 0
    return runs


def runs_to_mask(runs: list[int], hw: tuple[int, int]) -> np.ndarray:
    flat = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    assert flat.size == hw[0] * hw[1]
    return flat.reshape(hw)


def page_data(path) -> dict:
    text = path.read_text()
    assert "http://" not in text and "https://" not in text  # nothing is fetched
    return json.loads(re.search(r'<script id="sam2-data" type="application/json">(.*?)</script>', text, re.S)[1])


def test_varints_and_runs_round_trip():
    values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**21, 2**28 + 5])
    assert decode_runs(base64.b64encode(varints(values)).decode()) == values.tolist()
    mask = np.random.default_rng(0).random((7, 9)) > 0.5
    np.testing.assert_array_equal(runs_to_mask(mask_runs(mask).tolist(), mask.shape), mask)
    assert choose_indices(10, None, 4) == ([0, 3, 6, 9], 3)
    assert choose_indices(10, [2, 5], 300) == ([2, 5], 1)
    for bad, error in (([10], ValueError), ([1.5], TypeError), ([], ValueError)):
        with pytest.raises(error):
            choose_indices(10, bad, 300)


def test_save_html_of_an_image_set(tmp_path, model):
    images = [synthetic_image(H, W, seed=s) for s in range(3)]
    w = Sam2Widget(images, model=model)
    try:
        w.add_mask(disk(70, 70, 40))
        w.goto(2)
        w.add_mask(disk(150, 100, 30))
        path = w.save_html(tmp_path / "page.html", max_side=120)
        data = page_data(path)
        assert data["kind"] == "images" and data["count"] == 3 and data["step"] == 1
        assert [o["id"] for o in data["objects"]] == [o["id"] for o in w.objects]
        assert [item["index"] for item in data["items"]] == [0, 1, 2]
        for item in data["items"]:
            assert (item["width"], item["height"]) == (120, 90)
            jpeg = Image.open(io.BytesIO(base64.b64decode(item["jpeg"])))
            assert jpeg.size == (120, 90)
            masks = w.results.masks(item["index"])
            assert sorted(item["masks"]) == sorted(str(o) for o, m in masks.items() if m.any())
            for obj_id, text in item["masks"].items():
                full = masks[int(obj_id)]
                expected = full[(np.arange(90) * 2 + 1)[:, None], (np.arange(120) * 2 + 1)[None, :]]
                np.testing.assert_array_equal(runs_to_mask(decode_runs(text), (90, 120)), expected)
        with pytest.raises(ValueError, match=".html"):
            w.save_html(tmp_path / "page.png")
        with pytest.raises(ValueError):
            w.save_html(tmp_path / "page.html", max_items=0)
    finally:
        w.close()


def test_save_html_of_a_clip_subsamples_frames(tmp_path, clip, video_model):
    w = Sam2Widget(clip, model=video_model, video=True)
    try:
        w.add_points([[40, 40]], [1])
        assert w.snapshot().size[1] == clip.shape[1]
        data = page_data(w.save_html(tmp_path / "clip.html", max_items=3))
        assert data["kind"] == "frames" and data["count"] == len(clip)
        assert [item["index"] for item in data["items"]] == list(range(0, len(clip), data["step"]))
        assert data["step"] == -(-len(clip) // 3)
        [obj] = w.objects
        first = data["items"][0]
        np.testing.assert_array_equal(
            runs_to_mask(decode_runs(first["masks"][str(obj["id"])]), clip.shape[1:3]), w.masks[obj["id"]]
        )
    finally:
        w.close()


def test_a_large_image_is_shrunk_smoothly_and_the_notebook_keeps_at_most_800_pixels(model):
    big = np.zeros((600, 1000, 3), np.uint8)
    big[:, :500] = 200
    w = Sam2Widget(big, model=model)
    try:
        left = np.zeros((600, 1000), bool)
        left[:, :500] = True
        w.add_mask(left)
        data, _ = w._repr_mimebundle_()
        png = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
        assert png.height == 480 and png.width > 800  # the picture at 800 x 480, the legend beside it
        small = np.asarray(w.snapshot(size=400, legend=False), dtype=np.float64)
        assert small.shape == (240, 400, 3)
        colour = rgb(w.objects[0]["color"])
        np.testing.assert_allclose(small[120, 100], 200 * (1 - 0.5) + colour * 0.5, atol=3)  # 128/255 opacity
        np.testing.assert_allclose(small[120, 300], 0, atol=3)
        # Canvas column 199 shows image column 498 (the pixel under its centre, as the canvas samples
        # the masks): inside, so filled; the one-pixel outline at column 499 falls between samples.
        w.opacity = 0.0
        plain = np.asarray(w.snapshot(size=400, legend=False), dtype=np.float64)
        np.testing.assert_allclose(small[120, 199], plain[120, 199] * (1 - 128 / 255) + colour * 128 / 255, atol=1)
        np.testing.assert_allclose(small[120, 200], plain[120, 200], atol=0)  # column 500: outside
    finally:
        w.close()
