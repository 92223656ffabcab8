import { describe, expect, it } from "vitest";
import { changeColumns, changeIoU, confidenceOf, laneColumns, Lanes } from "./lanes";

// Two objects over 8 frames. Object 1: untracked 0, present 1-2 (confident), absent 3-4, weak 5, present 6-7.
// Object 2: present 2-4 with 0.6, untracked elsewhere.
const q = (c: number): number => 2 + Math.round(c * 253);
const ONE = [0, q(0.9), q(0.9), 1, 1, q(0.2), q(0.9), q(0.9)];
const TWO = [0, 0, q(0.6), q(0.6), q(0.6), 0, 0, 0];

function lanes(): Lanes {
  const l = new Lanes();
  const changes = new Uint8Array(16);
  changes[6] = 1 + Math.round(0.5 * 254); // object 1, frame 6: IoU 0.5 to the old mask
  l.set({ obj_ids: [1, 2], num_frames: 8, confidence: new Uint8Array([...ONE, ...TWO]), changes });
  return l;
}

describe("lane bytes", () => {
  it("decode confidence and change values", () => {
    expect(confidenceOf(0)).toBeNull();
    expect(confidenceOf(1)).toBeNull();
    expect(confidenceOf(255)).toBe(1);
    expect(confidenceOf(q(0.4))).toBeCloseTo(0.4, 2);
    expect(changeIoU(0)).toBeNull();
    expect(changeIoU(1)).toBe(0);
    expect(changeIoU(255)).toBe(1);
  });
});

describe("Lanes", () => {
  it("finds weak frames forward and backward with the threshold", () => {
    const l = lanes();
    expect(l.nextWeak(0, 1, 0.5)).toBe(5);
    expect(l.nextWeak(5, 1, 0.5)).toBeNull();
    expect(l.nextWeak(7, -1, 0.5)).toBe(5);
    expect(l.nextWeak(0, 1, 0.7)).toBe(2); // object 2's 0.6
    expect(l.nextWeak(0, 1, 0.1)).toBeNull();
  });

  it("finds appear / disappear frames between tracked neighbours", () => {
    const l = lanes();
    expect(l.nextTransition(0, 1)).toBe(3);
    expect(l.nextTransition(3, 1)).toBe(5);
    expect(l.nextTransition(5, 1)).toBeNull(); // object 2 ends at untracked frames: no transition
    expect(l.nextTransition(5, -1)).toBe(3);
    expect(l.isTransition(1)).toBe(false); // after an untracked frame
  });

  it("takes patches for the same objects and refuses others", () => {
    const l = lanes();
    const patch = { type: "lanes" as const, obj_ids: [1, 2], runs: [[0, 1] as [number, number]] };
    const ok = l.patch(patch, [new Uint8Array([q(0.1), q(0.1), 1, 1]), new Uint8Array(4)]);
    expect(ok).toBe(true);
    expect(l.nextWeak(-1, 1, 0.5)).toBe(0);
    expect(l.value(1, 0)).toBe(1);
    expect(l.patch({ ...patch, obj_ids: [1] }, [new Uint8Array(2), new Uint8Array(2)])).toBe(false);
    expect(l.patch({ ...patch, runs: [[7, 8]] }, [new Uint8Array(4), new Uint8Array(4)])).toBe(false);
    expect(l.patch(patch, [new Uint8Array(3), new Uint8Array(4)])).toBe(false);
  });

  it("drops a trait whose sizes do not match", () => {
    const l = new Lanes();
    l.set({ obj_ids: [1], num_frames: 4, confidence: new Uint8Array(3), changes: new Uint8Array(3) });
    expect(l.frames).toBe(0);
    expect(l.nextWeak(0, 1, 1)).toBeNull();
  });

  it("draws the weakest confidence per column, gaps for absence", () => {
    const l = lanes();
    const cols = laneColumns(l, 0, 4); // frames [0,1] [2,3] [4,5] [6,7]
    expect(cols[0]).toBeCloseTo(0.9, 2);
    expect(cols[1]).toBeCloseTo(0.9, 2); // an absent frame does not hide a present one
    expect(cols[2]).toBeCloseTo(0.2, 2);
    expect(laneColumns(l, 0, 8)[3]).toBe(-1);
    expect(laneColumns(l, 1, 8)[0]).toBeNull();
    const changes = changeColumns(l, 8);
    expect(changes[6]).toBeCloseTo(0.5, 2);
    expect(changes.filter((c) => c !== null)).toHaveLength(1);
  });
});
