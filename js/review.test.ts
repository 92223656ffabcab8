import { describe, expect, it } from "vitest";
import { showsControl } from "./controls";
import { MessageBuilder } from "./messages";
import { countsText, filterText, flagToggled, parseReview } from "./review";
import { actionForKey, KEY_HELP } from "./shortcuts";

const TRAIT = {
  status: "flagged",
  note: "wrong class",
  counts: { unreviewed: 9585, reviewed: 412, flagged: 3 },
  filter: { status: null, category: null },
  filtered: 10000,
  position: 41,
  categories: ["ball", "cube"],
};

describe("parseReview", () => {
  it("is null while review is off", () => {
    for (const t of [{}, null, undefined, { status: "done" }, "x"]) expect(parseReview(t)).toBeNull();
  });

  it("reads the trait and fills what is missing", () => {
    expect(parseReview(TRAIT)).toEqual(TRAIT);
    expect(parseReview({ status: "reviewed", categories: ["a", 3], filter: { status: "weird", category: "a" } })).toEqual({
      status: "reviewed",
      note: "",
      counts: { unreviewed: 0, reviewed: 0, flagged: 0 },
      filter: { status: null, category: "a" },
      filtered: 0,
      position: -1,
      categories: ["a"],
    });
  });
});

describe("review texts", () => {
  it("counts with thousands separators", () => {
    expect(countsText(TRAIT.counts as never)).toBe("412 reviewed, 3 flagged, 9,585 to go");
  });

  it("says where the image is within a filter", () => {
    const r = parseReview(TRAIT)!;
    expect(filterText(r)).toBe("");
    expect(filterText({ ...r, filter: { status: "flagged", category: null }, filtered: 3, position: 1 })).toBe(
      "2 of 3 images pass the filter",
    );
    expect(filterText({ ...r, filter: { status: null, category: "cube" }, filtered: 1, position: -1 })).toBe(
      "1 image passes the filter; this one does not",
    );
  });

  it("F flags, and unflags a flagged image", () => {
    expect(flagToggled("unreviewed")).toBe("flagged");
    expect(flagToggled("reviewed")).toBe("flagged");
    expect(flagToggled("flagged")).toBe("unreviewed");
  });
});

describe("review messages", () => {
  it("builds mark, set_note, next and set_filter", () => {
    const m = new MessageBuilder();
    expect(m.mark("reviewed")).toEqual({ type: "mark", seq: 1, status: "reviewed" });
    expect(m.setNote("blurry")).toEqual({ type: "set_note", seq: 2, note: "blurry" });
    expect(m.nextImage("flagged", -1)).toEqual({ type: "next", seq: 3, status: "flagged", direction: -1 });
    expect(m.setFilter(null, "cube")).toEqual({ type: "set_filter", seq: 4, status: null, category: "cube" });
  });

  it("rejects bad fields without using up a seq", () => {
    const m = new MessageBuilder();
    expect(() => m.mark("done" as "reviewed")).toThrow(RangeError);
    expect(() => m.setNote("x".repeat(2001))).toThrow(RangeError);
    expect(() => m.nextImage("any", 0 as 1)).toThrow(RangeError);
    expect(() => m.setFilter("done" as "reviewed", null)).toThrow(RangeError);
    expect(() => m.fetchThumbnails([])).toThrow(RangeError);
    expect(() => m.fetchThumbnails(Array.from({ length: 65 }, (_, i) => i))).toThrow(RangeError);
    expect(() => m.fetchThumbnails([-1])).toThrow(RangeError);
    expect(m.nextImage("any", 1).seq).toBe(1);
    expect(m.fetchThumbnails([5, 4])).toEqual({ type: "fetch_thumbnails", seq: 2, indices: [5, 4] });
  });
});

describe("review keys", () => {
  const key = (k: string, shiftKey = false) => ({ key: k, ctrlKey: false, metaKey: false, shiftKey, altKey: false });

  it("R reviews, F flags, G and Shift G go to the next unreviewed / flagged image", () => {
    expect(actionForKey(key("r"))).toEqual({ type: "mark", status: "reviewed" });
    expect(actionForKey(key("F"))).toEqual({ type: "mark", status: "toggle_flag" });
    expect(actionForKey(key("g"))).toEqual({ type: "next_status", status: "unreviewed" });
    expect(actionForKey(key("G", true))).toEqual({ type: "next_status", status: "flagged" });
    expect(actionForKey({ ...key("r"), ctrlKey: true })).toBeNull(); // Ctrl-R stays the browser's
  });

  it("are in the help", () => {
    const rows = new Map(KEY_HELP);
    expect(rows.get("R")).toContain("reviewed");
    expect(rows.get("F")).toContain("flag");
    expect(rows.get("G, Shift G")).toContain("next unreviewed / next flagged");
  });
});

describe("review controls", () => {
  it("show only when the kernel handles their message", () => {
    const controls = ["mark_reviewed", "mark_flagged", "next_unreviewed", "next_flagged", "note", "filter", "thumbnails"];
    for (const c of controls) expect(showsControl(c, ["goto", "add_point"], false), c).toBe(false);
    const review = ["goto", "mark", "next", "set_note", "set_filter", "fetch_thumbnails"];
    for (const c of controls) expect(showsControl(c, review, false), c).toBe(true);
  });
});
