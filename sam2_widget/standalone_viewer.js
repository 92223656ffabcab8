// The viewer of a page written by Sam2Widget.save_html (standalone_html.py): view only, no
// kernel, nothing fetched. It draws an image or frame and its masks as the widget does
// (js/rle.ts): the first listed object on top, its fill at the opacity, its outline (pixels
// that differ from a 4-neighbour, the image's border counting as background) opaque.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("sam2-data").textContent);
  const $ = (id) => document.getElementById(id);
  const canvas = $("view");
  const ctx = canvas.getContext("2d");
  const slider = $("index");
  const opacity = $("opacity");
  const outline = $("outline");
  const visible = new Map(data.objects.map((o) => [o.id, o.visible]));
  const rgb = new Map(data.objects.map((o) => [o.id, [1, 3, 5].map((k) => parseInt(o.color.slice(k, k + 2), 16))]));
  const images = new Map(); // item position -> decoded image (a few kept)
  let current = 0;
  let drawing = 0; // a counter: a slow decode must not draw over a newer choice

  $("title").textContent = data.title;
  document.title = data.title;
  slider.max = String(data.items.length - 1);
  opacity.value = String(data.opacity);
  outline.checked = data.outline;
  if (data.step > 1) $("note").textContent = `every ${data.step}th ${data.kind === "frames" ? "frame" : "image"}`;
  if (data.items.length < 2) for (const id of ["prev", "index", "next"]) $(id).hidden = true;

  /** LEB128 varints (base64) -> run lengths, background first. */
  function runsOf(text) {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const runs = [];
    let value = 0;
    let shift = 0;
    for (const b of bytes) {
      value += (b & 0x7f) * 2 ** shift;
      if (b & 0x80) shift += 7;
      else {
        runs.push(value);
        value = 0;
        shift = 0;
      }
    }
    return runs;
  }

  function image(position) {
    let promise = images.get(position);
    if (promise === undefined) {
      const img = new Image();
      img.src = "data:image/jpeg;base64," + data.items[position].jpeg;
      promise = img.decode().then(() => img);
      images.set(position, promise);
      if (images.size > 8) images.delete(images.keys().next().value);
    }
    return promise;
  }

  /** The visible objects' label map, the first listed painted last so that it wins. */
  function labelMap(item) {
    const labels = new Int32Array(item.width * item.height);
    for (const o of [...data.objects].reverse()) {
      const text = item.masks[String(o.id)];
      if (!visible.get(o.id) || text === undefined) continue;
      let at = 0;
      let inside = false;
      for (const n of runsOf(text)) {
        if (inside) labels.fill(o.id, at, at + n);
        at += n;
        inside = !inside;
      }
    }
    return labels;
  }

  function overlay(item) {
    const { width: w, height: h } = item;
    const labels = labelMap(item);
    const pixels = new ImageData(w, h);
    const px = pixels.data;
    const fill = Math.round(255 * Number(opacity.value));
    const outlined = outline.checked;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const v = labels[i];
        if (v === 0) continue;
        const edge =
          outlined &&
          (x === 0 || x === w - 1 || y === 0 || y === h - 1 ||
            labels[i - 1] !== v || labels[i + 1] !== v || labels[i - w] !== v || labels[i + w] !== v);
        const c = rgb.get(v);
        px[4 * i] = c[0];
        px[4 * i + 1] = c[1];
        px[4 * i + 2] = c[2];
        px[4 * i + 3] = edge ? 255 : fill;
      }
    }
    const layer = document.createElement("canvas");
    layer.width = w;
    layer.height = h;
    layer.getContext("2d").putImageData(pixels, 0, 0);
    return layer;
  }

  async function draw() {
    const ticket = ++drawing;
    const item = data.items[current];
    const img = await image(current);
    if (ticket !== drawing) return;
    canvas.width = item.width;
    canvas.height = item.height;
    ctx.drawImage(img, 0, 0, item.width, item.height);
    ctx.drawImage(overlay(item), 0, 0);
    const unit = data.kind === "frames" ? "frame" : "image";
    $("where").textContent = `${item.name} (${unit} ${item.index + 1} of ${data.count})`;
    canvas.dataset.index = String(item.index);
    canvas.dataset.drawn = String(ticket);
  }

  function show(position) {
    current = Math.max(0, Math.min(data.items.length - 1, position));
    slider.value = String(current);
    draw();
  }

  for (const o of data.objects) {
    const li = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = o.visible;
    box.dataset.id = String(o.id);
    box.addEventListener("change", () => {
      visible.set(o.id, box.checked);
      draw();
    });
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = o.color;
    const label = document.createElement("label");
    label.append(box, swatch, o.name);
    li.append(label);
    $("objects").append(li);
  }
  slider.addEventListener("input", () => show(Number(slider.value)));
  $("prev").addEventListener("click", () => show(current - 1));
  $("next").addEventListener("click", () => show(current + 1));
  opacity.addEventListener("input", draw);
  outline.addEventListener("change", draw);
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type === "range") return; // the slider steps itself
    if (e.key === "ArrowLeft") show(current - 1);
    if (e.key === "ArrowRight") show(current + 1);
  });
  show(0);
})();
