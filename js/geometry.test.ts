import { describe, expect, it } from "vitest";
import {
  clamp,
  clampToImage,
  fitView,
  hitTest,
  isInsideImage,
  normaliseBox,
  panBy,
  toImage,
  toScreen,
  zoomAt,
  type View,
} from "./geometry";

const close = (a: { x: number; y: number }, b: { x: number; y: number }): void => {
  expect(a.x).toBeCloseTo(b.x, 9);
  expect(a.y).toBeCloseTo(b.y, 9);
};

describe("fitView", () => {
  it("fits a wide image to the width and centres it vertically", () => {
    const v = fitView(200, 100, 400, 400);
    expect(v).toEqual({ scale: 2, tx: 0, ty: 100 });
  });

  it("fits a tall image to the height and centres it horizontally", () => {
    const v = fitView(100, 200, 400, 200);
    expect(v).toEqual({ scale: 1, tx: 150, ty: 0 });
  });

  it("gives the identity for empty sizes", () => {
    expect(fitView(0, 0, 400, 300)).toEqual({ scale: 1, tx: 0, ty: 0 });
    expect(fitView(10, 10, 0, 300)).toEqual({ scale: 1, tx: 0, ty: 0 });
  });
});

describe("screen <-> image", () => {
  const views: View[] = [
    { scale: 1, tx: 0, ty: 0 },
    { scale: 0.37, tx: 12.5, ty: -40 },
    { scale: 8, tx: -1234, ty: 77 },
  ];

  it("round-trips under zoom and pan", () => {
    for (const v of views) {
      for (const p of [{ x: 0, y: 0 }, { x: 10.25, y: 399.5 }, { x: -5, y: 1e4 }]) {
        close(toImage(v, toScreen(v, p)), p);
        close(toScreen(v, toImage(v, p)), p);
      }
    }
  });

  it("maps the fitted image corners to the letterboxed canvas", () => {
    const v = fitView(640, 480, 800, 800);
    close(toScreen(v, { x: 0, y: 0 }), { x: 0, y: 100 });
    close(toScreen(v, { x: 640, y: 480 }), { x: 800, y: 700 });
  });

  it("zoomAt keeps the point under the cursor fixed", () => {
    const v = fitView(640, 480, 800, 600);
    const cursor = { x: 313, y: 207 };
    const under = toImage(v, cursor);
    const z = zoomAt(v, cursor, 3, 0.1, 100);
    expect(z.scale).toBeCloseTo(v.scale * 3, 12);
    close(toScreen(z, under), cursor);
    close(toImage(z, cursor), under);
  });

  it("zoomAt clamps the scale and still keeps the anchor", () => {
    const v: View = { scale: 2, tx: 5, ty: 5 };
    const cursor = { x: 50, y: 60 };
    const z = zoomAt(v, cursor, 100, 0.5, 4);
    expect(z.scale).toBe(4);
    close(toImage(z, cursor), toImage(v, cursor));
    expect(zoomAt(v, cursor, 0.001, 0.5, 4).scale).toBe(0.5);
  });

  it("zooming in then out by the inverse factor returns the view", () => {
    const v: View = { scale: 1.5, tx: 20, ty: -7 };
    const z = zoomAt(zoomAt(v, { x: 100, y: 80 }, 1.25, 0.1, 10), { x: 100, y: 80 }, 0.8, 0.1, 10);
    expect(z.scale).toBeCloseTo(v.scale, 12);
    expect(z.tx).toBeCloseTo(v.tx, 9);
    expect(z.ty).toBeCloseTo(v.ty, 9);
  });

  it("panBy moves image points by the screen delta", () => {
    const v: View = { scale: 2, tx: 10, ty: 10 };
    const p = { x: 33, y: 44 };
    const moved = panBy(v, 15, -5);
    close(toScreen(moved, p), { x: toScreen(v, p).x + 15, y: toScreen(v, p).y - 5 });
    // The same image point is found under the moved cursor.
    close(toImage(moved, { x: 80, y: 70 }), toImage(v, { x: 65, y: 75 }));
  });
});

describe("clamping", () => {
  it("clamps numbers and points", () => {
    expect(clamp(5, 0, 3)).toBe(3);
    expect(clamp(-1, 0, 3)).toBe(0);
    expect(clamp(2, 0, 3)).toBe(2);
    expect(clampToImage({ x: -4, y: 900 }, 640, 480)).toEqual({ x: 0, y: 480 });
  });

  it("tells inside from outside, edges included", () => {
    expect(isInsideImage({ x: 0, y: 0 }, 10, 10)).toBe(true);
    expect(isInsideImage({ x: 10, y: 10 }, 10, 10)).toBe(true);
    expect(isInsideImage({ x: -0.1, y: 5 }, 10, 10)).toBe(false);
    expect(isInsideImage({ x: 5, y: 10.1 }, 10, 10)).toBe(false);
  });
});

describe("normaliseBox", () => {
  it("orders the corners whatever the drag direction", () => {
    const want = { x0: 10, y0: 20, x1: 50, y1: 60 };
    expect(normaliseBox({ x: 10, y: 20 }, { x: 50, y: 60 }, 100, 100)).toEqual(want);
    expect(normaliseBox({ x: 50, y: 60 }, { x: 10, y: 20 }, 100, 100)).toEqual(want);
    expect(normaliseBox({ x: 10, y: 60 }, { x: 50, y: 20 }, 100, 100)).toEqual(want);
  });

  it("clamps to the image", () => {
    expect(normaliseBox({ x: -30, y: 90 }, { x: 40, y: 150 }, 100, 120)).toEqual({ x0: 0, y0: 90, x1: 40, y1: 120 });
  });

  it("is null when nothing lies inside or the box is flat", () => {
    expect(normaliseBox({ x: -30, y: -30 }, { x: -10, y: -5 }, 100, 100)).toBeNull();
    expect(normaliseBox({ x: 5, y: 5 }, { x: 5, y: 50 }, 100, 100)).toBeNull();
  });
});

describe("hitTest", () => {
  const view: View = { scale: 2, tx: 10, ty: 0 };
  const points = [{ x: 10, y: 10 }, null, { x: 14, y: 10 }, { x: 100, y: 100 }];

  it("finds the nearest point within the radius in screen pixels", () => {
    // Image (10, 10) is screen (30, 20); image (14, 10) is screen (38, 20).
    expect(hitTest(points, { x: 31, y: 21 }, view, 6)).toBe(0);
    expect(hitTest(points, { x: 36, y: 20 }, view, 6)).toBe(2);
    expect(hitTest(points, { x: 210, y: 200 }, view, 6)).toBe(3);
  });

  it("misses beyond the radius and skips null entries", () => {
    expect(hitTest(points, { x: 30, y: 27 }, view, 6)).toBe(-1);
    expect(hitTest([null, null], { x: 30, y: 20 }, view, 6)).toBe(-1);
  });

  it("measures the radius on screen, so zooming in shrinks it in the image", () => {
    // 3 image pixels away: 3 screen pixels at scale 1, 12 at scale 4.
    expect(hitTest([{ x: 10, y: 10 }], { x: 13, y: 10 }, { scale: 1, tx: 0, ty: 0 }, 6)).toBe(0);
    expect(hitTest([{ x: 10, y: 10 }], { x: 13 * 4, y: 10 * 4 }, { scale: 4, tx: 0, ty: 0 }, 6)).toBe(-1);
  });
});
