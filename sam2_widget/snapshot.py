"""The widget's view as a picture (``Sam2Widget.snapshot``), drawn the way the front end draws it.

The front end (js/stage.ts, js/masks.ts, js/rle.ts, js/draw.ts) fits the image into its
canvas, draws the display JPEG stretched over it (smoothed when shrunk, nearest pixels when
enlarged), lays the label map over it with each canvas pixel taking the label under its
centre (fill at ``opacity``, outline pixels opaque), then the prompts in screen pixels. This
module repeats those steps on a canvas of a given size, so a snapshot of the canvas' size
matches the canvas pixel for pixel, up to the browser's own smoothing and anti-aliasing
(see tests/e2e/test_e2e_snapshot.py). A legend of the objects may go to the right.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .codecs import decode_label_rle
from .colors import hex_to_rgb

# js/draw.ts: marker colours and sizes, in screen pixels.
POSITIVE = "#22c55e"
NEGATIVE = "#ef4444"
POINT_RADIUS = 7
BACKGROUND = (17, 17, 17)  # the stage's background (js/widget.css .sam2w-stage), where the image does not reach
# The picture a notebook keeps beside the live widget: about the canvas' size in a notebook.
NOTEBOOK_MAX_SIDE = 800
_SUPERSAMPLE = 4  # samples a side per pixel: the markers' edges anti-aliased as on the canvas


@dataclass(frozen=True)
class ViewState:
    """What the front end draws, read from the widget's traits at one moment."""

    width: int  # the image's size in pixels (masks and prompts are in these pixels)
    height: int
    jpeg: bytes  # the display JPEG, stretched over width x height
    label_rle: bytes  # the visible masks as the label map of the ``label_rle`` trait
    objects: Sequence[dict] = ()
    prompts: Sequence[dict] = ()
    selected_id: int = 0
    opacity: float = 0.5
    outline: bool = True
    title: str = ""
    labels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", decode_label_rle(self.label_rle, self.height, self.width))


@dataclass(frozen=True)
class Placement:
    """canvas pixel = image pixel * scale + (tx, ty), as js/geometry.ts ``fitView`` places the image."""

    scale: float
    tx: float
    ty: float

    @staticmethod
    def fit(width: int, height: int, canvas_w: int, canvas_h: int) -> Placement:
        scale = min(canvas_w / width, canvas_h / height)
        return Placement(scale, (canvas_w - width * scale) / 2, (canvas_h - height * scale) / 2)

    def source(self, d: np.ndarray, t: float, scale: float | None = None) -> np.ndarray:
        """The pixel under the centre of canvas pixels ``d`` (js/rle.ts ``paintPlaced``)."""
        return np.floor((d + 0.5 - t) / (self.scale if scale is None else scale)).astype(np.int64)


def canvas_size(width: int, height: int, size: int | tuple[int, int] | None) -> tuple[int, int]:
    """The picture's size: the image's own (None), longest side ``size`` (an int), or ``(w, h)``."""
    if size is None:
        return width, height
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 1:
            raise ValueError(f"snapshot size must be at least 1 pixel, got {size}.")
        k = size / max(width, height)
        return max(1, round(width * k)), max(1, round(height * k))
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise TypeError(f"snapshot size must be None, an int or (width, height), got {size!r:.80}.") from None
    if w < 1 or h < 1:
        raise ValueError(f"snapshot size must be at least 1x1 pixels, got {w}x{h}.")
    return w, h


def render(state: ViewState, size: int | tuple[int, int] | None = None, legend: bool = True) -> Image.Image:
    """``state`` drawn on a canvas of ``size`` (see :func:`canvas_size`), with the legend to its right
    when ``legend`` and there are objects. An RGB image; the picture is its left canvas-size part."""
    if state.width <= 0 or state.height <= 0:
        raise ValueError("the widget shows no image (it could not be read).")
    cw, ch = canvas_size(state.width, state.height, size)
    at = Placement.fit(state.width, state.height, cw, ch)
    rgb = np.empty((ch, cw, 3), dtype=np.float32)
    rgb[:] = BACKGROUND
    covered = _covered(state, at, cw, ch)
    if covered is not None:
        ys, xs = covered
        _draw_image(rgb, state, at, ys, xs)
        _draw_masks(rgb, state, at, ys, xs)
    _draw_prompts(rgb, state, at)
    picture = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    return _with_legend(picture, state) if legend and state.objects else picture


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)  # ~2x faster than the default 6, ~10 % bigger on a photo
    return out.getvalue()


# -- the image and the masks -------------------------------------------------------------


def _covered(state: ViewState, at: Placement, cw: int, ch: int) -> tuple[slice, slice] | None:
    """The canvas rows and columns the image covers (js/masks.ts ``render``)."""
    x0, y0 = max(0, math.floor(at.tx)), max(0, math.floor(at.ty))
    x1 = min(cw, math.ceil(at.tx + state.width * at.scale))
    y1 = min(ch, math.ceil(at.ty + state.height * at.scale))
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1)


def _draw_image(rgb: np.ndarray, state: ViewState, at: Placement, ys: slice, xs: slice) -> None:
    """The JPEG stretched over the image's place: nearest pixels when enlarged, smoothed when
    shrunk (the canvas' ``imageSmoothingEnabled = scale < 1``). Where the image only partly
    covers an edge pixel, the canvas blends; rounding the place to whole pixels keeps it simple."""
    if not state.jpeg:
        return
    jpeg = Image.open(io.BytesIO(state.jpeg)).convert("RGB")
    jw, jh = jpeg.size
    sx, sy = at.scale * state.width / jw, at.scale * state.height / jh  # canvas pixels per JPEG pixel
    cols = np.arange(xs.start, xs.stop)
    rows = np.arange(ys.start, ys.stop)
    if at.scale >= 1:
        pixels = np.asarray(jpeg)
        c = np.clip(at.source(cols, at.tx, sx), 0, jw - 1)
        r = np.clip(at.source(rows, at.ty, sy), 0, jh - 1)
        rgb[ys, xs] = pixels[r[:, None], c[None, :]]
        return
    box = ((xs.start - at.tx) / sx, (ys.start - at.ty) / sy, (xs.stop - at.tx) / sx, (ys.stop - at.ty) / sy)
    box = (max(0.0, box[0]), max(0.0, box[1]), min(float(jw), box[2]), min(float(jh), box[3]))
    shrunk = jpeg.resize((len(cols), len(rows)), Image.Resampling.BILINEAR, box=box)
    rgb[ys, xs] = np.asarray(shrunk)


def outline_of(labels: np.ndarray) -> np.ndarray:
    """The pixels inside a mask that differ from one of their 4-neighbours, outside the image
    counting as background (js/rle.ts ``outlineRuns``)."""
    padded = np.pad(labels, 1)
    inner = padded[1:-1, 1:-1]
    differs = (
        (padded[:-2, 1:-1] != inner)
        | (padded[2:, 1:-1] != inner)
        | (padded[1:-1, :-2] != inner)
        | (padded[1:-1, 2:] != inner)
    )
    return differs & (inner != 0)


def _draw_masks(rgb: np.ndarray, state: ViewState, at: Placement, ys: slice, xs: slice) -> None:
    """Each canvas pixel takes the label under its centre: its object's colour at ``opacity``
    (8-bit, as js/rle.ts ``overlayColours``), opaque on the outline."""
    labels = state.labels
    if not labels.any():
        return
    r = at.source(np.arange(ys.start, ys.stop), at.ty)
    c = at.source(np.arange(xs.start, xs.stop), at.tx)
    inside_r, inside_c = (r >= 0) & (r < state.height), (c >= 0) & (c < state.width)
    rr, cc = np.clip(r, 0, state.height - 1)[:, None], np.clip(c, 0, state.width - 1)[None, :]
    inside = inside_r[:, None] & inside_c[None, :]
    shown = np.where(inside, labels[rr, cc], 0)
    edge = (outline_of(labels)[rr, cc] & inside) if state.outline else np.zeros_like(inside)
    alpha = round(255 * min(1.0, max(0.0, state.opacity))) / 255
    region = rgb[ys, xs]
    for o in state.objects:
        if not o.get("visible", True):
            continue
        where = shown == o["id"]
        if not where.any():
            continue
        colour = np.array(hex_to_rgb(o["color"]), dtype=np.float32) * 255
        fill = where & ~edge
        region[fill] = region[fill] * (1 - alpha) + colour * alpha
        region[where & edge] = colour
    rgb[ys, xs] = region


# -- the prompts (js/draw.ts) ---------------------------------------------------------------


def _draw_prompts(rgb: np.ndarray, state: ViewState, at: Placement) -> None:
    colours = {o["id"]: o["color"] for o in state.objects}
    for p in state.prompts:
        selected = p.get("obj_id") == state.selected_id
        colour = colours.get(p.get("obj_id"), "#ffffff")
        alpha = 1.0 if selected else 0.6
        if p.get("type") == "box":
            _draw_box(rgb, at, p, colour, selected, alpha)
        else:
            _draw_point(rgb, at, p, "#ffffff" if selected else colour, alpha)


@dataclass(frozen=True)
class _Shape:
    """A disk or annulus (``r_in`` 0: a disk) or an axis-aligned rectangle, in canvas pixels."""

    kind: str  # "ring" or "rect"
    a: tuple[float, ...]

    def bounds(self) -> tuple[float, float, float, float]:
        if self.kind == "ring":
            cx, cy, _, r = self.a
            return cx - r, cy - r, cx + r, cy + r
        return self.a

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.kind == "ring":
            cx, cy, r_in, r_out = self.a
            d2 = (x - cx) ** 2 + (y - cy) ** 2
            return (d2 >= r_in**2) & (d2 < r_out**2)
        x0, y0, x1, y1 = self.a
        return (x >= x0) & (x < x1) & (y >= y0) & (y < y1)


def _disk(cx: float, cy: float, r: float, r_in: float = 0.0) -> _Shape:
    return _Shape("ring", (cx, cy, r_in, r))


def _rect(x0: float, y0: float, x1: float, y1: float) -> _Shape:
    return _Shape("rect", (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))


def _paint(rgb: np.ndarray, shapes: Sequence[_Shape], colour: str, alpha: float) -> None:
    """Blend ``colour`` at ``alpha`` over the union of ``shapes``, anti-aliased by the share of
    each pixel they cover (4x4 samples at subpixel centres)."""
    if not shapes:
        return
    h, w = rgb.shape[:2]
    edges = np.array([s.bounds() for s in shapes])
    x0, y0 = max(0, math.floor(edges[:, 0].min())), max(0, math.floor(edges[:, 1].min()))
    x1, y1 = min(w, math.ceil(edges[:, 2].max())), min(h, math.ceil(edges[:, 3].max()))
    if x1 <= x0 or y1 <= y0:
        return
    k = _SUPERSAMPLE
    offsets = (np.arange(k) + 0.5) / k
    xs = (np.arange(x0, x1)[:, None] + offsets[None, :]).reshape(1, -1)
    ys = (np.arange(y0, y1)[:, None] + offsets[None, :]).reshape(-1, 1)
    hit = np.zeros((ys.size, xs.size), dtype=bool)
    for shape in shapes:
        hit |= shape.contains(xs, ys)
    coverage = hit.reshape(y1 - y0, k, x1 - x0, k).mean(axis=(1, 3), dtype=np.float32)[..., None] * alpha
    region = rgb[y0:y1, x0:x1]
    rgb[y0:y1, x0:x1] = region * (1 - coverage) + np.array(hex_to_rgb(colour), dtype=np.float32) * 255 * coverage


def _draw_point(rgb: np.ndarray, at: Placement, p: dict, ring: str, alpha: float) -> None:
    """A disk (green positive, red negative), a 2-pixel ring, a white "+" or "-"."""
    x, y = p["x"] * at.scale + at.tx, p["y"] * at.scale + at.ty
    r = POINT_RADIUS
    positive = p.get("label", 1) == 1
    _paint(rgb, [_disk(x, y, r)], POSITIVE if positive else NEGATIVE, alpha)
    _paint(rgb, [_disk(x, y, r + 1, r - 1)], ring, alpha)
    g = r * 0.55
    glyph = [_rect(x - g, y - 1, x + g, y + 1)]
    if positive:
        glyph.append(_rect(x - 1, y - g, x + 1, y - 1))
        glyph.append(_rect(x - 1, y + 1, x + 1, y + g))
    _paint(rgb, glyph, "#ffffff", alpha)


def _draw_box(rgb: np.ndarray, at: Placement, p: dict, colour: str, selected: bool, alpha: float) -> None:
    """A dark solid underlay, then the box dashed 6 on 4 off in the object's colour."""
    x0, y0 = p["x0"] * at.scale + at.tx, p["y0"] * at.scale + at.ty
    x1, y1 = p["x1"] * at.scale + at.tx, p["y1"] * at.scale + at.ty
    width = 2.5 if selected else 1.5
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    sides = list(zip(corners, corners[1:] + corners[:1]))
    _paint(rgb, [_stroke(a, b, width + 2, corners) for a, b in sides], "#000000", 0.5 * alpha)
    _paint(rgb, [_stroke(a, b, width, corners) for a, b in _dashes(sides, 6, 4)], colour, alpha)


def _stroke(a: tuple[float, float], b: tuple[float, float], width: float, corners) -> _Shape:
    """A horizontal or vertical line of ``width``, butt-ended, but reaching half its width past an
    end that is one of ``corners``, so that lines meeting there fill the corner as a mitred join does."""
    (ax, ay), (bx, by) = a, b
    half = width / 2
    sx, sy = np.sign(bx - ax) * half, np.sign(by - ay) * half  # along the line, half the width
    if a in corners:
        ax, ay = ax - sx, ay - sy
    if b in corners:
        bx, by = bx + sx, by + sy
    if ay == by:
        return _rect(ax, ay - half, bx, by + half)
    return _rect(ax - half, ay, bx + half, by)


def _along(a: tuple[float, float], b: tuple[float, float], f: float) -> tuple[float, float]:
    if f >= 1:
        return b  # exactly: a corner is recognised by equality (_stroke)
    return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f


def _dashes(sides, on: float, off: float) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The "on" pieces of a dash pattern walked along ``sides`` from the first corner (the pattern
    runs on around corners, as ``setLineDash`` does)."""
    pieces = []
    phase = 0.0  # how far into the pattern the next side starts
    for (ax, ay), (bx, by) in sides:
        length = math.hypot(bx - ax, by - ay)
        if length == 0:
            continue
        s = 0.0
        while s < length:
            into = phase % (on + off)
            step = (on - into) if into < on else (on + off - into)
            e = min(length, s + step)
            if into < on:
                pieces.append((_along((ax, ay), (bx, by), s / length), _along((ax, ay), (bx, by), e / length)))
            phase += e - s
            s = e
    return pieces


# -- the legend --------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def _with_legend(picture: Image.Image, state: ViewState) -> Image.Image:
    """The picture with a white column to its right: the title, then each object's colour and name."""
    font = _font(14)
    row, pad, swatch = 22, 10, 14
    lines = [(o, f"{o['name']}" + ("" if o.get("visible", True) else " (hidden)")) for o in state.objects]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max([measure.textlength(t, font=font) for _, t in lines] + [measure.textlength(state.title, font=font)])
    width = int(pad * 3 + swatch + text_w) + 1
    height = max(picture.height, pad * 2 + row * (len(lines) + (1 if state.title else 0)))
    out = Image.new("RGB", (picture.width + width, height), (255, 255, 255))
    out.paste(picture, (0, 0))
    draw = ImageDraw.Draw(out)
    x, y = picture.width + pad, pad
    if state.title:
        draw.text((x, y), state.title, fill=(60, 60, 60), font=font)
        y += row
    for o, text in lines:
        colour = o["color"]
        box = (x, y + 2, x + swatch, y + 2 + swatch)
        if o.get("visible", True):
            draw.rectangle(box, fill=colour)
        else:
            draw.rectangle(box, outline=colour, width=2)
        draw.text((x + swatch + pad, y), text, fill=(20, 20, 20), font=font)
        y += row
    return out
