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

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Little-endian uint32s of `bytes` (a whole number of them). */
function littleEndianWords(bytes: Uint8Array): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < words.length; i++) words[i] = view.getUint32(4 * i, true);
  return words;
}

/**
 * A decoded label map as runs of non-zero labels, split at row ends and merged where a row
 * has the same label twice in a row: each run is a maximal one of its row, so the pixels
 * left and right of it hold other labels (or lie outside the image). No per-pixel array:
 * outlines and the overlay are made from the runs.
 */
export interface LabelRuns {
  width: number;
  height: number;
  /** `[start, end, value]` per run, pixel indices in pixel order (`end` exclusive). */
  runs: Uint32Array;
  /** `rows[y]`: the number of runs before row y (`rows[height]`: all of them). */
  rows: Uint32Array;
}

/**
 * Decode little-endian uint32 `(value, count)` pairs covering `width * height` labels
 * (row-major) into their runs. Empty input means no masks (all zero). Throws on malformed input.
 */
export function decodeLabelRuns(buf: BinaryLike | null | undefined, width: number, height: number): LabelRuns {
  const bytes = toBytes(buf);
  const size = width * height;
  if (bytes.byteLength === 0) return { width, height, runs: new Uint32Array(0), rows: new Uint32Array(height + 1) };
  if (bytes.byteLength % 8 !== 0) {
    throw new Error(`label_rle has ${bytes.byteLength} bytes, not a whole number of (value, count) pairs`);
  }
  // The pairs as uint32s: a view where the platform is little-endian and the bytes aligned, else a copy.
  const pairs =
    LITTLE_ENDIAN && bytes.byteOffset % 4 === 0
      ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      : littleEndianWords(bytes);
  // A pair gives one run, plus one more for each row end it crosses.
  const runs = new Uint32Array((pairs.length / 2 + height) * 3);
  let n = 0;
  let at = 0;
  for (let p = 0; p < pairs.length; p += 2) {
    const value = pairs[p];
    const count = pairs[p + 1];
    if (at + count > size) {
      throw new Error(`label_rle covers more than the ${width}x${height} image`);
    }
    const end = at + count;
    if (value !== 0) {
      let s = at;
      while (s < end) {
        const rowEnd = s - (s % width) + width;
        const e = end < rowEnd ? end : rowEnd;
        if (n > 0 && runs[n - 2] === s && runs[n - 1] === value && s % width !== 0) {
          runs[n - 2] = e; // the same label again, after an empty run
        } else {
          runs[n++] = s;
          runs[n++] = e;
          runs[n++] = value;
        }
        s = e;
      }
    }
    at = end;
  }
  if (at !== size) {
    throw new Error(`label_rle covers ${at} pixels, the ${width}x${height} image has ${size}`);
  }
  const rows = new Uint32Array(height + 1);
  let r = 0;
  for (let y = 0; y < height; y++) {
    const rowStart = y * width;
    while (r < n && runs[r] < rowStart) r += 3;
    rows[y] = r / 3;
  }
  rows[height] = n / 3;
  return { width, height, runs: runs.slice(0, n), rows };
}

/** "#rrggbb" -> [r, g, b]. */
export function parseHexColor(color: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (m === null) throw new Error(`not a #rrggbb colour: ${JSON.stringify(color)}`);
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * The outline pixels as runs (`LabelRuns`, not merged across a row): the pixels inside a mask
 * (label != 0) that differ from one of their 4-neighbours, outside the image counting as
 * background (outlines close at the image border). Made from the runs alone: a run's two
 * ends always differ from their row neighbours, and a pixel inside it is on the outline
 * unless the rows above and below both hold its label there.
 */
export function outlineRuns(map: LabelRuns): LabelRuns {
  const { width, height, runs, rows } = map;
  const outRows = new Uint32Array(height + 1);
  let out = new Uint32Array(Math.max(48, runs.length * 2));
  let n = 0;
  const emit = (s: number, e: number, v: number): void => {
    if (n + 3 > out.length) {
      const grown = new Uint32Array(2 * out.length);
      grown.set(out);
      out = grown;
    }
    out[n++] = s;
    out[n++] = e;
    out[n++] = v;
  };
  for (let y = 0; y < height; y++) {
    outRows[y] = n / 3;
    const first = rows[y];
    const last = rows[y + 1];
    if (y === 0 || y === height - 1) {
      for (let k = first; k < last; k++) emit(runs[3 * k], runs[3 * k + 1], runs[3 * k + 2]);
      continue;
    }
    // Runs of the rows above and below, walked along with this row's runs.
    let up = rows[y - 1];
    const upEnd = first;
    let down = last;
    const downEnd = rows[y + 2];
    for (let k = first; k < last; k++) {
      const a = runs[3 * k];
      const b = runs[3 * k + 1];
      const v = runs[3 * k + 2];
      const lo = a + 1; // pixels lo..hi-1 may be inside the mask
      const hi = b - 1;
      while (up < upEnd && runs[3 * up + 1] + width <= lo) up++;
      while (down < downEnd && runs[3 * down + 1] - width <= lo) down++;
      let cursor = a; // the outline reaches up to here
      let i = up;
      let j = down;
      while (i < upEnd && j < downEnd) {
        const i0 = runs[3 * i] + width;
        const j0 = runs[3 * j] - width;
        if (i0 >= hi || j0 >= hi) break;
        const i1 = runs[3 * i + 1] + width;
        const j1 = runs[3 * j + 1] - width;
        if (runs[3 * i + 2] !== v) {
          i++;
          continue;
        }
        if (runs[3 * j + 2] !== v) {
          j++;
          continue;
        }
        // Where both neighbours hold v, the pixels are inside: the outline stops there.
        const s = Math.max(i0, j0, lo);
        const e = Math.min(i1, j1, hi);
        if (s < e) {
          emit(cursor, s, v);
          cursor = e;
        }
        if (i1 < j1) i++;
        else j++;
      }
      emit(cursor, b, v);
    }
  }
  outRows[height] = n / 3;
  return { width, height, runs: out.slice(0, n), rows: outRows };
}

/** One RGBA pixel as a uint32 in the platform's byte order (for a Uint32Array view of RGBA bytes). */
function packRgba(r: number, g: number, b: number, a: number): number {
  return LITTLE_ENDIAN ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

/** Each visible object's colour as a packed RGBA pixel: with the fill opacity, and opaque for outlines. */
export interface OverlayColours {
  filled: ReadonlyMap<number, number>;
  opaque: ReadonlyMap<number, number>;
}

/** The colours of `objects`; hidden ones have none. Throws on a colour not "#rrggbb". */
export function overlayColours(objects: readonly { id: number; color: string; visible: boolean }[], opacity: number): OverlayColours {
  const fill = Math.round(255 * Math.min(1, Math.max(0, opacity)));
  const filled = new Map<number, number>();
  const opaque = new Map<number, number>();
  for (const o of objects) {
    if (!o.visible) continue;
    const [r, g, b] = parseHexColor(o.color);
    filled.set(o.id, packRgba(r, g, b, fill));
    opaque.set(o.id, packRgba(r, g, b, 255));
  }
  return { filled, opaque };
}

/**
 * Colour each run with its object's colour into `rgba` (width * height * 4 bytes, reused
 * between calls). Labels of hidden or unknown objects stay transparent; outline pixels
 * (`outline`, from `outlineRuns`, or null for none) are opaque. `painted` is the map whose
 * paint `rgba` holds, cleared run by run; null clears all of `rgba`.
 */
export function paintOverlay(
  rgba: Uint8ClampedArray,
  map: LabelRuns,
  colours: OverlayColours,
  outline: LabelRuns | null,
  painted: LabelRuns | null = null,
): void {
  const size = map.width * map.height;
  if (rgba.byteLength !== size * 4) throw new Error("paintOverlay: the RGBA buffer does not match the labels");
  const px = new Uint32Array(rgba.buffer, rgba.byteOffset, size);
  if (painted === null || painted.width * painted.height !== size) px.fill(0);
  else for (let k = 0; k < painted.runs.length; k += 3) px.fill(0, painted.runs[k], painted.runs[k + 1]);
  paintRuns(px, map.runs, colours.filled);
  if (outline !== null) paintRuns(px, outline.runs, colours.opaque);
}

function paintRuns(px: Uint32Array, runs: Uint32Array, colours: ReadonlyMap<number, number>): void {
  let lastLabel = 0;
  let lastColour: number | undefined;
  for (let k = 0; k < runs.length; k += 3) {
    const v = runs[k + 2];
    if (v !== lastLabel) {
      lastLabel = v;
      lastColour = colours.get(v);
    }
    if (lastColour !== undefined) px.fill(lastColour, runs[k], runs[k + 1]);
  }
}

/** Where the image lies on a canvas: canvas pixel = image pixel * scale + (tx, ty). */
export interface Placement {
  scale: number;
  tx: number;
  ty: number;
}

/**
 * The overlay as `width` x `height` canvas pixels (`rgba`, overwritten) for the image placed
 * at `at`: each canvas pixel takes the colour of the image pixel under its centre (nearest,
 * as a canvas draws an image without smoothing), so a view smaller than the image paints
 * only the pixels shown instead of scaling a full-size overlay. Works row by row from the
 * runs of the image rows sampled.
 */
export function paintPlaced(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  map: LabelRuns,
  colours: OverlayColours,
  outline: LabelRuns | null,
  at: Placement,
): void {
  if (rgba.byteLength !== width * height * 4) throw new Error("paintPlaced: the RGBA buffer does not match the size");
  const px = new Uint32Array(rgba.buffer, rgba.byteOffset, width * height);
  px.fill(0);
  const { scale, tx, ty } = at;
  const source = (d: number, t: number): number => Math.floor((d + 0.5 - t) / scale); // image pixel under canvas pixel d
  // firstAt[x]: the first canvas pixel whose centre lies at image column x or right of it
  // (clamped to the canvas), so a run's canvas pixels are firstAt[start]..firstAt[end]-1.
  const firstAt = new Int32Array(map.width + 1);
  for (let x = 0; x <= map.width; x++) {
    let d = Math.ceil(x * scale + tx - 0.5);
    while (source(d - 1, tx) >= x) d--;
    while (source(d, tx) < x) d++;
    firstAt[x] = Math.min(width, Math.max(0, d));
  }
  const paintRow = (runs: LabelRuns, y: number, row: number, cs: ReadonlyMap<number, number>): void => {
    const rowStart = y * map.width;
    let lastLabel = 0;
    let lastColour: number | undefined;
    for (let k = runs.rows[y]; k < runs.rows[y + 1]; k++) {
      const v = runs.runs[3 * k + 2];
      if (v !== lastLabel) {
        lastLabel = v;
        lastColour = cs.get(v);
      }
      if (lastColour === undefined) continue;
      const d0 = firstAt[runs.runs[3 * k] - rowStart];
      const d1 = firstAt[runs.runs[3 * k + 1] - rowStart];
      if (d1 > d0) px.fill(lastColour, row + d0, row + d1);
    }
  };
  for (let dy = 0; dy < height; dy++) {
    const y = source(dy, ty);
    if (y < 0 || y >= map.height) continue;
    paintRow(map, y, dy * width, colours.filled);
    if (outline !== null) paintRow(outline, y, dy * width, colours.opaque);
  }
}
