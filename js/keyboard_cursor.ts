// The keyboard cursor of the canvas: a point moved with the arrow keys that stands in for the
// mouse pointer, so prompts can be made without a mouse. Enter at the cursor does what a click
// there does (a positive point, or removes the selected object's point under it), Shift+Enter
// what a Shift click does, B starts a box at the cursor and B again ends it there. Positions
// are screen (canvas CSS) pixels like the pointer's, so input.ts maps them to the image exactly
// as it maps a click. DOM-free: input.ts owns the events and the focus, draw.ts draws it.

import { clamp, type Point } from "./geometry";
import type { Gesture } from "./gestures";
import type { KeyInput } from "./shortcuts";

/** Screen pixels per arrow key press, and with Shift held. */
export const CURSOR_STEP = 4;
export const CURSOR_BIG_STEP = 32;

/** What a key does to the cursor. */
export type CursorKey = { kind: "move"; dx: number; dy: number } | { kind: "point"; label: 0 | 1 } | { kind: "box" };

/** The canvas' size in CSS pixels: the cursor stays inside it. */
export interface Area {
  width: number;
  height: number;
}

const DIRECTIONS: ReadonlyMap<string, readonly [number, number]> = new Map([
  ["ArrowLeft", [-1, 0]],
  ["ArrowRight", [1, 0]],
  ["ArrowUp", [0, -1]],
  ["ArrowDown", [0, 1]],
] as const);

/** The cursor's key, or null for a key that is not the cursor's (a shortcut, or the browser's). */
export function cursorKeyFor(k: KeyInput): CursorKey | null {
  if (k.ctrlKey || k.metaKey || k.altKey) return null;
  const direction = DIRECTIONS.get(k.key);
  if (direction !== undefined) {
    const step = k.shiftKey ? CURSOR_BIG_STEP : CURSOR_STEP;
    return { kind: "move", dx: direction[0] * step, dy: direction[1] * step };
  }
  if (k.key === "Enter") return { kind: "point", label: k.shiftKey ? 0 : 1 };
  if (k.key === "b" || k.key === "B") return { kind: "box" };
  return null;
}

function inside(p: Point, area: Area): Point {
  return { x: clamp(p.x, 0, area.width), y: clamp(p.y, 0, area.height) };
}

export class KeyboardCursor {
  private at: Point | null = null;
  private from: Point | null = null; // where B started a box

  /** Where the cursor is, or null before it was first shown. */
  get position(): Point | null {
    return this.at;
  }

  /** The corner where B started the box being made, or null. */
  get boxStart(): Point | null {
    return this.from;
  }

  /** The canvas took the keyboard: the cursor stays where it was, or starts at `home`. */
  show(area: Area, home: Point): void {
    this.at = inside(this.at ?? home, area);
  }

  /**
   * Act on `key`; returns the gesture it finishes, as the pointer's would be. `hit` is the
   * index of the selected object's point under a screen point, or -1 (a click on it removes it).
   */
  press(key: CursorKey, area: Area, hit: (at: Point) => number): Gesture {
    const at = inside(this.at ?? { x: area.width / 2, y: area.height / 2 }, area);
    this.at = at;
    switch (key.kind) {
      case "move":
        this.at = inside({ x: at.x + key.dx, y: at.y + key.dy }, area);
        return { kind: "none" };
      case "point": {
        const index = hit(at);
        return index >= 0 ? { kind: "remove", index } : { kind: "point", at, label: key.label };
      }
      case "box": {
        const from = this.from;
        this.from = from === null ? at : null;
        return from === null ? { kind: "none" } : { kind: "box", from, to: at };
      }
    }
  }

  /** Forget a box started with B (Escape, the focus gone, a new image). */
  cancelBox(): void {
    this.from = null;
  }
}

/** Rows of the help overlay for the keys of the focused canvas. */
export const CURSOR_KEY_HELP: readonly (readonly [string, string])[] = [
  ["Tab", "to the image (a cursor shows on it)"],
  ["← ↑ → ↓", `move the cursor (${CURSOR_STEP} px; with Shift ${CURSOR_BIG_STEP} px)`],
  ["Enter", "positive point at the cursor (on a point: remove it)"],
  ["Shift Enter", "negative point at the cursor"],
  ["B", "start a box at the cursor; B again ends it there"],
  ["Esc", "drop the box being made"],
];
