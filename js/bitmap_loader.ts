// The image on the canvas and the JPEG decode that will replace it. Decodes run off the
// main thread and may finish out of order: each new decode takes a token, and one that
// finishes with an older token (superseded by a newer image) is dropped. DOM-free: the
// decoder and what to do once an image is ready are injected (tests use fakes).

import { sameBytes } from "./rle";
import { NO_TRACE, type Trace } from "./trace";

/** A decoded image (an `ImageBitmap` in the browser). */
export interface Closable {
  close(): void;
}

/** Called once an image is on the canvas (`ok`) or could not be decoded (`error`). */
export type ShownCallback = (ok: boolean, error?: unknown) => void;

export class BitmapLoader<B extends Closable> {
  private current: B | null = null;
  private currentIndex = -1; // the image / frame index of `current`
  private currentJpeg: Uint8Array | null = null; // the bytes `current` was decoded from
  private token = 0; // bumped by every new decode
  // The decode in flight (null: none), and what to do once its image is shown.
  private decoding: { index: number; jpeg: Uint8Array; done: ShownCallback[] } | null = null;
  private disposed = false;

  /**
   * @param decodeJpeg starts decoding JPEG bytes
   * @param present draws at once: called when a new image (or the same one again) is ready
   */
  constructor(
    private readonly decodeJpeg: (jpeg: Uint8Array) => Promise<B>,
    private readonly present: () => void,
    private readonly trace: Trace = NO_TRACE,
  ) {}

  /** The image to draw, or null. */
  get bitmap(): B | null {
    return this.current;
  }

  /** The index of `bitmap` (-1: none). */
  get index(): number {
    return this.currentIndex;
  }

  /** Start a decode whose result the caller owns (decoding frames ahead). */
  decode(jpeg: Uint8Array): Promise<B> {
    return this.decodeJpeg(jpeg);
  }

  /**
   * Show `jpeg` as image / frame `index`, decoded off the main thread (or from `decoded`, a
   * decode started earlier, now owned here), then present it; `done` runs before that
   * (`ok`: on the canvas) unless a newer image superseded it. The image already shown or
   * being decoded is not decoded again.
   */
  show(index: number, jpeg: Uint8Array, decoded: Promise<B> | null, done: ShownCallback): void {
    const decoding = this.decoding;
    if (decoding !== null && decoding.index === index && sameBytes(decoding.jpeg, jpeg)) {
      decoding.done.push(done);
      if (decoded !== null) closeLater(decoded);
      return;
    }
    const token = ++this.token;
    if (this.current !== null && this.currentIndex === index && this.currentJpeg !== null &&
        sameBytes(this.currentJpeg, jpeg)) {
      this.decoding = null; // stepping back to the image on the canvas drops a decode in flight
      if (decoded !== null) closeLater(decoded);
      done(true);
      this.present();
      return;
    }
    const pending = { index, jpeg, done: [done] };
    this.decoding = pending;
    (decoded ?? this.decodeJpeg(jpeg)).then(
      (image) => {
        this.trace.mark("decoded", index);
        if (token !== this.token || this.disposed) return image.close();
        this.decoding = null;
        this.current?.close();
        this.current = image;
        this.currentIndex = index;
        this.currentJpeg = jpeg;
        for (const f of pending.done) f(true);
        this.present();
      },
      (e: unknown) => {
        if (token !== this.token || this.disposed) return;
        this.decoding = null;
        for (const f of pending.done) f(false, e);
      },
    );
  }

  /** No image (the kernel sent none): drops the shown one and any decode in flight. */
  clear(): void {
    ++this.token;
    this.decoding = null;
    this.currentIndex = -1;
    this.currentJpeg = null;
    this.current?.close();
    this.current = null;
  }

  dispose(): void {
    this.disposed = true;
    this.current?.close();
    this.current = null;
  }
}

/** Close the image a decode gives once it is done (a decode nobody will show). */
export function closeLater(decoded: Promise<Closable>): void {
  void decoded.then(
    (b) => b.close(),
    () => undefined,
  );
}
