"""Exports for training code, each read back by the library that consumes it.

``to_supervision`` against the masks; ``save_yolo`` through supervision's YOLO reader
(``DetectionDataset.from_yolo``, masks filled from the polygons) by IoU; ``save_object_masks``
through PIL. Image sets are built directly from masks; clips through a ``VideoSession``
whose results are written directly, and once through a widget that tracked.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from sam2_backend.object_masks import object_folders
from sam2_widget import ImageSet, ImageSetResults, ObjectInfo
from sam2_widget.clip_results import ClipResults
from sam2_widget.session import make_entry
from sam2_widget.video_session import VideoSession
from tests.images import synthetic_image
from tests.widget.harness import VIDEO_FRAMES as T
from tests.widget.harness import video_widget

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # supervision warns when it falls back from OpenCV to NumPy
    sv = pytest.importorskip("supervision", reason="the 'supervision' extra is not installed")

H, W = 60, 80
UNICODE = "chat noir é 🐱"
YY, XX = np.mgrid[:H, :W]


def square(x0, y0, x1, y1, h=H, w=W):
    yy, xx = np.mgrid[:h, :w]
    return (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)


def disc(cx, cy, r, h=H, w=W):
    yy, xx = np.mgrid[:h, :w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 < r * r


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


# --- an image set -----------------------------------------------------------------------

OBJECTS = [
    ObjectInfo(1, "cat", "#ff0000"),
    ObjectInfo(2, UNICODE, "#00ff00"),
    ObjectInfo(3, "cat", "#0000ff"),  # the same name: the same class
    ObjectInfo(4, "never masked", "#ffff00"),
]
CLASSES = ["cat", UNICODE, "never masked"]
CLASS_OF = {1: 0, 2: 1, 3: 0, 4: 2}


@pytest.fixture
def image_set(tmp_path):
    """A PNG file with a space in its name, a JPEG with a unicode name, an in-memory image
    (no masks), and a fourth of another size; objects as OBJECTS."""
    src = tmp_path / "src"
    src.mkdir()
    paths = [src / "a photo.png", src / f"{UNICODE}.jpg"]
    Image.fromarray(synthetic_image(H, W, seed=0)).save(paths[0])
    Image.fromarray(synthetic_image(H, W, seed=1)).save(paths[1])
    images = ImageSet.from_source([*paths, synthetic_image(H, W, seed=2), synthetic_image(50, 70, seed=3)])
    masks = [
        {1: square(5, 5, 30, 25), 2: disc(55, 35, 15), 3: square(40, 2, 70, 12)},
        # object 1 in two parts (one YOLO line, one detection), object 2 empty (no detection)
        {1: square(5, 5, 20, 20) | square(50, 40, 75, 58), 2: np.zeros((H, W), bool)},
        {},
        {3: disc(35, 25, 18, 50, 70)},
    ]
    entries = [{o: make_entry(m, 0.5 + 0.1 * o, None) for o, m in e.items()} for e in masks]
    return ImageSetResults(images, OBJECTS, entries), masks, paths


def check_detections(det, masks: dict, hw: tuple[int, int], scores: dict | None = None) -> None:
    """``det`` holds exactly the non-empty ``masks``, in their order, with the class and id fields."""
    kept = {o: m for o, m in masks.items() if m.any()}
    assert det.mask.shape == (len(kept), *hw) and det.mask.dtype == bool
    np.testing.assert_array_equal(det.mask, np.array(list(kept.values()), bool).reshape(-1, *hw))
    np.testing.assert_array_equal(det.xyxy, sv.mask_to_xyxy(det.mask).reshape(-1, 4))
    assert det.tracker_id.tolist() == list(kept)
    assert det.class_id.tolist() == [CLASS_OF[o] for o in kept]
    assert det.data["class_name"].tolist() == [CLASSES[CLASS_OF[o]] for o in kept]
    if scores is not None:
        np.testing.assert_allclose(det.confidence, [scores[o] for o in kept], rtol=1e-6)


def test_image_set_to_supervision(image_set):
    results, masks, _ = image_set
    assert results.class_names == CLASSES
    for i, want in enumerate(masks):
        det = results.to_supervision(i)
        hw = results.images.size(i)
        check_detections(det, want, hw, {o: 0.5 + 0.1 * o for o in want})
        assert len(det) == sum(m.any() for m in want.values())
    box = results.to_supervision(0).xyxy[0]  # square(5, 5, 30, 25): inclusive corners
    assert box.tolist() == [5, 5, 29, 24]


def read_yolo(folder: Path):
    """supervision's reader: ``(classes, {image file name: Detections})``, masks from the polygons."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = sv.DetectionDataset.from_yolo(
            str(folder / "images"), str(folder / "labels"), str(folder / "data.yaml"), force_masks=True
        )
    return ds.classes, {Path(p).name: d for p, d in ds.annotations.items()}


def check_yolo(det, masks: dict, min_iou: float) -> None:
    """One detection per non-empty mask, same class, masks by IoU (lines in display order)."""
    kept = {o: m for o, m in masks.items() if m.any()}
    assert det.class_id.tolist() == [CLASS_OF[o] for o in kept]
    for n, m in enumerate(kept.values()):
        assert iou(det.mask[n], m) > min_iou, (n, iou(det.mask[n], m))


def test_image_set_save_yolo_reads_back(image_set, tmp_path):
    results, masks, paths = image_set
    data_yaml = results.save_yolo(tmp_path / "yolo")
    assert data_yaml == tmp_path / "yolo" / "data.yaml"
    assert (tmp_path / "yolo" / "classes.txt").read_text(encoding="utf-8").splitlines() == CLASSES
    data = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))  # what Ultralytics reads
    assert data["path"] == str((tmp_path / "yolo").resolve()) and data["train"] == data["val"] == "images"
    assert data["names"] == dict(enumerate(CLASSES)) and data["nc"] == len(CLASSES)
    classes, annotations = read_yolo(tmp_path / "yolo")
    assert classes == CLASSES
    names = ["a photo.png", f"{UNICODE}.jpg", "image_00002.png", "image_00003.png"]
    assert sorted(annotations) == sorted(names)
    # image files are copied as they are; in-memory images written losslessly
    for path in paths:
        assert (tmp_path / "yolo" / "images" / path.name).read_bytes() == path.read_bytes()
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "yolo/images/image_00002.png")), results.images.pixels(2)
    )
    for name, want in zip(names, masks):
        check_yolo(annotations[name], want, 0.9)
    # the two-part object is one line, its parts joined by a one-pixel bridge
    assert len(annotations[names[1]]) == 1
    assert (tmp_path / "yolo/labels/image_00002.txt").read_text() == ""  # no masks: a background image


def test_image_set_save_object_masks(image_set, tmp_path):
    results, masks, _ = image_set
    folders = results.save_object_masks(tmp_path / "masks")
    assert {o: p.name for o, p in folders.items()} == {1: "1_cat", 2: f"2_{UNICODE}", 3: "3_cat", 4: "4_never masked"}
    stems = ["a photo", UNICODE, "image_00002", "image_00003"]
    for o, folder in folders.items():
        assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.png" for s in stems)
        for i, stem in enumerate(stems):
            png = np.asarray(Image.open(folder / f"{stem}.png"))
            assert png.dtype == np.uint8 and set(np.unique(png)) <= {0, 255}
            want = masks[i].get(o, np.zeros(results.images.size(i), bool))
            np.testing.assert_array_equal(png > 0, want, err_msg=f"object {o} image {stem}")


def test_object_folder_names():
    assert object_folders({1: "cat", 2: "Dog", 3: UNICODE}) == {1: "cat", 2: "Dog", 3: UNICODE}
    # unsafe characters replaced; names equal up to case, or left empty, prefix every folder
    assert object_folders({1: "a/b:c", 2: " x. "}) == {1: "a_b_c", 2: "x"}
    assert object_folders({1: "cat", 2: "CAT"}) == {1: "1_cat", 2: "2_CAT"}
    assert object_folders({1: "cat", 5: ".."}) == {1: "1_cat", 5: "5"}


def test_missing_extra_names_it(image_set, monkeypatch):
    results, _, _ = image_set
    monkeypatch.setitem(sys.modules, "supervision", None)  # import supervision -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'sam2-widget\[supervision\]'"):
        results.to_supervision(0)


# --- a clip -----------------------------------------------------------------------------


@pytest.fixture
def clip_results(clip, video_model):
    """Objects "cat" (1), UNICODE (2), "cat" (3), "never masked" (4) on the clip, masks written
    into the tracker's results: frames 0-3 tracked, frame 2 with an empty mask only."""
    session = VideoSession(video_model, clip)
    for name in ["cat", UNICODE, "cat", "never masked"]:
        session.add_object(name)
    h, w = session.hw
    store = session.tracker.results
    masks = {}
    for f in (0, 1, 3):
        masks[f] = {
            1: square(5 + 3 * f, 10, 40 + 3 * f, 50, h, w),
            2: disc(90, 60 - f, 20, h, w),
            3: square(100, 5, 120, 25, h, w) | square(5, 100, 25, 120, h, w),
        }
    masks[2] = {2: np.zeros((h, w), bool)}
    scores = {}
    for f, by_object in masks.items():
        for o, m in by_object.items():
            store.set(f, o, m, float(o - 2))
            scores.setdefault(f, {})[o] = 1 / (1 + np.exp(-(o - 2)))
    yield ClipResults(session), masks, scores
    session.close()


def test_clip_to_supervision(clip_results):
    results, masks, scores = clip_results
    h, w = results._session.hw
    assert results.class_names == CLASSES
    for f in range(T):
        check_detections(results.to_supervision(f), masks.get(f, {}), (h, w), scores.get(f))
    assert len(results.to_supervision(2)) == 0 and len(results.to_supervision(T - 1)) == 0
    with pytest.raises(ValueError, match="out of range"):
        results.to_supervision(T)


def test_clip_save_yolo_reads_back(clip_results, tmp_path):
    results, masks, _ = clip_results
    results.save_yolo(tmp_path / "yolo")
    classes, annotations = read_yolo(tmp_path / "yolo")
    assert classes == CLASSES
    # the tracked frames only; frame 2, tracked with nothing present, is a background example
    assert sorted(annotations) == ["00000.jpg", "00001.jpg", "00002.jpg", "00003.jpg"]
    assert (tmp_path / "yolo/labels/00002.txt").read_text() == ""
    for f in (0, 1, 2, 3):
        check_yolo(annotations[f"{f:05d}.jpg"], masks[f], 0.9)
    jpeg = io.BytesIO()
    Image.fromarray(results._session.tracker.source.get(1)).save(jpeg, format="JPEG", quality=95)
    assert (tmp_path / "yolo/images/00001.jpg").read_bytes() == jpeg.getvalue()
    results.save_yolo(tmp_path / "png", start=1, stop=2, image_format="png")
    assert sorted(p.name for p in (tmp_path / "png/images").iterdir()) == ["00001.png"]
    written = np.asarray(Image.open(tmp_path / "png/images/00001.png"))
    np.testing.assert_array_equal(written, results._session.tracker.source.get(1))
    with pytest.raises(ValueError, match="image_format"):
        results.save_yolo(tmp_path / "gif", image_format="gif")


def test_clip_save_object_masks(clip_results, tmp_path):
    results, masks, _ = clip_results
    folders = results.save_object_masks(tmp_path / "masks", stop=5)
    assert {o: p.name for o, p in folders.items()} == {1: "1_cat", 2: f"2_{UNICODE}", 3: "3_cat", 4: "4_never masked"}
    for o, folder in folders.items():
        assert sorted(p.name for p in folder.iterdir()) == [f"{f:05d}.png" for f in range(5)]
        for f in range(5):
            png = np.asarray(Image.open(folder / f"{f:05d}.png"))
            want = masks.get(f, {}).get(o, np.zeros(results._session.hw, bool))
            np.testing.assert_array_equal(png > 0, want, err_msg=f"object {o} frame {f}")


def test_widget_clip_results_export_what_was_tracked(clip, video_model, tmp_path):
    w, _ = video_widget(clip, video_model)
    try:
        w.add_points([[30.0, 40.0]], [1])
        w.rename_object(1, "ball")
        w.track()
        w.wait_idle()
        results = w.results
        assert isinstance(results, ClipResults) and results.store is w.tracker.results
        assert results.frames == list(range(T)) and len(results) == T and 3 in results
        assert results.class_names == ["ball"]
        for f in range(T):
            det = results.to_supervision(f)
            mask = results.mask(f, 1)
            assert len(det) == int(mask.any())
            if mask.any():
                np.testing.assert_array_equal(det.mask[0], mask)
                assert det.data["class_name"].tolist() == ["ball"] and det.tracker_id.tolist() == [1]
        folders = results.save_object_masks(tmp_path / "masks")
        assert folders == {1: tmp_path / "masks" / "ball"}
        np.testing.assert_array_equal(np.asarray(Image.open(folders[1] / "00005.png")) > 0, results.mask(5, 1))
    finally:
        w.close()
