"""Connected-component clean-up of mask logits (small holes and sprinkles).

The official SAM 2 does this with a compiled CUDA kernel and silently skips it when
the kernel is unavailable (e.g. on CPU). Here the labelling runs on the CPU with
``scipy.ndimage.label`` (8-connectivity) for tensors on any device: the masks being
cleaned are low-resolution (256x256) logits, so the host round trip is cheap, and the
result is exact, unlike iterative min-pooling label propagation in torch. A whole batch
takes one round trip (one device -> host copy, the results sent back without blocking),
so callers clean every object of a frame in one call.

Conventions: masks are ``(..., H, W)`` tensors; a pixel belongs to the background when
``logits <= threshold`` and to the foreground otherwise.
"""

from __future__ import annotations

import numpy as np
import torch

from . import transfer

# 8-connectivity inside each (H, W) plane and no connection between planes.
_PLANE_8_CONNECTED = np.zeros((3, 3, 3), dtype=bool)
_PLANE_8_CONNECTED[1] = True


def connected_components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Label the 8-connected components of each binary mask.

    Args:
        mask: ``(N, 1, H, W)`` (or any ``(..., H, W)``) tensor; nonzero is foreground.

    Returns:
        ``(labels, areas)``, both int32 with ``mask``'s shape and device. ``labels`` numbers
        the components of each mask 1..K in raster order (0 on background); ``areas`` holds,
        for every foreground pixel, the pixel count of its component (0 on background).
    """
    shape = mask.shape
    if mask.numel() == 0:
        empty = torch.zeros(shape, dtype=torch.int32, device=mask.device)
        return empty, empty.clone()
    # scipy.ndimage costs ~0.25 s to import, and most sessions never clean a mask up.
    from scipy import ndimage

    (planes,) = transfer.to_host(mask.detach().bool())
    planes = planes.reshape(-1, shape[-2], shape[-1]).numpy()
    # One scipy call for the whole batch; labels then run on across planes in raster order.
    labels, _ = ndimage.label(planes, structure=_PLANE_8_CONNECTED)
    areas = np.bincount(labels.ravel())[labels]
    areas[labels == 0] = 0
    # Renumber so every plane's labels start at 1: the first label of plane i is one more
    # than the largest label of the planes before it.
    plane_max = labels.reshape(len(planes), -1).max(axis=1)
    offsets = np.concatenate([[0], np.maximum.accumulate(plane_max)[:-1]])
    labels = np.where(labels > 0, labels - offsets[:, None, None], 0)
    labels, areas = (
        transfer.to_device(torch.from_numpy(a.astype(np.int32)).reshape(shape), mask.device) for a in (labels, areas)
    )
    return labels, areas


def _small_components(mask: torch.Tensor, max_area: float) -> torch.Tensor:
    """Boolean ``mask``-shaped tensor of pixels in components with at most ``max_area`` pixels."""
    labels, areas = connected_components(mask)
    return (labels > 0) & (areas <= max_area)


def fill_holes(
    logits: torch.Tensor, max_area: float, threshold: float = 0.0, fill_value: float | None = None
) -> torch.Tensor:
    """Turn background components of at most ``max_area`` pixels into foreground.

    Args:
        logits: ``(..., H, W)`` mask logits.
        max_area: largest hole (in pixels of ``logits``) to fill; ``<= 0`` disables filling.
        threshold: background is ``logits <= threshold``.
        fill_value: logit written into holes; defaults to ``threshold + 10`` as in the
            official image predictor.

    Returns:
        float logits of the same shape (the input is never modified in place).
    """
    logits = logits.float()
    if max_area <= 0:
        return logits
    value = threshold + 10.0 if fill_value is None else fill_value
    return torch.where(_small_components(logits <= threshold, max_area), value, logits)


def remove_sprinkles(
    logits: torch.Tensor, max_area: float, threshold: float = 0.0, fill_value: float | None = None
) -> torch.Tensor:
    """Turn foreground components of at most ``max_area`` pixels into background.

    Same arguments as :func:`fill_holes`; ``fill_value`` defaults to ``threshold - 10``.
    """
    logits = logits.float()
    if max_area <= 0:
        return logits
    value = threshold - 10.0 if fill_value is None else fill_value
    return torch.where(_small_components(logits > threshold, max_area), value, logits)


def fill_holes_and_remove_sprinkles(
    logits: torch.Tensor, max_hole_area: float, max_sprinkle_area: float, threshold: float = 0.0
) -> torch.Tensor:
    """The official image predictor's low-resolution post-processing, in one call.

    Both the holes and the sprinkles are found on the *input* logits (as the official
    code does), so a sprinkle's size does not grow by holes filled next to it; this is
    not the same as ``remove_sprinkles(fill_holes(...))``.

    Args:
        logits: ``(..., H, W)`` mask logits (the official code passes ``(B, C, 256, 256)``).
        max_hole_area, max_sprinkle_area: component size limits in pixels; ``<= 0`` disables.
        threshold: the predictor's mask threshold (background is ``logits <= threshold``).

    Returns:
        float logits of the same shape: holes set to ``threshold + 10``, sprinkles to
        ``threshold - 10``.
    """
    logits = logits.float()
    out = logits
    if max_hole_area > 0:
        holes = _small_components(logits <= threshold, max_hole_area)
        out = torch.where(holes, threshold + 10.0, out)
    if max_sprinkle_area > 0:
        sprinkles = _small_components(logits > threshold, max_sprinkle_area)
        out = torch.where(sprinkles, threshold - 10.0, out)
    return out


def fill_holes_in_mask_scores(logits: torch.Tensor, max_area: float) -> torch.Tensor:
    """The official video predictor's hole filling: holes of at most ``max_area`` -> 0.1.

    Args:
        logits: ``(..., H, W)`` mask scores; background is ``logits <= 0``.
        max_area: must be positive (the video predictor only calls this when it is).
    """
    if max_area <= 0:
        raise ValueError(f"max_area must be positive, got {max_area}")
    return torch.where(_small_components(logits <= 0, max_area), 0.1, logits)
