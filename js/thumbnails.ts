// The thumbnail strip's logic, DOM-free: which thumbnails are in view of a horizontally
// scrolled strip of fixed-width items, which of them to fetch (`fetch_thumbnails`, at most
// 64 a message, the shown image first), a cache of decoded thumbnails by count whose entries
// go stale when `thumbs_version` moves past the version they were drawn at, the scroll that
// brings an item into view, and the strip's arrow keys. thumbnail_strip.ts is its DOM.

import type { Closable } from "./bitmap_loader";
import { MAX_THUMBNAILS } from "./messages";
import type { ReviewStatus, ThumbnailReply } from "./protocol";

/** The inclusive range of items of width `itemWidth` that show in `[scrollLeft, scrollLeft + viewWidth)`, plus `overscan` either side; null: none. */
export function visibleRange(
  scrollLeft: number,
  viewWidth: number,
  itemWidth: number,
  count: number,
  overscan = 0,
): [number, number] | null {
  if (count <= 0 || viewWidth <= 0 || itemWidth <= 0) return null;
  const first = Math.max(0, Math.floor(scrollLeft / itemWidth) - overscan);
  const last = Math.min(count - 1, Math.ceil((scrollLeft + viewWidth) / itemWidth) - 1 + overscan);
  return first <= last ? [first, last] : null;
}

/** The `scrollLeft` that shows item `index` whole: unchanged if it does, else the item centred. */
export function scrollToShow(index: number, scrollLeft: number, viewWidth: number, itemWidth: number): number {
  const left = index * itemWidth;
  if (left >= scrollLeft && left + itemWidth <= scrollLeft + viewWidth) return scrollLeft;
  return Math.max(0, left - (viewWidth - itemWidth) / 2);
}

/** The item the strip's key moves the roving focus to (null: not a key of the strip). */
export function rovingTarget(key: string, current: number, count: number, page: number): number | null {
  const clamp = (i: number): number => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case "ArrowLeft":
    case "ArrowUp":
      return clamp(current - 1);
    case "ArrowRight":
    case "ArrowDown":
      return clamp(current + 1);
    case "PageUp":
      return clamp(current - Math.max(1, page));
    case "PageDown":
      return clamp(current + Math.max(1, page));
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}

/** Split `indices` into `fetch_thumbnails` batches, the shown image (if among them) first. */
export function fetchBatches(indices: readonly number[], shown: number, size = MAX_THUMBNAILS): number[][] {
  const ordered = indices.includes(shown) ? [shown, ...indices.filter((i) => i !== shown)] : [...indices];
  const out: number[][] = [];
  for (let i = 0; i < ordered.length; i += size) out.push(ordered.slice(i, i + size));
  return out;
}

/** One image's thumbnail as the kernel last described it. */
export interface Thumbnail<B> {
  name: string;
  status: ReviewStatus;
  masks: number;
  /** `thumbs_version` it was drawn at. */
  version: number;
  /** The decoded JPEG (null: still decoding, or the kernel could not read the image). */
  bitmap: B | null;
  error?: string;
}

/**
 * Decoded thumbnails by image index (an LRU of `capacity` entries, closing what it drops),
 * the indices asked for and not answered yet, and the version the kernel is at.
 */
export class ThumbnailCache<B extends Closable> {
  private readonly entries = new Map<number, Thumbnail<B>>();
  private readonly inFlight = new Map<number, number>(); // index -> seq of the fetch asking for it
  private version = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be >= 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(index: number): Thumbnail<B> | undefined {
    return this.entries.get(index);
  }

  /** `thumbs_version` changed: entries drawn before it are stale (kept on show until replaced). */
  setVersion(version: number): void {
    this.version = version;
  }

  /** Whether `index` should be fetched: not cached or stale, and not asked for already. */
  needs(index: number): boolean {
    if (this.inFlight.has(index)) return false;
    const e = this.entries.get(index);
    return e === undefined || e.version < this.version;
  }

  /** Those of `indices` to fetch now (marked as asked for by `seq` with `asked`). */
  wanted(indices: Iterable<number>): number[] {
    return [...indices].filter((i) => this.needs(i));
  }

  asked(indices: readonly number[], seq: number): void {
    for (const i of indices) this.inFlight.set(i, seq);
  }

  /** The fetch `seq` was acked: what it did not answer may be asked for again. */
  acked(seq: number): void {
    for (const [i, s] of this.inFlight) if (s === seq) this.inFlight.delete(i);
  }

  /** A `thumbnail` reply: its description now, its bitmap once `decoded` (the old one shows until then). */
  received(reply: ThumbnailReply): void {
    this.inFlight.delete(reply.index);
    const old = this.entries.get(reply.index);
    this.entries.delete(reply.index); // most recently used last
    const keep = reply.error === undefined ? (old?.bitmap ?? null) : null;
    if (old?.bitmap != null && keep === null) old.bitmap.close();
    const entry: Thumbnail<B> = { name: reply.name, status: reply.status, masks: reply.masks, version: reply.version, bitmap: keep };
    if (reply.error !== undefined) entry.error = reply.error;
    this.entries.set(reply.index, entry);
    this.evict();
  }

  /** The bitmap of `index` drawn at `version` is decoded; false (and closed) when a newer one came first. */
  decoded(index: number, version: number, bitmap: B): boolean {
    const e = this.entries.get(index);
    if (e === undefined || e.version !== version || e.error !== undefined) {
      bitmap.close();
      return false;
    }
    if (e.bitmap !== bitmap) e.bitmap?.close();
    e.bitmap = bitmap;
    return true;
  }

  /** Mark `index` used (it is in view), so that eviction drops others first. */
  touch(index: number): void {
    const e = this.entries.get(index);
    if (e === undefined) return;
    this.entries.delete(index);
    this.entries.set(index, e);
  }

  clear(): void {
    for (const e of this.entries.values()) e.bitmap?.close();
    this.entries.clear();
    this.inFlight.clear();
  }

  private evict(): void {
    for (const [i, e] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      e.bitmap?.close();
      this.entries.delete(i);
    }
  }
}
