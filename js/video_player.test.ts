import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BitmapLoader } from "./bitmap_loader";
import { MessageBuilder, type Message } from "./messages";
import { toBytes } from "./rle";
import { PLAY_FPS, VideoPlayer, type Clock } from "./video_player";

const FRAME_MS = 1000 / PLAY_FPS;
const ANIMATION_FRAME_MS = 16;

class FakeBitmap {
  closed = false;
  constructor(readonly frame: number) {}
  close(): void {
    this.closed = true;
  }
}

/** The "JPEG" of frame i: bytes that name the frame (the fake decoder reads it back). */
function jpegOf(i: number): Uint8Array {
  return new Uint8Array([0xff, 0xd8, i & 255, i >> 8]);
}

/** The label map bytes of frame i, as fetched: distinct per frame. */
function rleOf(i: number): Uint8Array {
  return new Uint8Array([i, 0, 0, 0, 1, 0, 0, 0]);
}

interface Decode {
  frame: number;
  bitmap: FakeBitmap;
  resolve(): void;
  reject(error: Error): void;
}

/** A player over a clip of `count` frames, the kernel on frame `kernel`, with fakes recording every effect. */
function setup(count: number, kernel = 0, autoDecode = false) {
  const kernelState = { index: kernel, count, labels: new Uint8Array(0) as Uint8Array };
  const sent: Message[] = [];
  const drawn: number[] = []; // the frame of the bitmap on the canvas at each draw
  const labels: (number | null)[] = []; // the frame whose masks each shown frame got (null: none)
  const decodes: Decode[] = []; // every decode started, in order
  let playingChanges = 0;

  const clock: Clock = {
    now: () => Date.now(),
    after: (ms, f) => {
      const id = setTimeout(f, ms);
      return () => clearTimeout(id);
    },
    every: (ms, f) => {
      const id = setInterval(f, ms);
      return () => clearInterval(id);
    },
    nextFrame: (f) => void setTimeout(f, ANIMATION_FRAME_MS),
  };
  const decode = (jpeg: Uint8Array): Promise<FakeBitmap> => {
    const frame = jpeg[2] | (jpeg[3] << 8);
    const bitmap = new FakeBitmap(frame);
    if (autoDecode) {
      decodes.push({ frame, bitmap, resolve: () => {}, reject: () => {} });
      return Promise.resolve(bitmap);
    }
    return new Promise((resolve, reject) => decodes.push({ frame, bitmap, resolve: () => resolve(bitmap), reject }));
  };
  // As widget.ts: the loader presents by drawing, and each draw tells the player.
  const loader: BitmapLoader<FakeBitmap> = new BitmapLoader(decode, () => {
    drawn.push(loader.bitmap?.frame ?? -1);
    player.drawn(loader.index);
  });
  const player: VideoPlayer<FakeBitmap> = new VideoPlayer({
    host: {
      kernelIndex: () => kernelState.index,
      frameCount: () => kernelState.count,
      kernelLabels: () => kernelState.labels,
      post: (build) => void sent.push(build()),
      showLabels: (rle) => void labels.push(rle === null ? null : toBytes(rle)[0]),
      playingChanged: () => void playingChanges++,
    },
    loader,
    messages: new MessageBuilder(),
    clock,
  });

  return {
    player,
    loader,
    kernelState,
    sent,
    drawn,
    labels,
    decodes,
    playingChanges: () => playingChanges,
    /** The kernel's reply to fetch_frames for frame i. */
    reply(i: number, version = 0): void {
      player.onFrame(i, [jpegOf(i).buffer, rleOf(i).buffer], version);
    },
    /** Every fetch_frames message's indices, in the order sent. */
    fetches(): number[][] {
      return sent.flatMap((m) => (m.type === "fetch_frames" ? [m.indices] : []));
    },
    /** The frames of every goto sent, in order. */
    gotos(): number[] {
      return sent.flatMap((m) => (m.type === "goto" ? [m.index] : []));
    },
    /** The kernel moved to frame i (its traits, as after a goto or a move by Python). */
    kernelMovesTo(i: number): void {
      kernelState.index = i;
      kernelState.labels = rleOf(i);
      player.onKernelIndex();
    },
    /** Resolve the pending decode of `frame`. */
    finishDecode(frame: number): FakeBitmap {
      const d = decodes.find((x) => x.frame === frame);
      if (d === undefined) throw new Error(`no decode of frame ${frame} was started`);
      d.resolve();
      return d.bitmap;
    },
  };
}

/** Let settled promises run their callbacks (decodes finishing). */
async function flushPromises(): Promise<void> {
  for (let k = 0; k < 5; k++) await Promise.resolve();
}

/** `setup`, then the window around the kernel's frame fetched and every frame of it replied. */
function opened(count: number, kernel = 0, autoDecode = false): ReturnType<typeof setup> {
  const t = setup(count, kernel, autoDecode);
  t.player.start();
  for (const i of t.fetches()[0]) t.reply(i);
  return t;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("VideoPlayer prefetch", () => {
  it("fetches the window around the kernel's frame, nearest first, ahead before behind", () => {
    const t = setup(20, 5);
    t.player.start();
    expect(t.fetches()).toEqual([[5, 6, 4, 7, 3, 8, 2, 9, 1, 10, 0, 11, 12, 13]]);
  });

  it("after a jump, fetches that frame alone, then goto and the window once it is drawn and painted", async () => {
    const t = opened(100);
    expect(t.fetches()).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8]]);
    t.player.seek(50, true);
    expect(t.fetches().at(-1)).toEqual([50]);
    t.reply(50);
    expect(t.drawn).toEqual([]);
    t.finishDecode(50);
    await flushPromises();
    expect(t.drawn).toEqual([50]);
    expect(t.labels).toEqual([50]);
    // Nothing competes with the frame until the animation frame that paints it.
    expect(t.sent.length).toBe(2);
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.sent.slice(2).map((m) => m.type)).toEqual(["goto", "fetch_frames"]);
    expect(t.gotos()).toEqual([50]);
    expect(t.fetches().at(-1)).toEqual([51, 49, 52, 48, 53, 47, 54, 46, 55, 45, 56, 44, 57, 43, 58, 42]);
  });

  it("asks again neither for cached frames nor for frames in flight", () => {
    const t = opened(30);
    t.player.seek(4, false); // cached: shown from the cache, the new edge of the window fetched
    expect(t.fetches().at(-1)).toEqual([9, 10, 11, 12]);
    t.player.seek(5, false); // 9-12 in flight, 13 new
    expect(t.fetches().at(-1)).toEqual([13]);
    t.player.seek(5, false); // nothing new
    expect(t.fetches().length).toBe(3);
  });

  it("decodes the cached frames next to the one shown ahead, and shows them without decoding again", async () => {
    const t = opened(20, 0, true);
    t.player.seek(3, false);
    await flushPromises();
    expect(t.drawn).toEqual([3]);
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.decodes.map((d) => d.frame)).toEqual([3, 4, 2, 5]); // shown, then +1, -1, +2
    t.player.seek(4, false);
    await flushPromises();
    expect(t.drawn).toEqual([3, 4]);
    expect(t.decodes.filter((d) => d.frame === 4).length).toBe(1);
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.decodes.map((d) => d.frame)).toEqual([3, 4, 2, 5, 3, 6]); // 2 dropped, 3 and 6 ahead
    expect(t.decodes[2].bitmap.closed).toBe(true);
  });
});

describe("VideoPlayer seek during a decode", () => {
  it("draws the newer frame when the older decode finishes first, and drops the older", async () => {
    const t = opened(20);
    t.player.seek(3, false);
    t.player.seek(5, true);
    const older = t.finishDecode(3);
    await flushPromises();
    expect(t.drawn).toEqual([]);
    expect(older.closed).toBe(true);
    const newer = t.finishDecode(5);
    await flushPromises();
    expect(t.drawn).toEqual([5]);
    expect(t.loader.bitmap).toBe(newer);
    expect(t.labels).toEqual([5]);
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.gotos()).toEqual([5]); // the uncommitted seek to 3 never moved the kernel
  });

  it("draws the newer frame when the older decode finishes last, and drops the older", async () => {
    const t = opened(20);
    t.player.seek(3, false);
    t.player.seek(5, false);
    t.finishDecode(5);
    await flushPromises();
    const older = t.finishDecode(3);
    await flushPromises();
    expect(t.drawn).toEqual([5]);
    expect(t.loader.index).toBe(5);
    expect(older.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.gotos()).toEqual([]);
  });

  it("sends the goto of a committed seek superseded before it was drawn at once", async () => {
    const t = opened(20);
    t.player.seek(3, true);
    t.player.seek(5, false);
    expect(t.gotos()).toEqual([3]); // the kernel follows the committed seek as before
    t.finishDecode(5);
    await flushPromises();
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.gotos()).toEqual([3]);
  });

  it("sends a goto held back before any other message", async () => {
    const t = opened(20);
    t.player.seek(6, true);
    t.player.flushGoto(); // e.g. a click on the frame before it was drawn
    expect(t.gotos()).toEqual([6]);
    t.finishDecode(6);
    await flushPromises();
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.gotos()).toEqual([6]);
  });

  it("shows the frame already on the canvas again without a decode, dropping the one in flight", async () => {
    const t = opened(20);
    t.player.seek(3, false);
    t.finishDecode(3);
    await flushPromises();
    t.player.seek(4, false);
    t.player.seek(3, false);
    expect(t.drawn).toEqual([3, 3]);
    t.finishDecode(4);
    await flushPromises();
    expect(t.drawn).toEqual([3, 3]);
    expect(t.decodes.filter((d) => d.frame === 3).length).toBe(1);
  });

  it("moves the kernel on without showing a frame whose decode failed", async () => {
    const t = opened(20);
    t.player.seek(3, true);
    t.decodes.find((d) => d.frame === 3)?.reject(new Error("corrupt JPEG"));
    await flushPromises();
    expect(t.drawn).toEqual([]);
    expect(t.gotos()).toEqual([3]); // the goto brings the kernel's own image (or its error)
  });
});

describe("VideoPlayer superseded frames", () => {
  it("does not show a late reply to an earlier jump, and fetches the window of the newer one", async () => {
    const t = opened(20);
    t.player.seek(15, false);
    t.player.seek(18, true);
    expect(t.fetches().slice(1)).toEqual([[15], [18]]);
    t.reply(15);
    expect(t.decodes.length).toBe(0);
    t.reply(18);
    t.finishDecode(18);
    await flushPromises();
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.drawn).toEqual([18]);
    expect(t.gotos()).toEqual([18]);
    expect(t.fetches().at(-1)).toEqual([19, 17, 16, 14, 13, 12, 11, 10]); // 15 is cached
  });

  it("keeps the frame shown while the kernel's traits are of a frame scrubbed past", async () => {
    const t = opened(20);
    t.player.seek(3, true);
    t.player.seek(7, true); // the goto to 3 goes at once; 7 waits for its draw
    t.finishDecode(7);
    await flushPromises();
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.gotos()).toEqual([3, 7]);
    t.kernelMovesTo(3); // the reply to the first goto
    expect(t.player.kernelShown()).toBe(false); // its image_jpeg and label_rle must not replace frame 7
    expect(t.player.cursor()).toBe(7);
    t.kernelMovesTo(7);
    expect(t.player.kernelShown()).toBe(true);
    t.kernelMovesTo(12); // moved by Python: the kernel's frame is shown again
    expect(t.player.kernelShown()).toBe(true);
    expect(t.player.cursor()).toBe(12);
  });

  it("shows no masks on a frame whose masks changed since it was fetched, until the new ones arrive", async () => {
    const t = opened(20);
    t.player.seek(3, false);
    t.finishDecode(3);
    await flushPromises();
    expect(t.labels).toEqual([3]);
    const before = t.fetches().length;
    t.player.onMasksChanged([[2, 4]], 1);
    expect(t.labels).toEqual([3, null]); // same image, masks dropped at once
    expect(t.fetches().slice(before)).toEqual([[3, 4, 2]]);
    t.reply(3, 0); // a reply sent before the change: still stale, asked for again
    expect(t.labels).toEqual([3, null, null]);
    t.reply(3, 1);
    expect(t.labels).toEqual([3, null, null, 3]);
    expect(t.decodes.filter((d) => d.frame === 3).length).toBe(1); // the image was never decoded again
  });
});

describe("VideoPlayer playback", () => {
  it("steps a frame every 1/PLAY_FPS s, pauses, resumes, and moves the kernel to the last frame", async () => {
    const t = opened(8, 0, true);
    t.player.togglePlay();
    expect(t.player.playing).toBe(true);
    expect(t.playingChanges()).toBe(1);
    await vi.advanceTimersByTimeAsync(3.5 * FRAME_MS); // the timer ticks twice a frame
    expect(t.drawn).toEqual([0, 1, 2, 3]);
    expect(t.gotos()).toEqual([]); // playing moves only the picture
    t.player.togglePlay();
    expect(t.player.playing).toBe(false);
    await vi.advanceTimersByTimeAsync(10 * FRAME_MS);
    expect(t.drawn).toEqual([0, 1, 2, 3]);
    t.player.togglePlay(); // resumes from the frame shown
    await vi.advanceTimersByTimeAsync(5 * FRAME_MS);
    expect(t.drawn).toEqual([0, 1, 2, 3, 3, 4, 5, 6, 7]);
    expect(t.player.playing).toBe(false); // stopped at the end
    expect(t.playingChanges()).toBe(4);
    expect(t.gotos()).toEqual([7]);
  });

  it("plays from the start when at the last frame", async () => {
    const t = opened(4, 3, true);
    t.player.togglePlay();
    await vi.advanceTimersByTimeAsync(FRAME_MS / 2);
    expect(t.drawn).toEqual([0]);
    t.player.togglePlay();
  });

  it("steps from the frame on screen and stops at the ends", async () => {
    const t = opened(3, 0, true);
    t.player.step(-1);
    expect(t.gotos()).toEqual([]);
    t.player.step(1);
    t.player.step(1);
    t.player.step(1);
    await flushPromises();
    await vi.advanceTimersByTimeAsync(ANIMATION_FRAME_MS);
    expect(t.player.cursor()).toBe(2);
    expect(t.gotos()).toEqual([1, 2]);
  });

  it("stops its timers when disposed", async () => {
    const t = opened(8, 0, true);
    t.player.togglePlay();
    t.player.dispose();
    await vi.advanceTimersByTimeAsync(10 * FRAME_MS);
    expect(t.drawn).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
