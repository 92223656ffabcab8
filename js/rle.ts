// The `label_rle` codec (docs/widget_protocol.md) and mask colouring.
// A label map holds one object id per pixel (0: background), row-major.

import type { BinaryLike } from "./protocol";

/** A byte view of whatever a host hands us (DataView, Uint8Array, ArrayBuffer). */
export function toBytes(buf: BinaryLike | null | undefined): Uint8Array {
  if (buf === null || buf === undefined) return new Uint8Array(0);
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  // Never read `.buffer` alone: a view may be a window into a larger buffer.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  const n = a.byteLength;
  if (n !== b.byteLength) return false;
  // Compare 4 bytes at a time where both views are aligned (a 100 KB JPEG: ~0.05 ms).
  let i = 0;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const a32 = new Uint32Array(a.buffer, a.byteOffset, n >> 2);
    const b32 = new Uint32Array(b.buffer, b.byteOffset, n >> 2);
    for (let k = 0; k < a32.length; k++) if (a32[k] !== b32[k]) return false;
    i = a32.length * 4;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A decoded label map and its runs of non-zero labels (the overlay is painted run by run). */
export interface LabelRuns {
  /** width * height labels, row-major. */
  labels: Uint32Array;
  /** `[start, end, value]` per run of a non-zero label, in pixel order (`end` exclusive). */
  runs: Uint32Array;
}

/**
 * Decode little-endian uint32 `(value, count)` pairs into `width * height` labels, and the
 * runs of non-zero labels. Empty input means no masks (all zero). Throws on malformed input.
 */
export function decodeLabelRuns(buf: BinaryLike | null | undefined, width: number, height: number): LabelRuns {
  const bytes = toBytes(buf);
  const size = width * height;
  const labels = new Uint32Array(size);
  if (bytes.byteLength === 0) return { labels, runs: new Uint32Array(0) };
  if (bytes.byteLength % 8 !== 0) {
    throw new Error(`label_rle has ${bytes.byteLength} bytes, not a whole number of (value, count) pairs`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const runs = new Uint32Array((bytes.byteLength / 8) * 3);
  let n = 0;
  let at = 0;
  for (let off = 0; off < bytes.byteLength; off += 8) {
    const value = view.getUint32(off, true);
    const count = view.getUint32(off + 4, true);
    if (at + count > size) {
      throw new Error(`label_rle covers more than the ${width}x${height} image`);
    }
    if (value !== 0 && count > 0) {
      labels.fill(value, at, at + count);
      runs[n++] = at;
      runs[n++] = at + count;
      runs[n++] = value;
    }
    at += count;
  }
  if (at !== size) {
    throw new Error(`label_rle covers ${at} pixels, the ${width}x${height} image has ${size}`);
  }
  return { labels, runs: runs.slice(0, n) };
}

/** "#rrggbb" -> [r, g, b]. */
export function parseHexColor(color: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (m === null) throw new Error(`not a #rrggbb colour: ${JSON.stringify(color)}`);
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * The outline pixels, as ascending pixel indices: those inside a mask (label != 0) that
 * differ from one of their 4-neighbours, outside the image counting as background (outlines
 * close at the image border). Visits only the pixels of the runs, not the whole image.
 */
export function outlineIndices(map: LabelRuns, width: number, height: number): Uint32Array {
  const { labels, runs } = map;
  const lastRow = (height - 1) * width; // first index of the last row
  let out = new Uint32Array(1024);
  let n = 0;
  for (let r = 0; r < runs.length; r += 3) {
    const end = runs[r + 1];
    const v = runs[r + 2];
    let x = runs[r] % width;
    for (let i = runs[r]; i < end; i++, x++) {
      if (x === width) x = 0;
      if (
        x === 0 || x === width - 1 || i < width || i >= lastRow ||
        labels[i - 1] !== v || labels[i + 1] !== v || labels[i - width] !== v || labels[i + width] !== v
      ) {
        if (n === out.length) {
          const grown = new Uint32Array(2 * n);
          grown.set(out);
          out = grown;
        }
        out[n++] = i;
      }
    }
  }
  return out.slice(0, n);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** One RGBA pixel as a uint32 in the platform's byte order (for a Uint32Array view of RGBA bytes). */
function packRgba(r: number, g: number, b: number, a: number): number {
  return LITTLE_ENDIAN ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

/**
 * Colour each label with its object's colour into `rgba` (width * height * 4 bytes,
 * overwritten; reused between calls), painted run by run. Labels of hidden or unknown
 * objects stay transparent; fill alpha is `opacity` (0..1), outline pixels are opaque.
 * `outline` lists the outline pixels (`outlineIndices`) or is null for none.
 */
export function paintOverlay(
  rgba: Uint8ClampedArray,
  map: LabelRuns,
  objects: readonly { id: number; color: string; visible: boolean }[],
  opacity: number,
  outline: Uint32Array | null,
): void {
  if (rgba.byteLength !== map.labels.length * 4) throw new Error("paintOverlay: the RGBA buffer does not match the labels");
  const px = new Uint32Array(rgba.buffer, rgba.byteOffset, map.labels.length);
  px.fill(0);
  const fill = Math.round(255 * Math.min(1, Math.max(0, opacity)));
  const filled = new Map<number, number>();
  const opaque = new Map<number, number>();
  for (const o of objects) {
    if (!o.visible) continue;
    const [r, g, b] = parseHexColor(o.color);
    filled.set(o.id, packRgba(r, g, b, fill));
    opaque.set(o.id, packRgba(r, g, b, 255));
  }
  const runs = map.runs;
  for (let k = 0; k < runs.length; k += 3) {
    const c = filled.get(runs[k + 2]);
    if (c !== undefined) px.fill(c, runs[k], runs[k + 1]);
  }
  if (outline === null) return;
  const labels = map.labels;
  let lastLabel = 0;
  let lastColour: number | undefined;
  for (let k = 0; k < outline.length; k++) {
    const i = outline[k];
    const v = labels[i];
    if (v !== lastLabel) {
      lastLabel = v;
      lastColour = opaque.get(v);
    }
    if (lastColour !== undefined) px[i] = lastColour;
  }
}
