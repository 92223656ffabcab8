"""Tensors on a GPU given to the widgets' Python API (issue 13, gpu_readiness.md B3).

``np.asarray`` refuses a CUDA tensor ("can't convert cuda:0 device type tensor to numpy"); the
widgets take every array through ``sam2_widget.checks.to_host`` (``.detach().cpu()``). Without a
GPU, :class:`OnDevice` stands for one: numpy cannot read it until ``.cpu()`` brings it over.
"""

import numpy as np
import pytest
import torch

from sam2_backend.rle import decode_mask
from sam2_widget import Sam2Widget
from sam2_widget.checks import to_host
from tests.images import synthetic_image
from tests.widget.harness import video_widget

REFUSAL = "can't convert cuda:0 device type tensor to numpy"


class OnDevice(torch.Tensor):
    """A tensor that behaves as one on a GPU towards numpy: refused until ``.cpu()``."""

    def __array__(self, *args, **kwargs):
        raise TypeError(REFUSAL)

    def numpy(self, *args, **kwargs):
        raise TypeError(REFUSAL)

    def cpu(self, *args, **kwargs):
        return torch.Tensor.cpu(self, *args, **kwargs).as_subclass(torch.Tensor)


def on_device(value, dtype=None) -> OnDevice:
    return torch.as_tensor(np.asarray(value), dtype=dtype).as_subclass(OnDevice)


def test_the_stand_in_is_refused_as_a_gpu_tensor_is():
    fake = on_device([[1, 2]])
    with pytest.raises(TypeError, match="cuda:0"):
        np.asarray(fake)
    with pytest.raises(TypeError, match="cuda:0"):
        fake.detach().numpy()
    np.testing.assert_array_equal(to_host(fake), [[1, 2]])


def test_to_host():
    bf16 = to_host(torch.tensor([0.0, 1.0], dtype=torch.bfloat16))  # numpy has no bf16
    assert bf16.dtype == np.float32 and bf16.tolist() == [0.0, 1.0]
    grad = to_host(torch.ones(2, requires_grad=True))  # detached
    assert isinstance(grad, np.ndarray) and grad.tolist() == [1.0, 1.0]
    given = [[1, 2]]
    assert to_host(given) is given  # not a tensor: left for the checks to judge


def test_image_widget_takes_gpu_tensors(model):
    image = synthetic_image(90, 120)
    mask = np.zeros((90, 120), bool)
    mask[20:50, 30:70] = True
    w = Sam2Widget(image, model=model)
    try:
        masks = w.add_mask(on_device(mask))
        (given,) = masks.values()
        np.testing.assert_array_equal(given, mask)
        w.add_mask(on_device(mask, torch.bfloat16))  # a 0/1 bf16 mask from another model
        clicked = w.add_points(on_device([[40.0, 30.0]]), on_device([1]))
        boxed = w.add_box(on_device([10.0, 10.0, 60.0, 50.0]), obj_id=w.selected_id)
        assert len(clicked) == len(boxed) == 2  # the click and the box refine the selected (second) mask
        assert [p["x"] for p in w.prompts if p["type"] == "point"] == [40.0]
    finally:
        w.close()


def test_video_widget_takes_gpu_tensors(clip, video_model):
    w, _ = video_widget(clip, video_model)
    try:
        h, w_ = clip.shape[1:3]
        mask = np.zeros((h, w_), bool)
        mask[10:40, 20:60] = True
        masks = w.add_mask(on_device(mask), frame=0)
        (obj,) = masks
        np.testing.assert_array_equal(decode_mask(w._session._mask_prompts[(0, obj)], h, w_), mask)  # as given
        w.add_points(on_device([[30.0, 40.0]]), on_device([1]), frame=1)
        w.add_box(on_device([[60.0, 28.0, 110.0, 60.0]]), frame=2)
        w.wait_idle(60)
        assert w._session.prompt_frames() == [0, 1, 2]
        assert len(w._session.add_mask_objects(3, [on_device(mask)])) == 1
    finally:
        w.close()
