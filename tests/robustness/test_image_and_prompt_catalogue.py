"""A catalogue of bad images and prompts given to ``ImagePredictor``: each is refused with an
error that names what was wrong, and the predictor keeps its image (the same click gives the
same mask afterwards)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_backend import ImagePredictor
from tests.images import synthetic_image

H, W = 48, 64
GOOD_POINT = ([[20.0, 20.0]], [1])


@pytest.fixture(scope="module")
def predictor(model):
    p = ImagePredictor(model)
    p.set_image(synthetic_image(H, W))
    return p


@pytest.fixture(scope="module")
def reference_mask(predictor):
    return predictor.predict(*GOOD_POINT, multimask=False).masks


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _png_bytes(array: np.ndarray, **options) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **options)
    return buffer.getvalue()


# name -> (the bad image, or a function of tmp_path giving it; error type; words the message must hold)
BAD_IMAGES = {
    "None": (None, TypeError, "Unsupported image type NoneType"),
    "a number": (3.5, TypeError, "Unsupported image type float"),
    "a dict": ({"pixels": 1}, TypeError, "Unsupported image type dict"),
    "a list of lists": ([[0, 1], [2, 3]], TypeError, "Unsupported image type list"),
    "bytes": (b"\x89PNG....", TypeError, "Unsupported image type bytes"),
    "1-D array": (np.zeros(10, np.uint8), ValueError, "Expected an image of shape"),
    "4-D array": (np.zeros((1, 8, 8, 3), np.uint8), ValueError, "Expected an image of shape"),
    "2 channels": (np.zeros((8, 8, 2), np.uint8), ValueError, "Expected an image of shape"),
    "5 channels": (np.zeros((8, 8, 5), np.uint8), ValueError, "Expected an image of shape"),
    "channels first 5": (np.zeros((5, 8, 8), np.uint8), ValueError, "Expected an image of shape"),
    "zero height": (np.zeros((0, 8, 3), np.uint8), ValueError, "empty"),
    "zero width": (np.zeros((8, 0, 3), np.uint8), ValueError, "empty"),
    "bool array": (np.zeros((8, 8, 3), bool), TypeError, "Unsupported image dtype bool"),
    "int64 array": (np.zeros((8, 8, 3), np.int64), TypeError, "Unsupported image dtype int64"),
    "complex array": (np.zeros((8, 8, 3), np.complex64), TypeError, "Unsupported image dtype complex64"),
    "object array": (np.array([[object()]]), TypeError, "Unsupported image dtype object"),
    "string array": (np.full((8, 8, 3), "a"), TypeError, "Unsupported image dtype"),
    "float 0-255": (np.full((8, 8, 3), 200.0), ValueError, "Divide by 255"),
    "float negative": (np.full((8, 8, 3), -0.5), ValueError, "values in [0, 1]"),
    "float NaN": (np.full((8, 8, 3), np.nan, np.float32), ValueError, "NaN"),
    "float inf": (np.full((8, 8, 3), np.inf), ValueError, "infinite"),
    "half NaN": (np.where(np.eye(8, dtype=bool)[..., None], np.nan, 0.5).repeat(3, 2), ValueError, "NaN"),
    "tensor NaN": (torch.full((3, 8, 8), float("nan")), ValueError, "NaN"),
    "tensor 0-255 float": (torch.full((3, 8, 8), 255.0), ValueError, "Divide by 255"),
    "tensor 1-D": (torch.zeros(12), ValueError, "Expected an image of shape"),
    "missing file": (lambda tmp: tmp / "nothing.png", FileNotFoundError, "not found"),
    "a folder": (lambda tmp: tmp, FileNotFoundError, "not found"),
    "empty file": (lambda tmp: _write(tmp, "empty.png", b""), ValueError, "Could not read"),
    "text as .png": (lambda tmp: _write(tmp, "notes.png", b"just some text\n"), ValueError, "Could not read"),
    "html as .jpg": (lambda tmp: _write(tmp, "page.jpg", b"<html><body>hi</body></html>"), ValueError, "image"),
    "truncated png": (
        lambda tmp: _write(tmp, "cut.png", _png_bytes(synthetic_image(32, 32))[:120]),
        ValueError,
        "Could not read",
    ),
    "png header only": (lambda tmp: _write(tmp, "head.png", b"\x89PNG\r\n\x1a\n"), ValueError, "Could not read"),
    "jpeg header only": (lambda tmp: _write(tmp, "head.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF"), ValueError, "image"),
    "a pickle as .png": (lambda tmp: _write(tmp, "evil.png", b"\x80\x04\x95\x00cos\nsystem\n."), ValueError, "image"),
    "a zip as .png": (lambda tmp: _write(tmp, "arch.png", b"PK\x03\x04" + b"\x00" * 40), ValueError, "image"),
}


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# Unusual but valid pictures: all must load (as RGB) and segment.
ODD_IMAGES = {
    "palette png": lambda: Image.fromarray(synthetic_image(H, W)).convert("P"),
    "cmyk": lambda: Image.fromarray(synthetic_image(H, W)).convert("CMYK"),
    "grayscale L": lambda: Image.fromarray(synthetic_image(H, W)).convert("L"),
    "1-bit": lambda: Image.fromarray(synthetic_image(H, W)).convert("1"),
    "LA": lambda: Image.fromarray(synthetic_image(H, W)).convert("LA"),
    "RGBA": lambda: Image.fromarray(synthetic_image(H, W)).convert("RGBA"),
    "YCbCr": lambda: Image.fromarray(synthetic_image(H, W)).convert("YCbCr"),
    "HSV": lambda: Image.fromarray(synthetic_image(H, W)).convert("HSV"),
    "16-bit": lambda: Image.fromarray(synthetic_image(H, W)[..., 0].astype(np.uint16) * 257),
    "float F": lambda: Image.fromarray(synthetic_image(H, W)[..., 0].astype(np.float32) / 7),
    "int32 I": lambda: Image.fromarray(synthetic_image(H, W)[..., 0].astype(np.int32) - 100),
    "1x1 pixel": lambda: np.full((1, 1, 3), 128, np.uint8),
    "one row": lambda: np.full((1, 300, 3), 128, np.uint8),
    "one column": lambda: np.full((300, 1, 3), 128, np.uint8),
    "constant float": lambda: np.full((H, W), 0.5, np.float32),
    "channels-first tensor": lambda: torch.rand(3, H, W),
    "bf16 tensor": lambda: torch.rand(H, W, 3).to(torch.bfloat16),
    "non-contiguous view": lambda: synthetic_image(H, 2 * W)[:, ::2],
    "read-only array": lambda: _read_only(synthetic_image(H, W)),
}

# name -> (predict keyword arguments, error type, words)
BAD_PROMPTS = {
    "labels missing": (dict(points=[[1, 1]]), ValueError, "labels are required"),
    "point NaN": (dict(points=[[np.nan, 1]], labels=[1]), ValueError, "NaN"),
    "point inf": (dict(points=[[np.inf, 1]], labels=[1]), ValueError, "finite"),
    "point outside right": (dict(points=[[W + 5, 1]], labels=[1]), ValueError, "outside"),
    "point outside below": (dict(points=[[1, H + 5]], labels=[1]), ValueError, "outside"),
    "point negative": (dict(points=[[-3, 1]], labels=[1]), ValueError, "outside"),
    "point 3 numbers": (dict(points=[[1, 2, 3]], labels=[1]), ValueError, "(N, 2)"),
    "point a string": (dict(points="10,10", labels=[1]), (TypeError, ValueError), "points"),
    "point a dict": (dict(points={"x": 1}, labels=[1]), (TypeError, ValueError), "points"),
    "points empty": (dict(points=np.zeros((0, 2)), labels=np.zeros(0)), ValueError, "empty"),
    "labels too long": (dict(points=[[1, 1]], labels=[1, 1]), ValueError, "one entry per point"),
    "labels batched wrong": (dict(points=np.ones((2, 3, 2)), labels=np.ones(3)), ValueError, "(2, 3)"),
    "label 2": (dict(points=[[1, 1]], labels=[2]), ValueError, "1 (positive) or 0 (negative)"),
    "label -1": (dict(points=[[1, 1]], labels=[-1]), ValueError, "1 (positive) or 0 (negative)"),
    "label 0.5": (dict(points=[[1, 1]], labels=[0.5]), ValueError, "1 (positive) or 0 (negative)"),
    "label NaN": (dict(points=[[1, 1]], labels=[np.nan]), ValueError, "NaN"),
    "label a string": (dict(points=[[1, 1]], labels=["yes"]), (TypeError, ValueError), "labels"),
    "box 3 numbers": (dict(box=[1, 1, 5]), ValueError, "box"),
    "box flipped x": (dict(box=[10, 1, 5, 5]), ValueError, "x1 < x0"),
    "box flipped y": (dict(box=[1, 10, 5, 5]), ValueError, "y1 < y0"),
    "box NaN": (dict(box=[1, 1, np.nan, 5]), ValueError, "NaN"),
    "box outside": (dict(box=[1, 1, W + 50, 5]), ValueError, "outside"),
    "box a string": (dict(box="1 1 5 5"), (TypeError, ValueError), "box"),
    "mask_input wrong size": (dict(mask_input=np.zeros((1, 10, 10), np.float32)), ValueError, "mask_input"),
    "mask_input NaN": (dict(mask_input=np.full((1, 64, 64), np.nan, np.float32)), ValueError, "NaN"),
    "mask_input 4-D wrong": (dict(mask_input=np.zeros((2, 2, 64, 64), np.float32)), ValueError, "mask_input"),
    "mask_input a string": (dict(mask_input="mask"), (TypeError, ValueError), "mask_input"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_a_bad_image_is_refused_and_the_predictor_keeps_its_image(predictor, reference_mask, tmp_path, case):
    image, error, words = BAD_IMAGES[case]
    if callable(image):
        image = image(tmp_path)
    with pytest.raises(error) as raised:
        predictor.set_image(image)
    assert words.lower() in str(raised.value).lower(), str(raised.value)
    np.testing.assert_array_equal(predictor.predict(*GOOD_POINT, multimask=False).masks, reference_mask)


@pytest.mark.parametrize("case", list(ODD_IMAGES))
def test_an_unusual_but_valid_picture_loads_and_segments(model, case):
    p = ImagePredictor(model)
    image = ODD_IMAGES[case]()
    p.set_image(image)
    h, w = p.orig_hw
    masks = p.predict([[w / 2, h / 2]], [1], multimask=False).masks
    assert masks.shape == (1, h, w) and masks.dtype == bool


@pytest.mark.parametrize("case", list(BAD_PROMPTS))
def test_a_bad_prompt_is_refused_by_name_and_the_next_click_works(predictor, reference_mask, case):
    kwargs, error, words = BAD_PROMPTS[case]
    with pytest.raises(error) as raised:
        predictor.predict(**kwargs)
    assert words.lower() in str(raised.value).lower(), str(raised.value)
    np.testing.assert_array_equal(predictor.predict(*GOOD_POINT, multimask=False).masks, reference_mask)
