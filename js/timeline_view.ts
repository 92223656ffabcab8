// The video timeline under the canvas (only when `is_video`): scrubber with
// prompt marks, tracked-span lanes and confidence lanes (lanes.ts), play/pause, prev/next,
// jump-to-frame, track ◀ / ▶ / ◀▶ (all objects or the selected one), Cancel, a progress bar,
// and the weak-frame threshold with jumps to weak and appear / disappear frames. Layout and
// timing logic is in timeline.ts; this file builds the DOM and turns events into callbacks.

import { changeColumns, laneColumns, type Lanes } from "./lanes";
import { MEMORY_POLICIES } from "./messages";
import { h, setDisabled, type TraitReader } from "./panels";
import { layoutSpans, markPosition, progressFraction, progressText } from "./timeline";

export interface TimelineActions {
  /** The scrubber moves (show a cached frame now); `commit`: released, move the kernel there. */
  seek(index: number, commit: boolean): void;
  /** Track every object, or with `selectedOnly` the selected one alone. */
  track(direction: "forward" | "backward" | "both", selectedOnly: boolean): void;
  /** Go to the next (+1) / previous (-1) weak frame, or frame where an object appears or disappears. */
  jump(kind: "weak" | "transition", step: 1 | -1): void;
  /** Track what comes next with this memory policy. */
  setMemory(name: string): void;
  cancel(): void;
  togglePlay(): void;
}

export interface Timeline {
  root: HTMLDivElement;
  /** Fill from the traits (`image_index`, `image_count`, `prompt_frames`, `tracked`, `objects`, `progress`). */
  render(get: TraitReader, playing: boolean): void;
  /** Redraw the confidence and change lanes. */
  drawLanes(lanes: Lanes, get: TraitReader): void;
  /** The weak-frame threshold the person set (0..1). */
  threshold(): number;
}

const LANE_PX = 3;
const CONFIDENCE_PX = 5; // per object
const CHANGE_PX = 3; // the row of frames a re-track changed
const MAX_COLUMNS = 2048; // canvas columns: frames beyond that share a column (its weakest)

export function buildTimeline(actions: TimelineActions, signal: AbortSignal): Timeline {
  const root = h("div", "timeline", { role: "group", "aria-label": "Video timeline" });
  const controls = h("div", "timeline-controls");
  const btn = (action: string, label: string, text: string, key = ""): HTMLButtonElement =>
    h("button", "button", { type: "button", "data-action": action, title: key ? `${label} (${key})` : label, "aria-label": label }, text);
  const prev = btn("prev", "Previous frame", "|◀", "←");
  const play = btn("play", "Play", "▶"); // a toggle: aria-pressed while playing
  const next = btn("next", "Next frame", "▶|", "→");
  const jump = h("input", "frame-input", { type: "number", min: "1", "aria-label": "Go to frame" });
  const count = h("span", "frame-count");
  const back = btn("track_backward", "Track backward from this frame", "◀ Track");
  const both = btn("track_both", "Track both ways from this frame", "◀▶ Track");
  const fwd = btn("track_forward", "Track forward from this frame", "Track ▶");
  const cancel = btn("cancel", "Stop tracking (keeps the frames done)", "Cancel");
  const onlySelected = h("input", "only-selected", { type: "checkbox", "aria-label": "Track the selected object only" });
  const onlyLabel = h("label", "only-selected-label", { title: "Track the selected object only; the others keep their masks" });
  onlyLabel.append(onlySelected, document.createTextNode("selected only"));
  const prevWeak = btn("prev_weak", "Previous weak frame", "◀ weak", "[");
  const nextWeak = btn("next_weak", "Next weak frame", "weak ▶", "]");
  const threshold = h("input", "weak-threshold", {
    type: "number",
    min: "0",
    max: "1",
    step: "0.05",
    value: "0.5",
    "aria-label": "Weak-frame threshold (confidence below it is weak)",
    title: "Weak-frame threshold: a frame is weak where an object present has confidence below it",
  });
  const memory = h("select", "memory", {
    "data-action": "memory",
    "aria-label": "Memory policy for the frames tracked next",
    title: "Memory policy for the frames tracked next (sam2: the official one)",
  });
  memory.append(...MEMORY_POLICIES.map((name) => h("option", "", { value: name }, name)));
  const prevTransition = btn("prev_transition", "Previous frame where an object appears or disappears", "◀ in/out", ",");
  const nextTransition = btn("next_transition", "Next frame where an object appears or disappears", "in/out ▶", ".");
  const bar = h("div", "progress", {
    role: "progressbar",
    "aria-label": "Tracking progress",
    "aria-valuemin": "0",
    "aria-valuemax": "100",
  });
  const fill = h("div", "progress-fill");
  bar.append(fill);
  const text = h("span", "progress-text", { "aria-live": "polite" });
  controls.append(prev, play, next, jump, count, back, both, fwd, onlyLabel, cancel, bar, text);
  const research = h("div", "timeline-controls", { role: "group", "aria-label": "Confidence" });
  research.append(prevWeak, threshold, nextWeak, prevTransition, nextTransition, memory);

  const track = h("div", "scrub");
  const lanes = h("div", "lanes");
  const marks = h("div", "marks");
  const confidence = h("canvas", "confidence", { "aria-label": "Confidence per object and frame", role: "img" });
  // A native range: role slider with its value, min and max, arrow / Page / Home / End keys.
  const slider = h("input", "scrubber", { type: "range", min: "0", step: "1", "aria-label": "Frame" });
  const frameText = (): string => `frame ${Number(slider.value) + 1} of ${total}`;
  track.append(confidence, lanes, marks, slider);
  root.append(track, controls, research);

  let index = 0;
  let total = 1;
  const listen = { signal };
  slider.addEventListener(
    "input",
    () => {
      slider.setAttribute("aria-valuetext", frameText());
      actions.seek(Number(slider.value), false);
    },
    listen,
  );
  slider.addEventListener("change", () => actions.seek(Number(slider.value), true), listen);
  prev.addEventListener("click", () => index > 0 && actions.seek(index - 1, true), listen);
  next.addEventListener("click", () => index < total - 1 && actions.seek(index + 1, true), listen);
  play.addEventListener("click", () => actions.togglePlay(), listen);
  jump.addEventListener(
    "change",
    () => {
      const v = Math.round(Number(jump.value)) - 1;
      if (Number.isFinite(v) && v >= 0 && v < total) actions.seek(v, true);
    },
    listen,
  );
  back.addEventListener("click", () => actions.track("backward", onlySelected.checked), listen);
  both.addEventListener("click", () => actions.track("both", onlySelected.checked), listen);
  fwd.addEventListener("click", () => actions.track("forward", onlySelected.checked), listen);
  prevWeak.addEventListener("click", () => actions.jump("weak", -1), listen);
  nextWeak.addEventListener("click", () => actions.jump("weak", 1), listen);
  prevTransition.addEventListener("click", () => actions.jump("transition", -1), listen);
  nextTransition.addEventListener("click", () => actions.jump("transition", 1), listen);
  cancel.addEventListener("click", () => actions.cancel(), listen);
  memory.addEventListener("change", () => actions.setMemory(memory.value), listen);

  function render(get: TraitReader, playing: boolean): void {
    const t = {
      tracked: get("tracked") ?? [],
      objects: get("objects"),
      progress: get("progress") ?? {},
      prompt_frames: get("prompt_frames") ?? [],
    };
    index = get("image_index");
    total = Math.max(1, get("image_count"));
    slider.max = String(total - 1);
    if (document.activeElement !== slider) slider.value = String(index);
    slider.setAttribute("aria-valuetext", frameText());
    if (document.activeElement !== jump) jump.value = String(index + 1);
    jump.max = String(total);
    count.textContent = `/ ${total}`;
    play.textContent = playing ? "⏸" : "▶";
    play.setAttribute("aria-pressed", String(playing));
    const running = t.progress?.running === true;
    // A disabled button drops the keyboard: Track's goes to Cancel, Cancel's back to Track ▶
    // (each enabled before the other is disabled).
    if (running) setDisabled(cancel, false, fwd);
    for (const b of [back, both, fwd]) setDisabled(b, running, cancel);
    if (!running) setDisabled(cancel, true, fwd);
    setDisabled(memory, running, cancel); // the kernel refuses a switch under a run
    if (document.activeElement !== memory) memory.value = get("memory")?.name ?? "sam2";
    fill.style.width = `${100 * progressFraction(t.progress)}%`;
    bar.setAttribute("aria-valuenow", String(Math.round(100 * progressFraction(t.progress))));
    bar.setAttribute("aria-valuetext", progressText(t.progress) || "not tracking");
    text.textContent = progressText(t.progress);
    lanes.replaceChildren(
      ...layoutSpans(t.tracked, t.objects, total).map((r) => {
        const e = h("div", "span", { title: `object ${r.objId}` });
        Object.assign(e.style, { left: `${r.left}%`, width: `${r.width}%`, top: `${r.lane * LANE_PX}px`, background: r.color });
        return e;
      }),
    );
    lanes.style.height = `${Math.max(1, t.objects.length) * LANE_PX}px`;
    marks.replaceChildren(
      ...t.prompt_frames.map((f) => {
        const e = h("div", "mark", { title: `prompts on frame ${f + 1}` });
        e.style.left = `${markPosition(f, total)}%`;
        return e;
      }),
    );
  }

  function drawLanes(l: Lanes, get: TraitReader): void {
    const colors = new Map(get("objects").map((o) => [o.id, o.color]));
    const rows = l.ids.filter((id) => colors.has(id));
    const columns = Math.min(Math.max(1, l.frames), MAX_COLUMNS);
    confidence.width = columns;
    confidence.height = CHANGE_PX + rows.length * CONFIDENCE_PX;
    confidence.style.height = `${confidence.height}px`; // the width stretches, the height must not
    confidence.hidden = l.frames === 0;
    const ctx = confidence.getContext("2d");
    if (ctx === null || l.frames === 0) return;
    ctx.clearRect(0, 0, confidence.width, confidence.height);
    // A re-track's changes: red, darker the lower the IoU to the old mask.
    changeColumns(l, columns).forEach((iou, x) => {
      if (iou === null) return;
      ctx.fillStyle = `rgba(214, 39, 40, ${0.35 + 0.65 * (1 - iou)})`;
      ctx.fillRect(x, 0, 1, CHANGE_PX);
    });
    rows.forEach((id, row) => {
      const k = l.ids.indexOf(id);
      ctx.fillStyle = colors.get(id) ?? "#888";
      laneColumns(l, k, columns).forEach((c, x) => {
        if (c === null || c < 0) return; // not tracked, or absent: a gap
        ctx.globalAlpha = 0.15 + 0.85 * c;
        ctx.fillRect(x, CHANGE_PX + row * CONFIDENCE_PX, 1, CONFIDENCE_PX - 1);
      });
      ctx.globalAlpha = 1;
    });
  }

  function currentThreshold(): number {
    const v = Number(threshold.value);
    return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.5;
  }

  return { root, render, drawLanes, threshold: currentThreshold };
}
