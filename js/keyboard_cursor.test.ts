import { describe, expect, it } from "vitest";
import { toImage, type Point } from "./geometry";
import {
  CURSOR_BIG_STEP,
  CURSOR_KEY_HELP,
  CURSOR_STEP,
  cursorKeyFor,
  KeyboardCursor,
  type CursorKey,
} from "./keyboard_cursor";
import { actionForKey, type KeyInput } from "./shortcuts";

const key = (k: string, mods: Partial<KeyInput> = {}): KeyInput => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  ...mods,
});

const AREA = { width: 400, height: 300 };
const noHit = (): number => -1;
const move = (dx: number, dy: number): CursorKey => ({ kind: "move", dx, dy });

describe("cursorKeyFor", () => {
  it("moves by a small step, or a big one with Shift", () => {
    expect(cursorKeyFor(key("ArrowLeft"))).toEqual(move(-CURSOR_STEP, 0));
    expect(cursorKeyFor(key("ArrowRight"))).toEqual(move(CURSOR_STEP, 0));
    expect(cursorKeyFor(key("ArrowUp"))).toEqual(move(0, -CURSOR_STEP));
    expect(cursorKeyFor(key("ArrowDown"))).toEqual(move(0, CURSOR_STEP));
    expect(cursorKeyFor(key("ArrowDown", { shiftKey: true }))).toEqual(move(0, CURSOR_BIG_STEP));
    expect(CURSOR_BIG_STEP).toBeGreaterThan(CURSOR_STEP);
  });

  it("makes Enter a positive point, Shift+Enter a negative one, B a box", () => {
    expect(cursorKeyFor(key("Enter"))).toEqual({ kind: "point", label: 1 });
    expect(cursorKeyFor(key("Enter", { shiftKey: true }))).toEqual({ kind: "point", label: 0 });
    expect(cursorKeyFor(key("b"))).toEqual({ kind: "box" });
    expect(cursorKeyFor(key("B", { shiftKey: true }))).toEqual({ kind: "box" });
  });

  it("leaves modified keys and the shortcuts' keys alone", () => {
    for (const mod of ["ctrlKey", "metaKey", "altKey"] as const) {
      for (const k of ["ArrowLeft", "Enter", "b"]) expect(cursorKeyFor(key(k, { [mod]: true })), `${mod} ${k}`).toBeNull();
    }
    for (const k of ["n", "1", "z", "Delete", "Escape", "+", "0", "?", "PageUp", "Tab", " "]) {
      expect(cursorKeyFor(key(k)), k).toBeNull();
    }
  });

  it("takes no key the shortcuts need on the canvas: images step with Page Up / Down there", () => {
    expect(actionForKey(key("b"))).toBeNull();
    expect(actionForKey(key("Enter"))).toBeNull();
    expect(actionForKey(key("PageUp"))).toEqual({ type: "prev_image" });
    expect(actionForKey(key("PageDown"))).toEqual({ type: "next_image" });
  });
});

describe("KeyboardCursor", () => {
  it("starts at home, stays where it was when shown again, and inside the canvas", () => {
    const c = new KeyboardCursor();
    expect(c.position).toBeNull();
    c.show(AREA, { x: 120, y: 80 });
    expect(c.position).toEqual({ x: 120, y: 80 });
    c.press(move(10, -5), AREA, noHit);
    c.show(AREA, { x: 1, y: 1 });
    expect(c.position).toEqual({ x: 130, y: 75 });
    c.show({ width: 100, height: 50 }, { x: 1, y: 1 }); // the canvas shrank
    expect(c.position).toEqual({ x: 100, y: 50 });
    const far = new KeyboardCursor();
    far.show(AREA, { x: -30, y: 900 });
    expect(far.position).toEqual({ x: 0, y: 300 });
  });

  it("moves by the key's step and stops at the canvas' edges", () => {
    const c = new KeyboardCursor();
    c.show(AREA, { x: 10, y: 290 });
    expect(c.press(move(-CURSOR_STEP, 0), AREA, noHit)).toEqual({ kind: "none" });
    expect(c.position).toEqual({ x: 10 - CURSOR_STEP, y: 290 });
    c.press(move(-CURSOR_BIG_STEP, 0), AREA, noHit);
    c.press(move(0, CURSOR_BIG_STEP), AREA, noHit);
    expect(c.position).toEqual({ x: 0, y: 300 });
  });

  it("gives the gesture of a click at the cursor: a point there, or the removal of the point hit", () => {
    const c = new KeyboardCursor();
    c.show(AREA, { x: 50, y: 60 });
    c.press(move(CURSOR_STEP, CURSOR_STEP), AREA, noHit);
    const at = { x: 50 + CURSOR_STEP, y: 60 + CURSOR_STEP };
    expect(c.press({ kind: "point", label: 1 }, AREA, noHit)).toEqual({ kind: "point", at, label: 1 });
    expect(c.press({ kind: "point", label: 0 }, AREA, noHit)).toEqual({ kind: "point", at, label: 0 });
    const asked: Point[] = [];
    const hit = (p: Point): number => (asked.push(p), 3);
    expect(c.press({ kind: "point", label: 0 }, AREA, hit)).toEqual({ kind: "remove", index: 3 });
    expect(asked).toEqual([at]); // hit-tested where the cursor is, as a click is
  });

  it("makes a box from B to B, and forgets a started box when cancelled", () => {
    const c = new KeyboardCursor();
    c.show(AREA, { x: 100, y: 100 });
    expect(c.press({ kind: "box" }, AREA, noHit)).toEqual({ kind: "none" });
    expect(c.boxStart).toEqual({ x: 100, y: 100 });
    c.press(move(CURSOR_BIG_STEP, 0), AREA, noHit);
    c.press(move(0, CURSOR_STEP), AREA, noHit);
    expect(c.boxStart).toEqual({ x: 100, y: 100 }); // moving keeps the start
    const to = { x: 100 + CURSOR_BIG_STEP, y: 100 + CURSOR_STEP };
    expect(c.press({ kind: "box" }, AREA, noHit)).toEqual({ kind: "box", from: { x: 100, y: 100 }, to });
    expect(c.boxStart).toBeNull();
    c.press({ kind: "box" }, AREA, noHit);
    c.cancelBox();
    expect(c.boxStart).toBeNull();
    expect(c.press({ kind: "box" }, AREA, noHit)).toEqual({ kind: "none" }); // a new start, not an end
  });

  it("maps to the image through the view exactly as the pointer's screen point does", () => {
    const view = { scale: 2.5, tx: 13, ty: -7 };
    const c = new KeyboardCursor();
    c.show(AREA, { x: 200, y: 150 });
    c.press(move(3 * CURSOR_STEP, -CURSOR_BIG_STEP), AREA, noHit);
    const g = c.press({ kind: "point", label: 1 }, AREA, noHit);
    expect(g.kind).toBe("point");
    if (g.kind === "point") {
      expect(toImage(view, g.at)).toEqual(toImage(view, { x: 200 + 3 * CURSOR_STEP, y: 150 - CURSOR_BIG_STEP }));
    }
  });
});

describe("help", () => {
  it("lists the cursor's keys", () => {
    const keys = CURSOR_KEY_HELP.map(([k]) => k).join(" | ");
    for (const k of ["←", "Enter", "Shift Enter", "B", "Esc", "Tab"]) expect(keys).toContain(k);
  });
});
