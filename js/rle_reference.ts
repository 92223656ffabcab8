// Plain per-pixel versions of the label-map codec and the overlay painting, for tests only:
// the fast decoder and painters of rle.ts (runs only, outlines from the runs) must give the same pixels.

import { parseHexColor, toBytes } from "./rle";
import type { BinaryLike } from "./protocol";

/**
 * Decode little-endian uint32 `(value, count)` pairs into `width * height`
 * labels. Empty input means no masks (all zero). Throws on malformed input.
 */
export function decodeLabelRle(buf: BinaryLike | null | undefined, width: number, height: number): Uint32Array {
  const bytes = toBytes(buf);
  const size = width * height;
  const labels = new Uint32Array(size);
  if (bytes.byteLength === 0) return labels;
  if (bytes.byteLength % 8 !== 0) throw new Error(`label_rle has ${bytes.byteLength} bytes, not a whole number of (value, count) pairs`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (let off = 0; off < bytes.byteLength; off += 8) {
    const value = view.getUint32(off, true);
    const count = view.getUint32(off + 4, true);
    if (at + count > size) throw new Error(`label_rle covers more than the ${width}x${height} image`);
    for (let i = 0; i < count; i++) labels[at + i] = value;
    at += count;
  }
  if (at !== size) throw new Error(`label_rle covers ${at} pixels, the ${width}x${height} image has ${size}`);
  return labels;
}

/**
 * 1 where a pixel is inside a mask (label != 0) and differs from one of its
 * 4-neighbours; outside the image counts as background, so outlines close at
 * the image border.
 */
export function outlineMask(labels: Uint32Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const v = labels[i];
      if (v === 0) continue;
      if (
        x === 0 || x === width - 1 || y === 0 || y === height - 1 ||
        labels[i - 1] !== v || labels[i + 1] !== v ||
        labels[i - width] !== v || labels[i + width] !== v
      ) {
        out[i] = 1;
      }
    }
  }
  return out;
}

export interface OverlayStyle {
  /** Fill opacity of the masks, 0..1. */
  opacity: number;
  /** Outline pixels (from `outlineMask`) drawn opaque, or null for none. */
  outline: Uint8Array | null;
}

/**
 * RGBA pixels (width * height * 4) colouring each label with its object's
 * colour. Labels of hidden or unknown objects stay transparent.
 */
export function buildOverlay(
  labels: Uint32Array,
  objects: readonly { id: number; color: string; visible: boolean }[],
  style: OverlayStyle,
): Uint8ClampedArray<ArrayBuffer> {
  const rgba = new Uint8ClampedArray(labels.length * 4);
  const colours = new Map<number, [number, number, number]>();
  for (const o of objects) if (o.visible) colours.set(o.id, parseHexColor(o.color));
  const fill = Math.round(255 * Math.min(1, Math.max(0, style.opacity)));
  const outline = style.outline;
  let lastLabel = 0;
  let lastColour: [number, number, number] | undefined;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === 0) continue;
    if (v !== lastLabel) {
      lastLabel = v;
      lastColour = colours.get(v);
    }
    if (lastColour === undefined) continue;
    const o = i * 4;
    rgba[o] = lastColour[0];
    rgba[o + 1] = lastColour[1];
    rgba[o + 2] = lastColour[2];
    rgba[o + 3] = outline !== null && outline[i] === 1 ? 255 : fill;
  }
  return rgba;
}

