// The widget's DOM: toolbar, canvas stage, object list, status line and help
// overlay: building and filling elements, and turning clicks on them into calls
// (`wirePanels`). The canvas' own events are input.ts's.
// Every class carries the `sam2w-` prefix, since anywidget's CSS is global.

import type { ObjectInfo, WidgetTraits } from "./protocol";
import { CURSOR_KEY_HELP } from "./keyboard_cursor";
import { KEY_HELP, MOUSE_HELP } from "./shortcuts";

/** A new element with prefixed classes and the given attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  classes: string,
  attrs: Readonly<Record<string, string>> = {},
  text = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (classes) e.className = classes.split(" ").map((c) => `sam2w-${c}`).join(" ");
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function button(action: string, label: string, title: string, text: string): HTMLButtonElement {
  return h("button", "button", { type: "button", "data-action": action, "aria-label": label, title }, text);
}

export interface Layout {
  root: HTMLDivElement;
  /** Toolbar buttons by their `data-action`. */
  buttons: ReadonlyMap<string, HTMLButtonElement>;
  opacity: HTMLInputElement;
  outline: HTMLInputElement;
  nav: HTMLDivElement;
  position: HTMLSpanElement;
  imageName: HTMLSpanElement;
  stage: HTMLDivElement;
  canvas: HTMLCanvasElement;
  help: HTMLDivElement;
  objects: HTMLOListElement;
  status: HTMLDivElement;
  statusText: HTMLSpanElement;
  latency: HTMLSpanElement;
  cursor: HTMLSpanElement;
  error: HTMLSpanElement;
}

export function buildLayout(): Layout {
  const root = h("div", "root", {
    tabindex: "0",
    // Lumino (JupyterLab) skips its shortcuts for key events from inside.
    "data-lm-suppress-shortcuts": "true",
    "aria-label": "SAM 2 segmentation widget",
  });

  const toolbar = h("div", "toolbar", { role: "toolbar" });
  const buttons = [
    button("undo", "Undo", "Undo (Ctrl/⌘ Z)", "↶"),
    button("redo", "Redo", "Redo (Ctrl/⌘ Shift Z)", "↷"),
    button("new_object", "New object", "New object (N)", "New object"),
    button("clear_object", "Clear object", "Clear the selected object on this image (Delete)", "Clear object"),
    button("clear_image", "Clear image", "Clear every prompt on this image", "Clear image"),
    button("segment_everything", "Segment everything", "Automatic masks for this image", "Everything"),
  ];
  const opacityLabel = h("label", "field", { title: "Mask opacity" }, "Opacity ");
  const opacity = h("input", "slider", { type: "range", min: "0", max: "1", step: "0.05", "aria-label": "Mask opacity" });
  opacityLabel.append(opacity);
  const outlineLabel = h("label", "field", { title: "Mask outlines (O)" });
  const outline = h("input", "", { type: "checkbox", "aria-label": "Mask outlines" });
  outlineLabel.append(outline, " Outline");
  const view = [
    button("reset_view", "Reset view", "Reset the view (0)", "⤢"),
    button("help", "Help", "Shortcuts (?)", "?"),
  ];
  view[1].setAttribute("aria-expanded", "false");
  const nav = h("div", "nav");
  const prev = button("prev_image", "Previous image", "Previous image (←)", "◀");
  const position = h("span", "position", { "aria-live": "polite" });
  const next = button("next_image", "Next image", "Next image (→)", "▶");
  const imageName = h("span", "image-name");
  nav.append(prev, position, next, imageName);
  toolbar.append(...buttons, opacityLabel, outlineLabel, ...view, nav);

  const main = h("div", "main");
  const stage = h("div", "stage");
  // Focusable (Tab) for the keyboard cursor; "application": a screen reader passes the keys on.
  const canvas = h("canvas", "canvas", {
    tabindex: "0",
    role: "application",
    "aria-label": "Image: click or press Enter to add a point, drag or press B twice to draw a box (? for keys)",
  });
  const help = buildHelp();
  stage.append(canvas, help);
  const side = h("div", "side");
  side.append(h("div", "side-title", {}, "Objects"));
  const objects = h("ol", "objects", { "aria-label": "Objects" });
  side.append(objects);
  main.append(stage, side);

  const status = h("div", "status", { role: "status", "aria-live": "polite" });
  const statusText = h("span", "status-text");
  const latency = h("span", "latency");
  const cursor = h("span", "cursor", { "aria-hidden": "true" }); // follows the pointer: not to be read out
  const error = h("span", "error", { role: "alert" });
  status.append(statusText, latency, cursor, error);

  root.append(toolbar, main, status);
  const all = [...buttons, ...view, prev, next];
  return {
    root,
    buttons: new Map(all.map((b) => [b.dataset.action ?? "", b])),
    opacity,
    outline,
    nav,
    position,
    imageName,
    stage,
    canvas,
    help,
    objects,
    status,
    statusText,
    latency,
    cursor,
    error,
  };
}

function helpTable(title: string, rows: readonly (readonly [string, string])[]): HTMLTableElement {
  const table = h("table", "help-table");
  const caption = h("caption", "", {}, title);
  table.append(caption);
  for (const [keys, what] of rows) {
    const tr = h("tr", "");
    tr.append(h("th", "", { scope: "row" }, keys), h("td", "", {}, what));
    table.append(tr);
  }
  return table;
}

function buildHelp(): HTMLDivElement {
  const help = h("div", "help", { role: "dialog", "aria-label": "Shortcuts", hidden: "" });
  help.append(
    button("help", "Close help", "Close (Esc)", "×"),
    helpTable("Mouse", MOUSE_HELP),
    helpTable("Keys (while the widget has focus)", KEY_HELP),
    helpTable("Keys on the image (Tab to it)", CURSOR_KEY_HELP),
  );
  return help;
}

/** The element of `root`'s document (or shadow root) that has the focus, if it is inside `root`. */
export function focusedIn(root: HTMLElement): Element | null {
  const active = (root.getRootNode() as Document | ShadowRoot).activeElement;
  return active !== null && root.contains(active) ? active : null;
}

/**
 * Disable or enable `button`. A focused button that gets disabled would drop the keyboard
 * out of the widget (to the page): `fallback` takes it instead.
 */
export function setDisabled(button: HTMLButtonElement | HTMLSelectElement, disabled: boolean, fallback: HTMLElement): void {
  if (disabled && focusedIn(button) !== null) fallback.focus({ preventScroll: true });
  button.disabled = disabled;
}

const helpOpeners = new WeakMap<HTMLElement, Element | null>(); // help -> what had the focus when it opened

/** Open or close the help; the focus goes to its close button, and back where it was after. */
export function showHelp(ui: Pick<Layout, "root" | "help" | "buttons">, open: boolean): void {
  if (open === !ui.help.hidden) return;
  ui.help.hidden = !open;
  ui.buttons.get("help")?.setAttribute("aria-expanded", String(open));
  if (open) {
    helpOpeners.set(ui.help, focusedIn(ui.root));
    ui.help.querySelector<HTMLButtonElement>("button")?.focus({ preventScroll: true });
  } else if (focusedIn(ui.help) !== null || focusedIn(ui.root) === null) {
    const opener = helpOpeners.get(ui.help);
    const back = opener instanceof HTMLElement && opener.isConnected ? opener : ui.root;
    back.focus({ preventScroll: true });
  }
}

/**
 * Refill the object list; rows carry `data-id`, their buttons `data-action`, made only
 * where `shows(action)`. Each row but the selected one gets a "merge into selected" button.
 */
export function renderObjects(
  list: HTMLOListElement,
  objects: readonly ObjectInfo[],
  selectedId: number,
  shows: (action: string) => boolean,
): void {
  const target = objects.find((o) => o.id === selectedId);
  const rows = objects.map((o, i) => {
    const selected = o.id === selectedId;
    const row = h("li", selected ? "object selected" : "object", {
      "data-id": String(o.id),
      title: "Click to select; double-click the name (or F2) to rename",
    });
    const swatch = h("span", "swatch");
    swatch.style.background = o.color;
    if (!o.visible) swatch.classList.add("sam2w-hidden-swatch");
    const slot = h("span", "slot", {}, i < 9 ? String(i + 1) : "");
    // A button, so the keyboard reaches it; pressed: the selected object.
    const name = h(
      "button",
      "name",
      { type: "button", "data-action": "select", "aria-pressed": String(selected), "aria-label": `Select ${o.name}` },
      o.name,
    );
    const eye = h(
      "button",
      "icon",
      {
        type: "button",
        "data-action": "toggle_visible",
        "aria-pressed": String(o.visible), // a toggle: its name stays, pressed says shown
        "aria-label": `Show ${o.name}`,
        title: o.visible ? "Hide" : "Show",
      },
      o.visible ? "◉" : "○",
    );
    const del = h(
      "button",
      "icon",
      { type: "button", "data-action": "delete", "aria-label": `Delete ${o.name}`, title: "Delete on every image" },
      "×",
    );
    row.append(swatch, slot, name);
    if (shows("toggle_visible")) row.append(eye);
    if (shows("merge") && target !== undefined && !selected) {
      row.append(
        h(
          "button",
          "icon",
          {
            type: "button",
            "data-action": "merge",
            "aria-label": `Merge ${o.name} into ${target.name}`,
            title: `Merge into the selected object (${target.name}) on every image`,
          },
          "⤴",
        ),
      );
    }
    if (shows("delete")) row.append(del);
    return row;
  });
  if (rows.length === 0) rows.push(h("li", "empty", {}, "Click the image to start an object."));
  const focused = focusedIn(list);
  const focusedId = focused?.closest<HTMLElement>(".sam2w-object")?.dataset.id;
  const focusedAction = focused instanceof HTMLElement ? focused.dataset.action : undefined;
  list.replaceChildren(...rows);
  // The focused button was replaced: its twin (same row and action) takes the keyboard.
  if (focused !== null) {
    const twin = list.querySelector<HTMLElement>(`[data-id="${focusedId}"] [data-action="${focusedAction}"]`);
    const fallback = list.closest<HTMLElement>(".sam2w-root");
    (twin ?? list.querySelector<HTMLElement>(".sam2w-name") ?? fallback)?.focus({ preventScroll: true });
  }
}

/** Reads a synced trait (the model's `get`). */
export type TraitReader = <K extends keyof WidgetTraits>(key: K) => WidgetTraits[K];

/** Show the buttons in `root` whose action `shows` (object rows make theirs in `renderObjects`). */
export function showControls(root: HTMLElement, shows: (action: string) => boolean): void {
  for (const b of root.querySelectorAll<HTMLButtonElement>("button[data-action]")) {
    b.hidden = !shows(b.dataset.action ?? "");
  }
}

export function renderToolbar(ui: Layout, get: TraitReader): void {
  const enable = (action: string, enabled: boolean): void => {
    const b = ui.buttons.get(action);
    if (b !== undefined) setDisabled(b, !enabled, ui.root);
  };
  const count = get("image_count");
  const index = get("image_index");
  enable("undo", get("can_undo"));
  enable("redo", get("can_redo"));
  enable("clear_object", get("selected_id") > 0);
  enable("prev_image", index > 0);
  enable("next_image", index < count - 1);
  ui.nav.hidden = count <= 1;
  ui.position.textContent = `${index + 1} / ${count}`;
  ui.imageName.textContent = get("image_name");
  ui.opacity.value = String(get("opacity"));
  ui.outline.checked = get("outline");
}

/** The status line; `localError` is an error of the front end itself, shown when the kernel has none. */
export function renderStatus(ui: Layout, get: TraitReader, localError: string): void {
  const latency = get("latency_ms");
  ui.status.dataset.status = get("status");
  ui.statusText.textContent = get("status_text");
  ui.latency.textContent = latency > 0 ? `latency ${Math.round(latency)} ms` : "";
  ui.error.textContent = get("error") || localError;
}

/**
 * Swap a name for a text field. `done` gets the trimmed text on Enter or when
 * the field loses focus, null on Escape.
 */
export function editName(name: HTMLElement, signal: AbortSignal, done: (value: string | null) => void): void {
  const input = h("input", "name-input", { "aria-label": "Object name" });
  input.value = name.textContent ?? "";
  let finished = false;
  const finish = (value: string | null): void => {
    if (finished) return;
    finished = true;
    done(value);
  };
  input.addEventListener(
    "keydown",
    (e) => {
      if (e.key !== "Enter" && e.key !== "Escape") return;
      e.preventDefault(); // the name's button takes the focus back: the key must not press it
      finish(e.key === "Enter" ? input.value.trim() : null);
    },
    { signal },
  );
  input.addEventListener("blur", () => finish(input.value.trim()), { signal });
  name.replaceWith(input);
  input.focus();
  input.select();
}

/** What clicks on the toolbar and the object list ask for. */
export interface PanelActions {
  /** A toolbar button, by its `data-action`. */
  button(action: string): void;
  /** A click on object `id`'s row: on its button `action`, or elsewhere (undefined). */
  object(id: number, action: string | undefined): void;
  /** Whether a double click on a name may edit it. */
  canRename(): boolean;
  rename(id: number, name: string): void;
  /** A name edit ended: refill the object list. */
  editEnded(): void;
  opacity(value: number): void;
  outline(on: boolean): void;
}

/** Wire the toolbar's and the object list's events; `editing()` says whether a name is being edited. */
export function wirePanels(ui: Layout, actions: PanelActions, signal: AbortSignal): { editing(): boolean } {
  const listen = { signal };
  let editing = false;
  ui.root.addEventListener(
    "click",
    (e) => {
      const target = e.target as HTMLElement;
      const row = target.closest<HTMLElement>(".sam2w-object");
      const action = target.closest<HTMLElement>("[data-action]")?.dataset.action;
      if (row !== null) {
        if (!editing) actions.object(Number(row.dataset.id), action);
      } else if (action !== undefined) {
        actions.button(action);
      }
    },
    listen,
  );
  /** Edit the name under `target`, if it is one; false when there is none to edit. */
  const rename = (target: EventTarget | null): boolean => {
    const name = (target as HTMLElement).closest<HTMLElement>(".sam2w-name");
    const row = name?.closest<HTMLElement>(".sam2w-object");
    if (name == null || row == null || !actions.canRename()) return false;
    const id = Number(row.dataset.id);
    editing = true;
    editName(name, signal, (value) => {
      editing = false;
      if (value !== null && value !== "" && value !== name.textContent) actions.rename(id, value);
      actions.editEnded();
      const renamed = ui.objects.querySelector<HTMLElement>(`[data-id="${id}"] .sam2w-name`);
      (renamed ?? ui.root).focus({ preventScroll: true });
    });
    return true;
  };
  ui.objects.addEventListener("dblclick", (e) => rename(e.target), listen);
  ui.objects.addEventListener(
    "keydown",
    (e) => {
      if (e.key !== "F2" || !rename(e.target)) return;
      e.preventDefault();
      e.stopPropagation();
    },
    listen,
  );
  ui.opacity.addEventListener("input", () => actions.opacity(Number(ui.opacity.value)), listen);
  ui.outline.addEventListener("change", () => actions.outline(ui.outline.checked), listen);
  return { editing: () => editing };
}
