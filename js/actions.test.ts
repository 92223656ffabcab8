import { describe, expect, it } from "vitest";
import { Actions, KEY_ZOOM, type ActionHost } from "./actions";
import { MessageBuilder, type Message } from "./messages";

const objects = [
  { id: 4, name: "a", color: "#ff0000", visible: true },
  { id: 9, name: "b", color: "#00ff00", visible: false },
];

function setup(selectedId = 4) {
  const sent: Omit<Message, "seq">[] = [];
  const calls: string[] = [];
  const host: ActionHost = {
    send(build) {
      const { seq: _seq, ...rest } = build();
      sent.push(rest);
    },
    objects: () => objects,
    selectedId: () => selectedId,
    step: (delta) => void calls.push(`step ${delta}`),
    zoom: (factor) => void calls.push(`zoom ${factor}`),
    resetView: () => void calls.push("reset view"),
    toggleOutline: () => void calls.push("outline"),
    toggleHelp: () => void calls.push("help"),
    escape: () => void calls.push("escape"),
    jump: (kind, step) => void calls.push(`jump ${kind} ${step}`),
  };
  return { actions: new Actions(host, new MessageBuilder()), sent, calls };
}

describe("Actions", () => {
  it("sends the message of each key", () => {
    const { actions, sent } = setup();
    actions.perform({ type: "undo" });
    actions.perform({ type: "redo" });
    actions.perform({ type: "new_object" });
    actions.perform({ type: "select", slot: 1 });
    actions.perform({ type: "select", slot: 5 }); // no such object: nothing
    actions.perform({ type: "clear_object" });
    expect(sent).toEqual([
      { type: "undo" },
      { type: "redo" },
      { type: "add_object" },
      { type: "select_object", id: 9 },
      { type: "clear_object" },
    ]);
  });

  it("clears an object only when one is selected", () => {
    const { actions, sent } = setup(0);
    actions.perform({ type: "clear_object" });
    actions.button("clear_object");
    expect(sent).toEqual([]);
  });

  it("changes the view, the outline and the help without sending", () => {
    const { actions, sent, calls } = setup();
    const keys = ["prev_image", "next_image", "zoom_in", "zoom_out", "reset_view", "toggle_outline", "help", "escape"];
    for (const type of keys) actions.perform({ type } as Parameters<Actions["perform"]>[0]);
    expect(sent).toEqual([]);
    const zooms = [`zoom ${KEY_ZOOM}`, `zoom ${1 / KEY_ZOOM}`];
    expect(calls).toEqual(["step -1", "step 1", ...zooms, "reset view", "outline", "help", "escape"]);
  });

  it("jumps to weak and appear / disappear frames without sending", () => {
    const { actions, sent, calls } = setup();
    actions.perform({ type: "jump", kind: "weak", step: 1 });
    actions.perform({ type: "jump", kind: "transition", step: -1 });
    expect(sent).toEqual([]);
    expect(calls).toEqual(["jump weak 1", "jump transition -1"]);
  });

  it("maps toolbar buttons to messages or to what their key does", () => {
    const { actions, sent, calls } = setup();
    actions.button("clear_image");
    actions.button("segment_everything");
    actions.button("new_object");
    actions.button("next_image");
    actions.button("help");
    actions.button("no_such_button");
    expect(sent).toEqual([{ type: "clear_image" }, { type: "segment_everything" }, { type: "add_object" }]);
    expect(calls).toEqual(["step 1", "help"]);
  });

  it("maps clicks on object rows: visibility, delete, merge into the selected, select", () => {
    const { actions, sent } = setup();
    actions.object(9, "toggle_visible");
    actions.object(4, "toggle_visible");
    actions.object(9, "delete");
    actions.object(9, "merge");
    actions.object(9, "rename"); // a click on the name selects
    actions.object(4, undefined); // already selected: nothing
    actions.object(77, "delete"); // unknown object: nothing
    expect(sent).toEqual([
      { type: "set_visible", id: 9, visible: true },
      { type: "set_visible", id: 4, visible: false },
      { type: "delete_object", id: 9 },
      { type: "merge_objects", ids: [4, 9] },
      { type: "select_object", id: 9 },
    ]);
  });
});
