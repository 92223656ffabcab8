"""Helpers of the automatic mask generator: point grids, crops, boxes, RLE, batching.

Conventions: points are (x, y) pixels; boxes are XYXY with *inclusive* pixel
coordinates for mask boxes (a one-pixel mask at (x, y) has box (x, y, x, y)) and
exclusive right/bottom edges for crop boxes (``image[y0:y1, x0:x1]``). Uncompressed
RLEs are ``{"size": [H, W], "counts": [n0, n1, ...]}`` with alternating runs of 0s and
1s over the mask in column-major (Fortran) order, starting with a run of 0s (possibly
empty) -- the layout pycocotools expects.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from itertools import product
from typing import Any

import numpy as np
import torch

Column = list | np.ndarray | torch.Tensor


class MaskRecords:
    """Columns of per-mask data of equal length (tensors, arrays or lists), filtered together.

    ``records["iou"]`` reads a column, ``records["iou"] = t`` adds or replaces one,
    ``records.keep(index)`` keeps the same rows of every column and ``records.extend(other)``
    appends the rows of another set of records column by column.
    """

    def __init__(self, **columns: Column) -> None:
        self._columns: dict[str, Column] = {}
        for name, column in columns.items():
            self[name] = column

    def __setitem__(self, name: str, column: Column) -> None:
        if not isinstance(column, (list, np.ndarray, torch.Tensor)):
            raise TypeError(f"column {name!r} must be a list, array or tensor, got {type(column).__name__}")
        self._columns[name] = column

    def __getitem__(self, name: str) -> Column:
        return self._columns[name]

    def __delitem__(self, name: str) -> None:
        del self._columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self._columns

    def __len__(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def keep(self, index: torch.Tensor) -> None:
        """Keep the rows selected by ``index`` (a bool mask or int indices, in that order)."""
        index = torch.as_tensor(index)
        rows = torch.nonzero(index).flatten() if index.dtype == torch.bool else index.flatten()
        rows_list = rows.tolist()
        for name, column in self._columns.items():
            if isinstance(column, torch.Tensor):
                self._columns[name] = column[rows.to(column.device)]
            elif isinstance(column, np.ndarray):
                self._columns[name] = column[np.asarray(rows_list, dtype=np.int64)]
            else:
                self._columns[name] = [column[i] for i in rows_list]

    def extend(self, other: MaskRecords) -> None:
        """Append ``other``'s rows; columns missing here are taken over as they are."""
        for name, column in other._columns.items():
            mine = self._columns.get(name)
            if mine is None:
                self._columns[name] = column
            elif isinstance(column, torch.Tensor):
                self._columns[name] = torch.cat([mine, column.to(mine.device)])
            elif isinstance(column, np.ndarray):
                self._columns[name] = np.concatenate([mine, column])
            else:
                self._columns[name] = list(mine) + list(column)


# --- point grids and crops -------------------------------------------------------


def point_grid(n_per_side: int) -> np.ndarray:
    """``(n*n, 2)`` float64 (x, y) cell centres of an n x n grid over [0, 1]^2, x fastest."""
    half_cell = 1 / (2 * n_per_side)
    centres = np.linspace(half_cell, 1 - half_cell, n_per_side)
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=-1)


def layer_point_grids(n_per_side: int, n_layers: int, downscale: int) -> list[np.ndarray]:
    """One normalised grid per crop layer 0..n_layers; layer i has ``n / downscale**i`` per side."""
    return [point_grid(int(n_per_side / downscale**i)) for i in range(n_layers + 1)]


def crop_boxes(image_hw: tuple[int, int], n_layers: int, overlap_ratio: float) -> tuple[list[list[int]], list[int]]:
    """Crop boxes (XYXY, exclusive ends) of every layer and the layer of each box.

    Layer 0 is the whole image; layer i >= 1 tiles it with (2**i)^2 overlapping crops
    (overlap ``overlap_ratio * short side * 2 / 2**i`` pixels), listed column by column
    (all crops of the first x offset first).
    """
    h, w = image_hw
    boxes, layers = [[0, 0, w, h]], [0]
    for layer in range(1, n_layers + 1):
        n = 2**layer
        overlap = int(overlap_ratio * min(h, w) * 2 / n)
        # Crop side such that n crops overlapping by `overlap` just cover the image.
        crop_w = math.ceil((overlap * (n - 1) + w) / n)
        crop_h = math.ceil((overlap * (n - 1) + h) / n)
        x0s = [int((crop_w - overlap) * i) for i in range(n)]
        y0s = [int((crop_h - overlap) * i) for i in range(n)]
        for x0, y0 in product(x0s, y0s):
            boxes.append([x0, y0, min(x0 + crop_w, w), min(y0 + crop_h, h)])
            layers.append(layer)
    return boxes, layers


def uncrop_boxes(boxes: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
    """XYXY boxes ``(..., 4)`` in crop pixels -> image pixels."""
    x0, y0 = crop_box[:2]
    return boxes + torch.tensor([x0, y0, x0, y0], device=boxes.device)


def uncrop_points(points: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
    """(x, y) points ``(..., 2)`` in crop pixels -> image pixels."""
    x0, y0 = crop_box[:2]
    return points + torch.tensor([x0, y0], device=points.device)


def uncrop_masks(masks: torch.Tensor, crop_box: Sequence[int], image_hw: tuple[int, int]) -> torch.Tensor:
    """Masks ``(..., h, w)`` of a crop -> ``(..., H, W)`` of the image, zero outside the crop."""
    x0, y0, x1, y1 = crop_box
    h, w = image_hw
    if (x0, y0, x1, y1) == (0, 0, w, h):
        return masks
    return torch.nn.functional.pad(masks, (x0, w - x1, y0, h - y1), value=0)


def is_box_near_crop_edge(
    boxes: torch.Tensor, crop_box: Sequence[int], image_box: Sequence[int], atol: float = 20.0
) -> torch.Tensor:
    """``(N,)`` bool: box (in crop pixels) lies within ``atol`` of a crop edge that is not an image edge."""
    boxes = uncrop_boxes(boxes, crop_box).float()
    crop = torch.as_tensor(crop_box, dtype=torch.float, device=boxes.device)
    image = torch.as_tensor(image_box, dtype=torch.float, device=boxes.device)
    near_crop = torch.isclose(boxes, crop[None], atol=atol, rtol=0)
    near_image = torch.isclose(boxes, image[None], atol=atol, rtol=0)
    return (near_crop & ~near_image).any(dim=1)


# --- masks and boxes -------------------------------------------------------------


def stability_score(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """IoU of the masks ``logits > threshold + offset`` and ``logits > threshold - offset``.

    The first mask is contained in the second, so the IoU is a ratio of pixel counts.
    ``logits``: ``(..., H, W)``; returns float32 ``(...)`` (NaN where both masks are empty).
    """
    inner = (logits > threshold + offset).flatten(-2).sum(-1, dtype=torch.int64)
    outer = (logits > threshold - offset).flatten(-2).sum(-1, dtype=torch.int64)
    return inner.float() / outer.float()


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Inclusive XYXY int64 boxes ``(..., 4)`` around bool masks ``(..., H, W)``; (0,0,0,0) if empty."""
    if masks.numel() == 0:
        return torch.zeros(*masks.shape[:-2], 4, dtype=torch.int64, device=masks.device)
    h, w = masks.shape[-2:]
    rows = masks.any(dim=-1).to(torch.uint8)  # (..., H)
    cols = masks.any(dim=-2).to(torch.uint8)  # (..., W)
    # argmax returns the first maximal index: first set row/column from either side.
    top = rows.argmax(-1)
    bottom = h - 1 - rows.flip(-1).argmax(-1)
    left = cols.argmax(-1)
    right = w - 1 - cols.flip(-1).argmax(-1)
    boxes = torch.stack([left, top, right, bottom], dim=-1)
    return boxes * rows.any(-1, keepdim=True)


def box_xyxy_to_xywh(box: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """``(..., 4)`` XYXY -> XYWH (a new tensor/array of the same type)."""
    out = box.clone() if isinstance(box, torch.Tensor) else np.array(box, copy=True)
    out[..., 2:] = box[..., 2:] - box[..., :2]
    return out


# --- run-length encoding ---------------------------------------------------------


def masks_to_rle(masks: torch.Tensor) -> list[dict[str, Any]]:
    """Uncompressed RLEs of bool masks ``(B, H, W)`` (see the module docstring)."""
    b, h, w = masks.shape
    flat = masks.transpose(1, 2).reshape(b, h * w)  # column-major order
    # Run boundaries: positions where a pixel differs from its predecessor.
    batch_idx, pos = torch.nonzero(flat[:, 1:] != flat[:, :-1], as_tuple=True)
    batch_idx, pos = batch_idx.cpu().numpy(), pos.cpu().numpy() + 1
    starts_with_one = flat[:, 0].cpu().numpy()
    splits = np.searchsorted(batch_idx, np.arange(b + 1))
    rles = []
    for i in range(b):
        bounds = np.concatenate([[0], pos[splits[i] : splits[i + 1]], [h * w]])
        counts = np.diff(bounds).tolist()
        if starts_with_one[i]:
            counts = [0] + counts
        rles.append({"size": [h, w], "counts": counts})
    return rles


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """``(H, W)`` bool mask of an uncompressed RLE."""
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    values = np.arange(len(counts)) % 2 == 1  # runs alternate 0, 1, 0, ...
    return np.repeat(values, counts).reshape(w, h).T


def rle_area(rle: dict[str, Any]) -> int:
    """Number of set pixels of an uncompressed RLE."""
    return int(sum(rle["counts"][1::2]))


def rle_to_coco(rle: dict[str, Any]) -> dict[str, Any]:
    """Uncompressed RLE -> COCO compressed RLE (``counts`` as a str, JSON-ready)."""
    from pycocotools import mask as coco_mask

    h, w = rle["size"]
    coco = coco_mask.frPyObjects(rle, h, w)
    coco["counts"] = coco["counts"].decode("utf-8")
    return coco


def batch_iterator(batch_size: int, *columns: Sequence) -> Iterator[list]:
    """Yield ``[col[i:i+batch_size] for col in columns]`` over equally long columns."""
    if not columns:
        raise ValueError("batch_iterator needs at least one column")
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("batch_iterator columns must all have the same length")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, n, batch_size):
        yield [c[start : start + batch_size] for c in columns]
