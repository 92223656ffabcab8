"""The opt-in torch.compile paths give the same answers as eager (slow: compiles once)."""

import numpy as np

import sam2_backend as sb
from tests.backend.reference import randomize_
from tests.clips import make_clip
from tests.images import synthetic_image
from tests.models import tiny_model


def _twins():
    eager = randomize_(tiny_model(128))
    compiled = tiny_model(128)
    compiled.load_state_dict(eager.state_dict())
    return eager, compiled


def test_compiled_tracker_and_predictor_match_eager():
    eager, compiled = _twins()
    clip = make_clip(6)
    outputs = []
    for model, compile in ((eager, False), (compiled, True)):
        trk = sb.VideoTracker(model, clip, compile=compile)
        trk.add_points(0, 1, [[20, 40]], [1])
        masks = {frame: m[1] for frame, m in trk.propagate()}
        logits = [trk.frame_output(f, 1)[0] for f in range(len(clip))]
        trk.close()
        pred = sb.ImagePredictor(model)  # the image encoder is compiled too now
        pred.set_image(synthetic_image(90, 120))
        outputs.append((masks, logits, pred.predict(points=[[40, 40]], labels=[1]).logits))
    (m0, l0, p0), (m1, l1, p1) = outputs
    for part in ("image_encoder", "memory_attention", "memory_encoder", "sam_mask_decoder"):
        assert getattr(compiled, part)._compiled_call_impl is not None, part
        assert getattr(eager, part)._compiled_call_impl is None, part
    assert any(m.any() for m in m0.values())
    for f in m0:
        np.testing.assert_array_equal(m0[f], m1[f])
    for a, b in zip(l0, l1):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    np.testing.assert_allclose(p0, p1, atol=1e-4, rtol=0)
