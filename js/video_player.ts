// The video player: which frame the scrubber, the frame keys and playback show, and which
// frames to ask the kernel for. DOM-free: the kernel's traits, sending, decoding, drawing
// and the timers are injected (the browser's in widget.ts, fakes in the tests).
//
// Frames come from the kernel in two ways. `fetch_frames` replies (JPEG + label map, one
// message per frame) fill a cache of FRAME_CACHE frames; the scrubber shows cached frames at
// once, without moving the kernel. `goto` moves the kernel itself (its `image_index`,
// `image_jpeg` and `label_rle` traits), which prompts act on. A seek:
// 1. shows the frame from the cache (and fetches the new edge of the window around it), or,
//    after a jump to a frame not cached, asks for that frame alone;
// 2. once that frame is on the canvas (in the next animation frame, after its paint), sends
//    the goto (on a commit: a release, a key, the end of playback) and, after a jump, fetches
//    the window of PREFETCH_RADIUS frames around it, nearest first. Held back until then so
//    that neither the goto's reply (the same JPEG again) nor the window competes with the
//    frame the user waits for;
// 3. decodes the cached frames next to it ahead (+1, -1, +2), so the next step shows without
//    waiting for a decode.
// A newer seek supersedes an older one at every step: the older one's decode is dropped
// (BitmapLoader), its window is never fetched, and the kernel's traits of a frame scrubbed
// past never replace the frame shown (GotoLog tells the kernel catching up with the gotos
// sent here from a move made elsewhere).

import { closeLater, type BitmapLoader, type Closable } from "./bitmap_loader";
import type { Message, MessageBuilder } from "./messages";
import type { BinaryLike } from "./protocol";
import { toBytes } from "./rle";
import { FrameCache, GotoLog, playbackFrame, prefetchList } from "./timeline";
import { NO_TRACE, type Trace } from "./trace";

export const PREFETCH_RADIUS = 8; // frames fetched around the cursor
export const FRAME_CACHE = 64; // fetched frames kept (JPEG + label RLE bytes)
export const PLAY_FPS = 12;

/** The kernel's side: its traits and a way to send to it. */
export interface PlayerHost {
  /** The `image_index` trait: the frame the kernel is on. */
  kernelIndex(): number;
  /** The `image_count` trait. */
  frameCount(): number;
  /** The `label_rle` trait: the masks of the kernel's frame. */
  kernelLabels(): BinaryLike | null;
  /** Send the message `build` makes (a build that throws shows its error and sends nothing). */
  post(build: () => Message): void;
  /** The frame just put on the canvas has these masks (null: none known yet). */
  showLabels(labels: BinaryLike | null): void;
  /** Playback started or stopped. */
  playingChanged(): void;
}

/** The clock and timers; each scheduling call returns a function that cancels it. */
export interface Clock {
  now(): number;
  after(ms: number, f: () => void): () => void;
  every(ms: number, f: () => void): () => void;
  /** Run `f` at the next animation frame (after the paint of what was drawn before it). */
  nextFrame(f: () => void): void;
}

export interface PlayerOptions<B extends Closable> {
  host: PlayerHost;
  /** Shows frames on the canvas; its `present` must end in a draw that calls `drawn`. */
  loader: BitmapLoader<B>;
  messages: MessageBuilder;
  clock: Clock;
  trace?: Trace;
}

interface CachedFrame {
  jpeg: Uint8Array;
  rle: Uint8Array;
}

/** What a seek does once its frame is on the canvas (or could not be shown). */
interface Deferred {
  index: number;
  /** Move the kernel there. */
  goto: boolean;
  /** Fetch the window around it (after a jump to a frame not cached). */
  window: boolean;
}

export class VideoPlayer<B extends Closable> {
  private readonly host: PlayerHost;
  private readonly loader: BitmapLoader<B>;
  private readonly messages: MessageBuilder;
  private readonly clock: Clock;
  private readonly trace: Trace;
  private shown = -1; // the frame scrubbed to (-1: follow the kernel's image_index)
  private readonly gotos: GotoLog;
  private deferred: Deferred | null = null;
  private readonly frames = new FrameCache<CachedFrame>(FRAME_CACHE);
  private readonly inFlight = new Set<number>(); // fetched, no reply yet
  private readonly predecoded = new Map<number, { jpeg: Uint8Array; image: Promise<B> }>();
  private cancelPredecode: (() => void) | null = null;
  private cancelPlayback: (() => void) | null = null; // non-null while playing
  private disposed = false;

  constructor(options: PlayerOptions<B>) {
    this.host = options.host;
    this.loader = options.loader;
    this.messages = options.messages;
    this.clock = options.clock;
    this.trace = options.trace ?? NO_TRACE;
    this.gotos = new GotoLog(this.host.kernelIndex());
  }

  get playing(): boolean {
    return this.cancelPlayback !== null;
  }

  /** Fetch the window around the kernel's frame (once, when the widget opens). */
  start(): void {
    this.prefetch(this.host.kernelIndex());
  }

  /**
   * Whether the kernel's image traits are what the user looks at: not while the scrubber is
   * on a frame the kernel has not reached yet (they are then of a frame scrubbed past).
   * A move of the kernel not asked for here (Python, the toolbar) ends the scrub.
   */
  kernelShown(): boolean {
    const index = this.host.kernelIndex();
    if (this.gotos.arrived(index) === "theirs") this.shown = -1;
    return this.shown < 0 || this.shown === index;
  }

  /** Where the user looks: the frame scrubbed to, else the kernel's. */
  cursor(): number {
    this.kernelShown(); // notices a move by Python
    return this.shown >= 0 ? this.shown : this.host.kernelIndex();
  }

  /** Before any other message: a goto held back goes first, the kernel must be on the frame shown. */
  flushGoto(): void {
    if (this.deferred !== null && this.deferred.goto) {
      this.deferred.goto = false;
      this.sendGoto(this.deferred.index);
    }
  }

  /** The kernel acked message `seq` (trait updates come before the ack). */
  onAck(seq: number): void {
    if (this.gotos.pending === 0) return;
    this.kernelShown(); // the image_index it brought
    this.gotos.acked(seq);
  }

  /** The kernel moved (`image_index` changed): fetch around the cursor, unless playing. */
  onKernelIndex(): void {
    if (!this.playing) this.prefetch(this.cursor());
  }

  /** A `frame` reply: `buffers` [JPEG, label RLE], or undefined for an error reply. */
  onFrame(index: number, buffers: readonly unknown[] | undefined, version: number): void {
    this.trace.mark("reply", index);
    this.inFlight.delete(index);
    if (buffers === undefined || buffers.length < 2) {
      if (this.deferred?.index === index) this.flushDeferred(); // the goto shows the error
      return;
    }
    const jpeg = toBytes(buffers[0] as BinaryLike).slice();
    const rle = toBytes(buffers[1] as BinaryLike).slice();
    this.frames.put(index, { jpeg, rle }, version);
    if (index === this.shown) this.showCached(index);
    else if (Math.abs(index - this.shown) <= 2) this.schedulePredecode();
    if (this.frames.isStale(index)) this.prefetch(this.cursor()); // raced with a change of its masks
  }

  /** Re-tracked or corrected frames: their cached masks are dropped, those near the cursor fetched again. */
  onMasksChanged(changed: [number, number][] | null, version: number): void {
    this.frames.markChanged(changed, version);
    const shown = this.shown;
    if (shown >= 0 && shown !== this.host.kernelIndex() && this.frames.isStale(shown)) this.showCached(shown);
    this.prefetch(this.cursor());
  }

  /** A draw finished with frame `index` on the canvas. */
  drawn(index: number): void {
    if (this.deferred?.index !== index) return;
    // In the next animation frame, the one that paints this draw: no reply to what it sends
    // (the goto's traits, the window's frames) can arrive before the paint.
    this.clock.nextFrame(() => {
      if (this.deferred?.index === index && this.loader.index === index && !this.disposed) this.flushDeferred();
    });
  }

  /** Show frame `index`; `commit`: move the kernel there too (a release, not a drag). */
  seek(index: number, commit: boolean): void {
    this.trace.mark("seek", index);
    if (this.deferred !== null && this.deferred.index !== index) {
      // An earlier seek not drawn yet: the kernel follows it as before; its window is moot.
      const d = this.deferred;
      this.deferred = null;
      if (d.goto) this.sendGoto(d.index);
    }
    const goto = commit || (this.deferred?.goto ?? false);
    this.shown = index;
    if (this.frames.get(index) !== undefined) {
      this.deferred = { index, goto, window: false };
      this.showCached(index); // may draw (and flush `deferred`) at once when it is on the canvas already
      this.prefetch(index);
    } else {
      // A jump: ask for this frame alone; the window around it follows once it is drawn.
      this.deferred = { index, goto, window: true };
      if (!this.inFlight.has(index)) this.fetchFrames([index]);
    }
  }

  /** The previous / next frame from the one on screen (`delta` -1 / +1), committed. */
  step(delta: number): void {
    const target = this.cursor() + delta;
    if (target >= 0 && target < this.host.frameCount()) this.seek(target, true);
  }

  /** Play from the cursor (from the start when at the end) at PLAY_FPS, or pause. */
  togglePlay(): void {
    if (this.playing) return this.stop();
    const count = this.host.frameCount();
    let from = this.cursor();
    if (from >= count - 1) from = 0;
    const start = this.clock.now();
    let last = -1;
    this.cancelPlayback = this.clock.every(1000 / PLAY_FPS / 2, () => {
      const { index, done } = playbackFrame(from, this.clock.now() - start, PLAY_FPS, this.host.frameCount());
      if (index !== last) {
        last = index;
        this.seek(index, done); // the last frame moves the kernel there
      }
      if (done) this.stop();
    });
    this.host.playingChanged();
  }

  stop(): void {
    this.cancelPlayback?.();
    this.cancelPlayback = null;
    this.host.playingChanged();
  }

  dispose(): void {
    this.disposed = true;
    this.cancelPlayback?.();
    this.cancelPlayback = null;
    this.cancelPredecode?.();
    this.cancelPredecode = null;
    for (const i of [...this.predecoded.keys()]) this.dropPredecoded(i);
  }

  private sendGoto(index: number): void {
    if (index === this.host.kernelIndex() && this.gotos.pending === 0) return;
    this.host.post(() => {
      const msg = this.messages.goto(index);
      this.gotos.add(msg.seq, index);
      return msg;
    });
  }

  private flushDeferred(): void {
    const d = this.deferred;
    if (d === null) return;
    this.deferred = null;
    if (d.goto) this.sendGoto(d.index);
    if (d.window) this.prefetch(this.cursor());
    this.schedulePredecode();
  }

  /** Fetch the frames within PREFETCH_RADIUS of `cursor` not cached (or stale) and not in flight. */
  private prefetch(cursor: number): void {
    const needs = (i: number): boolean => !this.inFlight.has(i) && this.frames.isStale(i);
    this.fetchFrames(prefetchList(cursor, this.host.frameCount(), PREFETCH_RADIUS, needs));
  }

  private fetchFrames(wanted: number[]): void {
    if (wanted.length === 0) return;
    for (const i of wanted) this.inFlight.add(i);
    this.trace.mark("fetch", wanted[0]);
    this.host.post(() => this.messages.fetchFrames(wanted));
  }

  /**
   * Show a cached frame at once; the kernel's traits take over on goto. A frame whose masks
   * changed since it was fetched shows no masks until it is fetched again.
   */
  private showCached(index: number): void {
    const stale = this.frames.isStale(index);
    const entry = this.frames.get(index);
    if (entry === undefined) return;
    this.trace.mark("decode", index);
    const ahead = this.predecoded.get(index);
    let decoded: Promise<B> | null = null;
    if (ahead !== undefined) {
      this.predecoded.delete(index); // the loader closes the shown bitmap when it is replaced: hand it over
      if (ahead.jpeg === entry.jpeg) decoded = ahead.image;
      else closeLater(ahead.image);
    }
    this.loader.show(index, entry.jpeg, decoded, (ok) => {
      if (!ok) {
        if (this.deferred?.index === index) this.flushDeferred();
        return;
      }
      // The kernel's own frame has fresh masks in `label_rle`.
      const labels = index === this.host.kernelIndex() ? this.host.kernelLabels() : stale ? null : entry.rle;
      this.host.showLabels(labels);
      this.trace.mark("labels", index);
    });
  }

  private schedulePredecode(): void {
    if (this.cancelPredecode !== null || this.disposed) return;
    this.cancelPredecode = this.clock.after(0, () => this.predecode());
  }

  private dropPredecoded(index: number): void {
    const p = this.predecoded.get(index);
    if (p === undefined) return;
    this.predecoded.delete(index);
    closeLater(p.image);
  }

  /** Decode the cached frames next to the cursor ahead (+1, -1, +2), dropping the others. */
  private predecode(): void {
    this.cancelPredecode = null;
    if (this.shown < 0 || this.disposed) return;
    const at = this.shown;
    const near = [at + 1, at - 1, at + 2];
    for (const i of [...this.predecoded.keys()]) if (!near.includes(i)) this.dropPredecoded(i);
    for (const i of near) {
      const entry = i >= 0 && i < this.host.frameCount() ? this.frames.get(i) : undefined;
      if (entry === undefined || this.predecoded.get(i)?.jpeg === entry.jpeg) continue;
      this.dropPredecoded(i);
      this.predecoded.set(i, { jpeg: entry.jpeg, image: this.loader.decode(entry.jpeg) });
    }
  }
}
