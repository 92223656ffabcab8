// Builders of the front end -> kernel messages of docs/widget_protocol.md.
// Each message carries `type` and `seq`, a counter of this front end; the
// kernel answers each with an `ack` of the same `seq`.

import type { ReviewStatus } from "./protocol";

export type Message =
  | { type: "add_point"; seq: number; x: number; y: number; label: 0 | 1 }
  | { type: "add_box"; seq: number; x0: number; y0: number; x1: number; y1: number }
  | { type: "remove_prompt"; seq: number; index: number }
  | { type: "undo"; seq: number }
  | { type: "redo"; seq: number }
  | { type: "add_object"; seq: number }
  | { type: "select_object"; seq: number; id: number }
  | { type: "rename_object"; seq: number; id: number; name: string }
  | { type: "set_visible"; seq: number; id: number; visible: boolean }
  | { type: "delete_object"; seq: number; id: number }
  | { type: "merge_objects"; seq: number; ids: number[] }
  | { type: "clear_object"; seq: number }
  | { type: "clear_image"; seq: number }
  | { type: "goto"; seq: number; index: number }
  | { type: "segment_everything"; seq: number }
  | { type: "track"; seq: number; direction: "forward" | "backward" | "both"; objects?: number[] }
  | { type: "cancel"; seq: number }
  | { type: "fetch_frames"; seq: number; indices: number[] }
  | { type: "set_memory"; seq: number; memory: MemoryPolicy }
  | { type: "mark"; seq: number; status: ReviewStatus }
  | { type: "set_note"; seq: number; note: string }
  | { type: "next"; seq: number; status: ReviewStatus | "any"; direction: 1 | -1 }
  | { type: "set_filter"; seq: number; status: ReviewStatus | null; category: string | null }
  | { type: "fetch_thumbnails"; seq: number; indices: number[] };

const STATUSES: readonly string[] = ["unreviewed", "reviewed", "flagged"];
export const MAX_NOTE = 2000; // characters of a note the kernel takes
export const MAX_THUMBNAILS = 64; // indices of one fetch_thumbnails

function finite(name: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`${name} must be a finite number, got ${v}`);
  return v;
}

function index(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
  return v;
}

function objectId(v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`id must be an integer >= 1, got ${v}`);
  return v;
}

/**
 * Builds messages with increasing `seq` numbers, validating every field
 * first: a rejected message throws and uses up no `seq`.
 */
/** The memory policies of the tracker (sam2_backend/video/memory_policies), "sam2" the official one. */
export const MEMORY_POLICIES = ["sam2", "quality", "samurai", "dam4sam"] as const;
export type MemoryPolicy = (typeof MEMORY_POLICIES)[number];

export class MessageBuilder {
  private seq = 0;

  private next(): number {
    this.seq += 1;
    return this.seq;
  }

  addPoint(x: number, y: number, label: 0 | 1): Message {
    if (label !== 0 && label !== 1) throw new RangeError(`label must be 0 or 1, got ${String(label)}`);
    const p = { x: finite("x", x), y: finite("y", y) };
    return { type: "add_point", seq: this.next(), ...p, label };
  }

  addBox(x0: number, y0: number, x1: number, y1: number): Message {
    const box = { x0: finite("x0", x0), y0: finite("y0", y0), x1: finite("x1", x1), y1: finite("y1", y1) };
    return { type: "add_box", seq: this.next(), ...box };
  }

  removePrompt(i: number): Message {
    const checked = index("index", i);
    return { type: "remove_prompt", seq: this.next(), index: checked };
  }

  undo(): Message {
    return { type: "undo", seq: this.next() };
  }

  redo(): Message {
    return { type: "redo", seq: this.next() };
  }

  addObject(): Message {
    return { type: "add_object", seq: this.next() };
  }

  selectObject(id: number): Message {
    const checked = objectId(id);
    return { type: "select_object", seq: this.next(), id: checked };
  }

  renameObject(id: number, name: string): Message {
    if (typeof name !== "string") throw new TypeError("name must be a string");
    const checked = objectId(id);
    return { type: "rename_object", seq: this.next(), id: checked, name };
  }

  setVisible(id: number, visible: boolean): Message {
    if (typeof visible !== "boolean") throw new TypeError("visible must be a boolean");
    const checked = objectId(id);
    return { type: "set_visible", seq: this.next(), id: checked, visible };
  }

  deleteObject(id: number): Message {
    const checked = objectId(id);
    return { type: "delete_object", seq: this.next(), id: checked };
  }

  /** Merge objects `ids` (at least 2, distinct) into the first, `ids[0]`. */
  mergeObjects(ids: readonly number[]): Message {
    if (!Array.isArray(ids)) throw new TypeError("ids must be an array of object ids");
    if (ids.length < 2) throw new RangeError(`merging needs at least 2 object ids, got ${ids.length}`);
    const checked = ids.map(objectId);
    if (new Set(checked).size !== checked.length) throw new RangeError(`ids must be distinct, got ${checked.join(", ")}`);
    return { type: "merge_objects", seq: this.next(), ids: checked };
  }

  clearObject(): Message {
    return { type: "clear_object", seq: this.next() };
  }

  clearImage(): Message {
    return { type: "clear_image", seq: this.next() };
  }

  goto(i: number): Message {
    const checked = index("index", i);
    return { type: "goto", seq: this.next(), index: checked };
  }

  segmentEverything(): Message {
    return { type: "segment_everything", seq: this.next() };
  }

  /** Track every object, or only those of `objects`. */
  track(direction: "forward" | "backward" | "both", objects?: readonly number[]): Message {
    if (direction !== "forward" && direction !== "backward" && direction !== "both") {
      throw new RangeError(`direction must be forward, backward or both, got ${String(direction)}`);
    }
    if (objects === undefined) return { type: "track", seq: this.next(), direction };
    if (objects.length === 0 || !objects.every((o) => Number.isSafeInteger(o) && o > 0)) {
      throw new RangeError(`objects must be object ids, got ${String(objects)}`);
    }
    return { type: "track", seq: this.next(), direction, objects: [...objects] };
  }

  cancel(): Message {
    return { type: "cancel", seq: this.next() };
  }

  /** Clips: the tracker's memory policy for the frames tracked next. */
  setMemory(memory: string): Message {
    if (!(MEMORY_POLICIES as readonly string[]).includes(memory)) {
      throw new RangeError(`memory must be one of ${MEMORY_POLICIES.join(", ")}, got ${String(memory)}`);
    }
    return { type: "set_memory", seq: this.next(), memory: memory as MemoryPolicy };
  }

  fetchFrames(indices: readonly number[]): Message {
    const checked = indices.map((i) => index("index", i));
    return { type: "fetch_frames", seq: this.next(), indices: checked };
  }

  /** Review: the shown image's status. */
  mark(status: ReviewStatus): Message {
    if (!STATUSES.includes(status)) throw new RangeError(`status must be one of ${STATUSES.join(", ")}, got ${String(status)}`);
    return { type: "mark", seq: this.next(), status };
  }

  setNote(note: string): Message {
    if (typeof note !== "string") throw new TypeError("note must be a string");
    if (note.length > MAX_NOTE) throw new RangeError(`a note has at most ${MAX_NOTE} characters, got ${note.length}`);
    return { type: "set_note", seq: this.next(), note };
  }

  /** Go to the next (1) or previous (-1) image of that status within the filter. */
  nextImage(status: ReviewStatus | "any", direction: 1 | -1): Message {
    if (status !== "any" && !STATUSES.includes(status)) throw new RangeError(`unknown status ${String(status)}`);
    if (direction !== 1 && direction !== -1) throw new RangeError(`direction must be 1 or -1, got ${String(direction)}`);
    return { type: "next", seq: this.next(), status, direction };
  }

  /** Show only images of `status` and / or with an object of `category` (null: any). */
  setFilter(status: ReviewStatus | null, category: string | null): Message {
    if (status !== null && !STATUSES.includes(status)) throw new RangeError(`unknown status ${String(status)}`);
    if (category !== null && typeof category !== "string") throw new TypeError("category must be a string or null");
    return { type: "set_filter", seq: this.next(), status, category };
  }

  fetchThumbnails(indices: readonly number[]): Message {
    if (indices.length === 0 || indices.length > MAX_THUMBNAILS) {
      throw new RangeError(`fetch 1 to ${MAX_THUMBNAILS} thumbnails at once, got ${indices.length}`);
    }
    const checked = indices.map((i) => index("index", i));
    return { type: "fetch_thumbnails", seq: this.next(), indices: checked };
  }
}
