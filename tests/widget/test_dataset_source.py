"""Image sources at scale: a folder, paths, a COCO file's images or a lazy sequence are listed
without decoding anything and read one item at a time, only when asked."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_widget.dataset import open_dataset
from sam2_widget.dataset_source import DatasetSource
from sam2_widget.images import ImageReadError
from tests.widget.dataset_files import NAMES, SIZES, compressed, write_images


class CountingSequence:
    """A lazy data set that counts the items read (as a ``datasets`` column or torch Dataset would load them)."""

    def __init__(self, n: int, hw=(20, 30)) -> None:
        self.n, self.hw, self.reads = n, hw, []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        self.reads.append(i)
        return {"image": Image.fromarray(np.full((*self.hw, 3), i % 256, dtype=np.uint8)), "label": i}


def test_a_lazy_sequence_is_read_only_for_the_images_asked_for():
    seq = CountingSequence(5000)
    data = open_dataset(seq, {4: {1: np.ones((20, 30), dtype=bool)}})
    source = data.images
    assert len(source) == 5000 and source.name(4999) == "image 5000" and source.path(0) is None
    assert source.known_size(3) is None
    assert seq.reads == []  # opening, names and counts read nothing
    assert data.annotations.mask_count(4) == 1 and seq.reads == []
    assert source.pixels(3)[0, 0, 0] == 3 and seq.reads == [3]
    source.pixels(3)
    source.size(3)
    assert seq.reads == [3]  # cached
    [obj] = data.annotations.objects(4)  # the mask's size check reads its image, only it
    assert seq.reads == [3, 4] and obj.obj_id == 1


def test_items_of_every_kind_become_rgb_pixels(tmp_path):
    [path] = write_images(tmp_path, [(6, 8)], ["x.png"])
    chw = torch.rand(3, 6, 8)
    items = [path, np.zeros((6, 8, 3), dtype=np.uint8), (chw, 7), Image.new("L", (8, 6), 9)]
    source = DatasetSource.from_sequence(items)
    for i in range(len(items)):
        px = source.pixels(i)
        assert px.shape == (6, 8, 3) and px.dtype == np.uint8
    np.testing.assert_array_equal(source.pixels(0), np.asarray(Image.open(path).convert("RGB")))
    assert source.model_input(2) is chw and source.pixels(3)[0, 0].tolist() == [9, 9, 9]
    with pytest.raises(ImageReadError, match="item 0 is no image"):
        DatasetSource.from_sequence([object()]).pixels(0)


def test_folder_paths_and_coco_sources(tmp_path):
    write_images(tmp_path)
    folder = DatasetSource.from_folder(tmp_path)
    assert [folder.name(i) for i in range(3)] == NAMES and folder.size(1) == SIZES[1]
    paths = DatasetSource.from_paths([tmp_path / "c.png", tmp_path / "a.png"])
    assert paths.name(0) == "c.png" and paths.pixels(1).shape == (*SIZES[0], 3)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        DatasetSource.from_paths([tmp_path / "nope.png"])
    doc = {"images": [{"id": 1, "file_name": "b.png", "height": 24, "width": 32}, {"id": 2, "file_name": "gone.png"}]}
    coco = DatasetSource.from_coco(doc, tmp_path)
    assert coco.known_size(0) == (24, 32) and coco.known_size(1) is None
    assert coco.path(1) == tmp_path / "gone.png"
    with pytest.raises(ImageReadError, match="gone.png"):
        coco.pixels(1)  # a missing file fails when read, not when opened
    with pytest.raises(ValueError, match="no file_name"):
        DatasetSource.from_coco({"images": [{"id": 1}]}, tmp_path)


def test_ten_thousand_images_open_in_well_under_a_second(tmp_path):
    """The precise figures are benchmarks/bench_dataset.py's; this bound only catches a decode up front."""
    n = 10_000
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(n):
        (folder / f"{i:05d}.png").touch()  # never decoded: empty files are enough
    mask = np.zeros((48, 64), dtype=bool)
    mask[10:20, 5:40] = True
    seg = compressed(mask)
    doc = {
        "images": [{"id": i + 1, "file_name": f"{i:05d}.png", "height": 48, "width": 64} for i in range(n)],
        "annotations": [
            {"id": i + 1, "image_id": i + 1, "category_id": 1, "segmentation": seg, "iscrowd": 0} for i in range(n)
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    start = time.perf_counter()
    from_folder = DatasetSource.from_folder(folder)
    folder_s = time.perf_counter() - start
    start = time.perf_counter()
    data = open_dataset(folder, doc)
    coco_s = time.perf_counter() - start
    assert len(from_folder) == n and len(data.images) == n and data.annotations.report.loaded == n
    assert folder_s < 3 and coco_s < 3, (folder_s, coco_s)
    np.testing.assert_array_equal(data.annotations.objects(n - 1)[0].mask((48, 64)), mask)
