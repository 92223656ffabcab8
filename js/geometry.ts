// Screen <-> image coordinates. "Screen" is CSS pixels of the canvas, origin
// at its top left; "image" is pixels of the original image, x then y. The map
// is the affine screen = image * scale + (tx, ty): uniform zoom plus pan.

export interface Point {
  x: number;
  y: number;
}

/** A box as two corners, x0 <= x1 and y0 <= y1. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The image -> screen transform. */
export interface View {
  scale: number;
  tx: number;
  ty: number;
}

/** How far the zoom may go, as multiples of the fitted scale. */
export const MIN_ZOOM = 0.5;
export const MAX_ZOOM = 64;

export function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}

/** The view that shows the whole image centred in the canvas ("contain"). */
export function fitView(imageW: number, imageH: number, canvasW: number, canvasH: number): View {
  if (imageW <= 0 || imageH <= 0 || canvasW <= 0 || canvasH <= 0) {
    return { scale: 1, tx: 0, ty: 0 };
  }
  const scale = Math.min(canvasW / imageW, canvasH / imageH);
  return { scale, tx: (canvasW - imageW * scale) / 2, ty: (canvasH - imageH * scale) / 2 };
}

export function toScreen(view: View, p: Point): Point {
  return { x: p.x * view.scale + view.tx, y: p.y * view.scale + view.ty };
}

export function toImage(view: View, p: Point): Point {
  return { x: (p.x - view.tx) / view.scale, y: (p.y - view.ty) / view.scale };
}

/**
 * Zoom by `factor` keeping the image point under `at` (screen) where it is.
 * The scale is kept within [minScale, maxScale].
 */
export function zoomAt(view: View, at: Point, factor: number, minScale: number, maxScale: number): View {
  const scale = clamp(view.scale * factor, minScale, maxScale);
  const anchor = toImage(view, at);
  return { scale, tx: at.x - anchor.x * scale, ty: at.y - anchor.y * scale };
}

/** Move the image by (dx, dy) screen pixels. */
export function panBy(view: View, dx: number, dy: number): View {
  return { scale: view.scale, tx: view.tx + dx, ty: view.ty + dy };
}

export function isInsideImage(p: Point, width: number, height: number): boolean {
  return p.x >= 0 && p.y >= 0 && p.x <= width && p.y <= height;
}

export function clampToImage(p: Point, width: number, height: number): Point {
  return { x: clamp(p.x, 0, width), y: clamp(p.y, 0, height) };
}

/**
 * The box spanned by two drag points (image coordinates, any order), clamped
 * to the image; null when nothing of it lies inside the image.
 */
export function normaliseBox(a: Point, b: Point, width: number, height: number): Box | null {
  const p = clampToImage({ x: Math.min(a.x, b.x), y: Math.min(a.y, b.y) }, width, height);
  const q = clampToImage({ x: Math.max(a.x, b.x), y: Math.max(a.y, b.y) }, width, height);
  if (q.x <= p.x || q.y <= p.y) return null;
  return { x0: p.x, y0: p.y, x1: q.x, y1: q.y };
}

/**
 * Index of the point (image coordinates) nearest to `at` (screen) within
 * `radius` screen pixels, or -1. Candidates set to null are skipped.
 */
export function hitTest(points: readonly (Point | null)[], at: Point, view: View, radius: number): number {
  let best = -1;
  let bestDist = radius * radius;
  points.forEach((p, i) => {
    if (p === null) return;
    const s = toScreen(view, p);
    const d = (s.x - at.x) ** 2 + (s.y - at.y) ** 2;
    if (d <= bestDist) {
      best = i;
      bestDist = d;
    }
  });
  return best;
}
