"""Connected components and hole/sprinkle clean-up vs brute force and the reference logic.

The reference's hole logic needs its CUDA kernel; here its ``get_connected_components``
is monkeypatched with a scipy-based stand-in so the official code paths run on CPU.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2_backend.postprocess import (
    connected_components,
    fill_holes,
    fill_holes_and_remove_sprinkles,
    fill_holes_in_mask_scores,
    remove_sprinkles,
)

NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def bfs_components(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected labels (1.. in raster order of first pixel) and per-pixel areas of one (H, W) mask."""
    h, w = plane.shape
    labels = np.zeros((h, w), dtype=np.int64)
    areas = np.zeros((h, w), dtype=np.int64)
    next_label = 0
    for y in range(h):
        for x in range(w):
            if not plane[y, x] or labels[y, x]:
                continue
            next_label += 1
            labels[y, x] = next_label
            members, queue = [], deque([(y, x)])
            while queue:
                cy, cx = queue.popleft()
                members.append((cy, cx))
                for dy, dx in NEIGHBOURS:
                    ny, nx = cy + dy, cx + dx
                    if 0 <= ny < h and 0 <= nx < w and plane[ny, nx] and not labels[ny, nx]:
                        labels[ny, nx] = next_label
                        queue.append((ny, nx))
            for cy, cx in members:
                areas[cy, cx] = len(members)
    return labels, areas


def random_masks(shape, density: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen) < density


@pytest.mark.parametrize("density", [0.0, 0.1, 0.4, 0.6, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(3, 1, 17, 23), (1, 1, 1, 1), (2, 1, 1, 9), (2, 1, 31, 8)])
def test_connected_components_match_bfs(shape, density):
    mask = random_masks(shape, density, seed=int(density * 10) + shape[-1])
    labels, areas = connected_components(mask)
    assert labels.shape == areas.shape == mask.shape
    assert labels.dtype == areas.dtype == torch.int32
    for i in range(shape[0]):
        want_labels, want_areas = bfs_components(mask[i, 0].numpy())
        np.testing.assert_array_equal(labels[i, 0].numpy(), want_labels)
        np.testing.assert_array_equal(areas[i, 0].numpy(), want_areas)


def test_connected_components_diagonal_and_bool_or_uint8_input():
    mask = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.uint8)[None, None]
    labels, areas = connected_components(mask)
    assert labels[0, 0].tolist() == [[1, 0, 0, 2], [0, 1, 0, 2], [0, 0, 0, 0], [3, 3, 0, 4]]
    assert areas[0, 0].tolist() == [[2, 0, 0, 2], [0, 2, 0, 2], [0, 0, 0, 0], [2, 2, 0, 1]]
    labels_bool, _ = connected_components(mask.bool())
    assert torch.equal(labels, labels_bool)


def test_connected_components_empty_batch():
    labels, areas = connected_components(torch.zeros(0, 1, 5, 6, dtype=torch.bool))
    assert labels.shape == areas.shape == (0, 1, 5, 6)


# --- the reference's own hole/sprinkle logic (its CUDA kernel replaced: the patched_reference fixture) ---


def random_logits(shape, seed: int, bias: float = 0.0) -> torch.Tensor:
    """Smooth-ish random logits so holes and islands of many sizes occur."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(shape, generator=gen)
    smooth = F.avg_pool2d(noise.flatten(0, 1)[:, None], 3, stride=1, padding=1)
    return smooth.reshape(shape) * 3 + bias


@pytest.mark.parametrize("hole, sprinkle", [(4, 0), (0, 4), (6, 9), (40, 40), (1e9, 0)])
@pytest.mark.parametrize("threshold", [0.0, 0.3])
def test_image_postprocess_matches_reference(patched_reference, hole, sprinkle, threshold):
    from sam2.utils.transforms import SAM2Transforms

    transforms = SAM2Transforms(resolution=64, mask_threshold=threshold, max_hole_area=hole, max_sprinkle_area=sprinkle)
    logits = random_logits((2, 3, 40, 48), seed=int(min(hole, 99)) + int(sprinkle), bias=threshold - 0.2)
    orig_hw = (50, 70)
    want = transforms.postprocess_masks(logits, orig_hw)
    ours = fill_holes_and_remove_sprinkles(logits, hole, sprinkle, threshold)
    got = F.interpolate(ours, orig_hw, mode="bilinear", align_corners=False)
    assert torch.equal(got, want)
    if hole or sprinkle:
        assert not torch.equal(ours, logits)  # the case exercises the clean-up


def test_fill_holes_and_remove_sprinkles_separately():
    logits = random_logits((1, 2, 30, 30), seed=3)
    holes = fill_holes(logits, 5)
    changed = holes != logits
    assert changed.any() and (holes[changed] == 10.0).all() and (logits[changed] <= 0).all()
    sprinkles = remove_sprinkles(logits, 5, threshold=0.1, fill_value=-3.0)
    changed = sprinkles != logits
    assert changed.any() and (sprinkles[changed] == -3.0).all() and (logits[changed] > 0.1).all()
    assert torch.equal(fill_holes(logits, 0), logits)
    assert torch.equal(remove_sprinkles(logits, -1), logits)


@pytest.mark.parametrize("max_area", [1, 7, 50])
def test_video_hole_filling_matches_reference(patched_reference, max_area):
    logits = random_logits((3, 1, 37, 29), seed=max_area, bias=-0.3)
    want = patched_reference.fill_holes_in_mask_scores(logits, max_area)
    got = fill_holes_in_mask_scores(logits, max_area)
    assert torch.equal(got, want)
    assert not torch.equal(got, logits)


def test_video_hole_filling_rejects_non_positive_area():
    with pytest.raises(ValueError, match="max_area"):
        fill_holes_in_mask_scores(torch.zeros(1, 1, 4, 4), 0)
