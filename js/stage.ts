// The canvas stage: the view (fitted to the canvas until the user zooms or pans), the image
// (bitmap_loader.ts), the masks (masks.ts), and drawing them with the prompts (draw.ts) at
// most once per animation frame. Trait changes arrive one key at a time, all keys of one
// kernel update in one task: new labels and colours are decoded and coloured in a microtask
// after that task (while the next animation frame is awaited), and drawn in the frame.

import { BitmapLoader } from "./bitmap_loader";
import { drawScene, type Scene } from "./draw";
import { fitView, MAX_ZOOM, MIN_ZOOM, panBy, zoomAt, type Point, type View } from "./geometry";
import { MaskLayer, type Overlay } from "./masks";
import type { Layout } from "./panels";
import type { BinaryLike, ObjectInfo } from "./protocol";
import type { Trace } from "./trace";

export interface StageHost {
  /** The shown image's size in pixels (0 before there is one). */
  imageSize(): { width: number; height: number };
  /** What is drawn over the image and masks. */
  scene(): Omit<Scene, "width" | "height" | "image" | "overlay">;
  /** The kernel's `label_rle`, or undefined while the image shown is not the kernel's (a clip scrubbed ahead). */
  kernelLabels(): BinaryLike | null | undefined;
  /** How to colour the masks (the `objects`, `opacity` and `outline` traits). */
  maskStyle(): { objects: readonly ObjectInfo[]; opacity: number; outline: boolean };
  /** An error of the front end (an image or label map that does not decode); "" once one decodes. */
  error(message: string): void;
  /** A draw finished with image / frame `index` on the canvas. */
  drawn(index: number): void;
}

const decodeJpeg = (jpeg: Uint8Array): Promise<ImageBitmap> =>
  createImageBitmap(new Blob([jpeg.slice()], { type: "image/jpeg" }));

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class Stage {
  /** The image on the canvas and the decode that will replace it. */
  readonly loader: BitmapLoader<ImageBitmap>;
  private readonly masks = new MaskLayer();
  private readonly ctx: CanvasRenderingContext2D | null;
  private readonly resizeObserver: ResizeObserver;
  private current: View = { scale: 1, tx: 0, ty: 0 };
  private fitted = true;
  private cssW = 0;
  private cssH = 0;
  private dpr = 1;
  private labelsDirty = true;
  private coloursDirty = true;
  private frame = 0; // the requested animation frame, 0: none
  private prepareQueued = false;
  private disposed = false;

  constructor(
    private readonly ui: Pick<Layout, "stage" | "canvas">,
    private readonly host: StageHost,
    private readonly trace: Trace,
  ) {
    this.ctx = ui.canvas.getContext("2d");
    this.loader = new BitmapLoader(decodeJpeg, () => this.drawNow(), trace);
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(ui.stage);
  }

  /** The image -> screen transform. */
  get view(): View {
    return this.current;
  }

  /** A new image (or size): the stage takes its aspect ratio, and the view fits it. */
  imageChanged(): void {
    const { width, height } = this.host.imageSize();
    this.ui.stage.style.aspectRatio = width > 0 && height > 0 ? `${width} / ${height}` : "";
    this.resetView();
  }

  resetView(): void {
    this.current = this.fit();
    this.fitted = true;
    this.scheduleDraw();
  }

  /** Zoom by `factor` about screen point `at` (default: the centre), within MIN_ZOOM..MAX_ZOOM of the fit. */
  zoom(factor: number, at: Point = { x: this.cssW / 2, y: this.cssH / 2 }): void {
    const base = this.fit().scale;
    this.current = zoomAt(this.current, at, factor, base * MIN_ZOOM, base * MAX_ZOOM);
    this.fitted = false;
    this.scheduleDraw();
  }

  pan(dx: number, dy: number): void {
    this.current = panBy(this.current, dx, dy);
    this.fitted = false;
    this.scheduleDraw();
  }

  /** The kernel's labels changed: decode them once the update is applied, draw them in the next frame. */
  labelsChanged(): void {
    this.labelsDirty = true;
    this.prepareSoon();
    this.scheduleDraw();
  }

  /** The objects' colours, visibility, the opacity or the outline changed. */
  coloursChanged(): void {
    this.coloursDirty = true;
    this.prepareSoon();
    this.scheduleDraw();
  }

  /** The label map of the image now shown; a malformed one shows its error. */
  setLabels(labels: BinaryLike | null): void {
    const { width, height } = this.host.imageSize();
    try {
      if (this.masks.setLabels(labels, width, height)) this.coloursDirty = true;
      this.host.error("");
    } catch (e) {
      this.coloursDirty = true;
      this.host.error(message(e));
    }
  }

  scheduleDraw(): void {
    if (this.frame === 0 && !this.disposed) this.frame = requestAnimationFrame(() => this.draw());
  }

  /** Draw at once (a new image decoded: it is presented at the next frame either way). */
  drawNow(): void {
    if (this.disposed) return;
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    this.draw();
  }

  dispose(): void {
    this.disposed = true;
    this.resizeObserver.disconnect();
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    this.loader.dispose();
  }

  private fit(): View {
    const { width, height } = this.host.imageSize();
    return fitView(width, height, this.cssW, this.cssH);
  }

  private resize(): void {
    const { stage, canvas } = this.ui;
    this.cssW = stage.clientWidth;
    this.cssH = stage.clientHeight;
    this.dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(this.cssW * this.dpr));
    canvas.height = Math.max(1, Math.round(this.cssH * this.dpr));
    if (this.fitted) this.current = this.fit();
    this.scheduleDraw();
  }

  /** Decode and colour in a microtask: after the other keys of this update (its size, its objects) are set. */
  private prepareSoon(): void {
    if (this.prepareQueued || this.disposed) return;
    this.prepareQueued = true;
    queueMicrotask(() => {
      this.prepareQueued = false;
      if (this.disposed) return;
      this.prepare();
      this.overlay(); // painted now: the frame only draws it
    });
  }

  /** Decode labels and colour the masks where they changed. */
  private prepare(): void {
    if (this.labelsDirty) {
      this.labelsDirty = false;
      const labels = this.host.kernelLabels();
      if (labels !== undefined) this.setLabels(labels); // else keep the masks of the frame shown
    }
    if (this.coloursDirty) {
      this.coloursDirty = false;
      const { objects, opacity, outline } = this.host.maskStyle();
      try {
        this.masks.colour(objects, opacity, outline);
      } catch (e) {
        this.host.error(message(e)); // e.g. a colour not "#rrggbb"
      }
    }
  }

  /** The overlay for the current view, painted now if the masks or the view changed. */
  private overlay(): Overlay | null {
    const { current: v, dpr } = this;
    const at = { scale: dpr * v.scale, tx: dpr * v.tx, ty: dpr * v.ty };
    return this.masks.render(at, this.ui.canvas.width, this.ui.canvas.height);
  }

  private draw(): void {
    this.frame = 0;
    const index = this.loader.index;
    this.trace.mark("draw", index);
    this.prepare(); // what changed since the last update's microtask (a scrubbed frame's labels)
    this.trace.mark("coloured", index);
    if (this.ctx === null) return;
    const images = { image: this.loader.bitmap, overlay: this.overlay() };
    drawScene(this.ctx, this.current, { ...this.host.imageSize(), ...images, ...this.host.scene() }, this.dpr);
    this.trace.drawn(index);
    this.host.drawn(index);
  }
}
