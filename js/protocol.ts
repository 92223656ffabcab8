// Types of the widget protocol, docs/widget_protocol.md: the synced traits
// (mirroring the traits of `sam2_widget/front_end.py`) and the kernel's replies.

/** One object as listed in the `objects` trait, in display order. */
export interface ObjectInfo {
  id: number;
  name: string;
  /** "#rrggbb" */
  color: string;
  visible: boolean;
}

/** A click on the shown image, in pixels of the original image. */
export interface PointPrompt {
  obj_id: number;
  type: "point";
  x: number;
  y: number;
  /** 1 positive, 0 negative */
  label: 0 | 1;
}

/** A box on the shown image, in pixels of the original image. */
export interface BoxPrompt {
  obj_id: number;
  type: "box";
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export type Prompt = PointPrompt | BoxPrompt;

export type Status = "idle" | "encoding" | "predicting" | "tracking" | "error";

/** Videos: frames where an object's mask is non-empty, as inclusive [first, last] ranges. */
export interface TrackedSpans {
  obj_id: number;
  ranges: [number, number][];
}

/**
 * Videos: the timeline's lanes (`lanes` trait): per object of `obj_ids` (object-major), one
 * byte per frame. confidence: 0 not tracked, 1 absent, 2..255 present with confidence
 * (v - 2) / 253; changes: 0 unchanged by the last re-track, else IoU (v - 1) / 254 to the old mask.
 */
export interface LaneTrait {
  obj_ids: number[];
  num_frames: number;
  confidence: BinaryLike | null;
  changes: BinaryLike | null;
}

/** Videos, while tracking: new lane bytes for the inclusive `runs` of frames; buffers [confidence, changes],
 * each holding for every run, for every object of `obj_ids`, the run's bytes. */
export interface LanesPatch {
  type: "lanes";
  obj_ids: number[];
  runs: [number, number][];
}

export function parseLanesPatch(msg: unknown): LanesPatch | null {
  if (typeof msg !== "object" || msg === null) return null;
  const m = msg as Record<string, unknown>;
  if (m.type !== "lanes" || !Array.isArray(m.obj_ids) || !Array.isArray(m.runs)) return null;
  const isRange = (r: unknown): boolean =>
    Array.isArray(r) && r.length === 2 && r.every((v) => Number.isSafeInteger(v)) && 0 <= r[0] && r[0] <= r[1];
  if (!m.obj_ids.every((v) => Number.isSafeInteger(v)) || !m.runs.every(isRange)) return null;
  return m as unknown as LanesPatch;
}

/** Videos: the state of tracking (`progress` trait). */
export interface Progress {
  running: boolean;
  direction: "" | "forward" | "backward" | "both";
  done: number;
  total: number;
  fps: number;
  eta_s: number | null;
  cancelled: boolean;
}

/**
 * The synced traits, mirroring `sam2_widget/front_end.py`. The front end only
 * writes `opacity` and `outline`. Bytes traits arrive as a `DataView` in
 * JupyterLab, but other hosts may hand a `Uint8Array` or an `ArrayBuffer`.
 */
export interface WidgetTraits {
  image_count: number;
  image_index: number;
  image_name: string;
  image_width: number;
  image_height: number;
  /** JPEG bytes, possibly downscaled: draw stretched to width x height. */
  image_jpeg: BinaryLike | null;
  /** Label map as little-endian uint32 (value, count) runs; empty: no masks. */
  label_rle: BinaryLike | null;
  objects: ObjectInfo[];
  selected_id: number;
  prompts: Prompt[];
  opacity: number;
  outline: boolean;
  status: Status;
  status_text: string;
  latency_ms: number;
  error: string;
  can_undo: boolean;
  can_redo: boolean;
  /** Videos: the source is a clip (show the timeline). */
  is_video: boolean;
  prompt_frames: number[];
  tracked: TrackedSpans[];
  lanes?: Partial<LaneTrait>;
  progress: Partial<Progress>;
  /** Videos: the tracker's memory policy and its options (`set_memory` changes it). */
  memory?: { name?: string; options?: Record<string, unknown> };
  /** The version of the latest `masks_changed` message. */
  masks_version: number;
  /** The `type`s of the messages this widget handles (controls.ts); missing or empty from older kernels. */
  _supported_messages?: string[];
  /** Image sets: the review state of the shown image and the set (review.ts); `{}` when review is off. */
  review?: Partial<ReviewTrait>;
  /** Image sets: bumped whenever an image's status, note or masks change (re-fetch the thumbnails shown). */
  thumbs_version?: number;
}

/** The kernel's answer to `fetch_frames`, one per frame; buffers [JPEG, label RLE] unless `error`. */
export interface FrameReply {
  type: "frame";
  index: number;
  width?: number;
  height?: number;
  masks_version?: number;
  error?: string;
}

export function parseFrameReply(msg: unknown): FrameReply | null {
  if (typeof msg !== "object" || msg === null) return null;
  const m = msg as Record<string, unknown>;
  if (m.type !== "frame" || typeof m.index !== "number") return null;
  return m as unknown as FrameReply;
}

/** Videos: the masks of `frames` (inclusive ranges; null: every frame) changed at `version`. */
export interface MasksChanged {
  type: "masks_changed";
  version: number;
  frames: [number, number][] | null;
}

export function parseMasksChanged(msg: unknown): MasksChanged | null {
  if (typeof msg !== "object" || msg === null) return null;
  const m = msg as Record<string, unknown>;
  if (m.type !== "masks_changed" || typeof m.version !== "number") return null;
  const isRange = (r: unknown): boolean =>
    Array.isArray(r) && r.length === 2 && r.every((v) => Number.isSafeInteger(v)) && r[0] <= r[1];
  if (m.frames !== null && !(Array.isArray(m.frames) && m.frames.every(isRange))) return null;
  return { type: "masks_changed", version: m.version, frames: m.frames as [number, number][] | null };
}

/** What a Bytes trait or message buffer may arrive as. */
export type BinaryLike = ArrayBuffer | ArrayBufferView;

/** The kernel's reply to every front-end message. */
export interface Ack {
  type: "ack";
  seq: number;
  ok: boolean;
  error?: string;
}

/** The `ack` in a custom message from the kernel, or null for anything else. */
export function parseAck(msg: unknown): Ack | null {
  if (typeof msg !== "object" || msg === null) return null;
  const m = msg as Record<string, unknown>;
  if (m.type !== "ack" || typeof m.seq !== "number" || typeof m.ok !== "boolean") return null;
  const ack: Ack = { type: "ack", seq: m.seq, ok: m.ok };
  if (typeof m.error === "string") ack.error = m.error;
  return ack;
}

/** An image's review status (image sets). */
export type ReviewStatus = "unreviewed" | "reviewed" | "flagged";

/** The `review` trait: the shown image's status and note, the set's counts and filter. */
export interface ReviewTrait {
  status: ReviewStatus;
  note: string;
  counts: Record<ReviewStatus, number>;
  filter: { status: ReviewStatus | null; category: string | null };
  /** Images passing the filter. */
  filtered: number;
  /** The shown image's 0-based position among them, -1 if it does not pass. */
  position: number;
  /** Category names known (the filter's choices). */
  categories: string[];
}

/** The kernel's answer to `fetch_thumbnails`, one per image; one buffer (JPEG, longest side 96 px) unless `error`. */
export interface ThumbnailReply {
  type: "thumbnail";
  index: number;
  name: string;
  status: ReviewStatus;
  masks: number;
  /** `thumbs_version` when it was drawn: older than the trait is stale. */
  version: number;
  error?: string;
}

export function parseThumbnailReply(msg: unknown): ThumbnailReply | null {
  if (typeof msg !== "object" || msg === null) return null;
  const m = msg as Record<string, unknown>;
  if (m.type !== "thumbnail" || !Number.isSafeInteger(m.index) || (m.index as number) < 0) return null;
  const status = m.status === "reviewed" || m.status === "flagged" ? m.status : "unreviewed";
  const reply: ThumbnailReply = {
    type: "thumbnail",
    index: m.index as number,
    name: typeof m.name === "string" ? m.name : "",
    status,
    masks: typeof m.masks === "number" ? m.masks : 0,
    version: typeof m.version === "number" ? m.version : 0,
  };
  if (typeof m.error === "string") reply.error = m.error;
  return reply;
}
