"""Video: frame sources, the streaming multi-object tracker and its results."""

from .results import TrackResults
from .sources import FrameReadError, FrameSource, open_source
from .tracker import VideoTracker

__all__ = ["FrameReadError", "FrameSource", "TrackResults", "VideoTracker", "open_source"]
