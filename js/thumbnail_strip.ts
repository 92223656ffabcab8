// The thumbnail strip of image sets, under the image: a horizontal, virtualised list (only the
// items in view exist in the DOM, fetched with `fetch_thumbnails` and decoded into a cache by
// count), each with its status badge and mask count; a click or Enter goes there. One tab stop
// with the arrows, Page Up / Down, Home and End inside (roving tabindex); it follows the shown
// image. The logic is thumbnails.ts's; this file is the DOM.

import type { Message, MessageBuilder } from "./messages";
import { focusedIn, h } from "./panels";
import { parseAck, parseThumbnailReply, type BinaryLike, type ReviewStatus } from "./protocol";
import { STATUS_BADGE } from "./review";
import { toBytes } from "./rle";
import { fetchBatches, rovingTarget, scrollToShow, ThumbnailCache, visibleRange, type Thumbnail } from "./thumbnails";

export const ITEM_PX = 104; // one thumbnail's slot, its gap included
const THUMB_W = 96;
const THUMB_H = 72;
const OVERSCAN = 2; // items made either side of the view
const CACHE = 600; // decoded thumbnails kept (~27 KB each)
const FETCH_DELAY_MS = 60; // scrolling settles before the strip asks

export interface StripHost {
  count(): number;
  shown(): number;
  /** The shown image's status as the `review` trait has it (fresher than its thumbnail). */
  shownStatus(): ReviewStatus | null;
  /** The `thumbs_version` trait. */
  version(): number;
  post(build: () => Message): void;
  goto(index: number): void;
}

export class ThumbnailStrip {
  readonly root: HTMLDivElement;
  private readonly track: HTMLDivElement;
  private readonly cache = new ThumbnailCache<ImageBitmap>(CACHE);
  private readonly items = new Map<number, HTMLDivElement>(); // image index -> its item in the DOM
  private readonly drawn = new WeakMap<HTMLDivElement, ImageBitmap | null>();
  private readonly fetches = new Set<number>(); // seqs of our fetch_thumbnails not acked yet
  private roving = 0; // the item that is the strip's tab stop
  private frame = 0;
  private fetchTimer = 0;
  private readonly resize: ResizeObserver;
  private disposed = false;

  constructor(
    private readonly host: StripHost,
    private readonly messages: MessageBuilder,
    signal: AbortSignal,
  ) {
    this.root = h("div", "thumbs", { role: "listbox", "aria-label": "Images of the set", "aria-orientation": "horizontal" });
    this.track = h("div", "thumbs-track");
    this.root.append(this.track);
    this.root.hidden = true;
    const listen = { signal };
    this.root.addEventListener("scroll", () => this.schedule(), { ...listen, passive: true });
    this.root.addEventListener("click", (e) => this.clicked(e), listen);
    this.root.addEventListener("keydown", (e) => this.key(e), listen);
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(this.root);
    this.roving = host.shown();
  }

  /** Show or hide the strip (review off, or one image). */
  setShown(on: boolean): void {
    if (this.root.hidden === !on) return;
    this.root.hidden = !on;
    if (on) this.follow();
  }

  /** The shown image changed: it becomes the tab stop and scrolls into view. */
  follow(): void {
    const hadFocus = focusedIn(this.root) !== null; // (marimo: inside a shadow root)
    this.roving = this.host.shown();
    this.scrollTo(this.roving);
    this.render();
    if (hadFocus) this.items.get(this.roving)?.focus({ preventScroll: true });
  }

  /** `thumbs_version` or the shown image's status changed: those in view are fetched again. */
  refresh(): void {
    this.cache.setVersion(this.host.version());
    this.render();
  }

  /** A custom message from the kernel: thumbnails and the acks of their fetches. */
  onMessage(msg: unknown, buffers?: readonly unknown[]): void {
    const ack = parseAck(msg);
    if (ack !== null && this.fetches.delete(ack.seq)) {
      this.cache.acked(ack.seq);
      this.scheduleFetch(); // a reply raced a change: ask again
      return;
    }
    const reply = parseThumbnailReply(msg);
    if (reply === null) return;
    this.cache.received(reply);
    this.update(reply.index);
    const buffer = buffers?.[0] as BinaryLike | undefined;
    if (reply.error !== undefined || buffer === undefined) return;
    const bytes = toBytes(buffer).slice();
    createImageBitmap(new Blob([bytes], { type: "image/jpeg" })).then(
      (bitmap) => {
        if (this.disposed) return bitmap.close();
        if (this.cache.decoded(reply.index, reply.version, bitmap)) this.update(reply.index);
      },
      () => undefined, // a thumbnail that does not decode stays blank
    );
  }

  dispose(): void {
    this.disposed = true;
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
    window.clearTimeout(this.fetchTimer);
    this.cache.clear();
  }

  // ---- layout ---------------------------------------------------------------

  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private range(): [number, number] | null {
    if (this.root.hidden) return null;
    return visibleRange(this.root.scrollLeft, this.root.clientWidth, ITEM_PX, this.host.count(), OVERSCAN);
  }

  /** Make the items in view (and the tab stop), drop the others, and fetch what they lack. */
  render(): void {
    const count = this.host.count();
    this.track.style.width = `${count * ITEM_PX}px`;
    this.roving = Math.max(0, Math.min(count - 1, this.roving));
    const range = this.range();
    const wanted = new Set<number>();
    if (range !== null) for (let i = range[0]; i <= range[1]; i++) wanted.add(i);
    if (count > 0) wanted.add(this.roving);
    for (const [i, item] of this.items) {
      if (!wanted.has(i)) {
        item.remove();
        this.items.delete(i);
      }
    }
    for (const i of wanted) {
      if (!this.items.has(i)) this.items.set(i, this.make(i));
      this.cache.touch(i);
      this.update(i);
    }
    this.scheduleFetch();
  }

  private make(index: number): HTMLDivElement {
    const item = h("div", "thumb", { role: "option", "data-index": String(index) });
    item.style.left = `${index * ITEM_PX}px`;
    const canvas = h("canvas", "thumb-canvas", { width: String(THUMB_W), height: String(THUMB_H), "aria-hidden": "true" });
    const badge = h("span", "thumb-badge", { "aria-hidden": "true" });
    const label = h("span", "thumb-label", { "aria-hidden": "true" });
    item.append(canvas, badge, label);
    this.track.append(item);
    return item;
  }

  /** Fill item `index` (if in the DOM) from the cache. */
  private update(index: number): void {
    const item = this.items.get(index);
    if (item === undefined) return;
    const thumb = this.cache.get(index);
    const shown = index === this.host.shown();
    const status = (shown ? this.host.shownStatus() : null) ?? thumb?.status ?? null;
    item.className = ["sam2w-thumb", status === null ? "" : `sam2w-thumb-${status}`, shown ? "sam2w-thumb-shown" : ""]
      .filter(Boolean)
      .join(" ");
    item.tabIndex = index === this.roving ? 0 : -1;
    item.setAttribute("aria-selected", String(shown));
    item.setAttribute("aria-posinset", String(index + 1));
    item.setAttribute("aria-setsize", String(this.host.count()));
    item.setAttribute("aria-label", describe(index, thumb, status));
    item.title = thumb?.error ?? thumb?.name ?? "";
    const [canvas, badge, label] = item.children as unknown as [HTMLCanvasElement, HTMLSpanElement, HTMLSpanElement];
    badge.textContent = status === null ? "" : STATUS_BADGE[status];
    label.textContent = thumb === undefined ? String(index + 1) : `${index + 1} · ${thumb.masks} ${thumb.masks === 1 ? "mask" : "masks"}`;
    const bitmap = thumb?.bitmap ?? null;
    if (this.drawn.get(item) !== bitmap) {
      this.drawn.set(item, bitmap);
      draw(canvas, bitmap);
    }
  }

  private scrollTo(index: number): void {
    const left = scrollToShow(index, this.root.scrollLeft, this.root.clientWidth, ITEM_PX);
    if (left !== this.root.scrollLeft) this.root.scrollLeft = left;
  }

  // ---- fetching -------------------------------------------------------------

  private scheduleFetch(): void {
    window.clearTimeout(this.fetchTimer);
    this.fetchTimer = window.setTimeout(() => this.fetch(), FETCH_DELAY_MS);
  }

  private fetch(): void {
    const range = this.range();
    if (range === null || this.disposed) return;
    const inView: number[] = [];
    for (let i = range[0]; i <= range[1]; i++) inView.push(i);
    for (const batch of fetchBatches(this.cache.wanted(inView), this.host.shown())) {
      this.host.post(() => {
        const msg = this.messages.fetchThumbnails(batch);
        this.cache.asked(batch, msg.seq);
        this.fetches.add(msg.seq);
        return msg;
      });
    }
  }

  // ---- events ---------------------------------------------------------------

  private clicked(e: MouseEvent): void {
    const item = (e.target as HTMLElement).closest<HTMLElement>(".sam2w-thumb");
    if (item === null) return;
    this.choose(Number(item.dataset.index));
  }

  private choose(index: number): void {
    this.roving = index;
    this.render();
    if (index !== this.host.shown()) this.host.goto(index);
  }

  private key(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const item = (e.target as HTMLElement).closest<HTMLElement>(".sam2w-thumb");
    if (item === null) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      e.stopPropagation();
      this.choose(Number(item.dataset.index));
      return;
    }
    const page = Math.max(1, Math.floor(this.root.clientWidth / ITEM_PX));
    const target = rovingTarget(e.key, this.roving, this.host.count(), page);
    if (target === null) return; // R, F, G, ? … go on to the widget's shortcuts
    e.preventDefault();
    e.stopPropagation();
    this.roving = target;
    this.scrollTo(target);
    this.render();
    this.items.get(target)?.focus({ preventScroll: true });
  }
}

function describe(index: number, thumb: Thumbnail<unknown> | undefined, status: ReviewStatus | null): string {
  const parts = [`Image ${index + 1}`];
  if (thumb?.name) parts.push(thumb.name);
  if (status !== null) parts.push(status);
  if (thumb !== undefined) parts.push(`${thumb.masks} ${thumb.masks === 1 ? "mask" : "masks"}`);
  if (thumb?.error !== undefined) parts.push("cannot be read");
  return parts.join(", ");
}

/** The thumbnail fitted into the canvas (blank without one). */
function draw(canvas: HTMLCanvasElement, bitmap: ImageBitmap | null): void {
  const ctx = canvas.getContext("2d");
  if (ctx === null) return;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (bitmap === null) return;
  const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
  const w = bitmap.width * scale;
  const hgt = bitmap.height * scale;
  ctx.drawImage(bitmap, (canvas.width - w) / 2, (canvas.height - hgt) / 2, w, hgt);
}
