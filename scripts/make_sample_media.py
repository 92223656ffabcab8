"""Render the sample media shipped in sam2_widget/data/ (used by the example notebooks).

    .venv/bin/python scripts/make_sample_media.py

Everything is drawn here, procedurally, from a fixed seed: a wooden table lit from
the upper left with a few shaded objects on it (a ball, a cube, a can, a doughnut)
and their soft shadows. No photograph or third-party material is used, so the
files carry the project's license. Writes:

* ``table.jpg``: 640x480, four objects (examples/01_image.ipynb), and
  ``table_labels.png``, its true label map (1 ball, 2 cube, 3 can, 4 doughnut);
* ``rolling.mp4``: 320x240, 10 frames at 8 fps, H.264, three objects moving
  (examples/02_video.ipynb);
* ``set/table_1.jpg`` .. ``set/table_4.jpg``: 320x240 each, other arrangements
  (examples/03_dataset_inspection.ipynb), and ``set_labels.json``, their labels as COCO
  with four deliberate mistakes (:data:`SET_MISTAKES`) for the review to find.

The frame count is small on purpose: the notebooks are executed in CI on a CPU.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

OUT = Path(__file__).resolve().parents[1] / "sam2_widget" / "data"
SS = 2  # supersampling factor: shapes are drawn with hard edges at 2x, then downsampled
LIGHT = np.array([-0.45, -0.6, 0.66]) / np.linalg.norm([-0.45, -0.6, 0.66])  # from the upper left, towards the viewer
HALF = (LIGHT + [0, 0, 1]) / np.linalg.norm(LIGHT + [0, 0, 1])  # Blinn-Phong half vector

RED, BLUE, YELLOW = (0.78, 0.12, 0.1), (0.15, 0.3, 0.75), (0.95, 0.75, 0.15)
PINK, GREEN, WHITE = (0.95, 0.55, 0.7), (0.2, 0.6, 0.3), (0.95, 0.95, 0.95)


def smooth_noise(shape: tuple[int, int], cell: int, rng: np.random.Generator) -> np.ndarray:
    """Value noise in about [-1, 1] with features ``cell`` pixels wide."""
    coarse = rng.uniform(-1, 1, (shape[0] // cell + 3, shape[1] // cell + 3))
    return ndimage.zoom(coarse, cell, order=3)[: shape[0], : shape[1]]


def table(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A table of three wooden planks: long wavy grain along x, streaks, dark seams, and
    light falling off from the upper left."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    plank_h = h / 3
    plank = (yy // plank_h).astype(int)
    warp = smooth_noise((h, w), max(8, h // 3), rng)
    offset = rng.uniform(0, 10, 4)[plank]
    grain = np.sin(2 * np.pi * (yy / (h / 30) + 1.5 * warp + offset))
    grain = 0.5 + 0.5 * np.sign(grain) * np.abs(grain) ** 0.5
    streaks = ndimage.zoom(rng.normal(0, 1, (h, w // 24 + 2)), (1, 24), order=1)[:, :w] * 0.035
    dark, light = np.array([0.40, 0.25, 0.13]), np.array([0.66, 0.46, 0.27])
    tint = rng.uniform(0.9, 1.08, 4)[plank][..., None]
    wood = (dark + (light - dark) * grain[..., None] * 0.7) * tint + streaks[..., None]
    seam = np.abs(yy - np.round(yy / plank_h) * plank_h) < h / 240 + 0.5
    wood[seam & (yy > 1) & (yy < h - 2)] *= 0.35
    falloff = 1.12 - 0.45 * np.hypot(xx / w - 0.2, yy / h - 0.1)
    return np.clip(wood * falloff[..., None], 0, 1)


def cast_shadow(canvas: np.ndarray, mask: np.ndarray, length: float, strength: float = 0.6) -> None:
    """Darken the table where ``mask``, pushed away from the light and blurred, falls."""
    shift = -LIGHT[:2] / np.linalg.norm(LIGHT[:2]) * length
    moved = ndimage.shift(mask.astype(np.float32), (shift[1], shift[0]), order=1)
    soft = ndimage.gaussian_filter(np.maximum(moved, mask * 0.6), length * 0.6 + 1)
    canvas *= 1 - strength * np.clip(soft, 0, 1)[..., None]


def lit(color, normal: np.ndarray, shininess: float = 40, gloss: float = 0.5) -> np.ndarray:
    """Lambert plus a Blinn-Phong highlight for unit normals (..., 3)."""
    lambert = np.clip(normal @ LIGHT, 0, 1)[..., None]
    spec = np.clip(normal @ HALF, 0, 1)[..., None] ** shininess * gloss
    return np.clip(np.asarray(color) * (0.28 + 0.8 * lambert) + spec, 0, 1)


def paint(canvas: np.ndarray, mask: np.ndarray, rgb: np.ndarray) -> None:
    canvas[mask] = rgb[mask] if rgb.ndim == 3 else rgb


def ball(canvas, grid, cx, cy, r, color) -> np.ndarray:
    yy, xx = grid
    dx, dy = (xx - cx) / r, (yy - cy) / r
    inside = dx**2 + dy**2 < 1
    normal = np.stack([dx, dy, np.sqrt(np.clip(1 - dx**2 - dy**2, 0, 1))], -1)
    cast_shadow(canvas, inside, r * 0.35)
    paint(canvas, inside, lit(color, normal))
    return inside


def doughnut(canvas, grid, cx, cy, r_out, r_in, color) -> np.ndarray:
    yy, xx = grid
    rho, theta = np.hypot(xx - cx, yy - cy), np.arctan2(yy - cy, xx - cx)
    mid, tube = (r_out + r_in) / 2, (r_out - r_in) / 2
    t = (rho - mid) / tube
    inside = np.abs(t) < 1
    nz = np.sqrt(np.clip(1 - t**2, 0, 1))
    normal = np.stack([t * np.cos(theta), t * np.sin(theta), nz], -1)
    cast_shadow(canvas, inside, tube * 0.6)
    paint(canvas, inside, lit(color, normal, shininess=12, gloss=0.25))
    return inside


def can(canvas, grid, cx, top, r, height, color, band) -> np.ndarray:
    """An upright cylinder seen slightly from above: shaded body, a coloured band, a lighter lid."""
    yy, xx = grid
    squash = 0.35  # the lid's ellipse height / width
    nx = (xx - cx) / r
    in_x = np.abs(nx) < 1
    lid = nx**2 + ((yy - top) / (r * squash)) ** 2 < 1
    body = in_x & (yy > top) & ((yy < top + height) | (nx**2 + ((yy - top - height) / (r * squash)) ** 2 < 1))
    normal = np.stack([nx, np.zeros_like(nx), np.sqrt(np.clip(1 - nx**2, 0, 1))], -1)
    cast_shadow(canvas, body | lid, r * 0.5)
    rel = (yy - top) / height
    colour = np.where(((rel > 0.3) & (rel < 0.7))[..., None], np.asarray(band), np.asarray(color))
    paint(canvas, body, lit(1.0, normal, shininess=25, gloss=0.6) * colour)
    lid_rgb = lit((0.8, 0.8, 0.82), np.stack([np.zeros_like(nx), -np.full_like(nx, 0.6), np.full_like(nx, 0.8)], -1))
    paint(canvas, lid, lid_rgb)
    return body | lid


def cube(canvas, grid, cx, cy, size, color, angle=0.0) -> np.ndarray:
    """A cube standing with its front corner at (cx, cy), seen from above and the front:
    top, left and right faces with their own brightness (the light is upper left). The faces
    are polygons, so ``grid`` is not needed."""
    h, w = canvas.shape[:2]
    a = np.deg2rad(30 + angle)
    e1 = np.array([np.cos(a), 0.5 * np.sin(a)]) * size  # the footprint's edges, table squashed 2:1
    e2 = np.array([-np.sin(a), 0.5 * np.cos(a)]) * size
    up = np.array([0.0, -0.9 * size])
    front = np.array([cx, cy])
    left = [front, front - e1, front - e1 + up, front + up]
    right = [front, front - e2, front - e2 + up, front + up]
    top = [front + up, front - e1 + up, front - e1 - e2 + up, front - e2 + up]
    masks = []
    for poly in (left, right, top):
        img = Image.new("L", (w, h))
        ImageDraw.Draw(img).polygon([tuple(p) for p in poly], fill=255)
        masks.append(np.asarray(img) > 127)
    full = masks[0] | masks[1] | masks[2]
    cast_shadow(canvas, full, size * 0.25)
    shading = smooth_noise((h, w), 12, np.random.default_rng(0)) * 0.015  # a slightly uneven paint
    for m, shade in zip(masks, (0.8, 0.5, 1.05)):
        paint(canvas, m, np.clip(np.asarray(color) * shade + shading[..., None], 0, 1))
    return full


SHAPES = {"ball": ball, "doughnut": doughnut, "can": can, "cube": cube}


def render(h: int, w: int, scene: list[tuple], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``scene`` on a table. Each item is ``(shape, geometry, *style)`` with the geometry
    (position and sizes) in output pixels, as the shape function takes it.

    Returns the picture, uint8 (h, w, 3), and its true label map, uint8 (h, w): the visible
    part of scene item k is k + 1 (0 is the table)."""
    rng = np.random.default_rng(seed)
    H, W = h * SS, w * SS
    canvas = table(H, W, rng)
    labels = np.zeros((H, W), np.uint8)
    grid = np.mgrid[:H, :W].astype(np.float32)
    order = sorted(range(len(scene)), key=lambda k: scene[k][1][1])  # farther (higher up) objects first
    for k in order:
        kind, geometry, *style = scene[k]
        labels[SHAPES[kind](canvas, grid, *(g * SS for g in geometry), *style)] = k + 1
    canvas += rng.normal(0, 0.012, canvas.shape)  # a little sensor noise
    img = Image.fromarray(np.clip(canvas * 255 + 0.5, 0, 255).astype(np.uint8))
    return (
        np.asarray(img.resize((w, h), Image.Resampling.LANCZOS)),
        np.asarray(Image.fromarray(labels).resize((w, h), Image.Resampling.NEAREST)),
    )


# Geometry, in output pixels: ball (x, y, radius); cube (front corner x, y, edge); can (x, top,
# radius, height); doughnut (x, y, outer and inner radius). The notebooks click on these
# objects: if you move them, update sam2_widget/samples.py and examples/*.ipynb.
TABLE_SCENE = [
    ("ball", (200, 250, 70), RED),
    ("cube", (420, 215, 85), BLUE),
    ("can", (520, 260, 45, 120), (0.85, 0.85, 0.88), GREEN),
    ("doughnut", (300, 390, 62, 22), PINK),
]

CLIP_FRAMES, CLIP_FPS = 10, 8


def clip_scene(t: float) -> list[tuple]:
    """The clip's objects at time ``t`` in [0, 1] (320x240 pixels): the ball rolls right,
    the cube slides left and turns, the doughnut drifts up."""
    return [
        ("ball", (60 + 190 * t, 120 + 25 * np.sin(np.pi * t), 28), RED),
        ("cube", (250 - 120 * t, 80 + 10 * t, 38), BLUE, 25 * t),
        ("doughnut", (150 + 30 * t, 200 - 40 * t, 30, 11), PINK),
    ]


SET_SCENES = [
    [("ball", (110, 130, 45), YELLOW), ("can", (230, 90, 28, 80), RED, WHITE)],
    [("doughnut", (160, 130, 60, 22), (0.75, 0.5, 0.3)), ("ball", (260, 60, 25), GREEN)],
    [("cube", (120, 150, 55), RED), ("cube", (240, 190, 40), GREEN, 15), ("ball", (250, 70, 30), BLUE)],
    [("can", (90, 60, 32, 100), BLUE, YELLOW), ("doughnut", (220, 160, 45, 16), PINK)],
]


# The set's labels as an earlier model or a labelling service might hand them over, for the review
# of examples/03_dataset_inspection.ipynb: true masks (balls and cubes as polygons, the rest as
# RLE), ids that are not 1..n, and four mistakes to find: (image, scene item) -> what is wrong.
SET_MISTAKES = {
    (1, 1): "shifted",  # the can's mask lies 14 px left of the can
    (2, 0): "hole filled",  # the doughnut's hole is labelled doughnut
    (3, 1): "top half",  # the green cube's mask misses its bottom half
    (4, 0): "category",  # the can is labelled as a ball
}


def set_labels() -> dict:
    """A COCO document for ``set/table_1.jpg`` .. ``table_4.jpg`` with :data:`SET_MISTAKES`."""
    from pycocotools import mask as mask_api

    from sam2_backend.mask_polygons import mask_polygon

    categories = ["ball", "cube", "can", "doughnut"]
    images, annotations = [], []
    for i, scene in enumerate(SET_SCENES, 1):
        _, labels = render(240, 320, scene, seed=10 + i)
        images.append({"id": i, "file_name": f"table_{i}.jpg", "height": 240, "width": 320})
        for k, (kind, *_) in enumerate(scene):
            mask, category = labels == k + 1, kind
            mistake = SET_MISTAKES.get((i, k))
            if mistake == "shifted":
                mask = np.roll(mask, -14, axis=1)
            elif mistake == "hole filled":
                mask = ndimage.binary_fill_holes(mask)
            elif mistake == "top half":
                rows = np.flatnonzero(mask.any(axis=1))
                mask[(rows[0] + rows[-1]) // 2 :] = False
            elif mistake == "category":
                category = "ball"
            rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
            if kind in ("ball", "cube"):  # convex, no holes: a polygon says it exactly enough
                segmentation = [np.round(mask_polygon(mask), 1).reshape(-1).tolist()]
                rle = mask_api.merge(mask_api.frPyObjects(segmentation, 240, 320))
            else:
                segmentation = {"size": [240, 320], "counts": rle["counts"].decode("ascii")}
            annotations.append(
                {
                    "id": 100 * i + k + 1,
                    "image_id": i,
                    "category_id": categories.index(category) + 1,
                    "segmentation": segmentation,
                    "area": float(mask_api.area(rle)),
                    "bbox": [round(v, 2) for v in mask_api.toBbox(rle).tolist()],
                    "iscrowd": 0,
                }
            )
    return {
        "info": {"description": "sam2-widget sample set, with four deliberate mistakes", "version": "1.0"},
        "licenses": [{"id": 1, "name": "Apache-2.0"}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k + 1, "name": n, "supercategory": "thing"} for k, n in enumerate(categories)],
    }


def write_clip(path: Path, frames: list[np.ndarray], fps: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps), options={"crf": "26", "preset": "slow"})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args().out
    (out / "set").mkdir(parents=True, exist_ok=True)
    table_img, table_labels = render(480, 640, TABLE_SCENE, seed=1)
    Image.fromarray(table_img).save(out / "table.jpg", quality=85, optimize=True)
    Image.fromarray(table_labels).save(out / "table_labels.png", optimize=True)
    frames = [render(240, 320, clip_scene(i / (CLIP_FRAMES - 1)), seed=2)[0] for i in range(CLIP_FRAMES)]
    write_clip(out / "rolling.mp4", frames, CLIP_FPS)
    for i, scene in enumerate(SET_SCENES, 1):
        Image.fromarray(render(240, 320, scene, seed=10 + i)[0]).save(
            out / "set" / f"table_{i}.jpg", quality=85, optimize=True
        )
    (out / "set_labels.json").write_text(json.dumps(set_labels(), separators=(",", ":")))
    for p in sorted(out.rglob("*.*")):
        print(f"{p.relative_to(out)}: {p.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
