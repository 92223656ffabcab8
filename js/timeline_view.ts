// The video timeline under the canvas (only when `is_video`): scrubber with
// prompt marks and tracked-span lanes, play/pause, prev/next, jump-to-frame,
// track ◀ / ▶ / ◀▶, Cancel and a progress bar. Layout and timing logic is in
// timeline.ts; this file builds the DOM and turns events into callbacks.

import { h, setDisabled, type TraitReader } from "./panels";
import { layoutSpans, markPosition, progressFraction, progressText } from "./timeline";

export interface TimelineActions {
  /** The scrubber moves (show a cached frame now); `commit`: released, move the kernel there. */
  seek(index: number, commit: boolean): void;
  track(direction: "forward" | "backward" | "both"): void;
  cancel(): void;
  togglePlay(): void;
}

export interface Timeline {
  root: HTMLDivElement;
  /** Fill from the traits (`image_index`, `image_count`, `prompt_frames`, `tracked`, `objects`, `progress`). */
  render(get: TraitReader, playing: boolean): void;
}

const LANE_PX = 3;

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
  const bar = h("div", "progress", {
    role: "progressbar",
    "aria-label": "Tracking progress",
    "aria-valuemin": "0",
    "aria-valuemax": "100",
  });
  const fill = h("div", "progress-fill");
  bar.append(fill);
  const text = h("span", "progress-text", { "aria-live": "polite" });
  controls.append(prev, play, next, jump, count, back, both, fwd, cancel, bar, text);

  const track = h("div", "scrub");
  const lanes = h("div", "lanes");
  const marks = h("div", "marks");
  // A native range: role slider with its value, min and max, arrow / Page / Home / End keys.
  const slider = h("input", "scrubber", { type: "range", min: "0", step: "1", "aria-label": "Frame" });
  const frameText = (): string => `frame ${Number(slider.value) + 1} of ${total}`;
  track.append(lanes, marks, slider);
  root.append(track, controls);

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
  back.addEventListener("click", () => actions.track("backward"), listen);
  both.addEventListener("click", () => actions.track("both"), listen);
  fwd.addEventListener("click", () => actions.track("forward"), listen);
  cancel.addEventListener("click", () => actions.cancel(), listen);

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

  return { root, render };
}
