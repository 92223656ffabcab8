"""Masks as YOLO polygons (sam2_backend.mask_polygons), filled back by supervision's polygon fill
(the one its YOLO reader uses, as cv2.fillPoly fills: boundary pixels included)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

from sam2_backend.mask_polygons import _distances, _trace, mask_polygon, part_outlines
from sam2_backend.yolo import label_line

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # supervision warns when it falls back from OpenCV to NumPy
    sv = pytest.importorskip("supervision", reason="the 'supervision' extra is not installed")


def fill(polygon: np.ndarray, h: int, w: int) -> np.ndarray:
    return sv.polygon_to_mask(np.round(polygon).astype(np.int32), (w, h)).astype(bool)


def blobs(seed: int, h: int = 40, w: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random((h, w)), 2) > 0.5 + rng.uniform(-0.05, 0.05)


@pytest.mark.parametrize("seed", range(40))
def test_outlines_fill_back_to_the_parts_with_holes_filled(seed):
    mask = blobs(seed)
    outer = ndimage.binary_fill_holes(mask)  # nested parts are inside the filled holes
    labels, n = ndimage.label(outer, np.ones((3, 3)))
    specks = [i for i in range(1, n + 1) if len(_trace(np.pad(labels == i, 1))) < 3]
    outlines = part_outlines(mask, tolerance=0)
    assert len(outlines) == n - len(specks)
    filled = np.zeros_like(mask)
    for ring in outlines:
        filled |= fill(ring, *mask.shape)
    np.testing.assert_array_equal(filled, outer & ~np.isin(labels, specks))


def test_simplified_within_tolerance_and_shapes():
    yy, xx = np.mgrid[:120, :160]
    disc = (xx - 70) ** 2 + (yy - 60) ** 2 < 45**2
    exact = part_outlines(disc, tolerance=0)[0]
    for tol in (0.5, 1.0, 2.0):
        ring = part_outlines(disc, tolerance=tol)[0]
        assert len(ring) < len(exact)
        # every boundary pixel within ``tol`` of the simplified ring
        closed = np.concatenate([ring, ring[:1]])
        gap = np.min([_distances(exact, a, b) for a, b in zip(closed[:-1], closed[1:])], axis=0)
        assert gap.max() <= tol + 1e-9
    square = (xx >= 10) & (xx < 30) & (yy >= 5) & (yy < 25)
    assert sorted(map(tuple, part_outlines(square)[0])) == [(10, 5), (10, 24), (29, 5), (29, 24)]
    assert mask_polygon(np.zeros((5, 5), bool)) is None
    assert mask_polygon((xx == 3) & (yy == 3)) is None  # a speck: no polygon


def test_parts_are_one_ring_and_lines_are_normalised():
    yy, xx = np.mgrid[:60, :80]
    a, b = (xx - 15) ** 2 + (yy - 15) ** 2 < 100, (xx >= 50) & (xx < 75) & (yy >= 40) & (yy < 58)
    ring = mask_polygon(a | b, tolerance=0)
    back = fill(ring, 60, 80)
    assert (back & (a | b)).sum() == (a | b).sum()  # both parts, joined by a one-pixel bridge
    assert (back & ~(a | b)).sum() < 40
    values = label_line(3, ring, 60, 80).split()
    assert values[0] == "3" and len(values) == 1 + 2 * len(ring)
    xy = np.array(values[1:], float).reshape(-1, 2)
    np.testing.assert_allclose(xy * (80, 60), ring, atol=1e-4)
    assert xy.min() >= 0 and xy.max() < 1
