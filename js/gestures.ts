// Pointer down / move / up sequences -> a click, a box or a pan.
// Positions are screen (canvas CSS) pixels. Left button: positive point or,
// dragged past the threshold, a box; right button or shift: negative point;
// middle button or space held: pan. A click on an existing point removes it.

import type { Point } from "./geometry";

/** Movement (screen pixels) past which a press becomes a drag. */
export const DRAG_THRESHOLD = 4;

export interface PointerDown extends Point {
  /** `PointerEvent.button`: 0 left, 1 middle, 2 right. */
  button: number;
  shiftKey: boolean;
  /** Whether the space bar is held (pan mode). */
  spaceHeld: boolean;
  /** Index of the prompt under the pointer (from hit-testing), or -1. */
  hitIndex: number;
}

/** What a finished gesture asks for. */
export type Gesture =
  | { kind: "none" }
  | { kind: "point"; at: Point; label: 0 | 1 }
  | { kind: "remove"; index: number }
  | { kind: "box"; from: Point; to: Point };

/** What to show while a gesture goes on. */
export type Progress =
  | { kind: "none" }
  | { kind: "pan"; dx: number; dy: number }
  | { kind: "box"; from: Point; to: Point };

interface Press {
  /** press: not yet past the threshold; void: a drag that does nothing. */
  mode: "press" | "box" | "pan" | "void";
  start: Point;
  last: Point;
  button: number;
  label: 0 | 1;
  hitIndex: number;
}

/** A press that moved past the threshold becomes a box (left button) or nothing. */
function settle(s: Press, p: Point): void {
  if (s.mode === "press" && Math.hypot(p.x - s.start.x, p.y - s.start.y) >= DRAG_THRESHOLD) {
    s.mode = s.button === 0 ? "box" : "void";
  }
}

export class GestureTracker {
  private press: Press | null = null;

  /** Whether a gesture is in progress. */
  get active(): boolean {
    return this.press !== null;
  }

  /** Whether the gesture in progress is a pan. */
  get panning(): boolean {
    return this.press?.mode === "pan";
  }

  down(p: PointerDown): void {
    const start = { x: p.x, y: p.y };
    const pan = p.button === 1 || (p.spaceHeld && p.button === 0);
    if (!pan && p.button !== 0 && p.button !== 2) {
      this.press = null;
      return;
    }
    this.press = {
      mode: pan ? "pan" : "press",
      start,
      last: start,
      button: p.button,
      label: p.button === 2 || p.shiftKey ? 0 : 1,
      hitIndex: p.hitIndex,
    };
  }

  move(p: Point): Progress {
    const s = this.press;
    if (s === null) return { kind: "none" };
    const last = s.last;
    s.last = { x: p.x, y: p.y };
    if (s.mode === "pan") return { kind: "pan", dx: p.x - last.x, dy: p.y - last.y };
    settle(s, p);
    if (s.mode === "box") return { kind: "box", from: s.start, to: s.last };
    return { kind: "none" };
  }

  up(p: Point): Gesture {
    const s = this.press;
    this.press = null;
    if (s === null) return { kind: "none" };
    settle(s, p); // it may have moved past the threshold after the last move event
    switch (s.mode) {
      case "press":
        return s.hitIndex >= 0 ? { kind: "remove", index: s.hitIndex } : { kind: "point", at: s.start, label: s.label };
      case "box":
        return { kind: "box", from: s.start, to: { x: p.x, y: p.y } };
      case "pan":
      case "void":
        return { kind: "none" };
    }
  }

  /** Abandon the gesture in progress (Escape, pointer cancel). */
  cancel(): void {
    this.press = null;
  }
}
