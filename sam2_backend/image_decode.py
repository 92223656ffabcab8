"""How a Pillow image becomes the (H, W, 3) uint8 RGB picture a person sees in a viewer.

One decode for every reader (``set_image`` of a path or a PIL image, image sets, clip folders):

* **Orientation**: a camera's EXIF orientation tag is applied, so a portrait photo stored
  sideways is upright, as every viewer shows it; clicks and masks are in that picture.
* **16-bit integers** (Pillow modes ``I;16``, ``I;16B``, ``I;16L``): scaled from the type's
  full range 0..65535 to 0..255 (Pillow's own RGB conversion clips them, which turns most
  16-bit pictures white).
* **32-bit integers and floats** (modes ``I`` and ``F``: no fixed range): the image's own
  minimum..maximum is stretched to 0..255 (a constant image becomes black).
* Everything else (palette, CMYK, grayscale, RGBA, ...) through Pillow's RGB conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_SIXTEEN_BIT = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_ORIENTATION_TAG = 0x0112
# EXIF orientation -> the Pillow transpose that makes the picture upright; 5 to 8 turn it a
# quarter (width and height swap).
_UPRIGHT = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


def to_rgb(image: Any) -> np.ndarray:
    """A Pillow image -> new (H, W, 3) uint8 RGB array, upright (see the module's rules)."""
    from PIL import Image

    orientation = _orientation(image)
    if orientation in _UPRIGHT:
        image = image.transpose(getattr(Image.Transpose, _UPRIGHT[orientation]))
    if image.mode in _SIXTEEN_BIT:
        values = np.asarray(image, dtype=np.float64) * (255.0 / 65535.0)
        return _gray_to_rgb(values)
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        stretched = (np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo) - lo) * (255.0 / (hi - lo) if hi > lo else 0)
        return _gray_to_rgb(stretched)
    return np.array(image.convert("RGB"))


def too_large_message(path: Any, error: Exception) -> str:
    """What to say when Pillow refuses a file as a possible decompression bomb."""
    return (
        f"{path} is larger than Pillow's safety limit for images ({error}). If you trust the file, "
        "raise the limit before loading it: PIL.Image.MAX_IMAGE_PIXELS = None (or a larger number)."
    )


def oriented_size(image: Any) -> tuple[int, int]:
    """``(height, width)`` of the upright picture, from the header only (no decoding)."""
    width, height = image.size
    return (width, height) if _orientation(image) in _QUARTER_TURNS else (height, width)


def _orientation(image: Any) -> int | None:
    """The EXIF orientation from the header. A PNG's ``eXIf`` chunk counts only where it comes
    before the pixels: asking Pillow for one after them would decode the whole file."""
    from PIL import Image

    if image.format == "PNG":
        raw = image.info.get("exif")
        if not raw:
            return None
        exif = Image.Exif()
        exif.load(raw)
        return exif.get(_ORIENTATION_TAG)
    return image.getexif().get(_ORIENTATION_TAG)


def _gray_to_rgb(values: np.ndarray) -> np.ndarray:
    gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)
