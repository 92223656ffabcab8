// What keys and buttons do: the message each sends, or what it changes on screen. DOM-free:
// the host sends and owns the view and the help (widget.ts); the tests use a fake.

import type { Message, MessageBuilder } from "./messages";
import type { ObjectInfo } from "./protocol";
import type { Action } from "./shortcuts";

export const KEY_ZOOM = 1.25; // per key press of + / -

export interface ActionHost {
  /** Send a message about what the user sees. */
  send(build: () => Message): void;
  /** The `objects` and `selected_id` traits. */
  objects(): readonly ObjectInfo[];
  selectedId(): number;
  /** Show the image / frame `delta` (-1 or +1) from the one shown. */
  step(delta: number): void;
  zoom(factor: number): void;
  resetView(): void;
  toggleOutline(): void;
  toggleHelp(): void;
  /** Clips: go to the next / previous weak or appear-disappear frame (nothing for images). */
  jump(kind: "weak" | "transition", step: 1 | -1): void;
  /** Close the help, else cancel a gesture, else hand the keyboard back to the notebook. */
  escape(): void;
}

/** Toolbar buttons that do what their key does. */
const KEYED_BUTTONS: ReadonlySet<string> = new Set([
  "undo",
  "redo",
  "new_object",
  "clear_object",
  "prev_image",
  "next_image",
  "reset_view",
  "help",
]);

export class Actions {
  constructor(
    private readonly host: ActionHost,
    private readonly messages: MessageBuilder,
  ) {}

  /** A keyboard shortcut (or a toolbar button that does the same). */
  perform(action: Action): void {
    const { host, messages } = this;
    switch (action.type) {
      case "undo":
        return host.send(() => messages.undo());
      case "redo":
        return host.send(() => messages.redo());
      case "new_object":
        return host.send(() => messages.addObject());
      case "select": {
        const o = host.objects()[action.slot];
        if (o !== undefined) host.send(() => messages.selectObject(o.id));
        return;
      }
      case "clear_object":
        if (host.selectedId() > 0) host.send(() => messages.clearObject());
        return;
      case "prev_image":
        return host.step(-1);
      case "next_image":
        return host.step(1);
      case "zoom_in":
        return host.zoom(KEY_ZOOM);
      case "zoom_out":
        return host.zoom(1 / KEY_ZOOM);
      case "reset_view":
        return host.resetView();
      case "toggle_outline":
        return host.toggleOutline();
      case "help":
        return host.toggleHelp();
      case "jump":
        return host.jump(action.kind, action.step);
      case "escape":
        return host.escape();
    }
  }

  /** A toolbar button, by its `data-action`. */
  button(action: string): void {
    if (action === "clear_image") this.host.send(() => this.messages.clearImage());
    else if (action === "segment_everything") this.host.send(() => this.messages.segmentEverything());
    else if (KEYED_BUTTONS.has(action)) this.perform({ type: action } as Action);
  }

  /** A click on object `id`'s row: on its button `action`, or elsewhere on it (select). */
  object(id: number, action: string | undefined): void {
    const { host, messages } = this;
    const o = host.objects().find((x) => x.id === id);
    if (o === undefined) return;
    if (action === "toggle_visible") host.send(() => messages.setVisible(id, !o.visible));
    else if (action === "delete") host.send(() => messages.deleteObject(id));
    else if (action === "merge") host.send(() => messages.mergeObjects([host.selectedId(), id]));
    else if (id !== host.selectedId()) host.send(() => messages.selectObject(id));
  }
}
