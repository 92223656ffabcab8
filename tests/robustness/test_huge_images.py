"""An image Pillow refuses as a decompression bomb: going to it in a set is answered with an
error ack that says what to do, the widget keeps its state and the other images still work."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sam2_widget import Sam2Widget
from tests.images import synthetic_image
from tests.widget.harness import Frontend


def test_going_to_a_decompression_bomb_answers_with_an_error(tmp_path, model, monkeypatch):
    for i, size in enumerate([(48, 64), (200, 300), (40, 56)]):
        Image.fromarray(synthetic_image(*size, seed=i)).save(tmp_path / f"{i}.png")
    # Pillow refuses images over twice MAX_IMAGE_PIXELS: make the middle one such an image.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)
    w = Sam2Widget(tmp_path, model=model)
    front = Frontend(w)
    try:
        w.add_points([[20, 20]], [1])
        before = {k: v.copy() for k, v in w.masks.items()}
        seq = front.send("goto", index=1)
        ack = front.ack(seq)
        assert not ack["ok"] and "decompression bomb" in ack["error"] and "MAX_IMAGE_PIXELS" in ack["error"]
        assert "1.png" in ack["error"] and w.error
        front.ack(front.send("goto", index=0))
        assert w.image_index == 0 and all(np.array_equal(w.masks[k], before[k]) for k in before)
        ok = front.ack(front.send("goto", index=2))
        assert ok["ok"] and w.image_index == 2 and w.error == ""
    finally:
        w.close()


def test_a_single_decompression_bomb_is_refused_with_what_to_do(tmp_path, model, monkeypatch):
    Image.fromarray(synthetic_image(200, 300)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)
    with pytest.raises(ValueError, match="decompression bomb.*MAX_IMAGE_PIXELS"):
        Sam2Widget(tmp_path / "big.png", model=model)


def test_a_decompression_bomb_in_a_clip_folder_or_set_image_says_what_to_do(tmp_path, monkeypatch):
    from sam2_backend.inputs import image_to_tensor
    from sam2_backend.video.sources import FrameReadError, open_source

    Image.fromarray(synthetic_image(200, 300)).save(tmp_path / "0.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)
    with pytest.raises(ValueError, match="safety limit.*MAX_IMAGE_PIXELS = None"):
        image_to_tensor(tmp_path / "0.png")
    with pytest.raises(FrameReadError, match="frame 0 .*safety limit.*MAX_IMAGE_PIXELS = None"):
        open_source(tmp_path).get(0)
