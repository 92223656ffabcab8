"""open_source: the right FrameSource for whatever the user passed."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ...image_files import IMAGE_EXTENSIONS
from .base import VIDEO_EXTENSIONS, FrameSource, _is_pil, _is_tensor
from .images import ArraySource, FolderSource, ListSource
from .iterator import IteratorSource
from .video_file import VideoFileSource


def open_source(source: Any) -> FrameSource:
    """Any supported input -> a :class:`FrameSource`.

    * a :class:`FrameSource`: returned as is;
    * ``str`` / ``Path``: a folder -> :class:`FolderSource`; an image file
      (.jpg, .png, ...) -> a one-frame :class:`ListSource`; any other file, and a
      lone .gif (often an animation, whose frames FFmpeg reads) -> :class:`VideoFileSource`;
    * ``bytes`` or a binary file object: the contents of a video file;
    * a numpy array / torch tensor of frames -> :class:`ArraySource`;
    * a PIL image -> a one-frame clip; a list or tuple -> :class:`ListSource`;
    * any other iterable or iterator -> :class:`IteratorSource` (with its
      ``len()`` as ``num_frames`` when it has one).
    """
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            return FolderSource(p)
        if not p.exists():
            raise FileNotFoundError(f"No such video file or frame folder: {p}")
        if p.suffix.lower() in IMAGE_EXTENSIONS - {".gif"}:
            return ListSource([p])
        return VideoFileSource(p)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return VideoFileSource(io.BytesIO(bytes(source)))
    if isinstance(source, io.IOBase) or (hasattr(source, "read") and hasattr(source, "seek")):
        return VideoFileSource(source)
    if isinstance(source, np.ndarray) or _is_tensor(source):
        if source.ndim == 2:
            raise ValueError(
                f"An array of shape {tuple(source.shape)} is one image, not a clip; pass [image] "
                "or a (T, H, W, 3) array."
            )
        return ArraySource(source)
    if _is_pil(source):
        return ListSource([source])
    if isinstance(source, (list, tuple)):
        return ListSource(source)
    if isinstance(source, (Iterator, Iterable)) or hasattr(source, "__iter__"):
        n = None
        if not isinstance(source, Iterator) and hasattr(source, "__len__"):
            try:
                n = len(source)
            except TypeError:
                n = None
        return IteratorSource(source, num_frames=n)
    raise TypeError(
        f"Cannot use {type(source).__name__} as a frame source. Pass a path to a video file "
        f"({', '.join(VIDEO_EXTENSIONS)}) or to a folder of image frames, a (T, H, W, 3) "
        "array, a list of frames, or an iterator of frames."
    )


# --------------------------------------------------------------------------- prefetch
