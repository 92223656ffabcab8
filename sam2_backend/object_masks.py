"""Per-object mask sequences: ``folder/<object>/<frame or image stem>.png``, 8-bit grayscale 0 / 255.

The folder of an object is its name, made safe for file systems (path separators, characters
Windows refuses and control characters become ``_``; leading and trailing blanks and dots go).
When two objects would share a folder (names equal up to case) or a name leaves nothing, every
folder is ``<id>_<name>`` instead, so a set of folder names is either all names or all prefixed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

__all__ = ["object_folders", "write_object_masks"]

_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def object_folders(names: Mapping[int, str]) -> dict[int, str]:
    """``{obj_id: folder name}`` (see the module)."""
    safe = {o: _UNSAFE.sub("_", str(n)).strip(" .") for o, n in names.items()}
    folded = [s.casefold() for s in safe.values()]
    if all(folded) and len(set(folded)) == len(folded):
        return safe
    return {o: f"{o}_{s}" if s else str(o) for o, s in safe.items()}


def write_object_masks(
    folder: str | os.PathLike,
    names: Mapping[int, str],
    masks: Iterable[tuple[str, tuple[int, int], Mapping[int, np.ndarray]]],
) -> dict[int, Path]:
    """For each ``(stem, (H, W), {obj_id: (H, W) bool})`` of ``masks``, write ``<stem>.png`` in every object's folder.

    Every object of ``names`` gets a file for every stem: all 0 where it has no mask. Returns
    ``{obj_id: its folder}``.
    """
    from PIL import Image

    folders = {o: Path(folder) / name for o, name in object_folders(names).items()}
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    for stem, hw, by_object in masks:
        for obj_id, path in folders.items():
            mask = by_object.get(obj_id)
            pixels = np.zeros(hw, dtype=np.uint8) if mask is None else mask.astype(np.uint8) * 255
            Image.fromarray(pixels).save(path / f"{stem}.png")
    return folders
