"""The compact store of tracking results: codec, readers, COCO export, label-map PNGs, memory."""

import gc
import tracemalloc

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_api

from sam2_backend.label_maps import label_dtype
from sam2_backend.rle import decode_mask, encode_mask, rle_area_and_box
from sam2_backend.video.results import TrackResults


def blob(h, w, rng, scale=1.0):
    """A wobbly disc somewhere in the frame, as a tracked object typically looks."""
    yy, xx = np.ogrid[:h, :w]
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    r = rng.uniform(0.05, 0.2) * min(h, w) * scale
    angle = np.arctan2(yy - cy, xx - cx)
    radius = r * (1 + 0.2 * np.sin(5 * angle + rng.uniform(0, 6)))
    return (yy - cy) ** 2 + (xx - cx) ** 2 < radius**2


def coco_box_xyxy(mask):
    x, y, w, h = mask_api.toBbox(mask_api.encode(np.asfortranarray(mask.astype(np.uint8))))
    return (int(x), int(y), int(x + w), int(y + h))


# --- codec ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (3, 5), (37, 53), (64, 64)])
def test_codec_round_trip(shape):
    rng = np.random.default_rng(sum(shape))
    cases = [
        np.zeros(shape, bool),
        np.ones(shape, bool),
        rng.random(shape) < 0.5,
        rng.random(shape) < 0.02,
        rng.random(shape) > 0.02,
    ]
    first = np.zeros(shape, bool)
    first.flat[0] = True
    last = np.zeros(shape, bool)
    last.flat[-1] = True
    cases += [first, last]
    for mask in cases:
        runs = encode_mask(mask)
        assert runs.dtype == np.uint32 and runs.sum() == mask.size
        back = decode_mask(runs, *shape)
        assert back.dtype == bool and back.shape == shape and back.flags.c_contiguous
        np.testing.assert_array_equal(back, mask)
        area, box = rle_area_and_box(runs, shape[1])
        assert area == mask.sum()
        assert box == (coco_box_xyxy(mask) if mask.any() else None)


def test_codec_empty_is_tiny_and_wrapping_runs_give_full_width_box():
    assert encode_mask(np.zeros((1080, 1920), bool)).nbytes == 4
    mask = np.zeros((10, 20), bool)
    mask.flat[35:45] = True  # ends row 1 at x=19, starts row 2 at x=0
    assert rle_area_and_box(encode_mask(mask), 20) == (10, (0, 1, 20, 3))


def test_codec_720p_blob():
    rng = np.random.default_rng(0)
    mask = blob(720, 1280, rng) | blob(720, 1280, rng)
    runs = encode_mask(mask)
    np.testing.assert_array_equal(decode_mask(runs, 720, 1280), mask)
    assert runs.nbytes < 0.02 * mask.nbytes


# --- the store --------------------------------------------------------------------------


def make_store(h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    res = TrackResults(h, w)
    truth = {}
    for frame in (2, 3, 5):
        for oid in (1, 4):
            m = blob(h, w, rng, scale=2.0)
            res.set(frame, oid, m, float(rng.normal()))
            truth[frame, oid] = m
    empty = np.zeros((h, w), bool)
    res.set(3, 7, empty, -5.0)  # an object absent on its only frame
    truth[3, 7] = empty
    return res, truth


def test_set_and_read_one_frame():
    res, truth = make_store()
    assert res.frames == [2, 3, 5] and len(res) == 3 and 3 in res and 4 not in res
    assert res.object_ids == [1, 4, 7]
    np.testing.assert_array_equal(res.mask(2, 4), truth[2, 4])
    fm = res.frame_masks(3)
    assert list(fm) == [1, 4, 7]
    for oid, m in fm.items():
        np.testing.assert_array_equal(m, truth[3, oid])
    assert set(res.scores(3)) == {1, 4, 7} and res.scores(3)[7] == -5.0
    boxes = res.boxes(3)
    assert boxes[7] is None
    assert boxes[1] == coco_box_xyxy(truth[3, 1])
    assert res.areas(5) == {1: truth[5, 1].sum(), 4: truth[5, 4].sum()}
    rle = res.rle(2, 1)
    assert not rle.flags.writeable
    # replacing keeps the counts right
    res.set(2, 1, ~truth[2, 1], 1.0)
    np.testing.assert_array_equal(res.mask(2, 1), ~truth[2, 1])
    assert res.object_ids == [1, 4, 7]


def test_torch_tensor_masks_are_accepted():
    torch = pytest.importorskip("torch")
    res = TrackResults(4, 5)
    m = torch.zeros(4, 5, dtype=torch.bool)
    m[1:3, 2:4] = True
    res.set(0, 1, m, torch.tensor(2.5))
    assert res.boxes(0) == {1: (2, 1, 4, 3)} and res.scores(0) == {1: 2.5}


def test_masks_and_labels_over_ranges_with_untracked_frames():
    res, truth = make_store()
    masks = res.masks(1, 6)
    assert masks.shape == (5, 3, 24, 32) and masks.dtype == bool
    for t, frame in enumerate(range(1, 6)):
        for n, oid in enumerate([1, 4, 7]):
            np.testing.assert_array_equal(masks[t, n], truth.get((frame, oid), np.zeros((24, 32), bool)))
    assert not masks[0].any() and not masks[3].any()  # frames 1 and 4 are untracked
    assert res.masks().shape == (6, 3, 24, 32)  # default: frame 0 .. last tracked
    assert res.masks(obj_ids=[4]).shape == (6, 1, 24, 32)

    labels = res.labels(1, 6)
    assert labels.shape == (5, 24, 32) and labels.dtype == np.uint8
    for t, frame in enumerate(range(1, 6)):
        expected = np.zeros((24, 32), np.uint8)
        for oid in (4, 1):  # descending: the smallest id wins overlaps
            if (frame, oid) in truth:
                expected[truth[frame, oid]] = oid
        np.testing.assert_array_equal(labels[t], expected)
    # an explicit order: the first listed wins
    over = res.labels(2, 3, obj_ids=[4, 1])[0]
    both = truth[2, 1] & truth[2, 4]
    assert both.any(), "fixture should have an overlap"
    assert (over[both] == 4).all() and (res.label_map(2)[both] == 1).all()
    assert not res.labels(8, 10).any()

    with_count = TrackResults(24, 32, num_frames=10)
    with_count.set(0, 1, truth[2, 1], 0.0)
    assert with_count.masks().shape == (10, 1, 24, 32)


def test_remove_object_and_clear_frame():
    res, truth = make_store()
    nbytes = res.nbytes
    res.remove_object(7)
    assert res.object_ids == [1, 4] and res.frames == [2, 3, 5] and res.nbytes == nbytes - 4
    res.clear_frame(5, 4)
    assert list(res.frame_masks(5)) == [1]
    res.clear_frame(5)
    assert res.frames == [2, 3]
    res.remove_object(4)
    res.remove_object(1)
    assert res.frames == [] and res.object_ids == [] and res.nbytes == 0
    res.clear_frame(3, missing_ok=True)
    res2, _ = make_store()
    res2.clear()
    assert res2.frames == [] and res2.nbytes == 0


def test_clear_errors():
    res, truth = make_store()
    with pytest.raises(KeyError, match=r"frame 4 is not tracked; tracked frames: 2-3, 5"):
        res.mask(4, 1)
    with pytest.raises(KeyError, match=r"object 9 is not on frame 2; objects there: 1, 4"):
        res.mask(2, 9)
    with pytest.raises(KeyError, match=r"objects: 1, 4, 7"):
        res.remove_object(9)
    with pytest.raises(KeyError, match="not tracked"):
        res.clear_frame(4)
    with pytest.raises(KeyError, match="objects there"):
        res.clear_frame(2, 7)
    with pytest.raises(KeyError, match=r"objects \[9\]"):
        res.masks(obj_ids=[1, 9])
    for reader in (res.frame_masks, res.boxes, res.scores):
        with pytest.raises(KeyError):
            reader(0)
    with pytest.raises(ValueError, match="shape"):
        res.set(0, 1, np.zeros((32, 24), bool), 0.0)
    with pytest.raises(ValueError, match="bool"):
        res.set(0, 1, np.zeros((24, 32), np.uint8), 0.0)
    with pytest.raises(ValueError, match="positive"):
        res.set(0, 0, np.zeros((24, 32), bool), 0.0)
    with pytest.raises(ValueError, match="out of range"):
        TrackResults(2, 2, num_frames=3).set(3, 1, np.zeros((2, 2), bool), 0.0)
    with pytest.raises(ValueError, match="start"):
        res.masks(5, 2)


# --- exports ----------------------------------------------------------------------------


# pycocotools' decode trips numpy 2's copy-keyword deprecation inside pycocotools itself
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_to_coco_matches_pycocotools():
    res, truth = make_store(h=41, w=57)
    coco = res.to_coco(video_id=3, categories={4: "dog"}, file_name="{:05d}.jpg")
    assert [im["frame_index"] for im in coco["images"]] == list(range(6))
    im = coco["images"][2]
    assert im == {"id": 3, "video_id": 3, "frame_index": 2, "width": 57, "height": 41, "file_name": "00002.jpg"}
    assert coco["categories"] == [{"id": 1, "name": "object"}, {"id": 2, "name": "dog"}]
    anns = coco["annotations"]
    assert len(anns) == 6  # the empty mask of object 7 is left out
    assert len({a["id"] for a in anns}) == 6
    for ann in anns:
        frame, oid = ann["frame_index"], ann["track_id"]
        assert ann["obj_id"] == oid and ann["image_id"] == frame + 1 and ann["video_id"] == 3
        assert ann["category_id"] == (2 if oid == 4 else 1)
        seg = ann["segmentation"]
        assert isinstance(seg["counts"], str) and seg["size"] == [41, 57]
        np.testing.assert_array_equal(mask_api.decode(seg).astype(bool), truth[frame, oid])
        np.testing.assert_allclose(ann["bbox"], mask_api.toBbox(seg))
        assert ann["area"] == mask_api.area(seg)
        assert ann["score"] == pytest.approx(1 / (1 + np.exp(-ann["object_score_logit"])))
    streamed = list(res.iter_coco_annotations(video_id=3, categories={4: "dog"}))
    assert streamed == anns
    with_empty = res.to_coco(include_empty=True)["annotations"]
    assert len(with_empty) == 7 and [a["area"] for a in with_empty if a["track_id"] == 7] == [0.0]
    assert "file_name" not in res.to_coco()["images"][0]
    # big negative logits (NO_OBJ_SCORE) do not overflow
    res.set(0, 1, truth[2, 1], -1024.0)
    assert next(res.iter_coco_annotations())["score"] == 0.0


def test_save_label_maps_round_trip(tmp_path):
    res, _ = make_store()
    paths = res.save_label_maps(tmp_path / "labels", 1, 6)
    assert [p.name for p in paths] == ["00001.png", "00002.png", "00003.png", "00004.png", "00005.png"]
    labels = res.labels(1, 6)
    for path, expected in zip(paths, labels):
        image = Image.open(path)
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image), expected)

    palette = bytes(range(256)) * 3
    path = res.save_label_maps(tmp_path / "pal", 2, 3, palette=palette)[0]
    image = Image.open(path)
    assert image.mode == "P"
    np.testing.assert_array_equal(np.asarray(image), labels[1])


def test_save_label_maps_uint16_for_large_ids(tmp_path):
    rng = np.random.default_rng(1)
    res = TrackResults(20, 30)
    truth = {300: blob(20, 30, rng, 2.0), 70000 - 4465: blob(20, 30, rng, 2.0), 2: blob(20, 30, rng, 2.0)}
    for oid, m in truth.items():
        res.set(0, oid, m, 1.0)
    labels = res.labels()
    assert labels.dtype == np.uint16
    path = res.save_label_maps(tmp_path)[0]
    assert path.name == "00000.png"
    image = Image.open(path)
    assert image.mode in ("I;16", "I")  # 16-bit grayscale (Pillow reads it as one of these)
    back = np.asarray(image)
    np.testing.assert_array_equal(back.astype(np.int64), labels[0].astype(np.int64))
    assert set(np.unique(back)) <= {0, 2, 300, 65535}

    res.set(0, 70000, truth[2], 1.0)
    assert res.labels().dtype == np.uint32
    assert res.labels()[0][truth[2]].tolist() == [2] * int(truth[2].sum())  # 2 wins its overlap with 70000
    with pytest.raises(ValueError, match="16-bit"):
        res.save_label_maps(tmp_path)


def test_label_dtype_is_the_smallest_unsigned_type_for_the_largest_id():
    assert [label_dtype(i) for i in (0, 255, 256, 65535, 65536, 2**32 - 1)] == [
        np.uint8,
        np.uint8,
        np.uint16,
        np.uint16,
        np.uint32,
        np.uint32,
    ]
    for bad in (-1, 2**32):
        with pytest.raises(ValueError, match="object ids"):
            label_dtype(bad)
    res = TrackResults(2, 2)
    for top, dtype in ((255, np.uint8), (256, np.uint16), (65536, np.uint32)):
        res.set(0, top, np.ones((2, 2), bool), 1.0)
        assert res.labels().dtype == dtype and res.label_map(0).dtype == dtype


# --- memory -----------------------------------------------------------------------------


def test_nbytes_of_a_long_720p_video_stays_small():
    rng = np.random.default_rng(0)
    h, w = 720, 1280
    # 12 distinct moving shapes per object reused across 1000 frames keeps the test fast;
    # each set() still encodes its own copy.
    shapes = [[blob(h, w, rng) for _ in range(12)] for _ in range(3)]
    res = TrackResults(h, w, num_frames=1000)
    for frame in range(1000):
        for n in range(3):
            res.set(frame, n + 1, shapes[n][frame % 12], 1.0)
    raw = 1000 * 3 * h * w  # bytes of the bool masks
    print(f"nbytes {res.nbytes / raw:.4%} of raw")
    assert res.nbytes < 0.01 * raw, res.nbytes / raw
    assert res.nbytes == sum(res.rle(f, o).nbytes for f in res.frames for o in (1, 2, 3))


def test_save_label_maps_streams(tmp_path):
    rng = np.random.default_rng(0)
    h, w = 360, 640
    res = TrackResults(h, w)
    masks = [blob(h, w, rng) for _ in range(4)]
    for frame in range(120):
        res.set(frame, 1, masks[frame % 4], 1.0)
        res.set(frame, 2, masks[(frame + 1) % 4], 1.0)
    del masks
    gc.collect()
    tracemalloc.start()
    try:
        res.save_label_maps(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(list(tmp_path.glob("*.png"))) == 120
    print(f"peak {peak / (h * w):.2f} frames")
    assert peak < 4 * h * w, peak  # a few frames' worth, not 120
