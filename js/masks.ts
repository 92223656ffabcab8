// The mask overlay as a canvas of the original image size: decoded labels
// and their outlines are cached, so a change of colour, visibility, opacity
// or outline only recolours.

import type { BinaryLike, ObjectInfo } from "./protocol";
import { buildOverlay, decodeLabelRle, outlineMask } from "./rle";

export class MaskLayer {
  private readonly canvas = document.createElement("canvas");
  private labels: Uint32Array | null = null;
  private outlines: Uint8Array | null = null;
  private width = 0;
  private height = 0;
  private ready = false;

  /** The coloured masks to draw, or null when there are none. */
  get image(): CanvasImageSource | null {
    return this.ready ? this.canvas : null;
  }

  /** Decode new labels (`label_rle`); throws on malformed input, leaving no masks. */
  setLabels(rle: BinaryLike | null, width: number, height: number): void {
    this.labels = null;
    this.outlines = null;
    this.ready = false;
    this.width = width;
    this.height = height;
    const labels = decodeLabelRle(rle, width, height);
    if (labels.some((v) => v !== 0)) this.labels = labels;
  }

  colour(objects: readonly ObjectInfo[], opacity: number, outline: boolean): void {
    this.ready = false;
    const ctx = this.canvas.getContext("2d");
    if (this.labels === null || ctx === null) return;
    if (outline && this.outlines === null) this.outlines = outlineMask(this.labels, this.width, this.height);
    const rgba = buildOverlay(this.labels, objects, { opacity, outline: outline ? this.outlines : null });
    this.canvas.width = this.width;
    this.canvas.height = this.height;
    ctx.putImageData(new ImageData(rgba, this.width, this.height), 0, 0);
    this.ready = true;
  }
}
