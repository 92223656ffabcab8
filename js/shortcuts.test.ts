import { describe, expect, it } from "vitest";
import { actionForKey, KEY_HELP, MOUSE_HELP, type Action, type KeyInput } from "./shortcuts";

const key = (k: string, mods: Partial<KeyInput> = {}): KeyInput => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  ...mods,
});

describe("actionForKey", () => {
  it("maps undo and redo with Ctrl or Cmd", () => {
    expect(actionForKey(key("z", { ctrlKey: true }))).toEqual({ type: "undo" });
    expect(actionForKey(key("z", { metaKey: true }))).toEqual({ type: "undo" });
    expect(actionForKey(key("Z", { ctrlKey: true, shiftKey: true }))).toEqual({ type: "redo" });
    expect(actionForKey(key("Z", { metaKey: true, shiftKey: true }))).toEqual({ type: "redo" });
    expect(actionForKey(key("y", { ctrlKey: true }))).toEqual({ type: "redo" });
  });

  it("leaves other modified keys to the browser", () => {
    for (const k of ["c", "v", "s", "+", "-", "0", "n"]) expect(actionForKey(key(k, { ctrlKey: true }))).toBeNull();
    expect(actionForKey(key("z", { altKey: true }))).toBeNull();
    expect(actionForKey(key("n", { altKey: true }))).toBeNull();
  });

  it("does not take a plain z or y", () => {
    expect(actionForKey(key("z"))).toBeNull();
    expect(actionForKey(key("y"))).toBeNull();
  });

  it("maps the plain keys", () => {
    const table: [string, Action][] = [
      ["n", { type: "new_object" }],
      ["N", { type: "new_object" }],
      ["Delete", { type: "clear_object" }],
      ["Backspace", { type: "clear_object" }],
      ["ArrowLeft", { type: "prev_image" }],
      ["ArrowRight", { type: "next_image" }],
      ["PageUp", { type: "prev_image" }],
      ["PageDown", { type: "next_image" }],
      ["+", { type: "zoom_in" }],
      ["=", { type: "zoom_in" }],
      ["-", { type: "zoom_out" }],
      ["0", { type: "reset_view" }],
      ["o", { type: "toggle_outline" }],
      ["O", { type: "toggle_outline" }],
      ["?", { type: "help" }],
      ["h", { type: "help" }],
      ["H", { type: "help" }],
      ["Escape", { type: "escape" }],
      ["[", { type: "jump", kind: "weak", step: -1 }],
      ["]", { type: "jump", kind: "weak", step: 1 }],
      [",", { type: "jump", kind: "transition", step: -1 }],
      [".", { type: "jump", kind: "transition", step: 1 }],
    ];
    for (const [k, action] of table) expect(actionForKey(key(k)), k).toEqual(action);
    // Shift is part of typing "?" and "+", and does not stop them.
    expect(actionForKey(key("?", { shiftKey: true }))).toEqual({ type: "help" });
    expect(actionForKey(key("+", { shiftKey: true }))).toEqual({ type: "zoom_in" });
  });

  it("selects objects 1..9 by their 0-based slot", () => {
    for (let i = 1; i <= 9; i++) expect(actionForKey(key(String(i)))).toEqual({ type: "select", slot: i - 1 });
  });

  it("ignores keys it does not know", () => {
    for (const k of ["a", "Enter", "Tab", " ", "F5", "ArrowUp", "constructor", "toString"]) {
      expect(actionForKey(key(k)), k).toBeNull();
    }
  });
});

describe("help", () => {
  it("lists every action of the key table", () => {
    const text = KEY_HELP.map(([, what]) => what).join(" | ");
    for (const word of ["undo", "redo", "new object", "select", "clear", "previous", "next", "zoom", "reset", "outline", "help", "cancel", "weak frame", "appears or disappears"]) {
      expect(text).toContain(word);
    }
  });

  it("lists the mouse gestures", () => {
    expect(MOUSE_HELP.map(([k]) => k)).toEqual(
      expect.arrayContaining(["click", "right click, Shift click", "drag", "click a point"]),
    );
  });
});
