"""Constructor options and export arguments of the wrong type or out of range are refused with
the option's name and what it must be, before any work starts (display_max_side=0 once sent a
1x1 picture; fps=-5 or frame_cache_mb="big" failed without naming the argument)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sam2_widget import Sam2Widget
from tests.clips import make_clip
from tests.images import synthetic_image
from tests.models import tiny_model

BAD_OPTIONS = {
    "display_max_side 0": (dict(display_max_side=0), ValueError, "display_max_side must be an int from 64"),
    "display_max_side 10.5": (dict(display_max_side=10.5), TypeError, "display_max_side"),
    "display_max_side huge": (dict(display_max_side=10**9), ValueError, "display_max_side"),
    "jpeg_quality 0": (dict(jpeg_quality=0), ValueError, "jpeg_quality must be an int from 1 to 100"),
    "jpeg_quality 101": (dict(jpeg_quality=101), ValueError, "jpeg_quality"),
    "jpeg_quality a string": (dict(jpeg_quality="high"), TypeError, "jpeg_quality"),
    "opacity 2": (dict(opacity=2), ValueError, "opacity must be a number from 0 to 1"),
    "opacity NaN": (dict(opacity=math.nan), TypeError, "opacity"),
    "opacity a string": (dict(opacity="0.5"), TypeError, "opacity"),
    "outline 1": (dict(outline=1), TypeError, "outline must be True or False"),
    "cache_size 0": (dict(cache_size=0), ValueError, "cache_size must be an int >= 1"),
    "cache_size True": (dict(cache_size=True), TypeError, "cache_size"),
    "frame_cache_mb big": (dict(frame_cache_mb="big"), TypeError, "frame_cache_mb must be a number of MiB"),
    "frame_cache_mb -1": (dict(frame_cache_mb=-1), ValueError, "frame_cache_mb"),
    "frame_cache_mb inf": (dict(frame_cache_mb=math.inf), TypeError, "frame_cache_mb"),
    "amg_options a list": (dict(amg_options=[16]), TypeError, "amg_options must be None or a dict"),
    "autosave a number": (dict(autosave=3), TypeError, "autosave must be None or a file path"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
@pytest.mark.parametrize("kind", ["image", "clip"])
def test_a_bad_option_names_itself(model, kind, case):
    options, error, words = BAD_OPTIONS[case]
    source = synthetic_image(48, 64) if kind == "image" else make_clip(2)
    with pytest.raises(error, match=words):
        Sam2Widget(source, model=model, video=kind == "clip", **options)


def test_numpy_numbers_are_taken_as_options(model):
    w = Sam2Widget(synthetic_image(48, 64), model=model, display_max_side=np.int64(128), opacity=np.float32(0.25))
    assert w.opacity == 0.25 and max(w.image_width, w.image_height) == 64
    w.close()


@pytest.fixture(scope="module")
def clip_widget():
    w = Sam2Widget(make_clip(3), model=tiny_model(128), video=True)
    w.add_points([[30, 30]], [1])
    yield w
    w.close()


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(fps=-5), ValueError, "fps must be a positive number"),
        (dict(fps=0.0), ValueError, "fps must be a positive number"),
        (dict(fps=math.nan), ValueError, "fps"),
        (dict(fps="30"), ValueError, "fps"),
        (dict(start=2, stop=1), ValueError, "start < stop"),
        (dict(start=1.5), TypeError, "start must be a frame index"),
        (dict(stop=99), ValueError, "stop <= 3"),
        (dict(codec=""), TypeError, "codec must be a codec name"),
    ],
)
def test_save_video_names_the_bad_argument_and_writes_nothing(clip_widget, tmp_path, kwargs, error, words):
    path = tmp_path / "out.mp4"
    with pytest.raises(error, match=words):
        clip_widget.save_video(path, **kwargs)
    assert not path.exists()
