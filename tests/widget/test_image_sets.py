"""Image sets: folders, lists and stacks, navigation, background encoding, unreadable images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sam2_backend.video.sources import FolderSource
from sam2_widget import ImageReadError, ImageSet, Sam2Widget
from tests.images import synthetic_image
from tests.widget.harness import EncodingGate, make_widget, reference_mask

H, W = 60, 80


@pytest.fixture
def folder(tmp_path):
    """a2.png, a10.png, b.png (unreadable), c.png: natural order puts a2 before a10."""
    images = {}
    for seed, name in enumerate(["a10.png", "a2.png", "c.png"]):
        images[name] = synthetic_image(H, W, seed=seed)
        Image.fromarray(images[name]).save(tmp_path / name)
    (tmp_path / "b.png").write_bytes(b"\x89PNG but not really")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path, images


def test_folder_navigation_encodes_in_the_background(model, folder, monkeypatch):
    path, images = folder
    gate = EncodingGate(monkeypatch)
    w, fe = make_widget(path, model)
    assert w.image_count == 4 and w.image_name == "a2.png"
    assert gate.started.wait(30)  # image 0 is being encoded (and stuck there)

    w.goto(1)  # returns at once: encoding runs in the worker, behind image 0
    assert (w.image_index, w.image_name, w.image_width, w.image_height) == (1, "a10.png", W, H)
    seq = fe.send("add_point", x=30.0, y=20.0, label=1)
    assert len(w.prompts) == 1 and seq not in fe.acks()  # recorded, answered after encoding
    gate.open()
    assert fe.ack(seq)["ok"]
    assert gate.encoded == 2
    np.testing.assert_array_equal(w.masks[1], reference_mask(model, images["a10.png"], [[30.0, 20.0]], [1]))

    # Each image is segmented on its own; the object exists on all of them.
    fe.send("goto", index=3)
    assert w.masks == {} and w.prompts == [] and [o["id"] for o in w.objects] == [1]
    w.add_points([[10, 10]], [1], obj_id=1)
    np.testing.assert_array_equal(w.masks[1], reference_mask(model, images["c.png"], [[10, 10]], [1]))
    w.goto(1)  # back: masks as they were, embedding from the cache
    np.testing.assert_array_equal(w.masks[1], reference_mask(model, images["a10.png"], [[30.0, 20.0]], [1]))
    w.wait_idle(30)
    assert gate.encoded == 3
    results = w.results
    assert results.names == ["a2.png", "a10.png", "b.png", "c.png"]
    assert [sorted(results.masks(i)) for i in range(4)] == [[], [1], [], [1]]
    w.close()


def test_an_unreadable_image_is_an_error_in_the_widget_and_loses_nothing(model, folder):
    path, _ = folder
    w, fe = make_widget(path, model)
    w.add_points([[20, 20]], [1])
    before = w.masks[1].copy()

    seq = fe.send("goto", index=2)  # b.png
    ack = fe.ack(seq)
    assert not ack["ok"] and "b.png" in ack["error"]
    assert w.image_index == 2 and w.image_name == "b.png" and w.error == ack["error"]
    assert (w.image_width, w.image_height, w.image_jpeg, w.label_rle) == (0, 0, b"", b"")
    ack = fe.ack(fe.send("add_point", x=1.0, y=1.0, label=1))
    assert not ack["ok"] and "b.png" in ack["error"]
    with pytest.raises(ImageReadError):
        w.add_points([[1, 1]], [1])
    with pytest.raises(ImageReadError):
        w.goto(2)

    fe.send("goto", index=3)  # moving on works and clears the error
    assert w.error == "" and w.image_name == "c.png"
    w.goto(0)
    np.testing.assert_array_equal(w.masks[1], before)
    with pytest.warns(UserWarning, match="leaves out image 3"):
        coco = w.results.to_coco()
    assert [im["file_name"] for im in coco["images"]] == ["a2.png", "a10.png", "c.png"]
    w.close()


def test_a_set_whose_first_image_is_unreadable_opens_with_an_error(model, folder):
    path, _ = folder
    w = Sam2Widget([path / "b.png", path / "c.png"], model=model)
    assert w.image_index == 0 and "b.png" in w.error and w.status == "error"
    w.goto(1)
    assert w.error == "" and w.image_width == W
    w.close()


def test_a_folder_lists_the_same_files_as_an_image_set_and_as_a_clip(tmp_path):
    names = ["f10.png", "F2.JPG", "f1.gif", "f01.bmp", "f3.webp", "f4.tif", "f5.tiff", "f6.jpeg"]
    for seed, name in enumerate(names):
        Image.fromarray(synthetic_image(H, W, seed=seed)).save(tmp_path / name)
    (tmp_path / ".f0.png").write_bytes(b"hidden")  # e.g. a macOS resource fork
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub.png").mkdir()  # a folder, whatever its name
    images = ImageSet.from_source(tmp_path)
    listed = [images.name(i) for i in range(len(images))]
    assert listed == ["f01.bmp", "f1.gif", "F2.JPG", "f3.webp", "f4.tif", "f5.tiff", "f6.jpeg", "f10.png"]
    with FolderSource(tmp_path) as clip:
        assert [p.name for p in clip.files] == listed
        for i in range(len(images)):  # and reads the same pixels
            np.testing.assert_array_equal(clip.get(i), images.pixels(i))


def test_lists_and_stacks_of_arrays(model):
    a, b = synthetic_image(H, W, seed=3), synthetic_image(H, W, seed=4)
    w = Sam2Widget(np.stack([a, b]), model=model)
    assert w.image_count == 2 and w.image_name == "image 1"
    w.goto(1)
    masks = w.add_box([5, 5, 60, 50])
    np.testing.assert_array_equal(masks[1], reference_mask(model, b, box=[5, 5, 60, 50]))
    w.close()
    from PIL import Image as PILImage

    w = Sam2Widget([a, PILImage.fromarray(b)], model=model)
    assert (w.image_count, w.image_name) == (2, "image 1")
    w.close()


def test_the_embedding_cache_is_bounded(model, monkeypatch):
    gate = EncodingGate(monkeypatch)
    gate.open()
    images = [synthetic_image(H, W, seed=s) for s in range(3)]
    w = Sam2Widget(images, model=model, cache_size=1)
    for index in (0, 1, 0):
        w.goto(index)
        w.wait_idle(30)
    assert gate.encoded == 3  # image 0 was evicted by image 1 and encoded again
    w.close()
