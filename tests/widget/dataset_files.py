"""Small labelled data sets on disk for the dataset tests: PNG images and a COCO document with
every kind of segmentation (compressed and uncompressed RLE, polygons, a crowd annotation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_api

SIZES = [(30, 40), (24, 32), (30, 40)]  # (H, W) of a.png, b.png, c.png
NAMES = ["a.png", "b.png", "c.png"]


def write_images(folder: Path, sizes=SIZES, names=NAMES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for (h, w), name in zip(sizes, names):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / name)
        paths.append(folder / name)
    return paths


def blob(hw, y0, x0, y1, x1) -> np.ndarray:
    m = np.zeros(hw, dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def compressed(mask: np.ndarray) -> dict:
    rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(mask.shape), "counts": rle["counts"].decode("ascii")}


def uncompressed(mask: np.ndarray) -> dict:
    flat = mask.T.reshape(-1)  # column-major
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], change, [flat.size]))).tolist()
    if flat[0]:
        runs = [0, *runs]
    return {"size": list(mask.shape), "counts": runs}


def coco_document() -> dict:
    """Three images, six good annotations of every form, ids that are not 1..n on purpose."""
    (h0, w0), (h1, w1), (h2, w2) = SIZES
    anns = [
        {"id": 101, "image_id": 7, "category_id": 3, "segmentation": compressed(blob((h0, w0), 2, 3, 12, 20))},
        {"id": 102, "image_id": 7, "category_id": 5, "segmentation": [[20, 5, 35, 5, 35, 25, 28, 28, 20, 20]]},
        {
            "id": 205,
            "image_id": 8,
            "category_id": 3,
            "iscrowd": 1,
            "segmentation": uncompressed(blob((h1, w1), 0, 0, 10, 32) | blob((h1, w1), 15, 5, 24, 9)),
            "source": "labeller-2",
        },
        {
            "id": 206,
            "image_id": 8,
            "category_id": 5,
            "segmentation": [[1, 12, 10, 12, 10, 20], [20.5, 14, 30, 14, 30, 22.7, 21, 22]],
        },
        {"id": 300, "image_id": 9, "category_id": 3, "segmentation": compressed(np.zeros((h2, w2), dtype=bool))},
        {"id": 301, "image_id": 9, "category_id": 5, "segmentation": compressed(blob((h2, w2), 5, 5, 29, 39))},
    ]
    for a in anns:
        seg = a["segmentation"]
        h, w = SIZES[a["image_id"] - 7]
        if isinstance(seg, list):
            rle = mask_api.merge(mask_api.frPyObjects(seg, h, w))
        elif isinstance(seg["counts"], list):
            rle = mask_api.frPyObjects(seg, h, w)
        else:
            rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
        a["area"] = float(mask_api.area(rle))
        a["bbox"] = mask_api.toBbox(rle).tolist()
        a.setdefault("iscrowd", 0)
    images = [
        {"id": 7 + i, "file_name": n, "height": h, "width": w, "license": 1}
        for i, (n, (h, w)) in enumerate(zip(NAMES, SIZES))
    ]
    return {
        "info": {"description": "test set", "version": "1"},
        "licenses": [{"id": 1, "name": "CC0"}],
        "images": images,
        "annotations": anns,
        "categories": [{"id": 3, "name": "cat", "supercategory": "animal"}, {"id": 5, "name": "dog"}],
    }


def pycocotools_mask(ann: dict, h: int, w: int) -> np.ndarray:
    """The mask pycocotools gives for an annotation (as ``COCO.annToMask`` does)."""
    seg = ann["segmentation"]
    if isinstance(seg, list):
        rle = mask_api.merge(mask_api.frPyObjects(seg, h, w))
    elif isinstance(seg["counts"], list):
        rle = mask_api.frPyObjects(seg, h, w)
    else:
        rle = seg
    return mask_api.decode(rle).astype(bool)
