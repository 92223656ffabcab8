// The mask overlay as a canvas of the original image size: decoded labels
// and their outlines are cached, so a change of colour, visibility, opacity
// or outline only recolours. The overlay is painted run by run into a reused
// ImageData (rle.ts paintOverlay), and the same label bytes are not decoded twice.

import type { BinaryLike, ObjectInfo } from "./protocol";
import { decodeLabelRuns, outlineIndices, paintOverlay, sameBytes, toBytes, type LabelRuns } from "./rle";

export class MaskLayer {
  private readonly canvas = document.createElement("canvas");
  private ctx: CanvasRenderingContext2D | null = null;
  private map: LabelRuns | null = null;
  private outlines: Uint32Array | null = null;
  private pixels: ImageData | null = null;
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
    if (this.map === null || ctx === null) return;
    const { width, height } = this;
    if (outline && this.outlines === null) this.outlines = outlineIndices(this.map, width, height);
    if (this.pixels === null || this.pixels.width !== width || this.pixels.height !== height) {
      this.pixels = new ImageData(width, height);
    }
    paintOverlay(this.pixels.data, this.map, objects, opacity, outline ? this.outlines : null);
    // Setting a canvas' size clears and reallocates it even when unchanged.
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    ctx.putImageData(this.pixels, 0, 0);
    this.ready = true;
  }
}
