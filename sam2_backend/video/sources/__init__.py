"""Frame sources: where the video tracker gets its frames from.

Every source gives random access to the frames of one clip through the same
small interface, :class:`FrameSource`:

* ``get(index)`` returns frame ``index`` as a new ``(H, W, 3)`` uint8 RGB
  numpy array (C-contiguous; the caller may modify it);
* ``num_frames`` (and ``len()``), ``height``, ``width`` describe the clip in
  pixels of the original frames (after the display rotation of a video file);
* ``close()`` (or a ``with`` block) releases files and decoders.

Frames are read lazily, one at a time, and never all preloaded: a source
keeps at most a few decoded frames (a small LRU, or the window of an iterator
source), so memory does not grow with the length of the clip.

Errors follow one rule. Problems found when a source is opened (missing file,
not a video, empty folder, frames of different sizes, wrong array shape) raise
``FileNotFoundError`` / ``ValueError`` / ``TypeError``. A frame that cannot be
produced when it is asked for (a damaged or truncated file, a corrupt image, an
iterator that raised) raises :class:`FrameReadError`, which names the frame
index and the file. An index past the end raises ``IndexError``; a frame that
an :class:`IteratorSource` has already let go of raises
:class:`FrameNotAvailableError`.

:func:`open_source` picks the right class for whatever the user passed, and
:class:`Prefetcher` decodes the next frame in a background thread while the
tracker works on the current one.

Video decoding uses PyAV (FFmpeg). The seeking logic (a timestamp table built
from one pass over the packets, then "seek to keyframe, decode forward") is
written here because PyAV only offers the low-level pieces.
"""

from ...image_files import IMAGE_EXTENSIONS
from .base import (
    VIDEO_EXTENSIONS,
    FrameNotAvailableError,
    FrameReadError,
    FrameSource,
    to_rgb_uint8,
)
from .images import ArraySource, FolderSource, ListSource
from .iterator import IteratorSource
from .opening import open_source
from .prefetch import Prefetcher
from .video_file import VideoFileSource

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "ArraySource",
    "FolderSource",
    "FrameNotAvailableError",
    "FrameReadError",
    "FrameSource",
    "IteratorSource",
    "ListSource",
    "Prefetcher",
    "VideoFileSource",
    "open_source",
    "to_rgb_uint8",
]
