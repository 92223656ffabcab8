"""Which files of a folder are images, and in which order: one rule for image sets and clip folders.

Both readers decode with Pillow (through :mod:`sam2_backend.image_decode`), which reads every
format listed here; of a multi-frame file (an animated GIF or WebP, a multi-page TIFF)
they read the first frame.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["IMAGE_EXTENSIONS", "list_image_files", "natural_sort_key"]

#: File name endings read as images in folders (compared case-insensitively).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


def natural_sort_key(name: str) -> tuple:
    """Sort key for file names: ``frame2.png`` before ``frame10.png``, case-insensitive.

    Digit runs compare as numbers, other runs as lower-case text; the full name
    breaks ties (``a01`` vs ``a1``) so the order does not depend on the file system.
    """
    parts = re.split(r"(\d+)", name)
    key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p)
    return key, name


def list_image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of ``folder`` (by :data:`IMAGE_EXTENSIONS`) in natural order; may be empty.

    Sub-folders, hidden files (``.name``, e.g. macOS ``._frame.png`` forks) and other
    files are left out. Raises ``OSError`` if the folder cannot be listed.
    """
    files = [
        p
        for p in Path(folder).iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_sort_key(p.name))
