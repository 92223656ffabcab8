"""Pure encode/decode functions for what travels to the front end: images and masks.

The label-map RLE is the format of ``label_rle`` in docs/widget_protocol.md:
little-endian uint32 pairs ``(value, count)`` over the row-major pixels. It is
hand-written because no library speaks it: it decodes in the browser with one
loop over a ``Uint32Array``, and a label map of a few objects is a few hundred
bytes (PNG would need a decoder and a canvas round trip on the other side).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from sam2_backend.label_maps import label_dtype

DISPLAY_MAX_SIDE = 2048
JPEG_QUALITY = 90


def encode_jpeg(pixels: np.ndarray, max_side: int = DISPLAY_MAX_SIDE, quality: int = JPEG_QUALITY) -> bytes:
    """An ``(H, W, 3)`` uint8 RGB image as JPEG bytes, downscaled so its longest side is at most ``max_side``.

    The front end stretches the JPEG to the original width x height, so prompts stay
    in original pixels whatever the display size.
    """
    from PIL import Image

    image = Image.fromarray(pixels)
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def masks_to_label_map(
    masks: Mapping[int, np.ndarray], hw: tuple[int, int], order: Sequence[int] | None = None, dtype: type | None = None
) -> np.ndarray:
    """``{obj_id: (H, W) bool}`` -> ``(H, W)`` label map (value = object id, 0 = background).

    Where masks overlap, the object listed first in ``order`` (default: the mapping's
    order) wins, the rule of ``sam2_backend.video.TrackResults``. The dtype defaults to
    ``sam2_backend.label_maps.label_dtype`` of the largest id.
    """
    order = list(masks) if order is None else list(order)
    if dtype is None:
        dtype = label_dtype(max(order, default=0))
    label = np.zeros(hw, dtype=dtype)
    for obj_id in reversed(order):  # paint the first listed last, so it wins
        label[masks[obj_id]] = obj_id
    return label


def encode_label_rle(label: np.ndarray) -> bytes:
    """``(H, W)`` label map -> little-endian uint32 ``(value, count)`` pairs, row-major; ``b""`` if all 0."""
    flat = np.ascontiguousarray(label).reshape(-1)
    if not flat.any():
        return b""
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    counts = np.diff(np.append(starts, flat.size))
    pairs = np.stack([flat[starts].astype(np.int64), counts], axis=1)
    return pairs.astype("<u4").tobytes()


def decode_label_rle(data: bytes, height: int, width: int) -> np.ndarray:
    """Inverse of :func:`encode_label_rle`: an ``(H, W)`` uint32 label map."""
    if not data:
        return np.zeros((height, width), dtype=np.uint32)
    if len(data) % 8:
        raise ValueError(f"label RLE must be whole (value, count) uint32 pairs; got {len(data)} bytes.")
    pairs = np.frombuffer(data, dtype="<u4").reshape(-1, 2)
    if int(pairs[:, 1].sum(dtype=np.int64)) != height * width:
        raise ValueError(f"label RLE covers {int(pairs[:, 1].sum())} pixels, expected {height}x{width}.")
    return np.repeat(pairs[:, 0], pairs[:, 1]).astype(np.uint32).reshape(height, width)
