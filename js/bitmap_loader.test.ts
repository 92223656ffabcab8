import { describe, expect, it } from "vitest";
import { BitmapLoader } from "./bitmap_loader";

class FakeBitmap {
  closed = false;
  constructor(readonly tag: number) {}
  close(): void {
    this.closed = true;
  }
}

function setup() {
  const decodes: { jpeg: Uint8Array; resolve(): FakeBitmap; reject(e: Error): void }[] = [];
  let presented = 0;
  const loader = new BitmapLoader<FakeBitmap>(
    (jpeg) =>
      new Promise((resolve, reject) => {
        const bitmap = new FakeBitmap(jpeg[0]);
        decodes.push({ jpeg, resolve: () => (resolve(bitmap), bitmap), reject });
      }),
    () => presented++,
  );
  return { loader, decodes, presented: () => presented };
}

const flush = async (): Promise<void> => {
  for (let k = 0; k < 5; k++) await Promise.resolve();
};

describe("BitmapLoader", () => {
  it("shows the newest image whatever order the decodes finish in, closing the superseded one", async () => {
    const { loader, decodes, presented } = setup();
    const done: string[] = [];
    loader.show(1, new Uint8Array([1]), null, (ok) => done.push(`1 ${ok}`));
    loader.show(2, new Uint8Array([2]), null, (ok) => done.push(`2 ${ok}`));
    const newer = decodes[1].resolve();
    await flush();
    const older = decodes[0].resolve();
    await flush();
    expect(loader.bitmap).toBe(newer);
    expect(loader.index).toBe(2);
    expect(older.closed).toBe(true);
    expect(done).toEqual(["2 true"]);
    expect(presented()).toBe(1);
  });

  it("decodes the same bytes once, whether shown or being decoded", async () => {
    const { loader, decodes, presented } = setup();
    const done: string[] = [];
    loader.show(3, new Uint8Array([3]), null, () => done.push("a"));
    loader.show(3, new Uint8Array([3]), null, () => done.push("b")); // a copy of the same bytes
    expect(decodes.length).toBe(1);
    decodes[0].resolve();
    await flush();
    expect(done).toEqual(["a", "b"]);
    loader.show(3, new Uint8Array([3]), null, () => done.push("c"));
    expect(decodes.length).toBe(1);
    expect(done).toEqual(["a", "b", "c"]);
    expect(presented()).toBe(2);
  });

  it("uses a decode started earlier, and closes one it does not need", async () => {
    const { loader, decodes } = setup();
    const ahead = new FakeBitmap(5);
    loader.show(5, new Uint8Array([5]), Promise.resolve(ahead), () => {});
    await flush();
    expect(decodes.length).toBe(0);
    expect(loader.bitmap).toBe(ahead);
    const unneeded = new FakeBitmap(5);
    loader.show(5, new Uint8Array([5]), Promise.resolve(unneeded), () => {});
    await flush();
    expect(loader.bitmap).toBe(ahead);
    expect(unneeded.closed).toBe(true);
  });

  it("reports a failed decode unless a newer image superseded it", async () => {
    const { loader, decodes } = setup();
    const done: string[] = [];
    loader.show(1, new Uint8Array([1]), null, (ok, e) => done.push(`1 ${ok} ${String(e)}`));
    decodes[0].reject(new Error("bad JPEG"));
    await flush();
    loader.show(2, new Uint8Array([2]), null, (ok) => done.push(`2 ${ok}`));
    loader.show(4, new Uint8Array([4]), null, (ok) => done.push(`4 ${ok}`));
    decodes[1].reject(new Error("superseded"));
    await flush();
    expect(done).toEqual(["1 false Error: bad JPEG"]);
  });

  it("clear drops the image and the decode in flight", async () => {
    const { loader, decodes } = setup();
    loader.show(1, new Uint8Array([1]), null, () => {});
    const first = decodes[0].resolve();
    await flush();
    loader.show(2, new Uint8Array([2]), null, () => {});
    loader.clear();
    const late = decodes[1].resolve();
    await flush();
    expect(loader.bitmap).toBe(null);
    expect(loader.index).toBe(-1);
    expect(first.closed).toBe(true);
    expect(late.closed).toBe(true);
  });
});
