"""SAM 2 in a Jupyter widget: click, box and segment everything on an image or a set of images; track objects in a video."""

from .colors import PALETTE, color_for
from .images import ImageReadError, ImageSet
from .results import ImageSetResults
from .session import Box, ObjectInfo, Point, Session
from .video_widget import Sam2VideoWidget
from .widget import Sam2Widget

__all__ = [
    "PALETTE",
    "Box",
    "ImageReadError",
    "ImageSet",
    "ImageSetResults",
    "ObjectInfo",
    "Point",
    "Sam2VideoWidget",
    "Sam2Widget",
    "Session",
    "color_for",
]
