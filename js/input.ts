// Pointer, wheel and keyboard events of the widget, turned into calls on its host:
// gestures.ts makes pointer sequences into clicks, boxes and pans, keyboard_cursor.ts the
// keys of the focused canvas into the same gestures, shortcuts.ts other keys into actions.
// Hover, the box being dragged and the keyboard cursor are front-end state the draw reads;
// nothing is sent before a gesture ends.

import {
  hitTest,
  isInsideImage,
  normaliseBox,
  toImage,
  toScreen,
  type Box,
  type Point,
  type View,
} from "./geometry";
import { POINT_RADIUS } from "./draw";
import { GestureTracker, type Gesture } from "./gestures";
import { cursorKeyFor, KeyboardCursor, type Area } from "./keyboard_cursor";
import { focusedIn, type Layout } from "./panels";
import { actionForKey, type Action } from "./shortcuts";

export const WHEEL_ZOOM = 0.0015; // per pixel of wheel delta
const WHEEL_LINE_PX = 33; // one line of a wheel that scrolls by lines

export interface InputHost {
  view(): View;
  pan(dx: number, dy: number): void;
  zoom(at: Point, factor: number): void;
  /** The shown image's size in pixels (0 before there is one). */
  imageSize(): { width: number; height: number };
  /** Hit-test targets: the points of the selected object, null for every other prompt (as `prompts`). */
  selectedPoints(): readonly (Point | null)[];
  /** Finished gestures, in image pixels. */
  addPoint(at: Point, label: 0 | 1): void;
  addBox(box: Box): void;
  removePrompt(index: number): void;
  /** A keyboard shortcut. */
  perform(action: Action): void;
  /** Something the draw shows changed (hover, the box being dragged). */
  redraw(): void;
}

export class CanvasInput {
  private readonly tracker = new GestureTracker();
  private hover = -1; // index into `prompts` of the point under the pointer
  private box: Box | null = null; // the box being dragged, in image pixels
  private spaceHeld = false;
  private readonly keyCursor = new KeyboardCursor();
  private cursorShown = false; // while the canvas has the keyboard

  constructor(
    private readonly ui: Pick<Layout, "root" | "canvas" | "cursor">,
    private readonly host: InputHost,
    signal: AbortSignal,
  ) {
    this.wirePointer(signal);
    this.wireKeys(signal);
  }

  /** The index into `prompts` of the point under the pointer, or -1. */
  get hoverIndex(): number {
    return this.hover;
  }

  get dragBox(): Box | null {
    return this.box;
  }

  /** The keyboard cursor in screen pixels while the canvas has the keyboard, else null. */
  get keyboardCursor(): Point | null {
    return this.cursorShown ? this.keyCursor.position : null;
  }

  /** Whether a press, drag or pan is going on, or a box started with B. */
  get gestureActive(): boolean {
    return this.tracker.active || this.keyCursor.boxStart !== null;
  }

  cancelGesture(): void {
    this.tracker.cancel();
    this.keyCursor.cancelBox();
    this.box = null;
    this.updateCursor();
    this.host.redraw();
  }

  /** A new image: no hover, no gesture. */
  reset(): void {
    this.hover = -1;
    this.box = null;
    this.tracker.cancel();
    this.keyCursor.cancelBox();
  }

  /** The prompts or the selection changed: the hovered index means nothing any more. */
  clearHover(): void {
    this.hover = -1;
  }

  /** Hand the keyboard back to the notebook. */
  blur(): void {
    const active = this.focused();
    if (active instanceof HTMLElement) active.blur();
  }

  updateCursor(): void {
    const style = this.ui.canvas.style;
    if (this.tracker.panning) style.cursor = "grabbing";
    else if (this.spaceHeld) style.cursor = "grab";
    else style.cursor = this.hover >= 0 ? "pointer" : "crosshair";
  }

  /** Show the image pixel under screen point `at` in the status line (nothing off the image). */
  private showPosition(at: Point | null): void {
    const { width, height } = this.host.imageSize();
    const p = at === null ? null : toImage(this.host.view(), at);
    const shown = p !== null && width > 0 && isInsideImage(p, width, height);
    this.ui.cursor.textContent = shown ? `x ${Math.floor(p.x)}, y ${Math.floor(p.y)}` : "";
  }

  private canvasArea(): Area {
    return { width: this.ui.canvas.clientWidth, height: this.ui.canvas.clientHeight };
  }

  /** Where the keyboard cursor starts: the image's centre on screen, or the canvas' without one. */
  private cursorHome(): Point {
    const { width, height } = this.host.imageSize();
    if (width > 0 && height > 0) return toScreen(this.host.view(), { x: width / 2, y: height / 2 });
    const area = this.canvasArea();
    return { x: area.width / 2, y: area.height / 2 };
  }

  /** The keyboard cursor moved or acted: the box it makes, the point under it, its pixel. */
  private cursorChanged(): void {
    const at = this.keyCursor.position;
    const start = this.keyCursor.boxStart;
    if (at === null) return;
    const { width, height } = this.host.imageSize();
    const view = this.host.view();
    this.box = start === null ? null : normaliseBox(toImage(view, start), toImage(view, at), width, height);
    this.hover = this.hitPrompt(at);
    this.showPosition(at);
    this.updateCursor();
    this.host.redraw();
  }

  /** A key of the focused canvas; true when it was the keyboard cursor's. */
  private cursorKey(e: KeyboardEvent): boolean {
    const key = cursorKeyFor(e);
    if (key === null) return false;
    e.preventDefault();
    e.stopPropagation();
    if (e.repeat && key.kind !== "move") return true; // a held Enter or B adds one prompt
    this.finish(this.keyCursor.press(key, this.canvasArea(), (at) => this.hitPrompt(at)));
    this.cursorChanged();
    return true;
  }

  private screenPoint(e: MouseEvent): Point {
    const r = this.ui.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  /** Index into `prompts` of a point of the selected object under `at`, or -1. */
  private hitPrompt(at: Point): number {
    return hitTest(this.host.selectedPoints(), at, this.host.view(), POINT_RADIUS + 2);
  }

  /** The focused element, if it is inside the widget. */
  private focused(): Element | null {
    return focusedIn(this.ui.root);
  }

  private finish(g: Gesture): void {
    const { width, height } = this.host.imageSize();
    if (width <= 0 || height <= 0) return; // no image yet
    const view = this.host.view();
    if (g.kind === "point") {
      const p = toImage(view, g.at);
      if (isInsideImage(p, width, height)) this.host.addPoint(p, g.label);
    } else if (g.kind === "box") {
      const box = normaliseBox(toImage(view, g.from), toImage(view, g.to), width, height);
      if (box !== null) this.host.addBox(box);
    } else if (g.kind === "remove") {
      this.host.removePrompt(g.index);
    }
  }

  private wirePointer(signal: AbortSignal): void {
    const { canvas, root } = this.ui;
    const listen = { signal };
    canvas.addEventListener(
      "pointerdown",
      (e) => {
        e.preventDefault(); // no text selection, no middle-button autoscroll
        root.focus({ preventScroll: true });
        canvas.setPointerCapture(e.pointerId);
        const at = this.screenPoint(e);
        const hitIndex = this.hitPrompt(at);
        this.tracker.down({ ...at, button: e.button, shiftKey: e.shiftKey, spaceHeld: this.spaceHeld, hitIndex });
        this.updateCursor();
      },
      listen,
    );
    canvas.addEventListener(
      "pointermove",
      (e) => {
        const at = this.screenPoint(e);
        const progress = this.tracker.move(at);
        const { width, height } = this.host.imageSize();
        if (progress.kind === "pan") {
          this.host.pan(progress.dx, progress.dy);
        } else if (progress.kind === "box") {
          const view = this.host.view();
          this.box = normaliseBox(toImage(view, progress.from), toImage(view, progress.to), width, height);
          this.host.redraw();
        } else if (!this.tracker.active) {
          const hover = this.hitPrompt(at);
          if (hover !== this.hover) {
            this.hover = hover;
            this.updateCursor();
            this.host.redraw();
          }
        }
        this.showPosition(at);
      },
      listen,
    );
    canvas.addEventListener(
      "pointerup",
      (e) => {
        const gesture = this.tracker.up(this.screenPoint(e));
        this.box = null;
        this.finish(gesture);
        this.updateCursor();
        this.host.redraw();
      },
      listen,
    );
    canvas.addEventListener("pointercancel", () => this.cancelGesture(), listen);
    canvas.addEventListener(
      "pointerleave",
      () => {
        this.showPosition(this.keyboardCursor);
        if (this.hover !== -1 && !this.tracker.active) {
          this.hover = -1;
          this.host.redraw();
        }
      },
      listen,
    );
    canvas.addEventListener("contextmenu", (e) => e.preventDefault(), listen);
    canvas.addEventListener(
      "wheel",
      (e) => {
        if (this.focused() === null) return; // let the notebook scroll
        e.preventDefault();
        const delta = e.deltaMode === WheelEvent.DOM_DELTA_LINE ? e.deltaY * WHEEL_LINE_PX : e.deltaY;
        this.host.zoom(this.screenPoint(e), Math.exp(-delta * WHEEL_ZOOM));
      },
      { signal, passive: false },
    );
  }

  private wireKeys(signal: AbortSignal): void {
    const { root, canvas } = this.ui;
    const listen = { signal };
    // The cursor shows while the canvas has the keyboard, which only Tab (or a script) gives
    // it: a click gives the keyboard to the widget's root (pointerdown), where the arrows step
    // through images, and the browser does not focus the canvas (pointerdown is cancelled).
    canvas.addEventListener(
      "focus",
      () => {
        this.cursorShown = true;
        this.keyCursor.show(this.canvasArea(), this.cursorHome());
        this.cursorChanged();
      },
      listen,
    );
    canvas.addEventListener(
      "blur",
      () => {
        this.cursorShown = false;
        this.keyCursor.cancelBox();
        this.box = null;
        this.hover = -1;
        this.showPosition(null);
        this.host.redraw();
      },
      listen,
    );
    root.addEventListener(
      "keydown",
      (e) => {
        const target = e.target as HTMLElement;
        // Typing in the name editor or moving the slider: theirs, not ours.
        if (target instanceof HTMLInputElement && target.type !== "checkbox") {
          e.stopPropagation();
          return;
        }
        if (e.key === " ") {
          if (target.tagName === "BUTTON" || target instanceof HTMLInputElement) return; // space presses it
          e.preventDefault();
          e.stopPropagation();
          this.spaceHeld = true;
          this.updateCursor();
          return;
        }
        if (target === canvas && this.cursorKey(e)) return;
        const action = actionForKey(e);
        if (action === null) return;
        e.preventDefault();
        e.stopPropagation();
        this.host.perform(action);
      },
      listen,
    );
    root.addEventListener(
      "keyup",
      (e) => {
        if (e.key === " ") {
          this.spaceHeld = false;
          this.updateCursor();
        }
      },
      listen,
    );
    // Lumino tests the notebook's command-mode shortcuts (selector ".jp-Notebook.jp-mod-commandMode
    // … :focus") against the focused element itself before it looks for data-lm-suppress-shortcuts
    // on its ancestors: a focused button, slider or input in here would let B insert a cell and
    // take the slider's arrow keys. Mark each control as it takes the focus.
    root.addEventListener(
      "focusin",
      (e) => {
        if (e.target instanceof HTMLElement) e.target.setAttribute("data-lm-suppress-shortcuts", "true");
      },
      listen,
    );
    root.addEventListener(
      "focusout",
      (e) => {
        if (e.relatedTarget instanceof Node && root.contains(e.relatedTarget)) return;
        this.spaceHeld = false;
        this.updateCursor();
      },
      listen,
    );
  }
}
