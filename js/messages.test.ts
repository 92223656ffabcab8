import { describe, expect, it } from "vitest";
import { MessageBuilder } from "./messages";
import { parseAck, parseMasksChanged } from "./protocol";

describe("MessageBuilder", () => {
  it("builds every message type of the protocol with increasing seq", () => {
    const m = new MessageBuilder();
    const built = [
      m.addPoint(10.5, 20, 1),
      m.addBox(1, 2, 3, 4),
      m.removePrompt(0),
      m.undo(),
      m.redo(),
      m.addObject(),
      m.selectObject(3),
      m.renameObject(3, "cat"),
      m.setVisible(3, false),
      m.deleteObject(3),
      m.clearObject(),
      m.clearImage(),
      m.goto(4),
      m.segmentEverything(),
    ];
    expect(built).toEqual([
      { type: "add_point", seq: 1, x: 10.5, y: 20, label: 1 },
      { type: "add_box", seq: 2, x0: 1, y0: 2, x1: 3, y1: 4 },
      { type: "remove_prompt", seq: 3, index: 0 },
      { type: "undo", seq: 4 },
      { type: "redo", seq: 5 },
      { type: "add_object", seq: 6 },
      { type: "select_object", seq: 7, id: 3 },
      { type: "rename_object", seq: 8, id: 3, name: "cat" },
      { type: "set_visible", seq: 9, id: 3, visible: false },
      { type: "delete_object", seq: 10, id: 3 },
      { type: "clear_object", seq: 11 },
      { type: "clear_image", seq: 12 },
      { type: "goto", seq: 13, index: 4 },
      { type: "segment_everything", seq: 14 },
    ]);
    // Plain JSON: survives the comm's serialisation unchanged.
    expect(JSON.parse(JSON.stringify(built))).toEqual(built);
  });

  it("keeps a separate counter per builder (per view)", () => {
    const a = new MessageBuilder();
    const b = new MessageBuilder();
    a.undo();
    expect(a.undo().seq).toBe(2);
    expect(b.undo().seq).toBe(1);
  });

  it("rejects NaN and infinite coordinates", () => {
    const m = new MessageBuilder();
    expect(() => m.addPoint(Number.NaN, 1, 1)).toThrow(RangeError);
    expect(() => m.addPoint(1, Number.POSITIVE_INFINITY, 0)).toThrow(/y must be a finite number/);
    expect(() => m.addBox(0, 0, Number.NaN, 5)).toThrow(/x1/);
    expect(() => m.addBox(0, Number.NEGATIVE_INFINITY, 1, 5)).toThrow(/y0/);
  });

  it("rejects a label other than 0 or 1", () => {
    const m = new MessageBuilder();
    expect(() => m.addPoint(1, 1, 2 as 0 | 1)).toThrow(/label/);
  });

  it("rejects bad ids and indices", () => {
    const m = new MessageBuilder();
    expect(() => m.selectObject(0)).toThrow(/id/);
    expect(() => m.selectObject(1.5)).toThrow(/id/);
    expect(() => m.deleteObject(Number.NaN)).toThrow(/id/);
    expect(() => m.setVisible(-2, true)).toThrow(/id/);
    expect(() => m.removePrompt(-1)).toThrow(/index/);
    expect(() => m.goto(0.5)).toThrow(/index/);
  });

  it("rejects a non-string name and a non-boolean visibility", () => {
    const m = new MessageBuilder();
    expect(() => m.renameObject(1, 5 as unknown as string)).toThrow(TypeError);
    expect(() => m.setVisible(1, "yes" as unknown as boolean)).toThrow(TypeError);
  });

  it("builds merge_objects and rejects bad id lists", () => {
    const m = new MessageBuilder();
    expect(m.mergeObjects([4, 2, 7])).toEqual({ type: "merge_objects", seq: 1, ids: [4, 2, 7] });
    expect(() => m.mergeObjects([3])).toThrow(/at least 2/);
    expect(() => m.mergeObjects([])).toThrow(RangeError);
    expect(() => m.mergeObjects([3, 3])).toThrow(/distinct/);
    expect(() => m.mergeObjects([3, 0])).toThrow(/id/);
    expect(() => m.mergeObjects([3, 1.5])).toThrow(/id/);
    expect(() => m.mergeObjects([3, Number.NaN])).toThrow(/id/);
    expect(() => m.mergeObjects("1,2" as unknown as number[])).toThrow(TypeError);
    // The ids are copied: changing the caller's array later changes nothing sent.
    const ids = [1, 2];
    const msg = m.mergeObjects(ids);
    ids.push(3);
    expect(msg).toEqual({ type: "merge_objects", seq: 2, ids: [1, 2] });
  });

  it("builds set_memory for the known policies only", () => {
    const m = new MessageBuilder();
    expect(m.setMemory("samurai")).toEqual({ type: "set_memory", seq: 1, memory: "samurai" });
    expect(() => m.setMemory("samurai2")).toThrow(/memory must be one of sam2, quality, samurai, dam4sam/);
    expect(m.setMemory("sam2").seq).toBe(2);
  });

  it("uses up no seq on a rejected message", () => {
    const m = new MessageBuilder();
    expect(() => m.addPoint(Number.NaN, 0, 1)).toThrow();
    expect(() => m.goto(-1)).toThrow();
    expect(m.undo().seq).toBe(1);
  });
});

describe("parseAck", () => {
  it("reads an ack with or without an error", () => {
    expect(parseAck({ type: "ack", seq: 3, ok: true })).toEqual({ type: "ack", seq: 3, ok: true });
    expect(parseAck({ type: "ack", seq: 4, ok: false, error: "no image" })).toEqual({
      type: "ack",
      seq: 4,
      ok: false,
      error: "no image",
    });
  });

  it("ignores anything else", () => {
    for (const msg of [null, 5, "ack", { type: "progress" }, { type: "ack", seq: "1", ok: true }, { type: "ack", seq: 1 }]) {
      expect(parseAck(msg)).toBeNull();
    }
  });
});

describe("parseMasksChanged", () => {
  it("reads frame ranges, or null for every frame", () => {
    expect(parseMasksChanged({ type: "masks_changed", version: 3, frames: [[0, 2], [5, 5]] })).toEqual({
      type: "masks_changed",
      version: 3,
      frames: [[0, 2], [5, 5]],
    });
    expect(parseMasksChanged({ type: "masks_changed", version: 4, frames: null })?.frames).toBeNull();
  });

  it("ignores anything else", () => {
    for (const msg of [
      null,
      { type: "frame", index: 1 },
      { type: "masks_changed", frames: [[0, 1]] },
      { type: "masks_changed", version: 1, frames: [[2, 1]] },
      { type: "masks_changed", version: 1, frames: [[0.5, 1]] },
      { type: "masks_changed", version: 1 },
    ]) {
      expect(parseMasksChanged(msg)).toBeNull();
    }
  });
});
