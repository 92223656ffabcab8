import { afterEach, describe, expect, it } from "vitest";
import { createTrace, NO_TRACE } from "./trace";

type Page = { __sam2wTrace?: unknown };

/** The part of a canvas the trace touches. */
function fakeCanvas(): HTMLElement {
  return { dataset: {} } as unknown as HTMLElement;
}

afterEach(() => {
  delete (globalThis as Page).__sam2wTrace;
});

describe("createTrace", () => {
  it("is off unless the page asked before the widget rendered", () => {
    const canvas = fakeCanvas();
    const trace = createTrace(canvas);
    expect(trace).toBe(NO_TRACE);
    (globalThis as Page).__sam2wTrace = []; // too late for this widget
    trace.mark("seek", 3);
    trace.drawn(3);
    expect((globalThis as Page).__sam2wTrace).toEqual([]);
    expect(canvas.dataset.drawnFrame).toBeUndefined();
  });

  it("records marks into the page's current array and the drawn frame on the canvas", () => {
    (globalThis as Page).__sam2wTrace = [];
    const canvas = fakeCanvas();
    const trace = createTrace(canvas);
    trace.mark("seek", 4);
    const fresh: unknown[] = [];
    (globalThis as Page).__sam2wTrace = fresh; // a benchmark starting a new measurement
    trace.drawn(4);
    expect(canvas.dataset.drawnFrame).toBe("4");
    expect(fresh.map((e) => (e as unknown[]).slice(1))).toEqual([["drawn", 4]]);
  });
});
