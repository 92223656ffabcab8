// The review bar of image sets (shown while the `review` trait is not empty): the shown
// image's status as a toggle group, its note, the set's counts, the filter (status and
// category) and "next unreviewed / flagged". Builds the DOM and turns its events into calls;
// the trait's reading and texts are review.ts's.

import { MAX_NOTE } from "./messages";
import { focusedIn, h } from "./panels";
import type { ReviewStatus, ReviewTrait } from "./protocol";
import { countsText, filterText, REVIEW_STATUSES } from "./review";

export interface ReviewBarActions {
  mark(status: ReviewStatus): void;
  note(text: string): void;
  filter(status: ReviewStatus | null, category: string | null): void;
  next(status: ReviewStatus): void;
}

export interface ReviewBar {
  root: HTMLDivElement;
  /** Fill from the `review` trait (null: review off, the bar hides). */
  render(review: ReviewTrait | null, shows: (control: string) => boolean): void;
}

const LABELS: Readonly<Record<ReviewStatus, string>> = { unreviewed: "Unreviewed", reviewed: "Reviewed", flagged: "Flagged" };
const KEYS: Readonly<Record<ReviewStatus, string>> = { unreviewed: "", reviewed: " (R)", flagged: " (F; again: unreviewed)" };
const ANY = ""; // the selects' "no filter" value

export function buildReviewBar(actions: ReviewBarActions, signal: AbortSignal): ReviewBar {
  const listen = { signal };
  const root = h("div", "review", { role: "group", "aria-label": "Review" });
  root.hidden = true;

  const statusGroup = h("div", "review-status", { role: "group", "aria-label": "Status of this image" });
  const toggles = REVIEW_STATUSES.map((s) => {
    const b = h(
      "button",
      `button review-toggle review-${s}`,
      { type: "button", "data-action": `mark_${s}`, "aria-pressed": "false", title: `Mark this image ${s}${KEYS[s]}` },
      LABELS[s],
    );
    b.addEventListener("click", () => actions.mark(s), listen);
    return b;
  });
  statusGroup.append(...toggles);

  const note = h("input", "review-note", {
    type: "text",
    maxlength: String(MAX_NOTE),
    placeholder: "Note",
    "aria-label": "Note on this image",
    title: "A note on this image (Enter or leaving the field saves it)",
  });
  let sentNote: string | null = null; // the note as last sent or shown, so Enter then blur sends once
  const saveNote = (): void => {
    if (note.value === sentNote) return;
    sentNote = note.value;
    actions.note(note.value);
  };
  note.addEventListener("change", saveNote, listen);
  note.addEventListener(
    "keydown",
    (e) => {
      if (e.key === "Enter") saveNote();
      else if (e.key === "Escape" && sentNote !== null) note.value = sentNote;
    },
    listen,
  );

  const counts = h("span", "review-counts");
  const where = h("span", "review-filter-text");

  const filterGroup = h("div", "review-filter", { role: "group", "aria-label": "Filter the set" });
  const statusSelect = h("select", "select", { "aria-label": "Show images with status", title: "Only images with this status" });
  statusSelect.append(h("option", "", { value: ANY }, "Any status"));
  for (const s of REVIEW_STATUSES) statusSelect.append(h("option", "", { value: s }, LABELS[s]));
  const categorySelect = h("select", "select", { "aria-label": "Show images with category", title: "Only images with an object of this category" });
  const sendFilter = (): void =>
    actions.filter((statusSelect.value || null) as ReviewStatus | null, categorySelect.value || null);
  statusSelect.addEventListener("change", sendFilter, listen);
  categorySelect.addEventListener("change", sendFilter, listen);
  filterGroup.append(statusSelect, categorySelect);
  // A select takes letters and arrows itself: they must not reach the widget's shortcuts.
  filterGroup.addEventListener("keydown", (e) => e.key !== "Escape" && e.key !== "Tab" && e.stopPropagation(), listen);

  const nextButton = (status: ReviewStatus, text: string, title: string): HTMLButtonElement => {
    const b = h("button", "button", { type: "button", "data-action": `next_${status}`, title }, text);
    b.addEventListener("click", () => actions.next(status), listen);
    return b;
  };
  const nextUnreviewed = nextButton("unreviewed", "Next unreviewed", "Next unreviewed image (G)");
  const nextFlagged = nextButton("flagged", "Next flagged", "Next flagged image (Shift G)");

  root.append(statusGroup, note, counts, where, filterGroup, nextUnreviewed, nextFlagged);

  let categories = "";
  return {
    root,
    render(review, shows) {
      root.hidden = review === null;
      if (review === null) return;
      for (const [i, s] of REVIEW_STATUSES.entries()) {
        toggles[i].setAttribute("aria-pressed", String(review.status === s));
        toggles[i].classList.toggle("sam2w-pressed", review.status === s);
      }
      // The kernel's note replaces the field's text unless the person is typing another.
      const typing = focusedIn(note) !== null && note.value !== sentNote;
      if (!typing) note.value = review.note;
      if (!typing) sentNote = review.note;
      note.hidden = !shows("note");
      counts.textContent = countsText(review.counts);
      where.textContent = filterText(review);
      filterGroup.hidden = !shows("filter");
      const names = review.categories.join("\n");
      if (names !== categories) {
        categories = names;
        categorySelect.replaceChildren(h("option", "", { value: ANY }, "Any category"));
        for (const c of review.categories) categorySelect.append(h("option", "", { value: c }, c));
      }
      categorySelect.hidden = review.categories.length === 0;
      statusSelect.value = review.filter.status ?? ANY;
      categorySelect.value = review.filter.category ?? ANY;
    },
  };
}
