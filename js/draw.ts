// Drawing only: the image, the mask overlay and the prompts, given in image
// coordinates, through the view transform. No state, no events.

import { toScreen, type Box, type Point, type View } from "./geometry";
import type { Overlay } from "./masks";
import type { Prompt } from "./protocol";

export const POSITIVE = "#22c55e";
export const NEGATIVE = "#ef4444";
/** Radius of a point marker in screen pixels (also the hit-test radius). */
export const POINT_RADIUS = 7;

export interface Scene {
  /** Size of the original image in pixels. */
  width: number;
  height: number;
  /** The image, drawn stretched to width x height (it may be downscaled). */
  image: CanvasImageSource | null;
  /** Mask colours: stretched over the image, or in canvas pixels (masks.ts). */
  overlay: Overlay | null;
  prompts: readonly Prompt[];
  /** Prompts sent to the kernel and not yet acknowledged, drawn faded. */
  pending: readonly Prompt[];
  /** Object id -> "#rrggbb". */
  colors: ReadonlyMap<number, string>;
  selectedId: number;
  /** Index into `prompts` of the point under the pointer, or -1. */
  hoverIndex: number;
  /** The box being dragged, in image pixels. */
  dragBox: Box | null;
  /** The keyboard cursor in screen (CSS) pixels while the canvas has the keyboard, else null. */
  keyCursor: Point | null;
}

/** Draw `scene` on the whole canvas; `dpr` is canvas pixels per CSS pixel. */
export function drawScene(ctx: CanvasRenderingContext2D, view: View, scene: Scene, dpr: number): void {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);

  ctx.setTransform(dpr * view.scale, 0, 0, dpr * view.scale, dpr * view.tx, dpr * view.ty);
  // Smooth when shrinking; show crisp pixels when zoomed in.
  ctx.imageSmoothingEnabled = view.scale < 1;
  if (scene.image !== null) ctx.drawImage(scene.image, 0, 0, scene.width, scene.height);
  ctx.imageSmoothingEnabled = false;
  const overlay = scene.overlay;
  if (overlay !== null && overlay.at === null) ctx.drawImage(overlay.image, 0, 0, scene.width, scene.height);
  if (overlay !== null && overlay.at !== null) {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(overlay.image, overlay.at.x, overlay.at.y);
  }

  // Markers keep their size in screen pixels whatever the zoom.
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const drawAll = (prompts: readonly Prompt[], faded: boolean, hover: number): void => {
    prompts.forEach((p, i) => {
      const selected = p.obj_id === scene.selectedId;
      const color = scene.colors.get(p.obj_id) ?? "#ffffff";
      ctx.globalAlpha = faded ? 0.5 : selected ? 1 : 0.6;
      if (p.type === "box") drawBox(ctx, view, p, color, selected);
      else drawPoint(ctx, view, p.x, p.y, p.label, selected ? "#ffffff" : color, i === hover);
    });
  };
  drawAll(scene.prompts, false, scene.hoverIndex);
  drawAll(scene.pending, true, -1);
  ctx.globalAlpha = 1;
  if (scene.dragBox !== null) {
    drawBox(ctx, view, scene.dragBox, scene.colors.get(scene.selectedId) ?? "#ffffff", true);
  }
  if (scene.keyCursor !== null) drawKeyCursor(ctx, scene.keyCursor);
}

/** Radius of the keyboard cursor's ring in screen pixels. */
const KEY_CURSOR_RADIUS = 10;

/** A ring with four ticks around `at` (white on a dark underlay), its centre left clear. */
function drawKeyCursor(ctx: CanvasRenderingContext2D, at: Point): void {
  const r = KEY_CURSOR_RADIUS;
  ctx.beginPath();
  ctx.arc(at.x, at.y, r, 0, 2 * Math.PI);
  for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]] as const) {
    ctx.moveTo(at.x + dx * (r - 5), at.y + dy * (r - 5));
    ctx.lineTo(at.x + dx * (r + 5), at.y + dy * (r + 5));
  }
  ctx.setLineDash([]);
  ctx.lineWidth = 4;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.6)";
  ctx.stroke();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
}

function drawBox(ctx: CanvasRenderingContext2D, view: View, b: Box, color: string, selected: boolean): void {
  const p = toScreen(view, { x: b.x0, y: b.y0 });
  const q = toScreen(view, { x: b.x1, y: b.y1 });
  const width = selected ? 2.5 : 1.5;
  // A dark underlay keeps the dashes visible on light and dark images alike.
  ctx.setLineDash([]);
  ctx.lineWidth = width + 2;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.5)";
  ctx.strokeRect(p.x, p.y, q.x - p.x, q.y - p.y);
  ctx.setLineDash([6, 4]);
  ctx.lineWidth = width;
  ctx.strokeStyle = color;
  ctx.strokeRect(p.x, p.y, q.x - p.x, q.y - p.y);
  ctx.setLineDash([]);
}

function drawPoint(
  ctx: CanvasRenderingContext2D,
  view: View,
  x: number,
  y: number,
  label: 0 | 1,
  ring: string,
  hovered: boolean,
): void {
  const s = toScreen(view, { x, y });
  const r = hovered ? POINT_RADIUS + 2 : POINT_RADIUS;
  ctx.beginPath();
  ctx.arc(s.x, s.y, r, 0, 2 * Math.PI);
  ctx.fillStyle = label === 1 ? POSITIVE : NEGATIVE;
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = ring;
  ctx.stroke();
  // The glyph: "+" for positive, "−" for negative.
  const g = r * 0.55;
  ctx.beginPath();
  ctx.moveTo(s.x - g, s.y);
  ctx.lineTo(s.x + g, s.y);
  if (label === 1) {
    ctx.moveTo(s.x, s.y - g);
    ctx.lineTo(s.x, s.y + g);
  }
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
}
