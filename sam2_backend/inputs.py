"""Checks and conversions of user input: images and prompts.

Everything a person can pass in is validated here, before any tensor reaches
the model, so a mistake gives a clear ``TypeError``/``ValueError`` that says
what was wrong and what to do instead of a crash deep inside torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .image_decode import to_rgb, too_large_message

ImageLike = Any  # numpy array, PIL image, torch tensor or path


def _is_pil(image: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(image, Image.Image)


def _load_path(path: str | os.PathLike) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Image file not found: {p}")
    try:
        with Image.open(p) as img:
            return to_rgb(img)
    except Image.DecompressionBombError as e:
        raise ValueError(too_large_message(p, e)) from e
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"Could not read {p} as an image ({e}). Is it a valid image file?") from e


def _tensor_to_hwc(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    # A (C, H, W) tensor is the torch convention; (H, W, C) the numpy one. Take CHW
    # only when the first axis looks like channels and the last does not.
    if t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] not in (1, 3, 4):
        t = t.permute(1, 2, 0)
    if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
        t = t.float()
    return t.numpy()


def _image_array(image: ImageLike) -> np.ndarray:
    """Any supported image -> its (H, W, C) array (C in 1, 3, 4), checked, not yet converted."""
    if isinstance(image, (str, os.PathLike)):
        image = _load_path(image)
    elif _is_pil(image):
        image = to_rgb(image)
    elif isinstance(image, torch.Tensor):
        image = _tensor_to_hwc(image)
    elif not isinstance(image, np.ndarray):
        raise TypeError(
            f"Unsupported image type {type(image).__name__}. Pass an HxWx3 uint8 numpy "
            "array, a PIL image, a torch tensor or a path to an image file."
        )
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"Expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {arr.shape}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"The image is empty (shape {arr.shape}).")
    return arr


def image_to_tensor(image: ImageLike) -> torch.Tensor:
    """Any supported image -> (3, H, W) float32 RGB tensor in [0, 1] on CPU.

    Accepted: HxWx3 uint8 RGB; HxW or HxWx1 grayscale; HxWx4 RGBA (alpha
    dropped); float arrays in [0, 1]; PIL images; torch tensors (HWC or CHW);
    a path to an image file.
    """
    arr = _image_array(image)
    if arr.dtype == np.uint8:
        # astype copies into a writable array: torch warns on read-only ones (e.g. cached frames).
        t = torch.from_numpy(arr.astype(np.float32)) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("The image contains NaN or infinite values.")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"A float image must have values in [0, 1]; got [{lo:.3g}, {hi:.3g}]. "
                "Divide by 255 if it holds 0-255 values, or pass uint8."
            )
        t = torch.from_numpy(arr.astype(np.float32))
    else:
        raise TypeError(f"Unsupported image dtype {arr.dtype}. Use uint8 (0-255) or float (0-1).")
    if t.shape[2] == 1:
        t = t.expand(-1, -1, 3)
    return t[:, :, :3].permute(2, 0, 1).contiguous()


def image_to_pixels(image: ImageLike, pin: bool = False) -> torch.Tensor | None:
    """An 8-bit image (see :func:`image_to_tensor`) -> (H, W, 3) uint8 RGB tensor on the CPU, in
    pinned memory when ``pin``; ``None`` for a float image. ``transforms.preprocess_uint8`` turns
    it into the model input with the same numbers as ``image_to_tensor`` + ``preprocess``."""
    arr = _image_array(image)
    if arr.dtype != np.uint8:
        return None
    out = torch.empty((arr.shape[0], arr.shape[1], 3), dtype=torch.uint8, pin_memory=pin)
    out.numpy()[...] = arr[:, :, :3]  # grayscale broadcasts to the three channels
    return out


def _finite_array(value: Any, name: str, dtype=np.float64) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be numeric, got {type(value).__name__}: {e}") from e
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _check_inside(xy: np.ndarray, hw: tuple[int, int], name: str) -> None:
    h, w = hw
    bad = (xy[..., 0] < 0) | (xy[..., 0] > w) | (xy[..., 1] < 0) | (xy[..., 1] > h)
    if bad.any():
        first = xy[bad][0].tolist()
        raise ValueError(
            f"{name} {first} lies outside the image (width {w}, height {h}). "
            "Coordinates are pixels of the original image, x then y."
        )


def check_points(points: Any, labels: Any, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Validate points (N, 2) or (B, N, 2) in pixels and labels (N,) or (B, N) of 0/1.

    Returns float32 points and int32 labels with a leading batch axis.
    """
    if labels is None:
        raise ValueError("labels are required with points: 1 for a positive click, 0 for a negative one.")
    pts = _finite_array(points, "points")
    lab = _finite_array(labels, "labels")
    if pts.ndim == 1 and pts.shape == (2,):
        pts = pts[None]
    if pts.ndim == 2:
        pts = pts[None]
    if lab.ndim == 0:
        lab = lab[None]
    if lab.ndim == 1:
        lab = lab[None]
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"points must have shape (N, 2) or (B, N, 2) as (x, y); got {np.shape(points)}.")
    if lab.shape != pts.shape[:2]:
        batched = np.ndim(points) == 3
        expected = pts.shape[:2] if batched else pts.shape[1:2]
        raise ValueError(
            f"labels must have one entry per point: points of shape {np.shape(points)} need labels of shape "
            f"{expected}, got {np.shape(labels)}."
        )
    if pts.shape[1] == 0:
        raise ValueError("points is empty; pass at least one point or leave points=None.")
    if not np.isin(lab, (0, 1)).all():
        raise ValueError(f"labels must be 1 (positive) or 0 (negative); got {np.unique(lab).tolist()}.")
    _check_inside(pts, hw, "Point")
    return pts.astype(np.float32), lab.astype(np.int32)


def check_boxes(box: Any, hw: tuple[int, int]) -> np.ndarray:
    """Validate XYXY pixel boxes (4,) or (B, 4); returns float32 (B, 4)."""
    arr = _finite_array(box, "box")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
        raise ValueError(f"box must have shape (4,) or (B, 4) as x0, y0, x1, y1; got {np.shape(box)}.")
    flipped = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if flipped.any():
        first = arr[flipped][0].tolist()
        raise ValueError(
            f"Box {first} has x1 < x0 or y1 < y0. Boxes are (x0, y0, x1, y1) with the top-left corner first."
        )
    _check_inside(arr.reshape(-1, 2, 2), hw, "Box corner")
    return arr.astype(np.float32)


def check_mask_input(mask_input: Any, size: int) -> np.ndarray:
    """Validate low-resolution mask logits (size, size), (1, size, size) or (B, 1, size, size)."""
    arr = _finite_array(mask_input, "mask_input", dtype=np.float32)
    while arr.ndim < 4:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != (1, size, size):
        raise ValueError(
            f"mask_input must be low-resolution logits of shape (1, {size}, {size}) (the third "
            f"output of a previous predict call); got {np.shape(mask_input)}."
        )
    return arr


def check_object_mask(mask: Any, hw: tuple[int, int]) -> np.ndarray:
    """An object's (H, W) mask on an ``hw`` image or frame as a bool array: a bool array, integers
    where non-zero is the object (0/255 label PNGs are common), or floats that are all 0 or 1 (a
    tensor too). Soft masks and logits are refused: no one threshold would be right for them."""
    m = np.asarray(mask.detach().cpu() if isinstance(mask, torch.Tensor) else mask)
    if m.shape != tuple(hw) or m.dtype.kind not in "biuf":
        raise ValueError(
            f"a mask must be a boolean array the size of the image or frame, (H, W) = {tuple(hw)}; "
            f"got shape {m.shape} dtype {m.dtype}."
        )
    if m.dtype.kind == "f" and not np.isin(m, (0, 1)).all():
        finite = m[np.isfinite(m)]
        values = f"values from {finite.min()} to {finite.max()}" if finite.size else "no finite values"
        raise ValueError(
            f"a mask of floats must hold only 0 and 1; got {values}"
            f"{' and NaN or infinity' if finite.size < m.size else ''}. Threshold it first, e.g. mask > 0.5."
        )
    return m.astype(bool)
