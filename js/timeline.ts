// Pure logic of the video timeline (docs/widget_protocol.md, "Video"): the
// layout of tracked spans and prompt marks, the cache of fetched frames with
// prefetch around the cursor, playback timing and the progress line. No DOM.

import type { ObjectInfo, Progress, TrackedSpans } from "./protocol";

/** One coloured bar of a lane, in percent of the timeline's width. */
export interface SpanRect {
  objId: number;
  color: string;
  lane: number;
  left: number;
  width: number;
}

/**
 * Tracked spans as bars: one lane per object in display order, inclusive frame
 * ranges mapped so that frame i covers [i / count, (i + 1) / count) of the width.
 */
export function layoutSpans(tracked: readonly TrackedSpans[], objects: readonly ObjectInfo[], count: number): SpanRect[] {
  if (count <= 0) return [];
  const byId = new Map(tracked.map((t) => [t.obj_id, t.ranges]));
  const out: SpanRect[] = [];
  objects.forEach((o, lane) => {
    for (const [a, b] of byId.get(o.id) ?? []) {
      const first = Math.max(0, Math.min(a, b));
      const last = Math.min(count - 1, Math.max(a, b));
      if (last < first) continue;
      out.push({ objId: o.id, color: o.color, lane, left: (100 * first) / count, width: (100 * (last - first + 1)) / count });
    }
  });
  return out;
}

/** The centre of frame `index` in percent of the timeline's width (for prompt marks). */
export function markPosition(index: number, count: number): number {
  return count <= 0 ? 0 : (100 * (index + 0.5)) / count;
}

/**
 * A small LRU of fetched frames. An entry remembers the `masks_version` its masks
 * were read at; `masks_changed` messages say which frames changed at which
 * version, so exactly the entries made before their frame's latest change are stale.
 */
export class FrameCache<T> {
  private readonly entries = new Map<number, { value: T; version: number }>();
  private readonly changedAt = new Map<number, number>(); // frame -> version of its latest mask change
  private allChangedAt = 0; // version of the latest change of every frame

  constructor(
    readonly capacity: number,
    private readonly onEvict: (value: T) => void = () => {},
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(index: number): T | undefined {
    const e = this.entries.get(index);
    if (e === undefined) return undefined;
    this.entries.delete(index); // most recently used last
    this.entries.set(index, e);
    return e.value;
  }

  /** Whether the frame must be fetched: not cached, or its masks changed after they were read. */
  isStale(index: number): boolean {
    const e = this.entries.get(index);
    return e === undefined || e.version < Math.max(this.allChangedAt, this.changedAt.get(index) ?? 0);
  }

  /**
   * A `masks_changed` message: the masks of `frames` (inclusive ranges; null: every
   * frame) changed at `version`. Messages come in order, so versions only grow.
   */
  markChanged(frames: readonly (readonly [number, number])[] | null, version: number): void {
    if (frames === null) {
      this.allChangedAt = version;
      this.changedAt.clear(); // every entry there is older than `version`
      return;
    }
    for (const [a, b] of frames) for (let i = a; i <= b; i++) this.changedAt.set(i, version);
  }

  put(index: number, value: T, version: number): void {
    const old = this.entries.get(index);
    if (old !== undefined) {
      this.entries.delete(index);
      if (old.value !== value) this.onEvict(old.value);
    }
    this.entries.set(index, { value, version });
    while (this.entries.size > this.capacity) {
      const [oldest, e] = this.entries.entries().next().value as [number, { value: T; version: number }];
      this.entries.delete(oldest);
      this.onEvict(e.value);
    }
  }

  clear(): void {
    for (const e of this.entries.values()) this.onEvict(e.value);
    this.entries.clear();
  }
}

/**
 * The gotos a scrub sent, to tell the kernel catching up with them (its `image_index` and
 * image traits are then of a frame scrubbed past: keep showing the newer one) from a move
 * made elsewhere (Python, the toolbar: show the kernel's frame).
 */
export class GotoLog {
  private readonly sent: { seq: number; index: number }[] = [];

  constructor(private last: number) {}

  /** Gotos sent and neither seen arriving nor acked. */
  get pending(): number {
    return this.sent.length;
  }

  add(seq: number, index: number): void {
    this.sent.push({ seq, index });
  }

  /** The kernel acked message `seq` (its trait updates came before the ack). */
  acked(seq: number): void {
    const k = this.sent.findIndex((g) => g.seq === seq);
    if (k >= 0) this.sent.splice(k, 1);
  }

  /**
   * The kernel's `image_index` is `index`: "same" if it did not move since the last call,
   * "ours" if a goto sent here moved it (that goto and older ones are done), "theirs" if not.
   */
  arrived(index: number): "same" | "ours" | "theirs" {
    if (index === this.last) return "same";
    this.last = index;
    const k = this.sent.findIndex((g) => g.index === index);
    if (k < 0) return "theirs";
    this.sent.splice(0, k + 1);
    return "ours";
  }
}

/**
 * Frames to fetch around `cursor`: within `radius` frames, nearest first (ahead
 * before behind at equal distance), skipping fresh cached ones and those in flight.
 */
export function prefetchList(
  cursor: number,
  count: number,
  radius: number,
  needs: (index: number) => boolean,
): number[] {
  const out: number[] = [];
  for (let d = 0; d <= radius; d++) {
    for (const i of d === 0 ? [cursor] : [cursor + d, cursor - d]) {
      if (i >= 0 && i < count && needs(i)) out.push(i);
    }
  }
  return out;
}

/**
 * Playback: which frame to show `elapsedMs` after frame `from` started at `fps`,
 * stopping at the last frame. `done` once the last frame is reached.
 */
export function playbackFrame(from: number, elapsedMs: number, fps: number, count: number): { index: number; done: boolean } {
  if (count <= 0) return { index: 0, done: true };
  const steps = fps > 0 && elapsedMs > 0 ? Math.floor((elapsedMs * fps) / 1000) : 0;
  const index = Math.min(count - 1, from + steps);
  return { index, done: index >= count - 1 };
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : `${s} s`;
}

/** "12/40 · 3.1 fps · ETA 9 s", "cancelled at 12/40", "" before any tracking. */
export function progressText(p: Partial<Progress> | null | undefined): string {
  if (p === null || p === undefined || typeof p.total !== "number" || p.direction === "" || p.direction === undefined) return "";
  const count = `${p.done ?? 0}/${p.total}`;
  const fps = typeof p.fps === "number" && p.fps > 0 ? ` · ${p.fps.toFixed(1)} fps` : "";
  if (p.running) {
    const eta = typeof p.eta_s === "number" ? ` · ETA ${duration(p.eta_s)}` : "";
    return `${count}${fps}${eta}`;
  }
  return p.cancelled ? `cancelled at ${count}` : `done ${count}${fps}`;
}

/** Fraction 0..1 of the progress bar. */
export function progressFraction(p: Partial<Progress> | null | undefined): number {
  if (!p || !p.total) return 0;
  return Math.min(1, Math.max(0, (p.done ?? 0) / p.total));
}
