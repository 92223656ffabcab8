// Opt-in timing trace for benchmarks (benchmarks/bench_scrub.py, benchmarks/bench_widget.py).
// Off unless the page asks for it before the widget renders, by setting a global array:
//
//   window.__sam2wTrace = [];
//
// A widget rendered while that global is an array then
// - pushes [performance.now(), event, frame index] onto `window.__sam2wTrace` for each step
//   of showing a frame (the array there at that moment: a benchmark may swap in a fresh one),
//   and for each message sent and acked (the index is then the message's `seq`);
// - sets `data-drawn-frame` on its canvas to the index of the image on it after each draw.
// Otherwise both are no-ops, and the canvas carries no such attribute.

/** The steps of showing a frame, in the order they usually happen. */
export type TraceEvent =
  | "seek" // the scrubber (or a key, or playback) asked for a frame
  | "fetch" // fetch_frames sent (the index is the first frame asked for)
  | "reply" // a frame arrived from the kernel
  | "decode" // decoding a cached frame's JPEG started
  | "trait decode" // decoding the kernel's `image_jpeg` started
  | "decoded" // a JPEG decode finished
  | "labels" // a cached frame's label map decoded
  | "draw" // a draw started
  | "coloured" // the masks coloured
  | "drawn" // the draw finished
  | "send" // a message went to the kernel (the index is its seq)
  | "ack" // the kernel acked a message (the index is its seq)
  | "masks"; // the kernel's `label_rle` changed (the index is the kernel's image index)

export interface Trace {
  mark(event: TraceEvent, index: number): void;
  /** A draw finished with image `index` on the canvas (-1: none): marks "drawn". */
  drawn(index: number): void;
}

/** The trace of a page that did not ask for one. */
export const NO_TRACE: Trace = { mark: () => {}, drawn: () => {} };

type TracingGlobal = { __sam2wTrace?: unknown };

/** The trace for a widget whose canvas is `canvas`: recording only if the page asked (see above). */
export function createTrace(canvas: HTMLElement): Trace {
  const page = globalThis as TracingGlobal;
  if (!Array.isArray(page.__sam2wTrace)) return NO_TRACE;
  return {
    mark(event, index) {
      const trace = page.__sam2wTrace;
      if (Array.isArray(trace)) trace.push([performance.now(), event, index]);
    },
    drawn(index) {
      const drawn = String(index);
      if (canvas.dataset.drawnFrame !== drawn) canvas.dataset.drawnFrame = drawn;
      this.mark("drawn", index);
    },
  };
}
