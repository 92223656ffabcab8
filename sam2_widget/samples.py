"""Sample media shipped with the package, for the example notebooks and quick tries.

They are drawn procedurally by ``scripts/make_sample_media.py`` in this repository
(no photographs, no third-party material). Object positions, in pixels:

* :func:`sample_image_path` (640x480): a red ball around (200, 250), a blue cube in
  the box (340, 75, 470, 222), a can around (520, 330), a pink doughnut (hole at (300, 390)).
* :func:`sample_clip_path` (320x240, 10 frames at 8 fps): a red ball rolling right from
  (60, 120), a blue cube sliding left from the box (212, 15, 274, 84), a pink doughnut
  drifting up from (150, 200) that passes in front of the ball around frame 4.
* :func:`sample_image_folder`: four 320x240 pictures of other objects on the same table.
* :func:`sample_set_labels`: their labels as COCO, as an earlier model might hand them over,
  with four mistakes to find (``scripts/make_sample_media.py``'s ``SET_MISTAKES``): the can of
  ``table_1.jpg`` shifted 14 px left, the doughnut hole of ``table_2.jpg`` filled, the green
  cube of ``table_3.jpg`` missing its bottom half, the can of ``table_4.jpg`` labelled a ball.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parent / "data"


def sample_image_path() -> Path:
    """A 640x480 JPEG of four objects on a wooden table."""
    return DATA / "table.jpg"


def sample_image_labels() -> np.ndarray:
    """The true label map of :func:`sample_image_path`, uint8 (480, 640): 1 ball, 2 cube,
    3 can, 4 doughnut, 0 the table (e.g. to compare masks against, or ``w.add_mask(labels == 1)``)."""
    return np.asarray(Image.open(DATA / "table_labels.png"))


def sample_clip_path() -> Path:
    """A 10-frame 320x240 H.264 MP4 of three objects moving on a table."""
    return DATA / "rolling.mp4"


def sample_image_folder() -> Path:
    """A folder of four small JPEGs (``table_1.jpg`` .. ``table_4.jpg``)."""
    return DATA / "set"


def sample_set_labels() -> Path:
    """``set_labels.json``: COCO labels of :func:`sample_image_folder` with four deliberate mistakes
    (see the module); annotation ids 101, 102, 201, ... (not 1..n, as real sets have)."""
    return DATA / "set_labels.json"
