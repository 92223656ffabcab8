"""Our memory policies against the authors' SAMURAI and DAM4SAM, from recorded goldens.

The goldens (record_memory_policies.py, README.md) hold what the authors' code computed on
the official SAM 2.1 tiny with the random weights of tests/backend/reference.py, one object
per run, on tests/clips.py's first 16 frames from a mask prompt on frame 0. Ours tracks all
the objects in one VideoTracker with the same weights and options, and must give, per object
and frame, the same masks, the same logits and object scores (PARITY_TOL), and read the same
stored frames as spatial memories in the same temporal slots.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sam2_backend.video.step import memory_pos_encoding
from sam2_backend.video.tracker import VideoTracker
from tests import clips
from tests.backend.reference import PARITY_TOL, assert_masks_match, build_reference, ours_like
from tests.golden.memory_probe import MemoryProbe

GOLDEN = Path(__file__).resolve().parent
# Recorded options are the authors' names mapped to ours by the recording script.
AUTHORS = {"samurai": "samurai", "dam4sam": "dam4sam"}


def golden(author: str) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(GOLDEN / f"{author}.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return json.loads(str(arrays.pop("meta"))), arrays


@pytest.fixture(scope="module")
def reference():
    meta, _ = golden("samurai")
    return build_reference(meta["model"], image_size=meta["image_size"], video=True)


class Run:
    """Our tracker on the golden's clip and prompts, with a probe on the memory attention."""

    def __init__(self, reference, meta: dict, memory: str, options: dict, reverse: bool = False) -> None:
        model = ours_like(reference, meta["model"], image_size=meta["image_size"])
        self.clip = clips.make_clip(meta["num_frames"])
        self.tracker = VideoTracker(model, self.clip, memory=memory, memory_options=options, memory_frames_in_ram=None)
        self.objects = {int(k): v for k, v in meta["objects"].items()}
        start = meta["num_frames"] - 1 if reverse else 0
        for obj_id, shape in self.objects.items():
            self.tracker.add_mask(start, obj_id, getattr(clips, shape)(start))
        self.key = None
        self.probe = MemoryProbe(model, lambda: self.key)
        import sam2_backend.video.tracker as tracker_module

        step = tracker_module.track_step
        by_memory = self.tracker._objects

        def keyed(model, frame, feats, memory, **kw):
            self.key = (frame, next(i for i, m in by_memory.items() if m is memory))
            return step(model, frame, feats, memory, **kw)

        self._patch = (tracker_module, step)
        tracker_module.track_step = keyed
        try:
            self.frames = [f for f, _ in self.tracker.propagate("backward" if reverse else "forward")]
        finally:
            tracker_module.track_step = step

    def memory_read(self, obj_id: int) -> dict[int, list[tuple[int, int]]]:
        obj = self.tracker._objects[obj_id]
        stored = {}
        for t in self.frames:
            state = obj.cond.get(t) or obj.non_cond.get(t)
            stored[t] = state.maskmem.flatten(2).permute(2, 0, 1)
        pos = memory_pos_encoding(self.tracker.model, self.tracker._frame_features(0))
        keys = [k for k in self.probe.calls if k[1] == obj_id]
        return {frame: read for (frame, _), read in self.probe.frames(stored, pos, keys).items()}

    def mask(self, frame: int, obj_id: int) -> np.ndarray:
        return self.tracker.results.mask(frame, obj_id)


def _check_against(run: Run, arrays: dict[str, np.ndarray], obj_id: int) -> None:
    masks = np.unpackbits(arrays[f"{obj_id}/masks"], axis=-1)[..., : run.clip.shape[2]].astype(bool)
    read = run.memory_read(obj_id)
    for t in range(1, len(masks)):
        low, score = run.tracker.frame_output(t, obj_id)
        ref_low = arrays[f"{obj_id}/low_res"][t]
        np.testing.assert_allclose(low, ref_low, atol=PARITY_TOL, rtol=0, err_msg=f"object {obj_id}, frame {t}")
        assert abs(score - arrays[f"{obj_id}/object_score"][t]) <= PARITY_TOL, (obj_id, t)
        ref_video = torch.nn.functional.interpolate(
            torch.from_numpy(ref_low)[None, None], size=masks.shape[1:], mode="bilinear", align_corners=False
        )[0, 0]
        assert_masks_match(run.mask(t, obj_id), masks[t], ref_video, err_msg=f"object {obj_id}, frame {t}")
        expected = [tuple(int(v) for v in pair) for pair in arrays[f"{obj_id}/memory"][t] if pair[0] >= 0]
        assert read[t] == expected, (obj_id, t, read[t], expected)


@pytest.mark.parametrize("author", ["samurai", "dam4sam"])
def test_recording_decides_unlike_sam2(reference, author):
    """The goldens exercise the policies: the authors' code decided otherwise than SAM 2 would."""
    meta, arrays = golden(author)
    for obj_id in {int(k) for k in meta["objects"]}:
        if author == "samurai":  # the motion model kept another candidate than the best predicted IoU
            kept, best = arrays[f"{obj_id}/choices"][1:].T
            assert (kept != best).any()
        else:  # a frame joined the distractor-resolving memory
            assert len(arrays[f"{obj_id}/drm_added"]) > 0
    sam2 = Run(reference, meta, "sam2", {})
    for obj_id in sam2.objects:
        recorded = [[tuple(int(v) for v in p) for p in row if p[0] >= 0] for row in arrays[f"{obj_id}/memory"]]
        read = sam2.memory_read(obj_id)
        assert any(read[t] != recorded[t] for t in range(1, meta["num_frames"]))
        lows = np.stack([sam2.tracker.frame_output(t, obj_id)[0] for t in range(meta["num_frames"])])
        assert np.abs(lows - arrays[f"{obj_id}/low_res"]).max() > 1e-2


@pytest.mark.parametrize("author", ["samurai", "dam4sam"])
def test_policy_matches_authors_code(reference, author):
    meta, arrays = golden(author)
    run = Run(reference, meta, AUTHORS[author], meta["options"])
    for obj_id in run.objects:
        _check_against(run, arrays, obj_id)
