import { describe, expect, it } from "vitest";
import { parseThumbnailReply, type ThumbnailReply } from "./protocol";
import { fetchBatches, rovingTarget, scrollToShow, ThumbnailCache, visibleRange } from "./thumbnails";

class FakeBitmap {
  closed = false;
  constructor(readonly id: string) {}
  close(): void {
    this.closed = true;
  }
}

const reply = (index: number, version: number, extra: Partial<ThumbnailReply> = {}): ThumbnailReply => ({
  type: "thumbnail",
  index,
  name: `img_${index}.jpg`,
  status: "unreviewed",
  masks: 1,
  version,
  ...extra,
});

describe("visibleRange", () => {
  it("lists only the items in view of 10,000, with overscan", () => {
    expect(visibleRange(0, 500, 100, 10_000)).toEqual([0, 4]);
    expect(visibleRange(450, 500, 100, 10_000)).toEqual([4, 9]);
    expect(visibleRange(450, 500, 100, 10_000, 2)).toEqual([2, 11]);
    expect(visibleRange(999_600, 500, 100, 10_000, 2)).toEqual([9994, 9999]);
  });

  it("is null with nothing to show", () => {
    expect(visibleRange(0, 0, 100, 10)).toBeNull();
    expect(visibleRange(0, 500, 100, 0)).toBeNull();
  });
});

describe("scrollToShow", () => {
  it("keeps the scroll when the item is in view, else centres it", () => {
    expect(scrollToShow(3, 0, 500, 100)).toBe(0);
    expect(scrollToShow(4, 0, 500, 100)).toBe(0);
    expect(scrollToShow(5, 0, 500, 100)).toBe(300);
    expect(scrollToShow(0, 300, 500, 100)).toBe(0);
    expect(scrollToShow(9000, 0, 500, 100)).toBe(899_800);
  });
});

describe("rovingTarget", () => {
  it("moves by one, a page, or to either end, within the set", () => {
    expect(rovingTarget("ArrowRight", 3, 10, 5)).toBe(4);
    expect(rovingTarget("ArrowLeft", 0, 10, 5)).toBe(0);
    expect(rovingTarget("ArrowRight", 9, 10, 5)).toBe(9);
    expect(rovingTarget("PageDown", 3, 10, 5)).toBe(8);
    expect(rovingTarget("PageUp", 3, 10, 5)).toBe(0);
    expect(rovingTarget("Home", 3, 10, 5)).toBe(0);
    expect(rovingTarget("End", 3, 10, 5)).toBe(9);
    expect(rovingTarget("r", 3, 10, 5)).toBeNull();
  });
});

describe("fetchBatches", () => {
  it("puts the shown image first and sends at most 64 a message", () => {
    const all = Array.from({ length: 100 }, (_, i) => i);
    const batches = fetchBatches(all, 70);
    expect(batches.map((b) => b.length)).toEqual([64, 36]);
    expect(batches[0][0]).toBe(70);
    expect(batches.flat().sort((a, b) => a - b)).toEqual(all);
    expect(fetchBatches([1, 2], 9)).toEqual([[1, 2]]);
    expect(fetchBatches([], 0)).toEqual([]);
  });
});

describe("ThumbnailCache", () => {
  it("fetches what is missing once, until its fetch is acked", () => {
    const c = new ThumbnailCache<FakeBitmap>(10);
    expect(c.wanted([0, 1, 2])).toEqual([0, 1, 2]);
    c.asked([0, 1, 2], 7);
    expect(c.wanted([0, 1, 2, 3])).toEqual([3]);
    c.received(reply(0, 0));
    c.acked(7); // 1 and 2 were not answered: ask again
    expect(c.wanted([0, 1, 2])).toEqual([1, 2]);
  });

  it("re-fetches entries drawn before thumbs_version, showing the old bitmap meanwhile", () => {
    const c = new ThumbnailCache<FakeBitmap>(10);
    c.received(reply(4, 1));
    const old = new FakeBitmap("old");
    expect(c.decoded(4, 1, old)).toBe(true);
    expect(c.wanted([4])).toEqual([]);
    c.setVersion(2);
    expect(c.wanted([4])).toEqual([4]);
    c.received(reply(4, 2, { status: "reviewed", masks: 3 }));
    expect(c.get(4)).toMatchObject({ status: "reviewed", masks: 3, bitmap: old });
    const fresh = new FakeBitmap("new");
    expect(c.decoded(4, 2, fresh)).toBe(true);
    expect(old.closed).toBe(true);
    expect(c.get(4)?.bitmap).toBe(fresh);
    expect(c.wanted([4])).toEqual([]);
  });

  it("drops a decode overtaken by a newer reply", () => {
    const c = new ThumbnailCache<FakeBitmap>(10);
    c.received(reply(1, 1));
    c.received(reply(1, 2));
    const late = new FakeBitmap("late");
    expect(c.decoded(1, 1, late)).toBe(false);
    expect(late.closed).toBe(true);
    expect(c.get(1)?.bitmap).toBeNull();
  });

  it("keeps an error without a bitmap and does not ask again until the version moves", () => {
    const c = new ThumbnailCache<FakeBitmap>(10);
    c.received(reply(2, 0, { error: "cannot read" }));
    expect(c.get(2)).toMatchObject({ error: "cannot read", bitmap: null });
    expect(c.wanted([2])).toEqual([]);
    c.setVersion(1);
    expect(c.wanted([2])).toEqual([2]);
  });

  it("evicts the least recently used beyond its capacity, closing their bitmaps", () => {
    const c = new ThumbnailCache<FakeBitmap>(3);
    const bitmaps = [0, 1, 2, 3].map((i) => new FakeBitmap(String(i)));
    for (const i of [0, 1, 2]) {
      c.received(reply(i, 0));
      c.decoded(i, 0, bitmaps[i]);
    }
    c.touch(0); // in view again
    c.received(reply(3, 0));
    expect(c.size).toBe(3);
    expect(c.get(1)).toBeUndefined();
    expect(bitmaps[1].closed).toBe(true);
    expect(c.get(0)?.bitmap).toBe(bitmaps[0]);
    c.clear();
    expect(bitmaps[0].closed && bitmaps[2].closed).toBe(true);
  });
});

describe("parseThumbnailReply", () => {
  it("reads replies and ignores other messages", () => {
    expect(parseThumbnailReply({ type: "thumbnail", index: 3, name: "a.jpg", status: "flagged", masks: 2, version: 5 })).toEqual(
      reply(3, 5, { name: "a.jpg", status: "flagged", masks: 2 }),
    );
    expect(parseThumbnailReply({ type: "frame", index: 3 })).toBeNull();
    expect(parseThumbnailReply({ type: "thumbnail", index: -1 })).toBeNull();
    expect(parseThumbnailReply({ type: "thumbnail", index: 1, error: "gone" })?.error).toBe("gone");
  });
});
