"""SAM 2 in a Jupyter widget: click, box and segment everything on an image or an image set; track objects in a clip."""

from .colors import PALETTE, color_for
from .images import ImageReadError, ImageSet
from .objects import ObjectInfo
from .prompts import Box, Point
from .results import ImageSetResults
from .session import Session
from .widget import Sam2ImageWidget, Sam2VideoWidget, Sam2Widget

__all__ = [
    "PALETTE",
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
