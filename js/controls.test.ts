import { describe, expect, it } from "vitest";
import { CONTROL_MESSAGES, showsControl } from "./controls";

const IMAGE_MESSAGES = [
  "add_point", "add_box", "remove_prompt", "undo", "redo", "add_object", "select_object", "rename_object",
  "set_visible", "delete_object", "merge_objects", "clear_object", "clear_image", "goto", "segment_everything",
];

describe("showsControl", () => {
  it("shows a control only when its message type is supported", () => {
    expect(showsControl("track_forward", IMAGE_MESSAGES, false)).toBe(false);
    expect(showsControl("cancel", IMAGE_MESSAGES, false)).toBe(false);
    expect(showsControl("merge", IMAGE_MESSAGES, false)).toBe(true);
    expect(showsControl("merge", ["track", "goto"], true)).toBe(false);
    expect(showsControl("segment_everything", ["segment_everything"], true)).toBe(true);
    expect(showsControl("undo", ["redo"], false)).toBe(false);
  });

  it("always shows controls that send nothing", () => {
    for (const action of ["help", "reset_view"]) {
      expect(CONTROL_MESSAGES[action]).toBeUndefined();
      expect(showsControl(action, ["goto"], false)).toBe(true);
    }
  });

  it("shows what it showed before the trait when a kernel sends none", () => {
    for (const supported of [undefined, null, []]) {
      for (const action of Object.keys(CONTROL_MESSAGES)) {
        expect(showsControl(action, supported, false)).toBe(true);
        expect(showsControl(action, supported, true)).toBe(action !== "merge"); // clips never merged
      }
    }
  });

});
