// Dataset review, DOM-free (docs/widget_protocol.md, "Dataset review"): reading the `review`
// trait, the counts line, what the review keys do. The bar's DOM is review_bar.ts's.

import type { ReviewStatus, ReviewTrait } from "./protocol";

export const REVIEW_STATUSES: readonly ReviewStatus[] = ["unreviewed", "reviewed", "flagged"];

const isStatus = (v: unknown): v is ReviewStatus => REVIEW_STATUSES.includes(v as ReviewStatus);
const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);

/** The `review` trait checked and completed, or null when review is off (`{}`, missing, no status). */
export function parseReview(trait: unknown): ReviewTrait | null {
  if (typeof trait !== "object" || trait === null) return null;
  const r = trait as Record<string, unknown>;
  if (!isStatus(r.status)) return null;
  const counts = (typeof r.counts === "object" && r.counts !== null ? r.counts : {}) as Record<string, unknown>;
  const filter = (typeof r.filter === "object" && r.filter !== null ? r.filter : {}) as Record<string, unknown>;
  return {
    status: r.status,
    note: typeof r.note === "string" ? r.note : "",
    counts: { unreviewed: count(counts.unreviewed), reviewed: count(counts.reviewed), flagged: count(counts.flagged) },
    filter: {
      status: isStatus(filter.status) ? filter.status : null,
      category: typeof filter.category === "string" ? filter.category : null,
    },
    filtered: count(r.filtered),
    position: typeof r.position === "number" ? r.position : -1,
    categories: Array.isArray(r.categories) ? r.categories.filter((c): c is string => typeof c === "string") : [],
  };
}

const number = (n: number): string => n.toLocaleString("en-US");

/** "412 reviewed, 3 flagged, 9,585 to go". */
export function countsText(counts: Readonly<Record<ReviewStatus, number>>): string {
  return `${number(counts.reviewed)} reviewed, ${number(counts.flagged)} flagged, ${number(counts.unreviewed)} to go`;
}

/** Where the shown image is within an active filter ("" without one). */
export function filterText(review: ReviewTrait): string {
  if (review.filter.status === null && review.filter.category === null) return "";
  const of = `${number(review.filtered)} ${review.filtered === 1 ? "image passes" : "images pass"} the filter`;
  return review.position < 0 ? `${of}; this one does not` : `${number(review.position + 1)} of ${of}`;
}

/** F: flag the shown image, or unflag it (back to unreviewed) when it is flagged. */
export function flagToggled(status: ReviewStatus): ReviewStatus {
  return status === "flagged" ? "unreviewed" : "flagged";
}

/** What the status looks like in a thumbnail's badge (not colour alone) and reads as. */
export const STATUS_BADGE: Readonly<Record<ReviewStatus, string>> = { unreviewed: "", reviewed: "✓", flagged: "⚑" };
