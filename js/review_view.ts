// Dataset review in an image widget: the review bar (review_bar.ts) above the image and the
// thumbnail strip (thumbnail_strip.ts) under it, both shown while the `review` trait is not
// empty, and the review keys (R, F, G, Shift G). Wiring only, between them and the model.

import type { Message, MessageBuilder } from "./messages";
import type { Layout, TraitReader } from "./panels";
import type { WidgetTraits } from "./protocol";
import { flagToggled, parseReview } from "./review";
import { buildReviewBar } from "./review_bar";
import type { Action } from "./shortcuts";
import { ThumbnailStrip } from "./thumbnail_strip";

export interface ReviewHost {
  get: TraitReader;
  send(build: () => Message): void;
  /** Whether the kernel handles the control's message (controls.ts). */
  shows(control: string): boolean;
  on(names: readonly (keyof WidgetTraits)[], handler: () => void): void;
}

export class ReviewView {
  private readonly bar;
  private readonly strip: ThumbnailStrip;

  constructor(
    ui: Layout,
    private readonly host: ReviewHost,
    private readonly messages: MessageBuilder,
    signal: AbortSignal,
  ) {
    const review = () => parseReview(host.get("review"));
    this.bar = buildReviewBar(
      {
        mark: (status) => host.send(() => messages.mark(status)),
        note: (text) => host.send(() => messages.setNote(text)),
        filter: (status, category) => host.send(() => messages.setFilter(status, category)),
        next: (status) => host.send(() => messages.nextImage(status, 1)),
      },
      signal,
    );
    this.strip = new ThumbnailStrip(
      {
        count: () => host.get("image_count"),
        shown: () => host.get("image_index"),
        shownStatus: () => review()?.status ?? null,
        version: () => host.get("thumbs_version") ?? 0,
        post: (build) => host.send(build),
        goto: (index) => host.send(() => messages.goto(index)),
      },
      messages,
      signal,
    );
    ui.stage.parentElement?.before(this.bar.root);
    ui.status.before(this.strip.root);
    // `error`: a refused filter leaves `review` as it was, and its selects must say so again.
    host.on(["review", "_supported_messages", "error"], () => this.render());
    host.on(["image_index", "image_count"], () => this.strip.follow());
    host.on(["thumbs_version", "review"], () => this.strip.refresh());
    this.render();
  }

  /** A review key: sends its message and returns true; false for any other action. */
  perform(action: Action): boolean {
    if (action.type !== "mark" && action.type !== "next_status") return false;
    const review = parseReview(this.host.get("review"));
    if (review === null) return true; // review is off: the key does nothing
    if (action.type === "mark" && this.host.shows("mark_reviewed")) {
      const status = action.status === "reviewed" ? "reviewed" : flagToggled(review.status);
      this.host.send(() => this.messages.mark(status));
    } else if (action.type === "next_status" && this.host.shows(`next_${action.status}`)) {
      this.host.send(() => this.messages.nextImage(action.status, 1));
    }
    return true;
  }

  onMessage(msg: unknown, buffers?: readonly unknown[]): void {
    this.strip.onMessage(msg, buffers);
  }

  render(): void {
    const review = parseReview(this.host.get("review"));
    this.bar.render(review, this.host.shows);
    this.strip.setShown(review !== null && this.host.get("image_count") > 1 && this.host.shows("thumbnails"));
  }

  dispose(): void {
    this.strip.dispose();
  }
}
