// Keyboard shortcuts: key -> action, and the help text that lists them.
// Keys act only while the widget has focus (input.ts listens on its root); the focused canvas
// takes the arrows, Enter and B first (keyboard_cursor.ts).

export type Action =
  | { type: "undo" }
  | { type: "redo" }
  | { type: "new_object" }
  | { type: "select"; slot: number } // 0-based position in the object list
  | { type: "clear_object" }
  | { type: "prev_image" }
  | { type: "next_image" }
  | { type: "zoom_in" }
  | { type: "zoom_out" }
  | { type: "reset_view" }
  | { type: "toggle_outline" }
  | { type: "jump"; kind: "weak" | "transition"; step: 1 | -1 } // clips: weak / appear-disappear frames
  | { type: "help" }
  | { type: "mark"; status: "reviewed" | "toggle_flag" } // image sets: review the shown image
  | { type: "next_status"; status: "unreviewed" | "flagged" } // image sets: next image of that status
  | { type: "escape" };

/** The parts of a `KeyboardEvent` that shortcuts look at. */
export interface KeyInput {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

const PLAIN_KEYS: ReadonlyMap<string, Action> = new Map<string, Action>([
  ["n", { type: "new_object" }],
  ["Delete", { type: "clear_object" }],
  ["Backspace", { type: "clear_object" }],
  ["ArrowLeft", { type: "prev_image" }],
  ["ArrowRight", { type: "next_image" }],
  ["PageUp", { type: "prev_image" }], // the arrows move the cursor of the focused canvas
  ["PageDown", { type: "next_image" }],
  ["+", { type: "zoom_in" }],
  ["=", { type: "zoom_in" }],
  ["-", { type: "zoom_out" }],
  ["_", { type: "zoom_out" }],
  ["0", { type: "reset_view" }],
  ["o", { type: "toggle_outline" }],
  ["[", { type: "jump", kind: "weak", step: -1 }],
  ["]", { type: "jump", kind: "weak", step: 1 }],
  [",", { type: "jump", kind: "transition", step: -1 }],
  [".", { type: "jump", kind: "transition", step: 1 }],
  ["?", { type: "help" }],
  ["h", { type: "help" }],
  ["Escape", { type: "escape" }],
]);

/** The action of a key press, or null when the widget should not handle it. */
export function actionForKey(k: KeyInput): Action | null {
  if (k.altKey) return null;
  const key = k.key.length === 1 ? k.key.toLowerCase() : k.key;
  if (k.ctrlKey || k.metaKey) {
    // Only undo/redo take a modifier; leave Ctrl-C, Ctrl-+ etc. to the browser.
    if (key === "z") return k.shiftKey ? { type: "redo" } : { type: "undo" };
    if (key === "y" && !k.shiftKey) return { type: "redo" };
    return null;
  }
  if (key.length === 1 && key >= "1" && key <= "9") return { type: "select", slot: Number(key) - 1 };
  if (key === "r") return { type: "mark", status: "reviewed" };
  if (key === "f") return { type: "mark", status: "toggle_flag" };
  if (key === "g") return { type: "next_status", status: k.shiftKey ? "flagged" : "unreviewed" };
  return PLAIN_KEYS.get(key) ?? null;
}

/** Rows of the help overlay: keys, then what they do. */
export const KEY_HELP: readonly (readonly [string, string])[] = [
  ["Ctrl/⌘ Z", "undo"],
  ["Ctrl/⌘ Shift Z, Ctrl Y", "redo"],
  ["N", "new object"],
  ["1 … 9", "select object 1 … 9"],
  ["Delete, Backspace", "clear the selected object on this image"],
  ["← →, Page Up / Down", "previous / next image (on the image: Page Up / Down)"],
  ["+ −", "zoom in / out (on the image: at its cursor)"],
  ["0", "reset the view"],
  ["O", "mask outlines on / off"],
  ["[ ]", "clips: previous / next weak frame (confidence below the threshold)"],
  [", .", "clips: previous / next frame where an object appears or disappears"],
  ["R", "image sets: mark this image reviewed"],
  ["F", "image sets: flag this image (again: back to unreviewed)"],
  ["G, Shift G", "image sets: next unreviewed / next flagged image"],
  ["? H", "this help"],
  ["Esc", "close the help, cancel a drag, leave the widget"],
];

export const MOUSE_HELP: readonly (readonly [string, string])[] = [
  ["click", "positive point"],
  ["right click, Shift click", "negative point"],
  ["drag", "box"],
  ["click a point", "remove it"],
  ["wheel (widget focused)", "zoom at the cursor"],
  ["Space drag, middle drag", "pan"],
];
