"""SAM 2 in a Jupyter widget: click, box and segment everything on an image or an image set; track objects in a clip."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .colors import PALETTE, color_for
from .images import ImageReadError, ImageSet
from .objects import ObjectInfo
from .prompts import Box, Point
from .results import ImageSetResults
from .session import Session

if TYPE_CHECKING:
    from .clip_results import ClipResults
    from .widget import Sam2ImageWidget, Sam2VideoWidget, Sam2Widget

# The widget classes pull in anywidget and ipywidgets (~0.1 s), and a clip's results the video
# tracker, which a script that only predicts never needs: imported on first access (PEP 562).
_LAZY = {
    "ClipResults": ".clip_results",
    "Sam2ImageWidget": ".widget",
    "Sam2VideoWidget": ".widget",
    "Sam2Widget": ".widget",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "PALETTE",
    "ClipResults",
    "Box",
    "ImageReadError",
    "ImageSet",
    "ImageSetResults",
    "ObjectInfo",
    "Point",
    "Sam2ImageWidget",
    "Sam2VideoWidget",
    "Sam2Widget",
    "Session",
    "color_for",
]
