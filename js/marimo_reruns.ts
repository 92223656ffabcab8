// marimo re-runs the cells that read a widget (`view = mo.ui.anywidget(w)`, then `view.masks`
// in another cell) only when the widget's front end writes a trait. The kernel's own changes
// re-run nothing there: the masks of a click are made on the widget's worker thread and reach
// the traits after the click's message was handled. So, where marimo hosts the widget, once
// the kernel has acked everything the user did (a burst of clicks, a track run), the front end
// writes RERUN_KEY: a key no trait has, which the kernel drops (SyncedState.set_state) and
// marimo answers by re-running those cells, which then read the new masks. Frame and
// thumbnail fetches change nothing in the kernel and ask for nothing. Other hosts never see the key.

import type { Clock } from "./video_player";

/** The key written; its value counts the requests (each write must be a change). */
export const RERUN_KEY = "_marimo_rerun";

/** Quiet time after the last ack before asking: a burst of clicks or a scrub gives one re-run. */
export const QUIET_MS = 150;

/** Messages that change nothing the cells could read. */
const READ_ONLY = new Set(["fetch_frames", "fetch_thumbnails"]);

/** Whether `el` is mounted by marimo: in the shadow root of its `<marimo-anywidget>` element. */
export function hostedByMarimo(el: Node): boolean {
  const root = el.getRootNode() as Node & { host?: Element };
  return root.host?.localName === "marimo-anywidget";
}

/** The part of the anywidget model it writes (marimo's model takes any key). */
export interface RerunModel {
  set(key: string, value: unknown): void;
  save_changes(): void;
}

export class MarimoReruns {
  private readonly open = new Set<number>(); // seqs of messages that change state, not yet acked
  private requests = 0;
  private cancelTimer: (() => void) | null = null;

  constructor(
    private readonly model: RerunModel,
    private readonly hosted: () => boolean,
    private readonly clock: Pick<Clock, "after">,
  ) {}

  sent(message: { type: string; seq: number }): void {
    if (!READ_ONLY.has(message.type)) this.open.add(message.seq);
  }

  acked(seq: number): void {
    if (!this.open.delete(seq)) return;
    this.cancelTimer?.();
    this.cancelTimer = this.clock.after(QUIET_MS, () => {
      this.cancelTimer = null;
      // Still waiting for an ack (e.g. a click queued behind a track run): its own ack asks.
      if (this.open.size > 0 || !this.hosted()) return;
      this.model.set(RERUN_KEY, ++this.requests);
      this.model.save_changes();
    });
  }

  dispose(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
  }
}
