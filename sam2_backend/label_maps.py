"""The one dtype rule of label maps (value = object id, 0 = background), for clips and image sets."""

from __future__ import annotations

import numpy as np

#: The largest object id a 16-bit grayscale PNG label map can hold.
PNG_MAX_ID = 65535


def label_dtype(max_id: int) -> type:
    """The smallest unsigned dtype that holds object ids up to ``max_id``: uint8, uint16 or uint32."""
    if not 0 <= max_id <= np.iinfo(np.uint32).max:
        raise ValueError(f"object ids must be in 0 .. 2**32 - 1 to fit a label map, got a largest id of {max_id}")
    return np.uint8 if max_id < 256 else np.uint16 if max_id <= PNG_MAX_ID else np.uint32
