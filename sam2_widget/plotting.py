"""Matplotlib helpers: masks over an image in the widget's colours (``pip install sam2-widget[plot]``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .colors import color_for, hex_to_rgb
from .objects import ObjectInfo


def overlay(
    pixels: np.ndarray, masks: Mapping[int, np.ndarray], alpha: float = 0.5, colors: Mapping[int, str] | None = None
) -> np.ndarray:
    """``(H, W, 3)`` uint8 image with each mask blended in its colour; the first listed mask is on top."""
    out = pixels.astype(np.float32) / 255
    for obj_id in reversed(list(masks)):
        color = np.array(hex_to_rgb((colors or {}).get(obj_id) or color_for(obj_id)), dtype=np.float32)
        m = masks[obj_id]
        out[m] = (1 - alpha) * out[m] + alpha * color
    return (out * 255).round().astype(np.uint8)


def plot_masks(
    pixels: np.ndarray,
    masks: Mapping[int, np.ndarray],
    objects: Sequence[ObjectInfo] = (),
    ax: Any = None,
    alpha: float = 0.5,
    legend: bool = True,
    title: str | None = None,
) -> Any:
    """Show ``pixels`` with ``masks`` blended on ``ax`` (a new figure's if None); returns the axes.

    ``objects`` gives names and colours (default: ``object <id>``, :func:`color_for`).
    """
    try:
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError as e:
        raise ImportError("Plotting needs matplotlib: pip install 'sam2-widget[plot]'") from e

    info = {o.id: o for o in objects}
    colors = {o.id: o.color for o in objects}
    if ax is None:
        _, ax = plt.subplots()
    ax.imshow(overlay(pixels, masks, alpha, colors))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if legend and masks:
        handles = [
            Patch(color=colors.get(o) or color_for(o), label=info[o].name if o in info else f"object {o}")
            for o in masks
        ]
        ax.legend(handles=handles, loc="upper right", fontsize="small")
    return ax
