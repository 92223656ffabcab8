import { describe, expect, it } from "vitest";
import type { BinaryLike } from "./protocol";
import { decodeLabelRuns, outlineIndices, paintOverlay, parseHexColor, sameBytes, toBytes } from "./rle";
import { buildOverlay, decodeLabelRle, outlineMask } from "./rle_reference";

/** Encode (value, count) pairs as the protocol's little-endian uint32 bytes. */
function encode(pairs: [number, number][]): Uint8Array {
  const out = new Uint8Array(pairs.length * 8);
  const dv = new DataView(out.buffer);
  pairs.forEach(([value, count], i) => {
    dv.setUint32(i * 8, value, true);
    dv.setUint32(i * 8 + 4, count, true);
  });
  return out;
}

describe("toBytes", () => {
  it("reads only the window of a view into a larger buffer", () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    expect([...toBytes(new DataView(backing.buffer, 2, 3))]).toEqual([1, 2, 3]);
    expect([...toBytes(backing.subarray(2, 5))]).toEqual([1, 2, 3]);
    expect([...toBytes(backing.buffer)]).toEqual([9, 9, 1, 2, 3, 9]);
  });

  it("treats null and undefined as empty", () => {
    expect(toBytes(null).byteLength).toBe(0);
    expect(toBytes(undefined).byteLength).toBe(0);
  });
});

describe("decodeLabelRle", () => {
  const pairs: [number, number][] = [[0, 2], [3, 3], [0, 1], [7, 2]]; // 8 pixels
  const want = [0, 0, 3, 3, 3, 0, 7, 7];

  it("decodes runs row-major", () => {
    expect([...decodeLabelRle(encode(pairs), 4, 2)]).toEqual(want);
  });

  it("accepts a DataView, a Uint8Array and an ArrayBuffer alike, at any offset", () => {
    const bytes = encode(pairs);
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3); // unaligned for uint32: must still decode
    const inputs: BinaryLike[] = [
      new DataView(bytes.buffer),
      bytes,
      bytes.buffer as ArrayBuffer,
      new DataView(shifted.buffer, 3, bytes.byteLength),
      shifted.subarray(3),
    ];
    for (const input of inputs) expect([...decodeLabelRle(input, 4, 2)]).toEqual(want);
  });

  it("reads ids above 2^31 (uint32, little-endian)", () => {
    expect([...decodeLabelRle(encode([[0xfffffffe, 2]]), 2, 1)]).toEqual([0xfffffffe, 0xfffffffe]);
  });

  it("gives all background for empty input", () => {
    const labels = decodeLabelRle(new Uint8Array(0), 3, 2);
    expect(labels.length).toBe(6);
    expect(labels.every((v) => v === 0)).toBe(true);
    expect(decodeLabelRle(null, 2, 2).length).toBe(4);
  });

  it("rejects runs that do not cover the image exactly", () => {
    expect(() => decodeLabelRle(encode([[1, 7]]), 4, 2)).toThrow(/covers 7 pixels/);
    expect(() => decodeLabelRle(encode([[1, 9]]), 4, 2)).toThrow(/more than/);
    expect(() => decodeLabelRle(new Uint8Array(12), 4, 2)).toThrow(/pairs/);
  });

  it("allows zero-length runs", () => {
    expect([...decodeLabelRle(encode([[5, 0], [2, 2]]), 2, 1)]).toEqual([2, 2]);
  });
});

describe("parseHexColor", () => {
  it("parses #rrggbb in either case", () => {
    expect(parseHexColor("#ff8000")).toEqual([255, 128, 0]);
    expect(parseHexColor("#0A0b0C")).toEqual([10, 11, 12]);
  });

  it("rejects anything else", () => {
    for (const bad of ["ff8000", "#fff", "#gg0000", "red", ""]) expect(() => parseHexColor(bad)).toThrow();
  });
});

describe("outlineMask", () => {
  it("marks mask pixels next to another label, closing at the border", () => {
    // 5x4: a 3x2 block of 1 at (1..3, 1..2), and a 2 at the right edge.
    const L = [
      0, 0, 0, 0, 2,
      0, 1, 1, 1, 2,
      0, 1, 1, 1, 2,
      0, 0, 0, 0, 2,
    ];
    const out = outlineMask(Uint32Array.from(L), 5, 4);
    // Every pixel of the 3x2 block touches background; the 2s touch the border.
    expect([...out]).toEqual([
      0, 0, 0, 0, 1,
      0, 1, 1, 1, 1,
      0, 1, 1, 1, 1,
      0, 0, 0, 0, 1,
    ]);
  });

  it("leaves the interior of a mask unmarked", () => {
    const w = 5;
    const labels = new Uint32Array(w * w).fill(4);
    const out = outlineMask(labels, w, w);
    expect(out[2 * w + 2]).toBe(0); // centre
    expect(out[1 * w + 1]).toBe(0);
    expect(out[0]).toBe(1); // border
    expect(out.reduce((a, b) => a + b, 0)).toBe(16); // the ring of a 5x5
  });

  it("marks the boundary between two touching objects on both sides", () => {
    const out = outlineMask(Uint32Array.from([1, 1, 2, 2]), 4, 1);
    expect([...out]).toEqual([1, 1, 1, 1]);
  });
});

describe("buildOverlay", () => {
  const objects = [
    { id: 1, color: "#ff0000", visible: true },
    { id: 2, color: "#00ff00", visible: false },
    { id: 3, color: "#0000ff", visible: true },
  ];
  const labels = Uint32Array.from([0, 1, 2, 3, 9]);
  const px = (rgba: Uint8ClampedArray, i: number): number[] => [...rgba.slice(i * 4, i * 4 + 4)];

  it("colours visible objects with the fill opacity and leaves the rest clear", () => {
    const rgba = buildOverlay(labels, objects, { opacity: 0.5, outline: null });
    expect(rgba.length).toBe(20);
    expect(px(rgba, 0)).toEqual([0, 0, 0, 0]); // background
    expect(px(rgba, 1)).toEqual([255, 0, 0, 128]);
    expect(px(rgba, 2)).toEqual([0, 0, 0, 0]); // hidden
    expect(px(rgba, 3)).toEqual([0, 0, 255, 128]);
    expect(px(rgba, 4)).toEqual([0, 0, 0, 0]); // unknown id
  });

  it("draws outline pixels opaque", () => {
    const outline = Uint8Array.from([0, 1, 1, 0, 0]);
    const rgba = buildOverlay(labels, objects, { opacity: 0.25, outline });
    expect(px(rgba, 1)).toEqual([255, 0, 0, 255]);
    expect(px(rgba, 2)).toEqual([0, 0, 0, 0]); // still hidden
    expect(px(rgba, 3)).toEqual([0, 0, 255, 64]);
  });

  it("clamps the opacity to 0..1", () => {
    expect(px(buildOverlay(labels, objects, { opacity: 3, outline: null }), 1)[3]).toBe(255);
    expect(px(buildOverlay(labels, objects, { opacity: -1, outline: null }), 1)[3]).toBe(0);
  });

  it("follows the colour of each run when labels alternate", () => {
    const rgba = buildOverlay(Uint32Array.from([1, 3, 1, 3]), objects, { opacity: 1, outline: null });
    expect([0, 1, 2, 3].map((i) => px(rgba, i)[0])).toEqual([255, 0, 255, 0]);
  });
});

/** A random label map as RLE pairs: runs of 0..3 of random lengths, some split in two. */
function randomPairs(size: number, seed: number): [number, number][] {
  let x = seed;
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const pairs: [number, number][] = [];
  let left = size;
  while (left > 0) {
    const count = Math.min(left, 1 + rand(12));
    pairs.push([rand(4), count]);
    if (rand(5) === 0) pairs.push([rand(4), 0]); // empty runs are allowed
    left -= count;
  }
  return pairs;
}

describe("decodeLabelRuns", () => {
  it("gives the labels of decodeLabelRle and the non-zero runs", () => {
    const pairs: [number, number][] = [[0, 2], [3, 3], [0, 0], [5, 0], [2, 1], [0, 2]];
    const map = decodeLabelRuns(encode(pairs), 4, 2);
    expect([...map.labels]).toEqual([...decodeLabelRle(encode(pairs), 4, 2)]);
    expect([...map.runs]).toEqual([2, 5, 3, 5, 6, 2]);
  });

  it("has no runs for empty input or all background", () => {
    expect(decodeLabelRuns(null, 2, 2).runs.length).toBe(0);
    expect(decodeLabelRuns(encode([[0, 4]]), 2, 2).runs.length).toBe(0);
  });

  it("throws on malformed input as decodeLabelRle does", () => {
    expect(() => decodeLabelRuns(encode([[1, 7]]), 4, 2)).toThrow(/covers 7 pixels/);
    expect(() => decodeLabelRuns(new Uint8Array(12), 4, 2)).toThrow(/pairs/);
  });
});

describe("outlineIndices and paintOverlay", () => {
  const objects = [
    { id: 1, color: "#ff8000", visible: true },
    { id: 2, color: "#00ff00", visible: false },
    { id: 3, color: "#1020f0", visible: true },
  ];

  it("mark exactly the pixels of outlineMask", () => {
    for (const [w, h, seed] of [[7, 5, 1], [1, 6, 2], [6, 1, 3], [13, 11, 4], [1, 1, 5]]) {
      const map = decodeLabelRuns(encode(randomPairs(w * h, seed)), w, h);
      const want = outlineMask(map.labels, w, h);
      const got = new Uint8Array(w * h);
      for (const i of outlineIndices(map, w, h)) got[i] = 1;
      expect([...got]).toEqual([...want]);
    }
  });

  it("paint the pixels of buildOverlay, with and without outlines, into a reused buffer", () => {
    const rgba = new Uint8ClampedArray(17 * 9 * 4).fill(77); // garbage from an earlier frame
    for (const seed of [1, 2, 3]) {
      const map = decodeLabelRuns(encode(randomPairs(17 * 9, seed)), 17, 9);
      for (const opacity of [0, 0.37, 1, 2]) {
        for (const outlined of [false, true]) {
          const mask = outlined ? outlineMask(map.labels, 17, 9) : null;
          const want = buildOverlay(map.labels, objects, { opacity, outline: mask });
          paintOverlay(rgba, map, objects, opacity, outlined ? outlineIndices(map, 17, 9) : null);
          expect([...rgba]).toEqual([...want]);
        }
      }
    }
  });

  it("refuses a buffer of another size", () => {
    const map = decodeLabelRuns(encode([[1, 4]]), 2, 2);
    expect(() => paintOverlay(new Uint8ClampedArray(12), map, objects, 1, null)).toThrow(/does not match/);
  });
});

describe("sameBytes", () => {
  it("compares contents, aligned or not", () => {
    const a = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const backing = new Uint8Array(12);
    backing.set(a, 1);
    expect(sameBytes(a, backing.subarray(1, 10))).toBe(true);
    expect(sameBytes(a, a.slice())).toBe(true);
    const b = a.slice();
    b[8] = 0;
    expect(sameBytes(a, b)).toBe(false);
    b[8] = 9;
    b[2] = 0;
    expect(sameBytes(a, b)).toBe(false);
    expect(sameBytes(a, a.subarray(0, 8))).toBe(false);
    expect(sameBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});
