"""Saving and loading sessions, and "segment everything"."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import sam2_backend as sb
from sam2_widget import Sam2Widget
from sam2_widget.session import Session, seed_logits
from tests.images import synthetic_image
from tests.widget.harness import make_widget, reference_mask

H, W = 60, 80
AMG = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)


def everything(widget: Sam2Widget) -> dict:
    """All of a widget's state that a session must keep, per image."""
    widget.wait_idle(60)
    results = widget.results
    per_image = []
    for i in range(widget.image_count):
        per_image.append(
            {
                "prompts": [p.to_dict() for p in widget._session.prompts(i)],
                "masks": results.masks(i),
                "scores": results.scores(i),
            }
        )
    return {"objects": widget.objects, "selected": widget.selected_id, "index": widget.image_index, "images": per_image}


def assert_same_everything(a: dict, b: dict) -> None:
    assert (a["objects"], a["selected"], a["index"]) == (b["objects"], b["selected"], b["index"])
    for x, y in zip(a["images"], b["images"], strict=True):
        assert x["prompts"] == y["prompts"] and x["scores"] == y["scores"]
        assert list(x["masks"]) == list(y["masks"])
        for k in x["masks"]:
            np.testing.assert_array_equal(x["masks"][k], y["masks"][k])


def test_segment_everything_adds_mask_objects_that_clicks_refine(model):
    image = synthetic_image(H, W, seed=5)
    w, fe = make_widget(image, model, amg_options=AMG)
    w.add_points([[10, 10]], [1])
    ids = w.segment_everything()
    records = sb.AutomaticMaskGenerator(model, **AMG).generate(image)
    assert len(ids) == len(records) >= 1 and ids[0] == 2
    assert [o["id"] for o in w.objects] == [1, *ids]
    for obj_id, record in zip(ids, records, strict=True):
        np.testing.assert_array_equal(w.masks[obj_id], record["segmentation"])
        assert w.results.scores(0)[obj_id] == pytest.approx(record["predicted_iou"])
    assert w.prompts[0]["obj_id"] == 1 and len(w.prompts) == 1  # mask-only objects have no prompts

    # A click on a mask-only object refines its mask: the seed goes in as mask_input.
    seed = records[0]["segmentation"]
    refined = w.add_points([[40, 30]], [0], obj_id=ids[0])[ids[0]]
    expected = reference_mask(model, image, [[40, 30]], [0], mask_input=seed_logits(seed, model.image_size))
    np.testing.assert_array_equal(refined, expected)
    w.remove_prompt(1)  # without its clicks the object is its seed again
    np.testing.assert_array_equal(w.masks[ids[0]], seed)

    # One undo step per "segment everything"; the front end's button does the same.
    w.undo()  # the remove_prompt
    w.undo()  # the click
    w.undo()  # segment everything
    assert list(w.masks) == [1]
    seq = fe.send("segment_everything")
    assert fe.ack(seq)["ok"] and len(w.objects) == 1 + len(records)
    with pytest.raises(TypeError):
        w.segment_everything(points_per_sde=3)
    assert "points_per_sde" in w.error
    w.close()


def test_an_in_memory_session_round_trips_exactly(model, tmp_path, monkeypatch):
    images = [synthetic_image(H, W, seed=s) for s in (6, 7)]
    w = Sam2Widget(images, model=model)
    w.add_points([[20, 20], [50, 40]], [1, 0])
    car = w.add_object("car")
    w.add_box([40, 5, 78, 35])
    w.set_visible(1, False)
    w.goto(1)
    w.add_points([[30, 30]], [1], obj_id=1)
    w.segment_everything(**AMG)
    w.select_object(car)
    w.add_points([[70, 50]], [1])
    before = everything(w)
    path = w.save_session(tmp_path / "work.session")  # any name: saved as given, one .npz
    assert path.name == "work.session" and path.is_file()

    # Nothing is predicted again on loading: the masks come from the file.
    monkeypatch.setattr(Session, "predict", lambda *a: pytest.fail("predicted while loading"))
    loaded = Sam2Widget.load_session(path, model=model)
    assert_same_everything(everything(loaded), before)
    assert loaded.image_index == 1 and not loaded.can_undo
    monkeypatch.undo()
    # Ids keep counting from where they were; the loaded widget works on.
    new = loaded.add_object()
    assert new == max(o["id"] for o in before["objects"]) + 1
    loaded.close()
    w.close()


def test_a_file_session_references_its_images_and_can_be_pointed_elsewhere(model, tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    for s in range(2):
        Image.fromarray(synthetic_image(H, W, seed=s)).save(first / f"{s}.png")
    w = Sam2Widget(first, model=model)
    w.add_points([[25, 25]], [1])
    before = everything(w)
    path = w.save_session(tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["meta", "runs"]  # no image data: referenced by path
    assert_same_everything(everything(Sam2Widget.load_session(path, model=model)), before)

    moved = tmp_path / "moved"
    first.rename(moved)
    with pytest.raises(FileNotFoundError):
        Sam2Widget.load_session(path, model=model)
    assert_same_everything(everything(Sam2Widget.load_session(path, source=moved, model=model)), before)
    with pytest.raises(ValueError, match="2 images"):
        Sam2Widget.load_session(path, source=moved / "0.png", model=model)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable sam2_widget session"):
        Sam2Widget.load_session(tmp_path / "junk.npz", model=model)
    w.close()
