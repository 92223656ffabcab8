// The timeline's confidence and change lanes (docs/widget_protocol.md, `lanes`): bytes per
// object and frame, set whole from the trait and patched by `lanes` messages while tracking;
// the weak frames and the appear / disappear frames the keys jump to. DOM-free.

import type { BinaryLike, LanesPatch, LaneTrait } from "./protocol";
import { toBytes } from "./rle";

export const ABSENT = 1; // a confidence byte: tracked, judged absent; 0: not tracked
const PRESENT = 2; // and up: present, confidence (v - 2) / 253

/** A confidence byte as a number in [0, 1], or null when not tracked or absent. */
export function confidenceOf(v: number): number | null {
  return v >= PRESENT ? (v - PRESENT) / 253 : null;
}

/** A change byte as the IoU of the new mask to the old one, or null when unchanged. */
export function changeIoU(v: number): number | null {
  return v === 0 ? null : (v - 1) / 254;
}

export class Lanes {
  ids: number[] = [];
  frames = 0;
  confidence = new Uint8Array(0);
  changes = new Uint8Array(0);

  /** Take the whole `lanes` trait. */
  set(t: Partial<LaneTrait> | null | undefined): void {
    const ids = Array.isArray(t?.obj_ids) ? t.obj_ids : [];
    const frames = Number.isSafeInteger(t?.num_frames) ? Number(t?.num_frames) : 0;
    const conf = toBytes(t?.confidence);
    const changes = toBytes(t?.changes);
    if (conf.length !== ids.length * frames || changes.length !== conf.length) {
      this.ids = [];
      this.frames = 0;
      this.confidence = new Uint8Array(0);
      this.changes = new Uint8Array(0);
      return;
    }
    this.ids = [...ids];
    this.frames = frames;
    this.confidence = conf.slice();
    this.changes = changes.slice();
  }

  /** Apply a `lanes` message; false (nothing changed) when it does not fit these lanes. */
  patch(p: LanesPatch, buffers: readonly unknown[] | undefined): boolean {
    if (p.obj_ids.length !== this.ids.length || p.obj_ids.some((id, i) => id !== this.ids[i])) return false;
    const conf = toBytes(buffers?.[0] as BinaryLike | undefined);
    const changes = toBytes(buffers?.[1] as BinaryLike | undefined);
    const n = this.ids.length;
    const size = p.runs.reduce((s, [a, b]) => s + (b - a + 1) * n, 0);
    if (conf.length !== size || changes.length !== size || p.runs.some(([, b]) => b >= this.frames)) return false;
    let at = 0;
    for (const [a, b] of p.runs) {
      const count = b - a + 1;
      for (let k = 0; k < n; k++) {
        this.confidence.set(conf.subarray(at, at + count), k * this.frames + a);
        this.changes.set(changes.subarray(at, at + count), k * this.frames + a);
        at += count;
      }
    }
    return true;
  }

  /** Object `k`'s (position in `ids`) confidence byte on `frame`. */
  value(k: number, frame: number): number {
    return this.confidence[k * this.frames + frame];
  }

  /** Whether some object judged present on `frame` has a confidence below `threshold`. */
  isWeak(frame: number, threshold: number): boolean {
    for (let k = 0; k < this.ids.length; k++) {
      const c = confidenceOf(this.value(k, frame));
      if (c !== null && c < threshold) return true;
    }
    return false;
  }

  /** Whether an object is present on `frame` and absent on the frame before, or the reverse (both tracked). */
  isTransition(frame: number): boolean {
    if (frame <= 0) return false;
    for (let k = 0; k < this.ids.length; k++) {
      const now = this.value(k, frame);
      const before = this.value(k, frame - 1);
      if (now !== 0 && before !== 0 && (now >= PRESENT) !== (before >= PRESENT)) return true;
    }
    return false;
  }

  /** The nearest frame after (`step` 1) or before (-1) `from` that `test` accepts, or null. */
  find(from: number, step: 1 | -1, test: (frame: number) => boolean): number | null {
    for (let f = from + step; f >= 0 && f < this.frames; f += step) if (test(f)) return f;
    return null;
  }

  nextWeak(from: number, step: 1 | -1, threshold: number): number | null {
    return this.find(from, step, (f) => this.isWeak(f, threshold));
  }

  nextTransition(from: number, step: 1 | -1): number | null {
    return this.find(from, step, (f) => this.isTransition(f));
  }
}

/**
 * One lane's pixel columns: `columns` buckets of frames, each the weakest present confidence
 * in it (0..1), -1 where the object is absent on every tracked frame, or null where not tracked.
 */
export function laneColumns(lanes: Lanes, k: number, columns: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let x = 0; x < columns; x++) {
    const a = Math.floor((x * lanes.frames) / columns);
    const b = Math.max(a + 1, Math.floor(((x + 1) * lanes.frames) / columns));
    let weakest: number | null = null;
    for (let f = a; f < b; f++) {
      const v = lanes.value(k, f);
      if (v === 0) continue;
      const c = v === ABSENT ? -1 : (v - PRESENT) / 253;
      weakest = weakest === null || weakest === -1 ? c : c === -1 ? weakest : Math.min(weakest, c);
    }
    out.push(weakest);
  }
  return out;
}

/** Per pixel column, the lowest IoU of a changed mask in its frames (any object), or null. */
export function changeColumns(lanes: Lanes, columns: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let x = 0; x < columns; x++) {
    const a = Math.floor((x * lanes.frames) / columns);
    const b = Math.max(a + 1, Math.floor(((x + 1) * lanes.frames) / columns));
    let lowest: number | null = null;
    for (let k = 0; k < lanes.ids.length; k++) {
      for (let f = a; f < b; f++) {
        const iou = changeIoU(lanes.changes[k * lanes.frames + f]);
        if (iou !== null) lowest = lowest === null ? iou : Math.min(lowest, iou);
      }
    }
    out.push(lowest);
  }
  return out;
}
