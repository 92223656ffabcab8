import { describe, expect, it } from "vitest";
import { hostedByMarimo, MarimoReruns, QUIET_MS, RERUN_KEY } from "./marimo_reruns";

/** A clock whose timers run when the test advances it. */
function fakeClock() {
  let now = 0;
  let timers: { at: number; f: () => void }[] = [];
  return {
    after(ms: number, f: () => void) {
      const timer = { at: now + ms, f };
      timers.push(timer);
      return () => void (timers = timers.filter((t) => t !== timer));
    },
    advance(ms: number) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.f();
    },
  };
}

function setup(hosted = true) {
  const writes: [string, unknown][] = [];
  let saves = 0;
  const clock = fakeClock();
  const model = { set: (k: string, v: unknown) => void writes.push([k, v]), save_changes: () => void saves++ };
  const reruns = new MarimoReruns(model, () => hosted, clock);
  return { reruns, clock, writes, saves: () => saves };
}

describe("MarimoReruns", () => {
  it("asks once, after the quiet time, when every state change sent was acked", () => {
    const { reruns, clock, writes, saves } = setup();
    reruns.sent({ type: "add_point", seq: 1 });
    reruns.sent({ type: "add_point", seq: 2 });
    reruns.acked(1);
    clock.advance(QUIET_MS);
    expect(writes).toEqual([]); // seq 2 is still open
    reruns.acked(2);
    clock.advance(QUIET_MS - 1);
    expect(writes).toEqual([]);
    clock.advance(1);
    expect(writes).toEqual([[RERUN_KEY, 1]]);
    expect(saves()).toBe(1);
  });

  it("gives one request per burst and a new value for each request", () => {
    const { reruns, clock, writes } = setup();
    for (const seq of [1, 2, 3]) {
      reruns.sent({ type: "goto", seq });
      reruns.acked(seq);
      clock.advance(QUIET_MS / 3);
    }
    clock.advance(QUIET_MS);
    reruns.sent({ type: "undo", seq: 4 });
    reruns.acked(4);
    clock.advance(QUIET_MS);
    expect(writes).toEqual([
      [RERUN_KEY, 1],
      [RERUN_KEY, 2],
    ]);
  });

  it("ignores frame and thumbnail fetches, acks of messages it never saw, and hosts other than marimo", () => {
    const fetches = setup();
    fetches.reruns.sent({ type: "fetch_frames", seq: 1 });
    fetches.reruns.acked(1);
    fetches.reruns.sent({ type: "fetch_thumbnails", seq: 2 });
    fetches.reruns.acked(2);
    fetches.reruns.acked(7);
    fetches.clock.advance(10 * QUIET_MS);
    expect(fetches.writes).toEqual([]);

    const jupyter = setup(false);
    jupyter.reruns.sent({ type: "add_box", seq: 1 });
    jupyter.reruns.acked(1);
    jupyter.clock.advance(10 * QUIET_MS);
    expect(jupyter.writes).toEqual([]);
  });

  it("asks nothing once disposed", () => {
    const { reruns, clock, writes } = setup();
    reruns.sent({ type: "track", seq: 1 });
    reruns.acked(1);
    reruns.dispose();
    clock.advance(10 * QUIET_MS);
    expect(writes).toEqual([]);
  });
});

describe("hostedByMarimo", () => {
  const inRoot = (root: object) => ({ getRootNode: () => root }) as unknown as Node;

  it("is true in the shadow root of a <marimo-anywidget>, false elsewhere", () => {
    expect(hostedByMarimo(inRoot({ host: { localName: "marimo-anywidget" } }))).toBe(true);
    expect(hostedByMarimo(inRoot({ host: { localName: "my-element" } }))).toBe(false);
    expect(hostedByMarimo(inRoot({ nodeName: "#document" }))).toBe(false);
  });
});
