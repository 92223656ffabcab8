// The anywidget entry: wires the DOM (panels.ts), pointer and key events
// (gestures.ts, shortcuts.ts) and the model (traits and messages of
// docs/widget_protocol.md). Drawing is in draw.ts, pure logic elsewhere.

import type { RenderProps } from "@anywidget/types";
import { drawScene, POINT_RADIUS } from "./draw";
import {
  fitView,
  hitTest,
  isInsideImage,
  MAX_ZOOM,
  MIN_ZOOM,
  normaliseBox,
  panBy,
  toImage,
  zoomAt,
  type Box,
  type Point,
  type View,
} from "./geometry";
import { GestureTracker, type Gesture } from "./gestures";
import { MessageBuilder, type Message } from "./messages";
import { buildLayout, editName, renderObjects } from "./panels";
import { parseAck, parseFrameReply, parseMasksChanged, type Prompt, type WidgetTraits } from "./protocol";
import { MaskLayer } from "./masks";
import { sameBytes, toBytes } from "./rle";
import { actionForKey, type Action } from "./shortcuts";
import { FrameCache, GotoLog, playbackFrame, prefetchList } from "./timeline";
import { buildTimeline, type Timeline } from "./timeline_view";

const PREFETCH_RADIUS = 8; // frames fetched around the cursor of a video
const FRAME_CACHE = 64; // fetched frames kept (JPEG + label RLE bytes)
const PLAY_FPS = 12;

const WHEEL_ZOOM = 0.0015; // per pixel of wheel delta
const KEY_ZOOM = 1.25;

// Opt-in timing trace for benchmarks/bench_scrub.py: when the page sets `window.__sam2wTrace = []`,
// each step of showing a frame pushes [performance.now(), event, frame index] there.
function mark(event: string, index: number): void {
  const trace = (globalThis as { __sam2wTrace?: unknown }).__sam2wTrace;
  if (Array.isArray(trace)) trace.push([performance.now(), event, index]);
}

function render({ model, el, signal }: RenderProps<WidgetTraits>): () => void {
  const ui = buildLayout();
  el.append(ui.root);
  const ctx = ui.canvas.getContext("2d");
  const masks = new MaskLayer();
  const messages = new MessageBuilder();
  const tracker = new GestureTracker();
  const events = new AbortController();
  const listen = { signal: events.signal };
  const modelHandlers: [string, () => void][] = [];

  // Front-end state: the view, decoded data and previews; never sent on moves.
  let view: View = { scale: 1, tx: 0, ty: 0 };
  let fitted = true; // follow the canvas size until the user zooms or pans
  let cssW = 0;
  let cssH = 0;
  let dpr = 1;
  let bitmap: ImageBitmap | null = null;
  let bitmapIndex = -1; // the image / frame index of `bitmap`
  let bitmapJpeg: Uint8Array | null = null; // the bytes `bitmap` was decoded from
  let imageToken = 0; // bumped by every new decode: a decode finishing with an older token is dropped
  // The decode in flight (null: none), and what to do once its image is on the canvas.
  let decoding: { index: number; jpeg: Uint8Array; done: ((ok: boolean, error?: unknown) => void)[] } | null = null;
  // Video: the frame scrubbed to (-1: follow the kernel's image_index), and the gotos sent.
  let shownCached = -1;
  const gotos = new GotoLog(model.get("image_index"));
  // What a seek does once its frame is on the canvas (or could not be shown): move the
  // kernel there (goto), and after a jump to a frame not cached, fetch the window around it.
  // Held back so that neither the kernel's reply to goto (the same JPEG again) nor 16 other
  // frames compete with the frame the user waits for.
  let deferred: { index: number; goto: boolean; window: boolean } | null = null;
  // Trait changes arrive one key at a time: decode and colour once per frame.
  let labelsDirty = true;
  let coloursDirty = true;
  let localError = "";
  const pending = new Map<number, Prompt>(); // seq -> prompt drawn until acked
  let hoverIndex = -1;
  let dragBox: Box | null = null;
  let spaceHeld = false;
  let editing = false; // an object name is being edited: keep the list as it is
  let frame = 0;
  let disposed = false;

  const width = (): number => model.get("image_width");
  const height = (): number => model.get("image_height");

  // ---- model ----------------------------------------------------------------

  function on(names: readonly (keyof WidgetTraits)[], handler: () => void): void {
    for (const name of names) {
      model.on(`change:${name}`, handler);
      modelHandlers.push([`change:${name}`, handler]);
    }
  }

  function send(build: () => Message, preview?: Prompt): void {
    // A goto held back until its frame is drawn goes first: the kernel must be on the
    // frame the user sees before any action on it.
    if (deferred !== null && deferred.goto) {
      deferred.goto = false;
      sendGoto(deferred.index);
    }
    post(build, preview);
  }

  function post(build: () => Message, preview?: Prompt): void {
    let msg: Message;
    try {
      msg = build();
    } catch (e) {
      showLocalError(e instanceof Error ? e.message : String(e));
      return;
    }
    if (preview !== undefined) pending.set(msg.seq, preview);
    model.send(msg);
    scheduleDraw();
  }

  function setTrait<K extends "opacity" | "outline">(key: K, value: WidgetTraits[K]): void {
    model.set(key, value);
    model.save_changes();
  }

  function onCustomMessage(msg: unknown, buffers?: readonly unknown[]): void {
    const ack = parseAck(msg);
    if (ack !== null && pending.delete(ack.seq)) scheduleDraw();
    if (ack !== null && gotos.pending > 0) {
      kernelShown(); // the image_index it brought (trait updates come before the ack)
      gotos.acked(ack.seq);
    }
    const reply = parseFrameReply(msg);
    if (reply !== null) mark("reply", reply.index);
    if (reply !== null) onFrame(reply.index, reply.error === undefined ? buffers : undefined, reply.masks_version ?? 0);
    const changed = parseMasksChanged(msg);
    if (changed !== null) onMasksChanged(changed.frames, changed.version);
  }
  model.on("msg:custom", onCustomMessage);

  /** An error of the front end itself, shown until an image or masks decode fine. */
  function showLocalError(message: string): void {
    if (message === localError) return;
    localError = message;
    renderStatus();
  }

  // ---- view and drawing -----------------------------------------------------

  function fit(): View {
    return fitView(width(), height(), cssW, cssH);
  }

  function resetView(): void {
    view = fit();
    fitted = true;
    scheduleDraw();
  }

  function zoom(at: Point, factor: number): void {
    const base = fit().scale;
    view = zoomAt(view, at, factor, base * MIN_ZOOM, base * MAX_ZOOM);
    fitted = false;
    scheduleDraw();
  }

  function scheduleDraw(): void {
    if (frame === 0 && !disposed) frame = requestAnimationFrame(draw);
  }

  /** Draw at once (a new frame decoded: it is presented at the next frame either way). */
  function drawNow(): void {
    if (disposed) return;
    if (frame !== 0) cancelAnimationFrame(frame);
    draw();
  }

  function draw(): void {
    frame = 0;
    mark("draw", bitmapIndex);
    if (labelsDirty) decodeLabels();
    if (coloursDirty) colourMasks();
    mark("coloured", bitmapIndex);
    if (ctx === null) return;
    const colors = new Map(model.get("objects").map((o) => [o.id, o.color]));
    drawScene(
      ctx,
      view,
      {
        width: width(),
        height: height(),
        image: bitmap,
        overlay: masks.image,
        prompts: model.get("prompts"),
        pending: [...pending.values()],
        colors,
        selectedId: model.get("selected_id"),
        hoverIndex,
        dragBox,
      },
      dpr,
    );
    // Instrumentation (benchmarks/bench_scrub.py): the index whose image is now on the canvas.
    const drawn = String(bitmapIndex);
    if (ui.canvas.dataset.drawnFrame !== drawn) ui.canvas.dataset.drawnFrame = drawn;
    mark("drawn", bitmapIndex);
    if (deferred !== null && deferred.index === bitmapIndex) {
      // In the next animation frame, the one that paints this draw: no reply to what it
      // sends (the goto's traits, the window's frames) can arrive before the paint.
      const index = bitmapIndex;
      requestAnimationFrame(() => {
        if (deferred !== null && deferred.index === index && bitmapIndex === index && !disposed) flushDeferred();
      });
    }
  }

  function onResize(): void {
    cssW = ui.stage.clientWidth;
    cssH = ui.stage.clientHeight;
    dpr = window.devicePixelRatio || 1;
    ui.canvas.width = Math.max(1, Math.round(cssW * dpr));
    ui.canvas.height = Math.max(1, Math.round(cssH * dpr));
    if (fitted) view = fit();
    scheduleDraw();
  }
  const resizeObserver = new ResizeObserver(onResize);
  resizeObserver.observe(ui.stage);

  // ---- image and masks ------------------------------------------------------

  /**
   * Whether the kernel's image (`image_jpeg`, `label_rle`) is what the user looks at: not
   * while a video is scrubbed to a frame the kernel has not reached yet (its traits are then
   * of a frame scrubbed past, and would replace the newer one).
   */
  function kernelShown(): boolean {
    const index = model.get("image_index");
    if (gotos.arrived(index) === "theirs") shownCached = -1; // moved by Python or the toolbar: follow the kernel
    return shownCached < 0 || shownCached === index;
  }

  function loadImage(): void {
    if (!kernelShown()) return;
    const index = model.get("image_index");
    const bytes = toBytes(model.get("image_jpeg"));
    if (bytes.byteLength === 0) {
      ++imageToken;
      decoding = null;
      bitmapIndex = -1;
      bitmapJpeg = null;
      replaceBitmap(null);
      return;
    }
    mark("trait decode", index);
    showJpeg(index, bytes, null, (ok, e) => showLocalError(ok ? "" : `could not decode the image: ${String(e)}`));
  }

  /**
   * Show `jpeg` as image / frame `index`, decoded off the main thread (or from `decoded`, a
   * decode started earlier), then draw at once; `done` runs before that draw (`ok`: on the
   * canvas) unless a newer image superseded it. The image already shown or being decoded
   * is not decoded again.
   */
  function showJpeg(
    index: number,
    jpeg: Uint8Array,
    decoded: Promise<ImageBitmap> | null,
    done: (ok: boolean, error?: unknown) => void,
  ): void {
    if (decoding !== null && decoding.index === index && sameBytes(decoding.jpeg, jpeg)) {
      decoding.done.push(done);
      if (decoded !== null) void decoded.then((b) => b.close(), () => undefined);
      return;
    }
    const token = ++imageToken;
    if (bitmap !== null && bitmapIndex === index && bitmapJpeg !== null && sameBytes(bitmapJpeg, jpeg)) {
      decoding = null; // stepping back to the frame on the canvas drops a decode in flight
      if (decoded !== null) void decoded.then((b) => b.close(), () => undefined);
      done(true);
      drawNow();
      return;
    }
    const current = { index, jpeg, done: [done] };
    decoding = current;
    (decoded ?? createImageBitmap(new Blob([jpeg.slice()], { type: "image/jpeg" }))).then(
      (image) => {
        mark("decoded", index);
        if (token !== imageToken || disposed) return image.close();
        decoding = null;
        bitmap?.close();
        bitmap = image;
        bitmapIndex = index;
        bitmapJpeg = jpeg;
        for (const f of current.done) f(true);
        drawNow();
      },
      (e: unknown) => {
        if (token !== imageToken || disposed) return;
        decoding = null;
        for (const f of current.done) f(false, e);
      },
    );
  }

  function replaceBitmap(next: ImageBitmap | null): void {
    bitmap?.close();
    bitmap = next;
    scheduleDraw();
  }

  function onImageChanged(): void {
    const w = width();
    const h = height();
    ui.stage.style.aspectRatio = w > 0 && h > 0 ? `${w} / ${h}` : "";
    pending.clear();
    hoverIndex = -1;
    dragBox = null;
    tracker.cancel();
    resetView();
  }

  function markLabels(): void {
    labelsDirty = true;
    scheduleDraw();
  }

  function markColours(): void {
    coloursDirty = true;
    scheduleDraw();
  }

  function decodeLabels(): void {
    labelsDirty = false;
    if (!kernelShown()) return; // `label_rle` is of a frame scrubbed past: keep the shown frame's masks
    try {
      if (masks.setLabels(model.get("label_rle"), width(), height())) coloursDirty = true;
      showLocalError("");
    } catch (e) {
      coloursDirty = true;
      showLocalError(e instanceof Error ? e.message : String(e));
    }
  }

  function colourMasks(): void {
    coloursDirty = false;
    try {
      masks.colour(model.get("objects"), model.get("opacity"), model.get("outline"));
    } catch (e) {
      showLocalError(e instanceof Error ? e.message : String(e)); // e.g. a colour not "#rrggbb"
    }
  }

  // ---- panels ---------------------------------------------------------------

  function renderObjectList(): void {
    // Merging is for image sets only (the kernel refuses it for clips).
    if (!editing) renderObjects(ui.objects, model.get("objects"), model.get("selected_id"), !model.get("is_video"));
  }

  function renderToolbar(): void {
    const enable = (action: string, enabled: boolean): void => {
      const b = ui.buttons.get(action);
      if (b !== undefined) b.disabled = !enabled;
    };
    const count = model.get("image_count");
    const index = model.get("image_index");
    enable("undo", model.get("can_undo"));
    enable("redo", model.get("can_redo"));
    enable("clear_object", model.get("selected_id") > 0);
    enable("prev_image", index > 0);
    enable("next_image", index < count - 1);
    ui.nav.hidden = count <= 1;
    ui.position.textContent = `${index + 1} / ${count}`;
    ui.imageName.textContent = model.get("image_name");
    ui.opacity.value = String(model.get("opacity"));
    ui.outline.checked = model.get("outline");
  }

  function renderStatus(): void {
    const latency = model.get("latency_ms");
    ui.status.dataset.status = model.get("status");
    ui.statusText.textContent = model.get("status_text");
    ui.latency.textContent = latency > 0 ? `latency ${Math.round(latency)} ms` : "";
    ui.error.textContent = model.get("error") || localError;
  }

  function helpOpen(): boolean {
    return !ui.help.hidden;
  }

  function setHelp(open: boolean): void {
    ui.help.hidden = !open;
  }

  // ---- actions --------------------------------------------------------------

  function gotoImage(delta: number): void {
    if (timeline !== null) {
      // A clip: step from the frame on screen through the frame cache, as the scrubber does.
      const target = cursor() + delta;
      if (target >= 0 && target < model.get("image_count")) seek(target, true);
      return;
    }
    const target = model.get("image_index") + delta;
    if (target >= 0 && target < model.get("image_count")) send(() => messages.goto(target));
  }

  function perform(action: Action): void {
    switch (action.type) {
      case "undo":
        return send(() => messages.undo());
      case "redo":
        return send(() => messages.redo());
      case "new_object":
        return send(() => messages.addObject());
      case "select": {
        const o = model.get("objects")[action.slot];
        if (o !== undefined) send(() => messages.selectObject(o.id));
        return;
      }
      case "clear_object":
        if (model.get("selected_id") > 0) send(() => messages.clearObject());
        return;
      case "prev_image":
        return gotoImage(-1);
      case "next_image":
        return gotoImage(1);
      case "zoom_in":
        return zoom({ x: cssW / 2, y: cssH / 2 }, KEY_ZOOM);
      case "zoom_out":
        return zoom({ x: cssW / 2, y: cssH / 2 }, 1 / KEY_ZOOM);
      case "reset_view":
        return resetView();
      case "toggle_outline":
        return setTrait("outline", !model.get("outline"));
      case "help":
        return setHelp(!helpOpen());
      case "escape":
        if (helpOpen()) setHelp(false);
        else if (tracker.active) cancelGesture();
        else blurActive();
        return;
    }
  }

  function onButton(action: string): void {
    switch (action) {
      case "clear_image":
        return send(() => messages.clearImage());
      case "segment_everything":
        return send(() => messages.segmentEverything());
      case "undo":
      case "redo":
      case "new_object":
      case "clear_object":
      case "prev_image":
      case "next_image":
      case "reset_view":
      case "help":
        return perform({ type: action });
    }
  }

  // ---- pointer --------------------------------------------------------------

  function screenPoint(e: MouseEvent): Point {
    const r = ui.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  /** Index into `prompts` of a point of the selected object under `at`, or -1. */
  function hitPrompt(at: Point): number {
    const selected = model.get("selected_id");
    const points = model.get("prompts").map((p) => (p.type === "point" && p.obj_id === selected ? p : null));
    return hitTest(points, at, view, POINT_RADIUS + 2);
  }

  function focused(): Element | null {
    const active = (ui.root.getRootNode() as Document | ShadowRoot).activeElement;
    return active !== null && ui.root.contains(active) ? active : null;
  }

  /** Hand the keyboard back to the notebook. */
  function blurActive(): void {
    const active = focused();
    if (active instanceof HTMLElement) active.blur();
  }

  function updateCursor(): void {
    const c = ui.canvas;
    if (tracker.panning) c.style.cursor = "grabbing";
    else if (spaceHeld) c.style.cursor = "grab";
    else c.style.cursor = hoverIndex >= 0 ? "pointer" : "crosshair";
  }

  function cancelGesture(): void {
    tracker.cancel();
    dragBox = null;
    updateCursor();
    scheduleDraw();
  }

  function finishGesture(g: Gesture): void {
    const w = width();
    const h = height();
    const obj = model.get("selected_id");
    if (w <= 0 || h <= 0) return; // no image yet
    if (g.kind === "point") {
      const p = toImage(view, g.at);
      if (!isInsideImage(p, w, h)) return;
      send(() => messages.addPoint(p.x, p.y, g.label), { obj_id: obj, type: "point", ...p, label: g.label });
    } else if (g.kind === "box") {
      const box = normaliseBox(toImage(view, g.from), toImage(view, g.to), w, h);
      if (box === null) return;
      send(() => messages.addBox(box.x0, box.y0, box.x1, box.y1), { obj_id: obj, type: "box", ...box });
    } else if (g.kind === "remove") {
      send(() => messages.removePrompt(g.index));
    }
  }

  ui.canvas.addEventListener(
    "pointerdown",
    (e) => {
      e.preventDefault(); // no text selection, no middle-button autoscroll
      ui.root.focus({ preventScroll: true });
      ui.canvas.setPointerCapture(e.pointerId);
      const at = screenPoint(e);
      tracker.down({ ...at, button: e.button, shiftKey: e.shiftKey, spaceHeld, hitIndex: hitPrompt(at) });
      updateCursor();
    },
    listen,
  );

  ui.canvas.addEventListener(
    "pointermove",
    (e) => {
      const at = screenPoint(e);
      const progress = tracker.move(at);
      if (progress.kind === "pan") {
        view = panBy(view, progress.dx, progress.dy);
        fitted = false;
        scheduleDraw();
      } else if (progress.kind === "box") {
        dragBox = normaliseBox(toImage(view, progress.from), toImage(view, progress.to), width(), height());
        scheduleDraw();
      } else if (!tracker.active) {
        const hover = hitPrompt(at);
        if (hover !== hoverIndex) {
          hoverIndex = hover;
          updateCursor();
          scheduleDraw();
        }
      }
      const p = toImage(view, at);
      ui.cursor.textContent = isInsideImage(p, width(), height()) ? `x ${Math.floor(p.x)}, y ${Math.floor(p.y)}` : "";
    },
    listen,
  );

  ui.canvas.addEventListener(
    "pointerup",
    (e) => {
      const gesture = tracker.up(screenPoint(e));
      dragBox = null;
      finishGesture(gesture);
      updateCursor();
      scheduleDraw();
    },
    listen,
  );

  ui.canvas.addEventListener("pointercancel", cancelGesture, listen);
  ui.canvas.addEventListener(
    "pointerleave",
    () => {
      ui.cursor.textContent = "";
      if (hoverIndex !== -1 && !tracker.active) {
        hoverIndex = -1;
        scheduleDraw();
      }
    },
    listen,
  );
  ui.canvas.addEventListener("contextmenu", (e) => e.preventDefault(), listen);

  ui.canvas.addEventListener(
    "wheel",
    (e) => {
      if (focused() === null) return; // let the notebook scroll
      e.preventDefault();
      const delta = e.deltaMode === WheelEvent.DOM_DELTA_LINE ? e.deltaY * 33 : e.deltaY;
      zoom(screenPoint(e), Math.exp(-delta * WHEEL_ZOOM));
    },
    { signal: events.signal, passive: false },
  );

  // ---- keyboard -------------------------------------------------------------

  ui.root.addEventListener(
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
        spaceHeld = true;
        updateCursor();
        return;
      }
      const action = actionForKey(e);
      if (action === null) return;
      e.preventDefault();
      e.stopPropagation();
      perform(action);
    },
    listen,
  );

  ui.root.addEventListener(
    "keyup",
    (e) => {
      if (e.key === " ") {
        spaceHeld = false;
        updateCursor();
      }
    },
    listen,
  );

  // Lumino tests the notebook's command-mode shortcuts (selector ".jp-Notebook.jp-mod-commandMode
  // … :focus") against the focused element itself before it looks for data-lm-suppress-shortcuts
  // on its ancestors: a focused button, slider or input in here would let B insert a cell and
  // take the slider's arrow keys. Mark each control as it takes the focus.
  ui.root.addEventListener(
    "focusin",
    (e) => {
      if (e.target instanceof HTMLElement) e.target.setAttribute("data-lm-suppress-shortcuts", "true");
    },
    listen,
  );

  ui.root.addEventListener(
    "focusout",
    (e) => {
      if (e.relatedTarget instanceof Node && ui.root.contains(e.relatedTarget)) return;
      spaceHeld = false;
      updateCursor();
    },
    listen,
  );

  // ---- toolbar, help and object list ----------------------------------------

  ui.root.addEventListener(
    "click",
    (e) => {
      const target = e.target as HTMLElement;
      const row = target.closest<HTMLElement>(".sam2w-object");
      if (row !== null) return onObjectClick(row, target);
      const b = target.closest<HTMLElement>("[data-action]");
      if (b !== null && b.dataset.action !== undefined) onButton(b.dataset.action);
    },
    listen,
  );

  function onObjectClick(row: HTMLElement, target: HTMLElement): void {
    const id = Number(row.dataset.id);
    const o = model.get("objects").find((x) => x.id === id);
    if (o === undefined || editing) return;
    const action = target.closest<HTMLElement>("[data-action]")?.dataset.action;
    if (action === "toggle_visible") send(() => messages.setVisible(id, !o.visible));
    else if (action === "delete") send(() => messages.deleteObject(id));
    else if (action === "merge") send(() => messages.mergeObjects([model.get("selected_id"), id]));
    else if (id !== model.get("selected_id")) send(() => messages.selectObject(id));
  }

  ui.objects.addEventListener(
    "dblclick",
    (e) => {
      const name = (e.target as HTMLElement).closest<HTMLElement>(".sam2w-name");
      const row = name?.closest<HTMLElement>(".sam2w-object");
      if (name == null || row == null) return;
      const id = Number(row.dataset.id);
      editing = true;
      editName(name, events.signal, (value) => {
        editing = false;
        if (value !== null && value !== "" && value !== name.textContent) send(() => messages.renameObject(id, value));
        renderObjectList();
        ui.root.focus({ preventScroll: true });
      });
    },
    listen,
  );

  ui.opacity.addEventListener("input", () => setTrait("opacity", Number(ui.opacity.value)), listen);
  ui.outline.addEventListener("change", () => setTrait("outline", ui.outline.checked), listen);

  // ---- video timeline ---------------------------------------------------------

  interface CachedFrame {
    jpeg: Uint8Array;
    rle: Uint8Array;
  }
  const frames = new FrameCache<CachedFrame>(FRAME_CACHE);
  const inFlight = new Set<number>();
  let timeline: Timeline | null = null;
  let playing = false;
  let playTimer = 0;
  let playFrom = 0;
  let playStart = 0;
  // Frames next to the cursor decoded ahead (the next step shows without waiting for a decode).
  const predecoded = new Map<number, { jpeg: Uint8Array; image: Promise<ImageBitmap> }>();

  /** Where the user looks: the scrubbed-to frame, else the kernel's. */
  function cursor(): number {
    kernelShown(); // notices a move by Python
    return shownCached >= 0 ? shownCached : model.get("image_index");
  }

  function sendGoto(index: number): void {
    if (index === model.get("image_index") && gotos.pending === 0) return;
    post(() => {
      const msg = messages.goto(index);
      gotos.add(msg.seq, index);
      return msg;
    });
  }

  function flushDeferred(): void {
    const d = deferred;
    if (d === null) return;
    deferred = null;
    if (d.goto) sendGoto(d.index);
    if (d.window) prefetch(cursor());
    schedulePredecode();
  }

  function onFrame(index: number, buffers: readonly unknown[] | undefined, version: number): void {
    inFlight.delete(index);
    if (buffers === undefined || buffers.length < 2) {
      if (deferred !== null && deferred.index === index) flushDeferred(); // goto shows the error
      return;
    }
    frames.put(index, { jpeg: toBytes(buffers[0] as ArrayBuffer).slice(), rle: toBytes(buffers[1] as ArrayBuffer).slice() }, version);
    if (index === shownCached) showCached(index);
    else if (Math.abs(index - shownCached) <= 2) schedulePredecode();
    if (frames.isStale(index)) prefetch(cursor()); // it raced with a change of its masks: fetch it again
  }

  let predecodeTimer = 0;
  function schedulePredecode(): void {
    if (predecodeTimer === 0 && !disposed) predecodeTimer = window.setTimeout(predecode, 0);
  }

  function dropPredecoded(index: number): void {
    const p = predecoded.get(index);
    if (p === undefined) return;
    predecoded.delete(index);
    void p.image.then((b) => b.close(), () => undefined);
  }

  /** Decode the cached frames next to the cursor ahead (+1, -1, +2), dropping the others. */
  function predecode(): void {
    predecodeTimer = 0;
    if (shownCached < 0 || disposed) return;
    const at = shownCached;
    const near = [at + 1, at - 1, at + 2];
    for (const i of [...predecoded.keys()]) if (!near.includes(i)) dropPredecoded(i);
    for (const i of near) {
      const entry = i >= 0 && i < model.get("image_count") ? frames.get(i) : undefined;
      if (entry === undefined) continue;
      if (predecoded.get(i)?.jpeg === entry.jpeg) continue;
      dropPredecoded(i);
      predecoded.set(i, { jpeg: entry.jpeg, image: createImageBitmap(new Blob([entry.jpeg.slice()], { type: "image/jpeg" })) });
    }
  }

  /** Re-tracked or corrected frames: their cached masks are dropped, those near the cursor fetched again. */
  function onMasksChanged(changed: [number, number][] | null, version: number): void {
    frames.markChanged(changed, version);
    if (timeline === null) return;
    const shown = shownCached;
    if (shown >= 0 && shown !== model.get("image_index") && frames.isStale(shown)) showCached(shown);
    prefetch(cursor());
  }

  /** Fetch the frames within PREFETCH_RADIUS of `cursor` not cached (or stale) and not in flight. */
  function prefetch(cursor: number): void {
    fetchFrames(prefetchList(cursor, model.get("image_count"), PREFETCH_RADIUS, (i) => !inFlight.has(i) && frames.isStale(i)));
  }

  function fetchFrames(wanted: number[]): void {
    if (wanted.length === 0) return;
    for (const i of wanted) inFlight.add(i);
    mark("fetch", wanted[0]);
    post(() => messages.fetchFrames(wanted));
  }

  /**
   * Show a cached frame at once (scrubbing, playback); the kernel's traits take over on goto.
   * A frame whose masks changed since it was fetched shows no masks until it is fetched again.
   */
  function showCached(index: number): void {
    const stale = frames.isStale(index);
    const entry = frames.get(index);
    if (entry === undefined) return;
    mark("decode", index);
    const ahead = predecoded.get(index);
    let decoded: Promise<ImageBitmap> | null = null;
    if (ahead !== undefined) {
      predecoded.delete(index); // the shown bitmap is closed when replaced: hand it over
      if (ahead.jpeg === entry.jpeg) decoded = ahead.image;
      else void ahead.image.then((b) => b.close(), () => undefined);
    }
    showJpeg(index, entry.jpeg, decoded, (ok) => {
      if (!ok) {
        if (deferred !== null && deferred.index === index) flushDeferred();
        return;
      }
      try {
        // the kernel's own frame has fresh masks in `label_rle`
        const labels = index === model.get("image_index") ? model.get("label_rle") : stale ? null : entry.rle;
        if (masks.setLabels(labels, width(), height())) coloursDirty = true;
        mark("labels", index);
      } catch (e) {
        coloursDirty = true;
        showLocalError(e instanceof Error ? e.message : String(e));
      }
    });
  }

  function seek(index: number, commit: boolean): void {
    mark("seek", index);
    if (deferred !== null && deferred.index !== index) {
      // An earlier seek not drawn yet: the kernel follows it as before; its window is moot.
      const d = deferred;
      deferred = null;
      if (d.goto) sendGoto(d.index);
    }
    const goto = commit || (deferred?.goto ?? false);
    shownCached = index;
    if (frames.get(index) !== undefined) {
      deferred = { index, goto, window: false };
      showCached(index); // may draw (and flush `deferred`) at once when it is on the canvas already
      prefetch(index);
    } else {
      // A jump: ask for this frame alone; the window around it follows once it is drawn.
      deferred = { index, goto, window: true };
      if (!inFlight.has(index)) fetchFrames([index]);
    }
  }

  function stopPlaying(): void {
    playing = false;
    if (playTimer !== 0) clearInterval(playTimer);
    playTimer = 0;
    renderTimeline();
  }

  function togglePlay(): void {
    if (playing) return stopPlaying();
    playing = true;
    playFrom = cursor();
    if (playFrom >= model.get("image_count") - 1) playFrom = 0;
    playStart = performance.now();
    let last = -1;
    playTimer = window.setInterval(() => {
      const { index, done } = playbackFrame(playFrom, performance.now() - playStart, PLAY_FPS, model.get("image_count"));
      if (index !== last) {
        last = index;
        seek(index, done);
      }
      if (done) stopPlaying();
    }, 1000 / PLAY_FPS / 2);
    renderTimeline();
  }

  function renderTimeline(): void {
    if (timeline === null) return;
    timeline.render(
      {
        image_index: model.get("image_index"),
        image_count: model.get("image_count"),
        prompt_frames: model.get("prompt_frames") ?? [],
        tracked: model.get("tracked") ?? [],
        objects: model.get("objects"),
        progress: model.get("progress") ?? {},
      },
      playing,
    );
  }

  if (model.get("is_video")) {
    timeline = buildTimeline(
      {
        seek,
        track: (direction) => send(() => messages.track(direction)),
        cancel: () => send(() => messages.cancel()),
        togglePlay,
      },
      events.signal,
    );
    ui.status.before(timeline.root);
    on(["image_index", "image_count", "prompt_frames", "tracked", "objects", "progress"], renderTimeline);
    on(["image_index"], () => {
      if (!playing) prefetch(cursor());
    });
    renderTimeline();
    prefetch(model.get("image_index"));
  }

  // ---- trait changes --------------------------------------------------------

  on(["image_index"], kernelShown); // tells a scrub's goto from a move by Python (also checked wherever it matters)
  on(["image_jpeg"], () => void loadImage());
  on(["image_index", "image_width", "image_height"], onImageChanged);
  on(["label_rle", "image_width", "image_height"], markLabels);
  on(["objects", "opacity", "outline"], markColours);
  on(["objects", "selected_id"], renderObjectList);
  on(["prompts", "selected_id"], () => {
    hoverIndex = -1;
    scheduleDraw();
  });
  on(
    ["can_undo", "can_redo", "selected_id", "image_index", "image_count", "image_name", "opacity", "outline"],
    renderToolbar,
  );
  on(["status", "status_text", "latency_ms", "error"], renderStatus);

  onImageChanged();
  renderObjectList();
  renderToolbar();
  renderStatus();
  updateCursor();
  void loadImage();

  // ---- cleanup --------------------------------------------------------------

  function cleanup(): void {
    if (disposed) return;
    disposed = true;
    events.abort();
    resizeObserver.disconnect();
    if (frame !== 0) cancelAnimationFrame(frame);
    if (playTimer !== 0) clearInterval(playTimer);
    if (predecodeTimer !== 0) clearTimeout(predecodeTimer);
    for (const i of [...predecoded.keys()]) dropPredecoded(i);
    for (const [name, handler] of modelHandlers) model.off(name as `change:${keyof WidgetTraits}`, handler);
    model.off("msg:custom", onCustomMessage);
    bitmap?.close();
    bitmap = null;
    ui.root.remove();
  }
  // Hosts with anywidget >= 0.11 abort `signal` when the view goes; older
  // ones only call the returned function.
  signal?.addEventListener("abort", cleanup, { once: true });
  return cleanup;
}

export default { render };
