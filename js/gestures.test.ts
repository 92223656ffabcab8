import { describe, expect, it } from "vitest";
import { DRAG_THRESHOLD, GestureTracker, type PointerDown } from "./gestures";

const press = (x: number, y: number, extra: Partial<PointerDown> = {}): PointerDown => ({
  x,
  y,
  button: 0,
  shiftKey: false,
  spaceHeld: false,
  hitIndex: -1,
  ...extra,
});

describe("GestureTracker", () => {
  it("turns a left click into a positive point at the press position", () => {
    const g = new GestureTracker();
    g.down(press(10, 20));
    expect(g.active).toBe(true);
    expect(g.move({ x: 11, y: 21 })).toEqual({ kind: "none" });
    expect(g.up({ x: 12, y: 21 })).toEqual({ kind: "point", at: { x: 10, y: 20 }, label: 1 });
    expect(g.active).toBe(false);
  });

  it("makes right clicks and shift clicks negative", () => {
    const g = new GestureTracker();
    g.down(press(5, 5, { button: 2 }));
    expect(g.up({ x: 5, y: 5 })).toEqual({ kind: "point", at: { x: 5, y: 5 }, label: 0 });
    g.down(press(6, 6, { shiftKey: true }));
    expect(g.up({ x: 6, y: 6 })).toEqual({ kind: "point", at: { x: 6, y: 6 }, label: 0 });
  });

  it("removes the point under a click instead of adding one", () => {
    const g = new GestureTracker();
    g.down(press(5, 5, { hitIndex: 2 }));
    expect(g.up({ x: 6, y: 5 })).toEqual({ kind: "remove", index: 2 });
    g.down(press(5, 5, { hitIndex: 0, button: 2 }));
    expect(g.up({ x: 5, y: 5 })).toEqual({ kind: "remove", index: 0 });
  });

  it("stays a click just below the drag threshold", () => {
    const g = new GestureTracker();
    g.down(press(0, 0));
    const d = DRAG_THRESHOLD - 0.5;
    expect(g.move({ x: d, y: 0 })).toEqual({ kind: "none" });
    expect(g.up({ x: d, y: 0 }).kind).toBe("point");
  });

  it("turns a left drag past the threshold into a box, previewed while moving", () => {
    const g = new GestureTracker();
    g.down(press(10, 10));
    expect(g.move({ x: 12, y: 11 })).toEqual({ kind: "none" });
    expect(g.move({ x: 40, y: 30 })).toEqual({ kind: "box", from: { x: 10, y: 10 }, to: { x: 40, y: 30 } });
    // Once a box, it stays one even back near the start.
    expect(g.move({ x: 11, y: 10 })).toEqual({ kind: "box", from: { x: 10, y: 10 }, to: { x: 11, y: 10 } });
    expect(g.up({ x: 60, y: 5 })).toEqual({ kind: "box", from: { x: 10, y: 10 }, to: { x: 60, y: 5 } });
  });

  it("a box wins over removing when the drag starts on a point", () => {
    const g = new GestureTracker();
    g.down(press(10, 10, { hitIndex: 1 }));
    g.move({ x: 30, y: 30 });
    expect(g.up({ x: 30, y: 30 }).kind).toBe("box");
  });

  it("counts movement seen only at release", () => {
    const g = new GestureTracker();
    g.down(press(0, 0));
    expect(g.up({ x: 20, y: 20 })).toEqual({ kind: "box", from: { x: 0, y: 0 }, to: { x: 20, y: 20 } });
  });

  it("ignores a right-button drag", () => {
    const g = new GestureTracker();
    g.down(press(0, 0, { button: 2 }));
    expect(g.move({ x: 30, y: 0 })).toEqual({ kind: "none" });
    expect(g.up({ x: 30, y: 0 })).toEqual({ kind: "none" });
  });

  it("pans with the middle button and with space held, in move deltas", () => {
    for (const down of [press(0, 0, { button: 1 }), press(0, 0, { spaceHeld: true })]) {
      const g = new GestureTracker();
      g.down(down);
      expect(g.panning).toBe(true);
      expect(g.move({ x: 2, y: 1 })).toEqual({ kind: "pan", dx: 2, dy: 1 });
      expect(g.move({ x: 10, y: -3 })).toEqual({ kind: "pan", dx: 8, dy: -4 });
      expect(g.up({ x: 10, y: -3 })).toEqual({ kind: "none" });
      expect(g.panning).toBe(false);
    }
  });

  it("a space-held click pans rather than adding a point", () => {
    const g = new GestureTracker();
    g.down(press(3, 3, { spaceHeld: true }));
    expect(g.up({ x: 3, y: 3 })).toEqual({ kind: "none" });
  });

  it("ignores other buttons and moves without a press", () => {
    const g = new GestureTracker();
    expect(g.move({ x: 1, y: 1 })).toEqual({ kind: "none" });
    expect(g.up({ x: 1, y: 1 })).toEqual({ kind: "none" });
    g.down(press(0, 0, { button: 3 }));
    expect(g.active).toBe(false);
    expect(g.up({ x: 0, y: 0 })).toEqual({ kind: "none" });
  });

  it("cancel drops a drag in progress", () => {
    const g = new GestureTracker();
    g.down(press(0, 0));
    g.move({ x: 50, y: 50 });
    g.cancel();
    expect(g.active).toBe(false);
    expect(g.up({ x: 60, y: 60 })).toEqual({ kind: "none" });
  });
});
