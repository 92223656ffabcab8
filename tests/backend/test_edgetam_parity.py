"""Our EdgeTAM against the official one (``edgetam-dimos==1.0.1``) on the same random weights.

The official package is imported as ``sam2`` like the SAM 2 reference, so it runs once per
module in a subprocess (tests/backend/edgetam_official.py), which builds it at IMAGE_SIZE with
seeded random weights and records its state dict, image encoder levels, image predictions and
a scripted 3-object video session (:func:`video_script` says why the script is what it is).
Ours loads that state dict strictly and must give the same numbers: logits within TOL, masks
identical.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.backend.edgetam_official import (
    REFERENCE_DIR,
    image_prompts,
    reference_installed,
    run_official,
    video_script,
)
from tests.clips import make_clip
from tests.images import synthetic_image

TOL = 1e-4
IMAGE_SIZE = 256
FRAMES = 8


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    if not reference_installed():
        reason = f"the official EdgeTAM is not installed in {REFERENCE_DIR} (scripts/setup.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("edgetam") / "official.pt"
    run_official(
        "tests.backend.edgetam_official",
        str(out),
        f"--image-size={IMAGE_SIZE}",
        f"--frames={FRAMES}",
        timeout=600,
    )
    return torch.load(out, weights_only=True)


@pytest.fixture(scope="module")
def ours(official):
    from sam2_backend import build_model, get_config

    model = build_model(get_config("edgetam").replace(image_size=IMAGE_SIZE), device="cpu", precision="fp32")
    model.load_state_dict(official["state_dict"], strict=True)
    return model.eval()


def _close(mine, ref, what):
    mine, ref = torch.as_tensor(mine), torch.as_tensor(ref)
    torch.testing.assert_close(mine, ref, atol=TOL, rtol=0, msg=lambda m: f"{what}: {m}")


def test_image_encoder_levels_match(official, ours):
    ref = official["encoder"]
    with torch.inference_mode():
        trunk = ours.image_encoder.trunk(ref["input"])
        out = ours.forward_image(ref["input"])
    assert len(trunk) == len(ref["trunk"]) == 4
    for i, (mine, theirs) in enumerate(zip(trunk, ref["trunk"])):
        _close(mine, theirs, f"trunk level {i}")
    assert len(out.backbone_fpn) == len(ref["backbone_fpn"]) == 3
    for i, (mine, theirs) in enumerate(zip(out.backbone_fpn, ref["backbone_fpn"])):
        _close(mine, theirs, f"backbone_fpn[{i}]")
    for i, (mine, theirs) in enumerate(zip(out.vision_pos_enc, ref["vision_pos_enc"])):
        _close(mine, theirs, f"vision_pos_enc[{i}]")


def test_perceiver_matches_on_a_large_memory_map(official, ours):
    """At IMAGE_SIZE each 2D latent pools one pixel; here 4x4 windows (1024's map), two objects."""
    ref = official["perceiver"]
    with torch.inference_mode():
        latents = ours.spatial_perceiver(ref["input"], ref["pos"])
        pos = ours.spatial_perceiver.latent_pos(2, torch.device("cpu"))
    _close(latents, ref["latents"], "perceiver latents")
    _close(pos, ref["latent_pos"], "perceiver latents' position encoding")


def test_image_predictions_match(official, ours):
    from sam2_backend import ImagePredictor

    pred = ImagePredictor(ours)
    scores = []  # our decoder's object-score logits (the predictor does not return them)
    hook = ours.sam_mask_decoder.register_forward_hook(lambda _m, _i, out: scores.append(out[3].clone()))
    try:
        pred.set_image(synthetic_image(180, 240))
        for name, prompt in image_prompts().items():
            ref = official["image"][name]
            args = dict(
                points=prompt.get("point_coords"),
                labels=prompt.get("point_labels"),
                box=prompt.get("box"),
                multimask=prompt["multimask_output"],
            )
            if name == "mask":
                first = official["image"]["points"]
                args["mask_input"] = first["logits"][int(first["iou"].argmax())][None].numpy()
            out = pred.predict(**args)
            object_score = scores[-1]
            full = pred.predict(**args, return_logits=True)
            _close(out.logits, ref["logits"], f"{name}: low-res logits")
            _close(out.scores, ref["iou"], f"{name}: iou")
            _close(object_score, ref["object_score"], f"{name}: object score")
            _close(full.masks, ref["full"], f"{name}: logits at the image's size")
            np.testing.assert_array_equal(out.masks, ref["masks"].numpy(), err_msg=f"{name}: masks")
    finally:
        hook.remove()


class OurSession:
    """Our VideoTracker driven by the same script, each step checked against the official record."""

    def __init__(self, model, clip):
        from sam2_backend import VideoTracker

        self.tracker = VideoTracker(model, clip, memory_frames_in_ram=None)
        self.size = clip.shape[1:3]
        self.checked = 0

    def run(self, step, action, frame, obj_id, args):
        t = self.tracker
        if action == "propagate":
            direction = "backward" if args["reverse"] else "forward"
            return list(t.propagate(direction, start=frame))
        if action == "mask":
            return [(frame, t.add_mask(frame, obj_id, args["mask"]))]
        if action == "box":
            return [(frame, t.add_box(frame, obj_id, args["box"]))]
        return [(frame, t.add_points(frame, obj_id, args["points"], args["labels"]))]

    def check(self, record, frame, masks):
        where = f"step {record['step']}, frame {frame}"
        assert frame == record["frame"], where
        assert list(masks) == record["ids"], where
        for i, obj_id in enumerate(record["ids"]):
            what = f"{where}, object {obj_id}"
            video = record["video"][i, 0]
            np.testing.assert_array_equal(masks[obj_id], (video > 0).numpy(), err_msg=f"{what}: mask")
            ref = record["low"][obj_id]
            mine = self.tracker.frame_output(frame, obj_id)
            if ref is None:
                assert mine is None or not masks[obj_id].any(), what
                continue
            low, score = mine
            _close(low, ref[0], f"{what}: low-res logits")
            assert abs(score - ref[1]) <= TOL, f"{what}: object score {score} vs {ref[1]}"
            at_video = F.interpolate(torch.from_numpy(low)[None, None], size=self.size, mode="bilinear")[0, 0]
            _close(at_video, video, f"{what}: logits at the video's size")
            self.checked += 1


def test_scripted_video_session_matches(official, ours):
    session = OurSession(ours, make_clip(FRAMES))
    records = official["video"]
    for step, (action, frame, obj_id, args) in enumerate(video_script(FRAMES)):
        expected = [r for r in records if r["step"] == step]
        got = session.run(step, action, frame, obj_id, args)
        assert [f for f, _ in got] == [r["frame"] for r in expected], f"step {step}: frames"
        for record, (f, masks) in zip(expected, got):
            session.check(record, f, masks)
    # 3 prompts (1 + 2 + 3 objects), 8 frames forward, 3 corrections, 7 frames backward, 3 objects each
    assert session.checked == 6 + 3 * 8 + 3 * 3 + 3 * 7


def test_transformers_edgetam_image_matches(ours):
    """A second opinion on the image path: transformers' ``EdgeTamModel`` on our weights (SAM 2's
    renames of benchmarks/hf_peer.py; the RepViT trunk is the same timm model under another prefix)."""
    pytest.importorskip("transformers", reason="transformers (a test extra) is not installed")
    from transformers import EdgeTamConfig, EdgeTamModel, EdgeTamVisionConfig, TimmWrapperConfig

    from benchmarks import hf_peer
    from sam2_backend import ImagePredictor
    from sam2_backend.inputs import image_to_tensor
    from sam2_backend.transforms import preprocess

    mapped = {
        k.replace("vision_encoder.backbone.body.", "vision_encoder.backbone.timm_model."): v
        for k, v in hf_peer.to_transformers(ours.state_dict()).items()
    }
    # Named in full: transformers' default backbone config misspells "architecture" and builds a ResNet.
    trunk = TimmWrapperConfig(
        architecture="repvit_m1.dist_in1k",
        model_args={"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]},
    )
    vision = EdgeTamVisionConfig(
        backbone_config=trunk, backbone_feature_sizes=[[IMAGE_SIZE // s, IMAGE_SIZE // s] for s in (4, 8, 16)]
    )
    peer = EdgeTamModel(EdgeTamConfig(vision_config=vision, prompt_encoder_config={"image_size": IMAGE_SIZE}))
    keep = set(peer.state_dict())  # the image model has no memory modules
    peer.load_state_dict({k: v for k, v in mapped.items() if k in keep}, strict=True)
    peer.eval()

    image = synthetic_image(180, 240)
    click = (70.0, 72.0)
    pred = ImagePredictor(ours)
    pred.set_image(image)
    mine = pred.predict(points=[click], labels=[1]).logits
    pixels = preprocess(image_to_tensor(image)[None], IMAGE_SIZE)
    theirs = hf_peer.image_logits(peer, pixels, (click[0] * IMAGE_SIZE / 240, click[1] * IMAGE_SIZE / 180))[0]
    assert mine.shape == (3, IMAGE_SIZE // 4, IMAGE_SIZE // 4)
    _close(mine, theirs, "transformers' EdgeTamModel: low-res logits")
