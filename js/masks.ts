// The mask overlay as a canvas of the original image size. Labels are kept as runs
// (rle.ts decodeLabelRuns) with their outline runs cached, so a change of colour,
// visibility, opacity or outline only recolours. The overlay is painted run by run into a
// reused ImageData: a new map clears only the runs the last one painted, and only the rows
// either covers go to the canvas. The same label bytes are not decoded twice.

import type { BinaryLike, ObjectInfo } from "./protocol";
import { decodeLabelRuns, outlineRuns, paintOverlay, sameBytes, toBytes, type LabelRuns } from "./rle";

/** The rows `[first, end)` that hold a run of `map` (empty: first >= end). */
function rowSpan(map: LabelRuns): [number, number] {
  const { runs, width } = map;
  if (runs.length === 0) return [map.height, 0];
  return [Math.floor(runs[0] / width), Math.floor((runs[runs.length - 2] - 1) / width) + 1];
}

export class MaskLayer {
  private readonly canvas = document.createElement("canvas");
  private ctx: CanvasRenderingContext2D | null = null;
  private map: LabelRuns | null = null;
  private outlines: Uint32Array | null = null;
  private pixels: ImageData | null = null;
  /** The map whose paint `pixels` and the canvas hold (null: unknown, repaint all). */
  private painted: LabelRuns | null = null;
  private rle: Uint8Array | null = null; // a copy of the bytes `map` was decoded from
  private width = 0;
  private height = 0;
  private ready = false;

  /** The coloured masks to draw, or null when there are none. */
  get image(): CanvasImageSource | null {
    return this.ready ? this.canvas : null;
  }

  /**
   * Decode new labels (`label_rle`); throws on malformed input, leaving no masks.
   * Returns false, changing nothing, when they are the labels already decoded.
   */
  setLabels(rle: BinaryLike | null, width: number, height: number): boolean {
    const bytes = toBytes(rle);
    if (this.rle !== null && width === this.width && height === this.height && sameBytes(bytes, this.rle)) return false;
    this.map = null;
    this.outlines = null;
    this.rle = null;
    this.ready = false;
    this.width = width;
    this.height = height;
    const map = decodeLabelRuns(bytes, width, height);
    if (map.runs.length > 0) this.map = map;
    this.rle = bytes.slice();
    return true;
  }

  colour(objects: readonly ObjectInfo[], opacity: number, outline: boolean): void {
    this.ready = false;
    this.ctx ??= this.canvas.getContext("2d");
    const ctx = this.ctx;
    const map = this.map;
    if (map === null || ctx === null) return;
    const { width, height } = this;
    if (outline && this.outlines === null) this.outlines = outlineRuns(map);
    if (this.pixels === null || this.pixels.width !== width || this.pixels.height !== height) {
      this.pixels = new ImageData(width, height);
      this.painted = null;
    }
    // Setting a canvas' size clears and reallocates it even when unchanged.
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.painted = null;
    }
    const before = this.painted;
    this.painted = null; // until painted: a throw (a bad colour) leaves the buffer unknown
    paintOverlay(this.pixels.data, map, objects, opacity, outline ? this.outlines : null, before);
    let [y0, y1] = rowSpan(map);
    if (before === null) [y0, y1] = [0, height];
    else {
      const [b0, b1] = rowSpan(before);
      y0 = Math.min(y0, b0);
      y1 = Math.max(y1, b1);
    }
    if (y1 > y0) ctx.putImageData(this.pixels, 0, 0, 0, y0, width, y1 - y0);
    this.painted = map;
    this.ready = true;
  }
}
