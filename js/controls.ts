// Which controls the widget shows: only those whose message the kernel handles. Each widget
// class lists the `type`s of the messages it handles in its `_supported_messages` trait; a
// kernel older than that trait sends none, and then the controls shown are those shown before
// it (everything, but merging only for image sets).

import type { Message } from "./messages";

export type MessageType = Message["type"];

/** The message each button of the toolbar, the timeline, the object list and the review bar sends, by its `data-action`. */
export const CONTROL_MESSAGES: Readonly<Record<string, MessageType>> = {
  undo: "undo",
  redo: "redo",
  new_object: "add_object",
  clear_object: "clear_object",
  clear_image: "clear_image",
  segment_everything: "segment_everything",
  prev_image: "goto",
  next_image: "goto",
  // the timeline (clips)
  prev: "goto",
  next: "goto",
  play: "fetch_frames",
  track_forward: "track",
  track_backward: "track",
  track_both: "track",
  cancel: "cancel",
  memory: "set_memory",
  // a row of the object list
  toggle_visible: "set_visible",
  delete: "delete_object",
  merge: "merge_objects",
  rename: "rename_object",
  // the review bar and thumbnail strip (image sets; the note field, filter and strip by these names too)
  mark_unreviewed: "mark",
  mark_reviewed: "mark",
  mark_flagged: "mark",
  next_unreviewed: "next",
  next_flagged: "next",
  note: "set_note",
  filter: "set_filter",
  thumbnails: "fetch_thumbnails",
};

/**
 * Whether to show the control `action`: always for one that sends nothing (help, reset
 * view); otherwise when `supported` (the `_supported_messages` trait) has its message type,
 * or, where the trait is missing or empty, as before the trait.
 */
export function showsControl(
  action: string,
  supported: readonly string[] | null | undefined,
  isVideo: boolean,
): boolean {
  const type = CONTROL_MESSAGES[action];
  if (type === undefined) return true;
  if (supported === null || supported === undefined || supported.length === 0) {
    return !(isVideo && type === "merge_objects");
  }
  return supported.includes(type);
}
