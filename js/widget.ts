// The anywidget entry: wiring only. The DOM is built in panels.ts and timeline_view.ts,
// pointer and key events are input.ts's, the image on the canvas bitmap_loader.ts's, a
// clip's frames video_player.ts's; drawing is in draw.ts. The model speaks the traits and
// messages of docs/widget_protocol.md.

import type { RenderProps } from "@anywidget/types";
import { BitmapLoader } from "./bitmap_loader";
import { showsControl } from "./controls";
import { drawScene } from "./draw";
import { fitView, MAX_ZOOM, MIN_ZOOM, panBy, zoomAt, type Point, type View } from "./geometry";
import { CanvasInput } from "./input";
import { MaskLayer } from "./masks";
import { MessageBuilder, type Message } from "./messages";
import {
  buildLayout,
  editName,
  renderObjects,
  renderStatus,
  renderToolbar,
  showControls,
  type TraitReader,
} from "./panels";
import { parseAck, parseFrameReply, parseMasksChanged, type Prompt, type WidgetTraits } from "./protocol";
import { toBytes } from "./rle";
import type { Action } from "./shortcuts";
import { buildTimeline, type Timeline } from "./timeline_view";
import { createTrace } from "./trace";
import { VideoPlayer, type Clock } from "./video_player";

const KEY_ZOOM = 1.25;

const BROWSER_CLOCK: Clock = {
  now: () => performance.now(),
  after(ms, f) {
    const id = window.setTimeout(f, ms);
    return () => window.clearTimeout(id);
  },
  every(ms, f) {
    const id = window.setInterval(f, ms);
    return () => window.clearInterval(id);
  },
  nextFrame: (f) => void requestAnimationFrame(() => f()),
};

const decodeJpeg = (jpeg: Uint8Array): Promise<ImageBitmap> =>
  createImageBitmap(new Blob([jpeg.slice()], { type: "image/jpeg" }));

function render({ model, el, signal }: RenderProps<WidgetTraits>): () => void {
  const ui = buildLayout();
  el.append(ui.root);
  const ctx = ui.canvas.getContext("2d");
  const get: TraitReader = (key) => model.get(key);
  const trace = createTrace(ui.canvas);
  const masks = new MaskLayer();
  const messages = new MessageBuilder();
  const events = new AbortController();
  const listen = { signal: events.signal };
  const modelHandlers: [string, () => void][] = [];

  // Front-end state: the view and previews, never sent on moves.
  let view: View = { scale: 1, tx: 0, ty: 0 };
  let fitted = true; // follow the canvas size until the user zooms or pans
  let cssW = 0;
  let cssH = 0;
  let dpr = 1;
  // Trait changes arrive one key at a time: decode and colour once per frame.
  let labelsDirty = true;
  let coloursDirty = true;
  let localError = "";
  const pending = new Map<number, Prompt>(); // seq -> prompt drawn until acked
  let editing = false; // an object name is being edited: keep the list as it is
  let frame = 0;
  let disposed = false;

  const width = (): number => model.get("image_width");
  const height = (): number => model.get("image_height");
  const loader = new BitmapLoader(decodeJpeg, drawNow, trace);
  let timeline: Timeline | null = null;
  const player = model.get("is_video")
    ? new VideoPlayer({
        host: {
          kernelIndex: () => model.get("image_index"),
          frameCount: () => model.get("image_count"),
          kernelLabels: () => model.get("label_rle"),
          post,
          showLabels: (labels) => setLabels(labels),
          playingChanged: () => renderTimeline(),
        },
        loader,
        messages,
        clock: BROWSER_CLOCK,
        trace,
      })
    : null;
  /** Whether the kernel's image traits are what the user looks at (not while a clip is scrubbed past them). */
  const kernelShown = (): boolean => player === null || player.kernelShown();
  const shows = (action: string): boolean => showsControl(action, model.get("_supported_messages"), model.get("is_video"));

  // ---- model ----------------------------------------------------------------

  function on(names: readonly (keyof WidgetTraits)[], handler: () => void): void {
    for (const name of names) {
      model.on(`change:${name}`, handler);
      modelHandlers.push([`change:${name}`, handler]);
    }
  }

  /** Send an action on what the user sees (`preview`: a prompt drawn until acked). */
  function send(build: () => Message, preview?: Prompt): void {
    player?.flushGoto(); // the kernel must be on the frame the user sees first
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
    if (ack !== null) player?.onAck(ack.seq);
    const reply = parseFrameReply(msg);
    if (reply !== null) player?.onFrame(reply.index, reply.error === undefined ? buffers : undefined, reply.masks_version ?? 0);
    const changed = parseMasksChanged(msg);
    if (changed !== null) player?.onMasksChanged(changed.frames, changed.version);
  }
  model.on("msg:custom", onCustomMessage);

  /** An error of the front end itself, shown until an image or masks decode fine. */
  function showLocalError(message: string): void {
    if (message === localError) return;
    localError = message;
    renderStatus(ui, get, localError);
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

  /** Draw at once (a new image decoded: it is presented at the next frame either way). */
  function drawNow(): void {
    if (disposed) return;
    if (frame !== 0) cancelAnimationFrame(frame);
    draw();
  }

  function draw(): void {
    frame = 0;
    trace.mark("draw", loader.index);
    if (labelsDirty) decodeLabels();
    if (coloursDirty) colourMasks();
    trace.mark("coloured", loader.index);
    if (ctx === null) return;
    const colors = new Map(model.get("objects").map((o) => [o.id, o.color]));
    const scene = {
      width: width(),
      height: height(),
      image: loader.bitmap,
      overlay: masks.image,
      prompts: model.get("prompts"),
      pending: [...pending.values()],
      colors,
      selectedId: model.get("selected_id"),
      hoverIndex: input.hoverIndex,
      dragBox: input.dragBox,
    };
    drawScene(ctx, view, scene, dpr);
    trace.drawn(loader.index);
    player?.drawn(loader.index);
  }

  const resizeObserver = new ResizeObserver(() => {
    cssW = ui.stage.clientWidth;
    cssH = ui.stage.clientHeight;
    dpr = window.devicePixelRatio || 1;
    ui.canvas.width = Math.max(1, Math.round(cssW * dpr));
    ui.canvas.height = Math.max(1, Math.round(cssH * dpr));
    if (fitted) view = fit();
    scheduleDraw();
  });
  resizeObserver.observe(ui.stage);

  // ---- image and masks ------------------------------------------------------

  function loadImage(): void {
    if (!kernelShown()) return;
    const index = model.get("image_index");
    const bytes = toBytes(model.get("image_jpeg"));
    if (bytes.byteLength === 0) {
      loader.clear();
      scheduleDraw();
      return;
    }
    trace.mark("trait decode", index);
    loader.show(index, bytes, null, (ok, e) => showLocalError(ok ? "" : `could not decode the image: ${String(e)}`));
  }

  function onImageChanged(): void {
    const w = width();
    const h = height();
    ui.stage.style.aspectRatio = w > 0 && h > 0 ? `${w} / ${h}` : "";
    pending.clear();
    input.reset();
    resetView();
  }

  /** New labels for the image shown; a malformed map shows its error. */
  function setLabels(labels: WidgetTraits["label_rle"]): void {
    try {
      if (masks.setLabels(labels, width(), height())) coloursDirty = true;
      showLocalError("");
    } catch (e) {
      coloursDirty = true;
      showLocalError(e instanceof Error ? e.message : String(e));
    }
  }

  function decodeLabels(): void {
    labelsDirty = false;
    if (kernelShown()) setLabels(model.get("label_rle")); // else of a frame scrubbed past: keep the shown masks
  }

  function colourMasks(): void {
    coloursDirty = false;
    try {
      masks.colour(model.get("objects"), model.get("opacity"), model.get("outline"));
    } catch (e) {
      showLocalError(e instanceof Error ? e.message : String(e)); // e.g. a colour not "#rrggbb"
    }
  }

  // ---- input and actions ----------------------------------------------------

  const input = new CanvasInput(
    ui,
    {
      view: () => view,
      pan(dx, dy) {
        view = panBy(view, dx, dy);
        fitted = false;
        scheduleDraw();
      },
      zoom,
      imageSize: () => ({ width: width(), height: height() }),
      selectedPoints() {
        const selected = model.get("selected_id");
        return model.get("prompts").map((p) => (p.type === "point" && p.obj_id === selected ? p : null));
      },
      addPoint: (p, label) =>
        send(() => messages.addPoint(p.x, p.y, label), { obj_id: model.get("selected_id"), type: "point", ...p, label }),
      addBox: (b) =>
        send(() => messages.addBox(b.x0, b.y0, b.x1, b.y1), { obj_id: model.get("selected_id"), type: "box", ...b }),
      removePrompt: (index) => send(() => messages.removePrompt(index)),
      perform,
      redraw: scheduleDraw,
    },
    events.signal,
  );

  function gotoImage(delta: number): void {
    if (player !== null) return player.step(delta); // a clip: from the frame on screen, as the scrubber does
    const target = model.get("image_index") + delta;
    if (target >= 0 && target < model.get("image_count")) send(() => messages.goto(target));
  }

  function perform(action: Action): void {
    const center = { x: cssW / 2, y: cssH / 2 };
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
        return zoom(center, KEY_ZOOM);
      case "zoom_out":
        return zoom(center, 1 / KEY_ZOOM);
      case "reset_view":
        return resetView();
      case "toggle_outline":
        return setTrait("outline", !model.get("outline"));
      case "help":
        ui.help.hidden = !ui.help.hidden;
        return;
      case "escape":
        if (!ui.help.hidden) ui.help.hidden = true;
        else if (input.gestureActive) input.cancelGesture();
        else input.blur();
        return;
    }
  }

  function onButton(action: string): void {
    if (action === "clear_image") send(() => messages.clearImage());
    else if (action === "segment_everything") send(() => messages.segmentEverything());
    else if (["undo", "redo", "new_object", "clear_object", "prev_image", "next_image", "reset_view", "help"].includes(action)) {
      perform({ type: action } as Action);
    }
  }

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

  ui.objects.addEventListener(
    "dblclick",
    (e) => {
      const name = (e.target as HTMLElement).closest<HTMLElement>(".sam2w-name");
      const row = name?.closest<HTMLElement>(".sam2w-object");
      if (name == null || row == null || !shows("rename")) return;
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

  // ---- panels and the video timeline ----------------------------------------

  function renderObjectList(): void {
    if (!editing) renderObjects(ui.objects, model.get("objects"), model.get("selected_id"), shows);
  }

  function renderTimeline(): void {
    timeline?.render(
      {
        image_index: model.get("image_index"),
        image_count: model.get("image_count"),
        prompt_frames: model.get("prompt_frames") ?? [],
        tracked: model.get("tracked") ?? [],
        objects: model.get("objects"),
        progress: model.get("progress") ?? {},
      },
      player?.playing ?? false,
    );
  }

  if (player !== null) {
    timeline = buildTimeline(
      {
        seek: (index, commit) => player.seek(index, commit),
        track: (direction) => send(() => messages.track(direction)),
        cancel: () => send(() => messages.cancel()),
        togglePlay: () => player.togglePlay(),
      },
      events.signal,
    );
    ui.status.before(timeline.root);
    on(["image_index", "image_count", "prompt_frames", "tracked", "objects", "progress"], renderTimeline);
    on(["image_index"], () => player.onKernelIndex());
    renderTimeline();
    player.start();
  }

  function renderControls(): void {
    showControls(ui.root, shows);
    renderObjectList();
  }

  // ---- trait changes --------------------------------------------------------

  on(["image_index"], kernelShown); // tells a scrub's goto from a move by Python (also checked wherever it matters)
  on(["image_jpeg"], loadImage);
  on(["image_index", "image_width", "image_height"], onImageChanged);
  on(["label_rle", "image_width", "image_height"], () => {
    labelsDirty = true;
    scheduleDraw();
  });
  on(["objects", "opacity", "outline"], () => {
    coloursDirty = true;
    scheduleDraw();
  });
  on(["objects", "selected_id"], renderObjectList);
  on(["prompts", "selected_id"], () => {
    input.clearHover();
    scheduleDraw();
  });
  const toolbarTraits = ["can_undo", "can_redo", "selected_id", "image_index", "image_count", "image_name"] as const;
  on([...toolbarTraits, "opacity", "outline"], () => renderToolbar(ui, get));
  on(["status", "status_text", "latency_ms", "error"], () => renderStatus(ui, get, localError));
  on(["_supported_messages"], renderControls);

  onImageChanged();
  renderControls();
  renderToolbar(ui, get);
  renderStatus(ui, get, localError);
  input.updateCursor();
  loadImage();

  // ---- cleanup --------------------------------------------------------------

  function cleanup(): void {
    if (disposed) return;
    disposed = true;
    events.abort();
    resizeObserver.disconnect();
    if (frame !== 0) cancelAnimationFrame(frame);
    player?.dispose();
    for (const [name, handler] of modelHandlers) model.off(name as `change:${keyof WidgetTraits}`, handler);
    model.off("msg:custom", onCustomMessage);
    loader.dispose();
    ui.root.remove();
  }
  // Hosts with anywidget >= 0.11 abort `signal` when the view goes; older
  // ones only call the returned function.
  signal?.addEventListener("abort", cleanup, { once: true });
  return cleanup;
}

export default { render };
