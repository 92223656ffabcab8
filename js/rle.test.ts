import { describe, expect, it } from "vitest";
import type { BinaryLike } from "./protocol";
import {
  decodeLabelRuns,
  outlineRuns,
  overlayColours,
  paintOverlay,
  paintPlaced,
  parseHexColor,
  sameBytes,
  toBytes,
  type LabelRuns,
} from "./rle";
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

/** The labels of `map`, one per pixel. */
function labelsOf(map: LabelRuns): Uint32Array {
  const labels = new Uint32Array(map.width * map.height);
  for (let k = 0; k < map.runs.length; k += 3) labels.fill(map.runs[k + 2], map.runs[k], map.runs[k + 1]);
  return labels;
}

/** Pixel flags (1: in a run) of `[start, end, value]` runs, checking they are ascending and disjoint. */
function flagsOf(runs: Uint32Array, size: number): Uint8Array {
  const flags = new Uint8Array(size);
  let last = 0;
  for (let k = 0; k < runs.length; k += 3) {
    expect(runs[k]).toBeGreaterThanOrEqual(last);
    expect(runs[k + 1]).toBeGreaterThan(runs[k]);
    flags.fill(1, runs[k], runs[k + 1]);
    last = runs[k + 1];
  }
  return flags;
}

/** A random label map with blobs (long runs, shapes that continue across rows) and speckle. */
function blobPairs(width: number, height: number, seed: number): [number, number][] {
  let x = seed;
  const rand = (n: number): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const blobs = Array.from({ length: 1 + rand(4) }, () => ({
    cx: rand(width), cy: rand(height), r: 1 + rand(Math.max(2, width >> 1)), v: 1 + rand(3),
  }));
  const pairs: [number, number][] = [];
  for (let y = 0; y < height; y++) {
    for (let px = 0; px < width; px++) {
      let v = 0;
      for (const b of blobs) if ((px - b.cx) ** 2 + (y - b.cy) ** 2 < b.r * b.r) v = b.v;
      if (rand(40) === 0) v = rand(4);
      const lastPair = pairs[pairs.length - 1];
      if (lastPair !== undefined && lastPair[0] === v && rand(7) !== 0) lastPair[1]++;
      else pairs.push([v, 1]); // sometimes two runs of one label in a row
    }
  }
  return pairs;
}

describe("decodeLabelRuns", () => {
  it("gives the non-zero runs, split at row ends and merged within a row", () => {
    const pairs: [number, number][] = [[0, 2], [3, 3], [0, 0], [5, 0], [3, 1], [0, 2]];
    const map = decodeLabelRuns(encode(pairs), 4, 2);
    expect([...labelsOf(map)]).toEqual([...decodeLabelRle(encode(pairs), 4, 2)]);
    expect([...map.runs]).toEqual([2, 4, 3, 4, 6, 3]);
    expect([...map.rows]).toEqual([0, 1, 2]);
  });

  it("gives the labels of decodeLabelRle on random maps, runs maximal in their row", () => {
    for (const [w, h, seed] of [[7, 5, 1], [1, 6, 2], [6, 1, 3], [13, 11, 4], [1, 1, 5], [31, 17, 6]]) {
      for (const pairs of [randomPairs(w * h, seed), blobPairs(w, h, seed)]) {
        const map = decodeLabelRuns(encode(pairs), w, h);
        const labels = decodeLabelRle(encode(pairs), w, h);
        expect([...labelsOf(map)]).toEqual([...labels]);
        for (let y = 0; y < h; y++) {
          for (let k = map.rows[y]; k < map.rows[y + 1]; k++) {
            const [s, e, v] = map.runs.subarray(3 * k, 3 * k + 3);
            expect(Math.floor(s / w)).toBe(y);
            expect(Math.floor((e - 1) / w)).toBe(y);
            if (s % w !== 0) expect(labels[s - 1]).not.toBe(v);
            if (e % w !== 0) expect(labels[e]).not.toBe(v);
          }
        }
      }
    }
  });

  it("has no runs for empty input or all background", () => {
    expect(decodeLabelRuns(null, 2, 2).runs.length).toBe(0);
    expect([...decodeLabelRuns(null, 2, 2).rows]).toEqual([0, 0, 0]);
    expect(decodeLabelRuns(encode([[0, 4]]), 2, 2).runs.length).toBe(0);
  });

  it("throws on malformed input as decodeLabelRle does", () => {
    expect(() => decodeLabelRuns(encode([[1, 7]]), 4, 2)).toThrow(/covers 7 pixels/);
    expect(() => decodeLabelRuns(encode([[1, 9]]), 4, 2)).toThrow(/more than/);
    expect(() => decodeLabelRuns(new Uint8Array(12), 4, 2)).toThrow(/pairs/);
  });
});

describe("outlineRuns and paintOverlay", () => {
  const objects = [
    { id: 1, color: "#ff8000", visible: true },
    { id: 2, color: "#00ff00", visible: false },
    { id: 3, color: "#1020f0", visible: true },
  ];

  it("mark exactly the pixels of outlineMask, with the label of each", () => {
    for (const [w, h, seed] of [[7, 5, 1], [1, 6, 2], [6, 1, 3], [13, 11, 4], [1, 1, 5], [2, 2, 6], [40, 30, 7], [3, 50, 8]]) {
      for (const pairs of [randomPairs(w * h, seed), blobPairs(w, h, seed), [[2, w * h]] as [number, number][]]) {
        const labels = decodeLabelRle(encode(pairs), w, h);
        const outlineMap = outlineRuns(decodeLabelRuns(encode(pairs), w, h));
        const outline = outlineMap.runs;
        expect([...flagsOf(outline, w * h)]).toEqual([...outlineMask(labels, w, h)]);
        for (let y = 0; y < h; y++) {
          for (let k = outlineMap.rows[y]; k < outlineMap.rows[y + 1]; k++) expect(Math.floor(outline[3 * k] / w)).toBe(y);
        }
        expect(outlineMap.rows[h]).toBe(outline.length / 3);
        for (let k = 0; k < outline.length; k += 3) {
          for (let i = outline[k]; i < outline[k + 1]; i++) expect(labels[i]).toBe(outline[k + 2]);
        }
      }
    }
  });

  it("paint the pixels of buildOverlay, with and without outlines, into a reused buffer", () => {
    const rgba = new Uint8ClampedArray(17 * 9 * 4).fill(77); // garbage from an earlier frame
    let painted: LabelRuns | null = null;
    for (const seed of [1, 2, 3]) {
      for (const pairs of [randomPairs(17 * 9, seed), blobPairs(17, 9, seed)]) {
        const map = decodeLabelRuns(encode(pairs), 17, 9);
        const labels = decodeLabelRle(encode(pairs), 17, 9);
        for (const opacity of [0, 0.37, 1, 2]) {
          for (const outlined of [false, true]) {
            const mask = outlined ? outlineMask(labels, 17, 9) : null;
            const want = buildOverlay(labels, objects, { opacity, outline: mask });
            // the first paint clears the garbage; later ones clear only what the last one painted
            paintOverlay(rgba, map, overlayColours(objects, opacity), outlined ? outlineRuns(map) : null, painted);
            painted = map;
            expect([...rgba]).toEqual([...want]);
          }
        }
      }
    }
  });

  it("refuses a buffer of another size", () => {
    const map = decodeLabelRuns(encode([[1, 4]]), 2, 2);
    expect(() => paintOverlay(new Uint8ClampedArray(12), map, overlayColours(objects, 1), null)).toThrow(/does not match/);
    expect(() => paintPlaced(new Uint8ClampedArray(12), 2, 2, map, overlayColours(objects, 1), null, { scale: 1, tx: 0, ty: 0 })).toThrow(
      /does not match/,
    );
  });
});

describe("paintPlaced", () => {
  const objects = [
    { id: 1, color: "#ff8000", visible: true },
    { id: 2, color: "#00ff00", visible: false },
    { id: 3, color: "#1020f0", visible: true },
  ];

  it("gives each canvas pixel the full-size overlay's pixel under its centre", () => {
    const [w, h] = [41, 29];
    const places = [
      { scale: 0.37, tx: 3.3, ty: 1.7 },
      { scale: 0.5, tx: 0, ty: 0 },
      { scale: 0.81, tx: -5.2, ty: -3.9 }, // partly off the canvas
      { scale: 1, tx: 2, ty: -1 },
      { scale: 2.6, tx: -7.4, ty: 0.6 },
    ];
    for (const seed of [1, 2, 3]) {
      for (const pairs of [randomPairs(w * h, seed), blobPairs(w, h, seed)]) {
        const map = decodeLabelRuns(encode(pairs), w, h);
        const labels = decodeLabelRle(encode(pairs), w, h);
        for (const outlined of [false, true]) {
          const full = buildOverlay(labels, objects, { opacity: 0.4, outline: outlined ? outlineMask(labels, w, h) : null });
          for (const at of places) {
            const [cw, ch] = [23, 17];
            const rgba = new Uint8ClampedArray(cw * ch * 4).fill(9);
            paintPlaced(rgba, cw, ch, map, overlayColours(objects, 0.4), outlined ? outlineRuns(map) : null, at);
            const want = new Uint8ClampedArray(cw * ch * 4);
            for (let dy = 0; dy < ch; dy++) {
              for (let dx = 0; dx < cw; dx++) {
                const x = Math.floor((dx + 0.5 - at.tx) / at.scale);
                const y = Math.floor((dy + 0.5 - at.ty) / at.scale);
                if (x < 0 || y < 0 || x >= w || y >= h) continue;
                want.set(full.subarray((y * w + x) * 4, (y * w + x) * 4 + 4), (dy * cw + dx) * 4);
              }
            }
            expect([...rgba]).toEqual([...want]);
          }
        }
      }
    }
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
