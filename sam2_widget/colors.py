"""Stable object colours, shared by the widget and the matplotlib helpers."""

from __future__ import annotations

import operator

# Twenty colours chosen to stay distinct from each other on photographs: the
# matplotlib tab10 hues first (what people recognise), then strong colours from
# Kelly's list of maximum contrast that do not repeat them.
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#17becf",
    "#e377c2",
    "#bcbd22",
    "#8c564b",
    "#f3c300",
    "#0067a5",
    "#a1caf1",
    "#be0032",
    "#008856",
    "#f99379",
    "#604e97",
    "#8db600",
    "#882d17",
    "#e68fac",
    "#7f7f7f",
)


def color_for(obj_id: int) -> str:
    """The ``#rrggbb`` colour of object ``obj_id`` (ids start at 1; the palette repeats)."""
    obj_id = operator.index(obj_id)
    if obj_id < 1:
        raise ValueError(f"object ids start at 1 (0 is the background), got {obj_id}.")
    return PALETTE[(obj_id - 1) % len(PALETTE)]


def hex_to_rgb(color: str) -> tuple[float, float, float]:
    """``"#rrggbb"`` -> (r, g, b) floats in [0, 1], as matplotlib takes them."""
    return tuple(int(color[k : k + 2], 16) / 255 for k in (1, 3, 5))
