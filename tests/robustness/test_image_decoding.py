"""Pictures that used to load wrong without a word: 16-bit and float images (scaled to the
display range, not clipped to white) and photos with an EXIF orientation (upright, as viewers
show them). Every reader decodes the same way: set_image of a path, image sets, clip folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2_backend.image_decode import oriented_size, to_rgb
from sam2_backend.inputs import image_to_tensor
from sam2_backend.video.sources import open_source
from sam2_widget.images import ImageSet

ORIENTATION = 0x0112


def _ramp16(h: int = 24, w: int = 40) -> np.ndarray:
    return (np.arange(h * w, dtype=np.uint32).reshape(h, w) * 65535 // (h * w - 1)).astype(np.uint16)


def _every_reader(path: Path) -> list[np.ndarray]:
    """The same file read by set_image's loader, an image set and a clip folder."""
    from_set_image = (image_to_tensor(path).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    from_image_set = ImageSet.from_source([path]).pixels(0)
    source = open_source(path.parent)
    from_clip_folder = source.get(0)
    assert (source.height, source.width) == from_clip_folder.shape[:2]
    source.close()
    return [from_set_image, from_image_set, from_clip_folder]


def test_a_16_bit_png_is_scaled_from_its_full_range_not_clipped_white(tmp_path: Path):
    ramp = _ramp16()
    path = tmp_path / "ramp.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I;16")
    expected = np.rint(ramp / 257.0).astype(np.uint8)
    for rgb in _every_reader(path):
        assert rgb.shape == (*ramp.shape, 3) and rgb.dtype == np.uint8
        np.testing.assert_array_equal(rgb[..., 0], expected)
        assert (rgb == 255).mean() < 0.01  # Pillow's own conversion made almost all of it white


def test_float_and_32_bit_images_are_stretched_from_their_own_range():
    values = np.linspace(-3.0, 5.0, 24 * 40, dtype=np.float32).reshape(24, 40)
    rgb = to_rgb(Image.fromarray(values, mode="F"))
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255 and np.all(np.diff(rgb[..., 0].ravel().astype(int)) >= 0)
    with_nan = values.copy()
    with_nan[0, :5] = np.nan
    assert to_rgb(Image.fromarray(with_nan, mode="F"))[1:, :, 0].max() == 255  # NaN does not poison the range
    flat = to_rgb(Image.fromarray(np.full((4, 4), 7, np.int32), mode="I"))
    assert flat.shape == (4, 4, 3) and not flat.any()


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_an_exif_orientation_is_applied_so_the_picture_is_upright(tmp_path: Path, orientation):
    stored = np.zeros((30, 50, 3), np.uint8)
    stored[:10, :10] = (255, 0, 0)  # a red corner to find again
    stored[-10:, -10:] = (0, 0, 255)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = tmp_path / "photo.png"  # PNG keeps the pixels exact; Pillow reads its eXIf chunk
    Image.fromarray(stored).save(path, exif=exif)
    with Image.open(path) as image:
        upright = to_rgb(image)
        assert oriented_size(image) == upright.shape[:2]
    if orientation == 3:
        expected = stored[::-1, ::-1]
    else:
        expected = np.rot90(stored, -1 if orientation == 6 else 1)
    assert upright.shape == expected.shape
    np.testing.assert_array_equal(upright, expected)
    for rgb in _every_reader(path):
        np.testing.assert_array_equal(rgb, expected)
    assert ImageSet.from_source([path]).size(0) == expected.shape[:2]  # from the header alone


def test_a_sideways_camera_jpeg_is_read_upright_with_its_size_from_the_header(tmp_path: Path):
    stored = np.zeros((40, 64, 3), np.uint8)
    stored[:16, :16] = (255, 0, 0)  # red at the stored top left: upright (orientation 6) it is top right
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = tmp_path / "camera.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    for rgb in _every_reader(path):
        assert rgb.shape == (64, 40, 3)
        assert rgb[:12, -12:, 0].min() > 200 and rgb[-12:, :12, 0].max() < 60
    assert ImageSet.from_source([path]).size(0) == (64, 40)
