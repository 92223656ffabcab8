"""A page to share results with someone who has no Python (``Sam2Widget.save_html``).

One self-contained HTML file: each image or frame as a base64 JPEG, each object's mask as
run lengths (LEB128 varints, base64) at the JPEG's size, the objects and display options as
JSON, and a small viewer script (standalone_viewer.js) that draws them the way the widget
does: fill at the opacity, outlines where a label differs from a 4-neighbour, the first
listed object on top. View only: step through the images or scrub the frames, show or hide
objects, change the opacity and the outline. Nothing is fetched, so it opens from a file.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from . import codecs

VIEWER_JS = Path(__file__).with_name("standalone_viewer.js")
MAX_SIDE = 960  # the JPEGs' (and masks') longest side: what a page shows, ~60-120 KB a photo at quality 80
JPEG_QUALITY = 80
MAX_ITEMS = 300  # more images or frames than this are subsampled evenly (~30 MB of JPEGs at most)


def choose_indices(count: int, indices: Iterable[int] | None, max_items: int) -> tuple[list[int], int]:
    """The images or frames to put in the page and the step they were subsampled by: ``indices``
    (default: all ``count``), every ``step``-th of them when there are more than ``max_items``."""
    if isinstance(max_items, bool) or not isinstance(max_items, (int, np.integer)) or max_items < 1:
        raise ValueError(f"save_html: max_items must be a positive int, got {max_items!r:.80}.")
    chosen = list(range(count)) if indices is None else [_index(i, count) for i in indices]
    if not chosen:
        raise ValueError("save_html: no images or frames to save (indices is empty).")
    step = math.ceil(len(chosen) / max_items)
    return chosen[::step], step


def _index(i: object, count: int) -> int:
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"save_html: indices must be ints, got {i!r:.80}.")
    if not 0 <= i < count:
        raise ValueError(f"save_html: index {i} is outside 0..{count - 1}.")
    return int(i)


def varints(values: np.ndarray) -> bytes:
    """Non-negative ints (< 2**35) as LEB128: 7 bits a byte, low first, the high bit set on all but the last."""
    v = np.asarray(values, dtype=np.uint64)
    groups = np.stack([(v >> np.uint64(7 * k)) & np.uint64(0x7F) for k in range(5)], axis=1).astype(np.uint8)
    length = 1 + sum(((v >> np.uint64(7 * k)) > 0).astype(np.int64) for k in range(1, 5))
    more = np.arange(5)[None, :] < (length - 1)[:, None]
    groups[more] |= 0x80
    return groups[np.arange(5)[None, :] < length[:, None]].tobytes()


def mask_runs(mask: np.ndarray) -> np.ndarray:
    """Row-major run lengths of a bool mask, background first (0 when it starts inside the mask)."""
    flat = np.ascontiguousarray(mask).reshape(-1)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], changes, [flat.size])))
    return np.concatenate(([0], runs)) if flat.size and flat[0] else runs


def _resize_nearest(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The mask sampled at the centres of an ``hw`` grid (as the JPEG was shrunk to it)."""
    h, w = mask.shape
    if (h, w) == hw:
        return mask
    rows = np.minimum(((np.arange(hw[0]) + 0.5) * h / hw[0]).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(hw[1]) + 0.5) * w / hw[1]).astype(np.int64), w - 1)
    return mask[rows[:, None], cols[None, :]]


def page_item(
    name: str, index: int, pixels: np.ndarray, masks: Mapping[int, np.ndarray], max_side: int, quality: int
) -> dict:
    """One image or frame for the page: its JPEG and each non-empty mask's runs at the JPEG's size."""
    jpeg = codecs.encode_jpeg(pixels, max_side=max_side, quality=quality)
    h, w = pixels.shape[:2]
    k = min(1.0, max_side / max(h, w))
    hw = (max(1, round(h * k)), max(1, round(w * k))) if k < 1 else (h, w)  # codecs.encode_jpeg's size
    runs = {}
    for obj_id, mask in masks.items():
        small = _resize_nearest(np.asarray(mask, dtype=bool), hw)
        if small.any():
            runs[str(obj_id)] = base64.b64encode(varints(mask_runs(small))).decode("ascii")
    return {
        "name": name,
        "index": index,
        "width": hw[1],
        "height": hw[0],
        "jpeg": base64.b64encode(jpeg).decode("ascii"),
        "masks": runs,
    }


def write_page(
    path: str | os.PathLike,
    title: str,
    kind: str,
    count: int,
    indices: Sequence[int],
    step: int,
    item: Callable[[int], dict],
    objects: Sequence[Mapping],
    opacity: float,
    outline: bool,
) -> Path:
    """Write the page: ``item(index)`` gives each of ``indices`` (see :func:`page_item`)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"save_html writes an .html file, got {str(path)!r}.")
    data = {
        "title": title,
        "kind": kind,
        "count": count,
        "step": step,
        "opacity": float(opacity),
        "outline": bool(outline),
        "objects": [{k: o[k] for k in ("id", "name", "color", "visible")} for o in objects],
        "items": [item(i) for i in indices],
    }
    # "</" inside the JSON would end the <script> element early; "<\/" is the same JSON string.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    viewer = VIEWER_JS.read_text(encoding="utf-8")
    page = _TEMPLATE.format(title=html.escape(title), data=payload, viewer=viewer)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ font: 14px system-ui, sans-serif; margin: 16px; color: #1f2937; background: #fff; }}
  h1 {{ font-size: 16px; margin: 0 0 8px; }}
  .layout {{ display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }}
  canvas {{ max-width: min(100%, 1000px); height: auto; background: #111; display: block; }}
  .controls {{ display: flex; gap: 8px; align-items: center; margin: 8px 0; flex-wrap: wrap; }}
  .objects {{ list-style: none; padding: 0; margin: 0; min-width: 160px; }}
  .objects li {{ margin: 4px 0; }}
  .swatch {{ display: inline-block; width: 12px; height: 12px; margin: 0 6px; vertical-align: -1px; }}
  .note {{ color: #6b7280; }}
</style>
</head>
<body>
<h1 id="title"></h1>
<div class="controls">
  <button id="prev" type="button" aria-label="previous">&#9664;</button>
  <input id="index" type="range" min="0" value="0" aria-label="image or frame">
  <button id="next" type="button" aria-label="next">&#9654;</button>
  <span id="where"></span>
  <label>opacity <input id="opacity" type="range" min="0" max="1" step="0.05"></label>
  <label><input id="outline" type="checkbox"> outlines</label>
  <span id="note" class="note"></span>
</div>
<div class="layout">
  <canvas id="view" aria-label="image with masks"></canvas>
  <ul id="objects" class="objects" aria-label="objects"></ul>
</div>
<script id="sam2-data" type="application/json">{data}</script>
<script>
{viewer}
</script>
</body>
</html>
"""
