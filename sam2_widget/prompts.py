"""Prompts (clicks and boxes) as both sessions record them, and the rules for taking them in.

Coordinates are original-image pixels, stored as the float64 numbers given. The model reads
prompts in float32 either way (``sam2_backend.inputs`` rounds them at its input), so keeping
float64 here changes no mask, while a stored, shown or saved click reads back as the number
that was clicked (``30.1``, not ``30.100000381469727``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_backend.inputs import check_boxes, check_points

from .checks import to_host


@dataclass(frozen=True)
class Point:
    """A click: (x, y) in original-image pixels, label 1 positive / 0 negative."""

    obj_id: int
    x: float
    y: float
    label: int

    def to_dict(self) -> dict:
        return {"obj_id": self.obj_id, "type": "point", "x": self.x, "y": self.y, "label": self.label}


@dataclass(frozen=True)
class Box:
    """A box, XYXY in original-image pixels (an object has at most one per image or frame)."""

    obj_id: int
    x0: float
    y0: float
    x1: float
    y1: float

    def to_dict(self) -> dict:
        return {"obj_id": self.obj_id, "type": "box", "x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1}


Prompt = Point | Box


def prompt_from_dict(d: Mapping[str, Any]) -> Prompt:
    """Inverse of ``Point.to_dict`` / ``Box.to_dict``."""
    if d["type"] == "point":
        return Point(int(d["obj_id"]), float(d["x"]), float(d["y"]), int(d["label"]))
    if d["type"] == "box":
        return Box(int(d["obj_id"]), float(d["x0"]), float(d["y0"]), float(d["x1"]), float(d["y1"]))
    raise ValueError(f"unknown prompt type {d['type']!r}")


def check_clicks(points: Any, labels: Any, hw: tuple[int, int]) -> list[tuple[float, float, int]]:
    """One object's clicks, points (N, 2) as (x, y) pixels inside an ``hw`` image with labels (N,),
    as ``(x, y, label)``; raises ``ValueError`` / ``TypeError`` saying what is wrong."""
    points, labels = to_host(points), to_host(labels)
    _, lab = check_points(points, labels, hw)
    if lab.shape[0] != 1:
        raise ValueError(f"points must have shape (N, 2) for one object; got {np.shape(points)}.")
    xy = _float64(points).reshape(-1, 2)
    return [(float(x), float(y), int(label)) for (x, y), label in zip(xy, lab[0], strict=True)]


def check_box(box: Any, hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """One object's box (x0, y0, x1, y1) in pixels inside an ``hw`` image."""
    box = to_host(box)
    if check_boxes(box, hw).shape[0] != 1:
        raise ValueError(f"box must have shape (4,) for one object; got {np.shape(box)}.")
    x0, y0, x1, y1 = (float(v) for v in _float64(box).reshape(4))
    return x0, y0, x1, y1


def with_box(prompts: tuple[Prompt, ...], box: Box) -> tuple[Prompt, ...]:
    """``prompts`` with ``box`` in place of its object's box, or appended if the object has none."""
    k = next((i for i, p in enumerate(prompts) if isinstance(p, Box) and p.obj_id == box.obj_id), None)
    return prompts + (box,) if k is None else prompts[:k] + (box,) + prompts[k + 1 :]


def of_object(prompts: tuple[Prompt, ...], obj_id: int) -> tuple[list[Point], Box | None]:
    """The clicks and the box of ``obj_id`` among ``prompts``."""
    points = [p for p in prompts if isinstance(p, Point) and p.obj_id == obj_id]
    box = next((p for p in prompts if isinstance(p, Box) and p.obj_id == obj_id), None)
    return points, box


def _float64(value: Any) -> np.ndarray:
    """Coordinates as given (already checked), without the float32 rounding of the checks."""
    return np.asarray(value, dtype=np.float64)
