import { describe, expect, it } from "vitest";
import { MessageBuilder } from "./messages";
import { FrameCache, GotoLog, layoutSpans, markPosition, playbackFrame, prefetchList, progressFraction, progressText } from "./timeline";

const objects = [
  { id: 2, name: "b", color: "#00ff00", visible: true },
  { id: 1, name: "a", color: "#ff0000", visible: true },
];

describe("layoutSpans", () => {
  it("puts each object in its display-order lane, frames as equal slices", () => {
    const rects = layoutSpans(
      [
        { obj_id: 1, ranges: [[0, 1], [5, 9]] },
        { obj_id: 2, ranges: [[3, 3]] },
      ],
      objects,
      10,
    );
    expect(rects).toEqual([
      { objId: 2, color: "#00ff00", lane: 0, left: 30, width: 10 },
      { objId: 1, color: "#ff0000", lane: 1, left: 0, width: 20 },
      { objId: 1, color: "#ff0000", lane: 1, left: 50, width: 50 },
    ]);
  });
  it("clamps ranges to the clip and ignores unknown objects and empty clips", () => {
    expect(layoutSpans([{ obj_id: 1, ranges: [[-3, 20]] }], objects, 4)).toEqual([
      { objId: 1, color: "#ff0000", lane: 1, left: 0, width: 100 },
    ]);
    expect(layoutSpans([{ obj_id: 7, ranges: [[0, 1]] }], objects, 4)).toEqual([]);
    expect(layoutSpans([{ obj_id: 1, ranges: [[0, 1]] }], objects, 0)).toEqual([]);
  });
  it("marks sit at frame centres", () => {
    expect(markPosition(0, 4)).toBe(12.5);
    expect(markPosition(3, 4)).toBe(87.5);
  });
});

describe("FrameCache", () => {
  it("evicts the least recently used and reports it", () => {
    const evicted: string[] = [];
    const c = new FrameCache<string>(2, (v) => evicted.push(v));
    c.put(1, "a", 0);
    c.put(2, "b", 0);
    expect(c.get(1)).toBe("a"); // 1 is now the most recent
    c.put(3, "c", 0);
    expect(evicted).toEqual(["b"]);
    expect(c.get(2)).toBeUndefined();
    expect(c.size).toBe(2);
    c.put(1, "a2", 1);
    expect(evicted).toEqual(["b", "a"]);
    c.clear();
    expect(c.size).toBe(0);
    expect(evicted.sort()).toEqual(["a", "a2", "b", "c"]);
  });
  it("drops exactly the frames a masks_changed message names", () => {
    const c = new FrameCache<string>(8);
    for (const i of [1, 2, 3, 7]) c.put(i, `f${i}`, 0);
    expect([1, 2, 3, 7].map((i) => c.isStale(i))).toEqual([false, false, false, false]);
    expect(c.isStale(6)).toBe(true); // never fetched
    c.markChanged([[2, 3]], 1); // a re-track of frames 2..3
    expect([1, 2, 3, 7].map((i) => c.isStale(i))).toEqual([false, true, true, false]);
    expect(c.get(2)).toBe("f2"); // still there (the image is right), only its masks are stale
    c.put(2, "f2b", 1); // fetched again after the change
    expect(c.isStale(2)).toBe(false);
    c.markChanged(null, 2); // e.g. an object hidden: every label map changes
    expect([1, 2, 3, 7].map((i) => c.isStale(i))).toEqual([true, true, true, true]);
    c.put(3, "f3b", 2);
    c.markChanged([[7, 7]], 3);
    expect(c.isStale(3)).toBe(false);
    expect(c.isStale(7)).toBe(true);
    expect(() => new FrameCache(0)).toThrow(RangeError);
  });
  it("keeps a reply that raced with a change stale", () => {
    const c = new FrameCache<string>(4);
    c.markChanged([[4, 4]], 5); // frame 4 changed at version 5 ...
    c.put(4, "read at 4", 4); // ... after the kernel read its masks for this reply
    expect(c.isStale(4)).toBe(true);
    c.put(4, "read at 5", 5);
    expect(c.isStale(4)).toBe(false);
    c.put(9, "newer than any change", 6); // a reply may overtake the message of its version
    c.markChanged([[9, 9]], 6);
    expect(c.isStale(9)).toBe(false);
  });
});

describe("prefetchList", () => {
  it("goes nearest first, ahead before behind, inside the clip", () => {
    expect(prefetchList(1, 10, 3, () => true)).toEqual([1, 2, 0, 3, 4]);
    expect(prefetchList(5, 10, 2, (i) => i !== 6)).toEqual([5, 4, 7, 3]);
    expect(prefetchList(9, 10, 1, () => true)).toEqual([9, 8]);
  });
});

describe("playbackFrame", () => {
  it("advances by elapsed time and stops at the end", () => {
    expect(playbackFrame(0, 0, 10, 5)).toEqual({ index: 0, done: false });
    expect(playbackFrame(0, 250, 10, 5)).toEqual({ index: 2, done: false });
    expect(playbackFrame(2, 10_000, 10, 5)).toEqual({ index: 4, done: true });
    expect(playbackFrame(0, 100, 0, 5)).toEqual({ index: 0, done: false });
  });
});

describe("progress", () => {
  it("formats running, finished and cancelled runs", () => {
    expect(progressText({})).toBe("");
    expect(progressText({ running: true, direction: "forward", done: 12, total: 40, fps: 3.14, eta_s: 9 })).toBe(
      "12/40 · 3.1 fps · ETA 9 s",
    );
    expect(progressText({ running: true, direction: "both", done: 1, total: 900, fps: 2, eta_s: 449.5 })).toBe(
      "1/900 · 2.0 fps · ETA 7:30",
    );
    expect(progressText({ running: false, direction: "both", done: 40, total: 40, fps: 5, cancelled: false })).toBe(
      "done 40/40 · 5.0 fps",
    );
    expect(progressText({ running: false, direction: "forward", done: 3, total: 8, cancelled: true })).toBe(
      "cancelled at 3/8",
    );
    expect(progressFraction({ done: 3, total: 12 })).toBe(0.25);
    expect(progressFraction({ done: 3, total: 0 })).toBe(0);
  });
});

describe("video messages", () => {
  it("builds track, cancel and fetch_frames", () => {
    const m = new MessageBuilder();
    expect(m.track("both")).toEqual({ type: "track", seq: 1, direction: "both" });
    expect(m.cancel()).toEqual({ type: "cancel", seq: 2 });
    expect(m.fetchFrames([3, 4])).toEqual({ type: "fetch_frames", seq: 3, indices: [3, 4] });
    expect(() => m.fetchFrames([-1])).toThrow(RangeError);
    expect(() => m.track("up" as "both")).toThrow(RangeError);
    expect(m.cancel().seq).toBe(4);
  });

  it("builds track for a subset of objects", () => {
    const m = new MessageBuilder();
    expect(m.track("forward", [2])).toEqual({ type: "track", seq: 1, direction: "forward", objects: [2] });
    expect(() => m.track("forward", [])).toThrow(RangeError);
    expect(() => m.track("forward", [0])).toThrow(RangeError);
    expect(m.cancel().seq).toBe(2);
  });
});

describe("GotoLog", () => {
  it("tells the kernel catching up with sent gotos from a move made elsewhere", () => {
    const log = new GotoLog(10);
    expect(log.arrived(10)).toBe("same");
    log.add(1, 11);
    log.add(2, 12);
    log.add(3, 13);
    expect(log.pending).toBe(3);
    expect(log.arrived(11)).toBe("ours");
    expect(log.arrived(11)).toBe("same");
    expect(log.arrived(13)).toBe("ours"); // 12 was passed over: done too
    expect(log.pending).toBe(0);
    expect(log.arrived(40)).toBe("theirs"); // Python moved it
    expect(log.arrived(13)).toBe("theirs");
  });

  it("forgets acked gotos, also those that never moved the kernel", () => {
    const log = new GotoLog(5);
    log.add(7, 5); // a goto to the frame the kernel is on: no image_index change comes
    log.add(8, 6);
    log.acked(7);
    expect(log.pending).toBe(1);
    expect(log.arrived(6)).toBe("ours");
    log.acked(8); // already done
    expect(log.pending).toBe(0);
    expect(log.arrived(5)).toBe("theirs");
  });
});
