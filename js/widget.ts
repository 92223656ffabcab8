// The anywidget entry: wiring only. The DOM and its clicks are panels.ts's (the video
// timeline timeline_view.ts's), the canvas' pointer and key events input.ts's, the view,
// image, masks and drawing stage.ts's, a clip's frames video_player.ts's. The model speaks
// the traits and messages of docs/widget_protocol.md.

import type { RenderProps } from "@anywidget/types";
import { Actions } from "./actions";
import { showsControl } from "./controls";
import { CanvasInput } from "./input";
import { hostedByMarimo, MarimoReruns } from "./marimo_reruns";
import { Lanes } from "./lanes";
import { MessageBuilder, type Message } from "./messages";
import {
  buildLayout,
  renderObjects,
  renderStatus,
  renderToolbar,
  showControls,
  showHelp,
  wirePanels,
  type TraitReader,
} from "./panels";
import {
  parseAck,
  parseFrameReply,
  parseLanesPatch,
  parseMasksChanged,
  type Prompt,
  type WidgetTraits,
} from "./protocol";
import { ReviewView } from "./review_view";
import { toBytes } from "./rle";
import { Stage } from "./stage";
import { buildTimeline } from "./timeline_view";
import { createTrace } from "./trace";
import { VideoPlayer, type Clock } from "./video_player";

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

function render({ model, el, signal }: RenderProps<WidgetTraits>): () => void {
  const ui = buildLayout();
  el.append(ui.root);
  const get: TraitReader = (key) => model.get(key);
  const trace = createTrace(ui.canvas);
  const messages = new MessageBuilder();
  const events = new AbortController();
  const modelHandlers: [string, () => void][] = [];
  const pending = new Map<number, Prompt>(); // seq -> prompt drawn until acked
  const reruns = new MarimoReruns(model, () => hostedByMarimo(el), BROWSER_CLOCK);
  let localError = ""; // an error of the front end itself, shown until an image or masks decode fine
  let disposed = false;

  const imageSize = () => ({ width: model.get("image_width"), height: model.get("image_height") });
  const stage = new Stage(
    ui,
    {
      imageSize,
      scene: () => ({
        prompts: model.get("prompts"),
        pending: [...pending.values()],
        colors: new Map(model.get("objects").map((o) => [o.id, o.color])),
        selectedId: model.get("selected_id"),
        hoverIndex: input.hoverIndex,
        dragBox: input.dragBox,
        keyCursor: input.keyboardCursor,
      }),
      kernelLabels: () => (kernelShown() ? model.get("label_rle") : undefined),
      maskStyle: () => ({
        objects: model.get("objects"),
        opacity: model.get("opacity"),
        outline: model.get("outline"),
      }),
      error: showLocalError,
      drawn: (index) => player?.drawn(index),
    },
    trace,
  );
  const player = model.get("is_video")
    ? new VideoPlayer({
        host: {
          kernelIndex: () => model.get("image_index"),
          frameCount: () => model.get("image_count"),
          kernelLabels: () => model.get("label_rle"),
          post,
          showLabels: (labels) => stage.setLabels(labels),
          playingChanged: () => renderTimeline(),
        },
        loader: stage.loader,
        messages,
        clock: BROWSER_CLOCK,
        trace,
      })
    : null;
  /** Whether the kernel's image traits are what the user looks at (not while a clip is scrubbed past them). */
  const kernelShown = (): boolean => player === null || player.kernelShown();
  const shows = (action: string): boolean =>
    showsControl(action, model.get("_supported_messages"), model.get("is_video"));

  // ---- messages -------------------------------------------------------------

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
    reruns.sent(msg);
    trace.mark("send", msg.seq);
    stage.scheduleDraw();
  }

  function onCustomMessage(msg: unknown, buffers?: readonly unknown[]): void {
    const ack = parseAck(msg);
    if (ack !== null) trace.mark("ack", ack.seq);
    if (ack !== null && pending.delete(ack.seq)) stage.scheduleDraw();
    if (ack !== null) player?.onAck(ack.seq);
    if (ack !== null) reruns.acked(ack.seq);
    const reply = parseFrameReply(msg);
    const frameBuffers = reply?.error === undefined ? buffers : undefined;
    if (reply !== null) player?.onFrame(reply.index, frameBuffers, reply.masks_version ?? 0);
    const changed = parseMasksChanged(msg);
    if (changed !== null) player?.onMasksChanged(changed.frames, changed.version);
    review?.onMessage(msg, buffers);
    const patch = parseLanesPatch(msg);
    if (patch !== null && lanes.patch(patch, buffers)) drawLanes();
  }
  model.on("msg:custom", onCustomMessage);

  function setTrait<K extends "opacity" | "outline">(key: K, value: WidgetTraits[K]): void {
    model.set(key, value);
    model.save_changes();
  }

  function showLocalError(message: string): void {
    if (message === localError) return;
    localError = message;
    renderStatus(ui, get, localError);
  }

  function loadImage(): void {
    if (!kernelShown()) return;
    const index = model.get("image_index");
    const bytes = toBytes(model.get("image_jpeg"));
    if (bytes.byteLength === 0) {
      stage.loader.clear();
      stage.scheduleDraw();
      return;
    }
    trace.mark("trait decode", index);
    stage.loader.show(index, bytes, null, (ok, e) => {
      showLocalError(ok ? "" : `could not decode the image: ${String(e)}`);
    });
  }

  function onImageChanged(): void {
    pending.clear();
    input.reset();
    stage.imageChanged();
  }

  // ---- input and actions ----------------------------------------------------

  const input = new CanvasInput(
    ui,
    {
      view: () => stage.view,
      pan: (dx, dy) => stage.pan(dx, dy),
      zoom: (at, factor) => stage.zoom(factor, at),
      imageSize,
      selectedPoints() {
        const selected = model.get("selected_id");
        return model.get("prompts").map((p) => (p.type === "point" && p.obj_id === selected ? p : null));
      },
      addPoint(p, label) {
        const preview: Prompt = { obj_id: model.get("selected_id"), type: "point", ...p, label };
        send(() => messages.addPoint(p.x, p.y, label), preview);
      },
      addBox(b) {
        send(() => messages.addBox(b.x0, b.y0, b.x1, b.y1), { obj_id: model.get("selected_id"), type: "box", ...b });
      },
      removePrompt: (index) => send(() => messages.removePrompt(index)),
      perform: (action) => void (review?.perform(action) || actions.perform(action)),
      redraw: () => stage.scheduleDraw(),
    },
    events.signal,
  );

  const actions = new Actions(
    {
      send,
      objects: () => model.get("objects"),
      selectedId: () => model.get("selected_id"),
      step(delta) {
        if (player !== null) return player.step(delta); // a clip: from the frame on screen, as the scrubber does
        const target = model.get("image_index") + delta;
        if (target >= 0 && target < model.get("image_count")) send(() => messages.goto(target));
      },
      zoom: (factor) => stage.zoom(factor, input.keyboardCursor ?? undefined), // the focused canvas: at its cursor
      resetView: () => stage.resetView(),
      toggleOutline: () => setTrait("outline", !model.get("outline")),
      toggleHelp: () => showHelp(ui, ui.help.hidden !== false),
      jump(kind, step) {
        if (player === null || timeline === null) return;
        const from = player.cursor();
        const target =
          kind === "weak" ? lanes.nextWeak(from, step, timeline.threshold()) : lanes.nextTransition(from, step);
        if (target !== null) player.seek(target, true);
      },
      escape() {
        if (!ui.help.hidden) showHelp(ui, false);
        else if (input.gestureActive) input.cancelGesture();
        else input.blur();
      },
    },
    messages,
  );

  const panels = wirePanels(
    ui,
    {
      button: (action) => actions.button(action),
      object: (id, action) => actions.object(id, action),
      canRename: () => shows("rename"),
      rename: (id, name) => send(() => messages.renameObject(id, name)),
      editEnded: renderObjectList,
      opacity: (value) => setTrait("opacity", value),
      outline: (on) => setTrait("outline", on),
    },
    events.signal,
  );

  function renderObjectList(): void {
    if (!panels.editing()) renderObjects(ui.objects, model.get("objects"), model.get("selected_id"), shows);
  }

  function renderControls(): void {
    showControls(ui.root, shows);
    renderObjectList();
    review?.render();
  }

  // ---- dataset review (image sets) ------------------------------------------

  const review = player === null ? new ReviewView(ui, { get, send, shows, on }, messages, events.signal) : null;

  // ---- the video timeline ---------------------------------------------------

  const timeline =
    player === null
      ? null
      : buildTimeline(
          {
            seek: (index, commit) => player.seek(index, commit),
            track: (direction, selectedOnly) =>
              send(() => messages.track(direction, selectedOnly ? [model.get("selected_id")] : undefined)),
            jump: (kind, step) => actions.perform({ type: "jump", kind, step }),
            cancel: () => send(() => messages.cancel()),
            setMemory: (name) => send(() => messages.setMemory(name)),
            togglePlay: () => player.togglePlay(),
          },
          events.signal,
        );

  const renderTimeline = (): void => timeline?.render(get, player?.playing ?? false);
  const lanes = new Lanes(); // the `lanes` trait, patched by `lanes` messages while tracking
  const drawLanes = (): void => timeline?.drawLanes(lanes, get);

  // ---- trait changes --------------------------------------------------------

  function on(names: readonly (keyof WidgetTraits)[], handler: () => void): void {
    for (const name of names) {
      model.on(`change:${name}`, handler);
      modelHandlers.push([`change:${name}`, handler]);
    }
  }

  if (player !== null && timeline !== null) {
    ui.status.before(timeline.root);
    on(["image_index", "image_count", "prompt_frames", "tracked", "objects", "progress", "memory"], renderTimeline);
    on(["image_index"], () => player.onKernelIndex());
    on(["lanes"], () => {
      lanes.set(model.get("lanes"));
      drawLanes();
    });
    on(["objects"], drawLanes);
    lanes.set(model.get("lanes"));
    drawLanes();
    renderTimeline();
    player.start();
  }
  on(["image_index"], kernelShown); // tells a scrub's goto from a move by Python (also checked wherever it matters)
  on(["image_jpeg"], loadImage);
  on(["image_index", "image_width", "image_height"], onImageChanged);
  on(["label_rle"], () => trace.mark("masks", model.get("image_index")));
  on(["label_rle", "image_width", "image_height"], () => stage.labelsChanged());
  on(["objects", "opacity", "outline"], () => stage.coloursChanged());
  on(["objects", "selected_id"], renderObjectList);
  on(["prompts", "selected_id"], () => {
    input.clearHover();
    stage.scheduleDraw();
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
    reruns.dispose();
    player?.dispose();
    review?.dispose();
    stage.dispose();
    for (const [name, handler] of modelHandlers) model.off(name as `change:${keyof WidgetTraits}`, handler);
    model.off("msg:custom", onCustomMessage);
    ui.root.remove();
  }
  // Hosts with anywidget >= 0.11 abort `signal` when the view goes; older
  // ones only call the returned function.
  signal?.addEventListener("abort", cleanup, { once: true });
  return cleanup;
}

export default { render };
