"""VideoTracker with each memory policy: many objects, both directions, deterministic.

The goldens in tests/golden check the policies against the authors' code (forwards, one
object per run); here: three objects tracked together, backwards and forwards from a prompt
in the middle of the clip, twice from scratch with the same result; "sam2" stays the default.
"""

from __future__ import annotations

import numpy as np
import pytest

from sam2_backend.video.memory_policies import MemoryPolicy
from sam2_backend.video.tracker import VideoTracker
from tests.clips import bar, disk, make_clip, square
from tests.models import tiny_model

START = 6
SHAPES = {1: disk, 2: square, 3: bar}


@pytest.fixture(scope="module")
def model():
    return tiny_model(image_size=128)


@pytest.fixture(scope="module")
def clip():
    return make_clip(12)


def track(model, clip, memory="sam2", **options):
    tracker = VideoTracker(model, clip, memory=memory, memory_options=options)
    for obj_id, shape in SHAPES.items():
        tracker.add_mask(START, obj_id, shape(START))
    order = [frame for frame, _ in tracker.propagate("both")]
    masks = np.stack([[tracker.results.mask(t, i) for i in SHAPES] for t in range(len(clip))])
    logits = np.stack([[tracker.frame_output(t, i)[0] for i in SHAPES] for t in range(len(clip))])
    return tracker, order, masks, logits


@pytest.mark.parametrize("memory", ["quality", "samurai", "dam4sam"])
def test_three_objects_both_directions_deterministic(model, clip, memory):
    tracker, order, masks, logits = track(model, clip, memory)
    assert order == [*range(START, 12), *range(START - 1, -1, -1)]
    assert tracker.memory_policy.name == memory
    assert sorted(tracker._policy_states) == [1, 2, 3]
    # Every object's state heard every tracked frame but its prompt.
    for state in tracker._policy_states.values():
        assert sorted(state.scores) == [t for t in range(12) if t != START]
    _, _, again_masks, again_logits = track(model, clip, memory)
    np.testing.assert_array_equal(masks, again_masks)
    np.testing.assert_array_equal(logits, again_logits)
    tracker.remove_object(2)
    assert sorted(tracker._policy_states) == [1, 3]
    tracker.reset()
    assert not tracker._policy_states


def test_sam2_policy_is_the_default_and_other_policies_decide_otherwise(model, clip):
    default, _, masks, logits = track(model, clip)
    assert type(default.memory_policy) is MemoryPolicy and default._policy is None
    # Leaving out every tracked memory but the previous frame's changes what the model sees.
    _, _, _, strict_logits = track(model, clip, "quality", threshold=1.0)
    assert np.abs(strict_logits - logits).max() > 1e-3


def test_policy_arguments_are_checked(model, clip):
    with pytest.raises(ValueError, match="memory must be one of"):
        VideoTracker(model, clip, memory="xmem")
    with pytest.raises(TypeError):
        VideoTracker(model, clip, memory="samurai", memory_options={"no_such_option": 1})
    tracker = VideoTracker(model, clip, memory="samurai", memory_options={"stable_frames": 4})
    assert tracker.memory_policy.options()["stable_frames"] == 4
