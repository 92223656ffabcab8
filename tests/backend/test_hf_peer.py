"""The benchmarks' transformers peer (benchmarks/hf_peer.py) computes what ours computes.

The benchmarks time transformers' ``Sam2Model`` / ``Sam2VideoModel`` on our weights mapped to
their parameter names; a wrong mapping would make those timings meaningless. Here both run on
the same preprocessed input at a small model size: the image logits for one click and the
video logits of two tracked objects over a few frames must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_backend import ImagePredictor, VideoTracker
from sam2_backend.inputs import image_to_tensor
from sam2_backend.transforms import preprocess
from tests.backend.reference import PARITY_TOL
from tests.clips import make_clip
from tests.images import synthetic_image
from tests.models import tiny_model

pytest.importorskip("transformers", reason="transformers (a test extra) is not installed")
from benchmarks import hf_peer  # noqa: E402 (needs transformers)

SIZE = 128
TOL = PARITY_TOL  # the implementations agree to ~1e-6 in fp32 on the CPU (ours on the test device)


@pytest.fixture(scope="module")
def ours():
    return tiny_model(SIZE)


def test_every_weight_is_mapped_once(ours):
    mapped = hf_peer.to_transformers(ours.state_dict())
    # Four point embeddings become one table; the Gaussian matrix is held twice.
    assert len(mapped) == len(ours.state_dict()) - 3 + 1
    assert mapped["prompt_encoder.point_embed.weight"].shape == (4, 256)
    with pytest.raises(ValueError, match="missing"):
        hf_peer.build_video_peer({k: v for k, v in ours.state_dict().items() if "fuser" not in k}, SIZE)


def test_image_logits_match(ours):
    image = synthetic_image(96, 128, seed=3)
    points = np.array([[70.0, 40.0]])
    pred = ImagePredictor(ours)
    pred.set_image(image)
    expected = pred.predict(points=points, labels=[1]).logits

    peer = hf_peer.build_image_peer(ours.state_dict(), SIZE)
    pixels = preprocess(image_to_tensor(image)[None], SIZE)
    xy = (70.0 * SIZE / 128, 40.0 * SIZE / 96)
    got = hf_peer.image_logits(peer, pixels, xy)[0].numpy()
    assert got.shape == expected.shape == (3, SIZE // 4, SIZE // 4)
    assert np.abs(expected).max() > 0.1  # not trivially zero
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)


def test_video_logits_match(ours):
    clip = make_clip(4)
    h, w = clip.shape[1:3]
    clicks = [(1, (40.0, 45.0)), (2, (110.0, 76.0))]
    tracker = VideoTracker(ours, clip)
    for obj_id, xy in clicks:
        tracker.add_points(0, obj_id, [xy], [1])
    expected = {}
    for frame, _ in tracker.propagate():
        expected[frame] = np.stack([tracker.frame_output(frame, obj_id)[0] for obj_id, _ in clicks])

    pixels = torch.cat([preprocess(image_to_tensor(f)[None], SIZE) for f in clip])
    peer = hf_peer.VideoPeer(hf_peer.build_video_peer(ours.state_dict(), SIZE), pixels, hw=(h, w), image_size=SIZE)
    peer.add_clicks(clicks)
    seen = []
    for frame, low_res in peer.propagate():
        seen.append(frame)
        np.testing.assert_allclose(low_res[:, 0].numpy(), expected[frame], atol=TOL, rtol=0)
        assert peer.to_frame_size(low_res).shape == (2, h, w)
    assert seen == [0, 1, 2, 3]
