// The mask overlay. Labels are kept as runs (rle.ts decodeLabelRuns) with their outline
// runs cached, so a change of colour, visibility, opacity or outline only recolours. Where
// the view shows the image smaller than its size, the overlay is painted at the canvas' size
// (only the pixels shown: far fewer, and no scaling draw); zoomed in, it is a canvas of the
// image's size, painted run by run into a reused ImageData where a new map clears only the
// runs the last one painted and only the rows either covers go to the canvas. Each is
// painted once per change, so redraws (a hover, a prompt) repeat none of it.

import type { BinaryLike, ObjectInfo } from "./protocol";
import {
  decodeLabelRuns,
  outlineRuns,
  overlayColours,
  paintOverlay,
  paintPlaced,
  sameBytes,
  toBytes,
  type LabelRuns,
  type OverlayColours,
  type Placement,
} from "./rle";

/** The overlay to draw: at canvas pixel (x, y) unscaled, or (`at` null) stretched over the image. */
export interface Overlay {
  image: CanvasImageSource;
  at: { x: number; y: number } | null;
}

/** The rows `[first, end)` that hold a run of `map` (empty: first >= end). */
function rowSpan(map: LabelRuns): [number, number] {
  const { runs, width } = map;
  if (runs.length === 0) return [map.height, 0];
  return [Math.floor(runs[0] / width), Math.floor((runs[runs.length - 2] - 1) / width) + 1];
}

/** A canvas and the ImageData painted into it, reused while their size holds. */
class Surface {
  readonly canvas = document.createElement("canvas");
  readonly ctx: CanvasRenderingContext2D | null = this.canvas.getContext("2d");
  pixels: ImageData | null = null;

  /** Size both; true when that cleared them. */
  size(width: number, height: number): boolean {
    let cleared = false;
    if (this.pixels === null || this.pixels.width !== width || this.pixels.height !== height) {
      this.pixels = new ImageData(width, height);
      cleared = true;
    }
    // Setting a canvas' size clears and reallocates it even when unchanged.
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      cleared = true;
    }
    return cleared;
  }
}

export class MaskLayer {
  private full: Surface | null = null; // the image's size
  private placed: Surface | null = null; // the canvas' size
  private map: LabelRuns | null = null;
  private outlines: LabelRuns | null = null;
  private colours: OverlayColours | null = null;
  private outlined = false;
  /** The map whose paint the full-size surface holds (null: unknown, repaint all). */
  private painted: LabelRuns | null = null;
  private fullStale = true;
  private placedKey = ""; // the placement the canvas-size surface was painted for, "" : none
  private rle: Uint8Array | null = null; // a copy of the bytes `map` was decoded from
  private width = 0;
  private height = 0;

  /**
   * Decode new labels (`label_rle`); throws on malformed input, leaving no masks.
   * Returns false, changing nothing, when they are the labels already decoded.
   */
  setLabels(rle: BinaryLike | null, width: number, height: number): boolean {
    const bytes = toBytes(rle);
    if (this.rle !== null && width === this.width && height === this.height && sameBytes(bytes, this.rle)) return false;
    this.map = null;
    this.outlines = null;
    this.colours = null;
    this.rle = null;
    this.width = width;
    this.height = height;
    const map = decodeLabelRuns(bytes, width, height);
    if (map.runs.length > 0) this.map = map;
    this.rle = bytes.slice();
    return true;
  }

  /** Colour the masks (painted when `render` asks); throws on a colour not "#rrggbb", leaving none. */
  colour(objects: readonly ObjectInfo[], opacity: number, outline: boolean): void {
    this.colours = null;
    this.fullStale = true;
    this.placedKey = "";
    if (this.map === null) return;
    if (outline && this.outlines === null) this.outlines = outlineRuns(this.map);
    this.outlined = outline;
    this.colours = overlayColours(objects, opacity);
  }

  /**
   * The overlay for the image placed at `at` on a `width` x `height` canvas, or null when
   * there are no masks. Paints only what changed since the last call.
   */
  render(at: Placement, width: number, height: number): Overlay | null {
    const { map, colours } = this;
    if (map === null || colours === null) return null;
    const outline = this.outlined ? this.outlines : null;
    if (at.scale < 1) {
      // The canvas pixels the image covers.
      const x0 = Math.max(0, Math.floor(at.tx));
      const y0 = Math.max(0, Math.floor(at.ty));
      const x1 = Math.min(width, Math.ceil(at.tx + map.width * at.scale));
      const y1 = Math.min(height, Math.ceil(at.ty + map.height * at.scale));
      if (x1 <= x0 || y1 <= y0) return null;
      const key = `${at.scale} ${at.tx} ${at.ty} ${x0} ${y0} ${x1} ${y1}`;
      this.placed ??= new Surface();
      const s = this.placed;
      if (key !== this.placedKey || s.pixels === null) {
        this.placedKey = "";
        s.size(x1 - x0, y1 - y0);
        const pixels = s.pixels as ImageData;
        paintPlaced(pixels.data, x1 - x0, y1 - y0, map, colours, outline, { scale: at.scale, tx: at.tx - x0, ty: at.ty - y0 });
        s.ctx?.putImageData(pixels, 0, 0);
        this.placedKey = key;
      }
      return { image: s.canvas, at: { x: x0, y: y0 } };
    }
    this.full ??= new Surface();
    const s = this.full;
    if (this.fullStale) {
      if (s.size(this.width, this.height)) this.painted = null;
      const pixels = s.pixels as ImageData;
      const before = this.painted;
      paintOverlay(pixels.data, map, colours, outline, before);
      let [y0, y1] = rowSpan(map);
      if (before === null) [y0, y1] = [0, this.height];
      else {
        const [b0, b1] = rowSpan(before);
        y0 = Math.min(y0, b0);
        y1 = Math.max(y1, b1);
      }
      if (y1 > y0) s.ctx?.putImageData(pixels, 0, 0, 0, y0, this.width, y1 - y0);
      this.painted = map;
      this.fullStale = false;
    }
    return { image: s.canvas, at: null };
  }
}
