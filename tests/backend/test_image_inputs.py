"""Every kind of image the predictor accepts, and clear errors for the rest."""

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_backend import ImagePredictor
from sam2_backend.inputs import image_to_tensor
from tests.images import synthetic_image
from tests.models import tiny_model


@pytest.fixture(scope="module")
def predictor():
    pred = ImagePredictor(tiny_model())
    pred.set_image(synthetic_image(60, 80))
    return pred


def test_image_forms_give_the_same_tensor(tmp_path):
    rgb = synthetic_image(40, 50)
    expected = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    path = tmp_path / "img.png"
    Image.fromarray(rgb).save(path)
    rgba = np.concatenate([rgb, np.full((40, 50, 1), 7, np.uint8)], axis=2)
    forms = {
        "uint8": rgb,
        "float": rgb.astype(np.float64) / 255,
        "rgba": rgba,
        "pil": Image.fromarray(rgb),
        "pil-rgba": Image.fromarray(rgba),
        "path": path,
        "str-path": str(path),
        "tensor-hwc": torch.from_numpy(rgb),
        "tensor-chw": torch.from_numpy(rgb).permute(2, 0, 1).float() / 255,
    }
    for name, form in forms.items():
        torch.testing.assert_close(image_to_tensor(form), expected, atol=1e-6, rtol=0, msg=name)


def test_grayscale_is_replicated():
    gray = synthetic_image(30, 20)[:, :, 0]
    for form in (gray, gray[:, :, None], Image.fromarray(gray)):
        t = image_to_tensor(form)
        assert t.shape == (3, 30, 20)
        torch.testing.assert_close(t[0], t[2])
        torch.testing.assert_close(t[0], torch.from_numpy(gray).float() / 255)


@pytest.mark.parametrize(
    "bad, error, words",
    [
        (np.zeros((0, 10, 3), np.uint8), ValueError, "empty"),
        (np.zeros((10, 10, 5), np.uint8), ValueError, "shape"),
        (np.zeros((2, 10, 10, 3), np.uint8), ValueError, "shape"),
        (np.full((10, 10, 3), np.nan, np.float32), ValueError, "NaN"),
        (np.full((10, 10, 3), 200.0), ValueError, "[0, 1]"),
        (np.zeros((10, 10, 3), np.int64), TypeError, "dtype"),
        (np.zeros((10, 10, 3), bool), TypeError, "dtype"),
        ([[1, 2], [3, 4]], TypeError, "Unsupported image type"),
        ("/no/such/image.png", FileNotFoundError, "not found"),
    ],
)
def test_bad_images_raise_clear_errors(bad, error, words):
    with pytest.raises(error, match=None) as info:
        image_to_tensor(bad)
    assert words in str(info.value)


def test_corrupt_image_file(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ValueError, match="Could not read"):
        image_to_tensor(path)


@pytest.mark.parametrize(
    "prompt, error, words",
    [
        (dict(points=[[10, 10]]), ValueError, "labels are required"),
        (dict(points=[[10, 10], [20, 20]], labels=[1]), ValueError, "one entry per point"),
        (dict(points=[[10, 10, 3]], labels=[1]), ValueError, "shape"),
        (dict(points=[[float("nan"), 10]], labels=[1]), ValueError, "NaN"),
        (dict(points=[[500, 10]], labels=[1]), ValueError, "outside the image"),
        (dict(points=[[-1, 10]], labels=[1]), ValueError, "outside the image"),
        (dict(points=[[10, 10]], labels=[2]), ValueError, "labels must be 1"),
        (dict(points=[["a", "b"]], labels=[1]), TypeError, "numeric"),
        (dict(points=np.zeros((0, 2)), labels=[]), ValueError, "empty"),
        (dict(labels=[1]), ValueError, "without points"),
        (dict(box=[50, 10, 20, 40]), ValueError, "x1 < x0"),
        (dict(box=[10, 40, 20, 10]), ValueError, "y1 < y0"),
        (dict(box=[10, 10, 20]), ValueError, "shape"),
        (dict(box=[10, 10, 200, 40]), ValueError, "outside the image"),
        (dict(mask_input=np.zeros((1, 32, 32))), ValueError, "mask_input must be"),
        (dict(points=[[[10, 10]], [[20, 20]]], labels=[[1], [1]], box=[[1, 1, 5, 5]] * 3), ValueError, "batch size"),
        ({}, ValueError, "at least one prompt"),
    ],
)
def test_bad_prompts_raise_clear_errors(predictor, prompt, error, words):
    with pytest.raises(error) as info:
        predictor.predict(**prompt)
    assert words in str(info.value)
    # The embedding survives a bad call.
    assert predictor.predict(points=[[10, 10]], labels=[1]).masks.shape == (3, 60, 80)


def test_predict_before_set_image():
    pred = ImagePredictor(tiny_model())
    with pytest.raises(RuntimeError, match="set_image"):
        pred.predict(points=[[1, 1]], labels=[1])


def test_predictor_needs_a_model():
    with pytest.raises(TypeError, match="SAM2Model"):
        ImagePredictor("tiny")


def test_repeated_predicts_reuse_the_embedding(predictor, monkeypatch):
    calls = []
    monkeypatch.setattr(predictor.model, "image_features", lambda *a: calls.append(a) or pytest.fail("re-encoded"))
    first = predictor.predict(points=[[30, 20]], labels=[1])
    second = predictor.predict(points=[[30, 20]], labels=[1])
    np.testing.assert_array_equal(first.logits, second.logits)
    assert not calls
