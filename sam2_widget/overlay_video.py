"""An export: a clip written as a video file with its masks drawn over it (``Sam2VideoWidget.save_video``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .colors import hex_to_rgb


def write_overlay_video(
    path: str | os.PathLike,
    frames,
    masks,
    colors: Mapping[int, str],
    opacity: float,
    outline: bool,
    fps: float,
    codec: str = "libx264",
) -> Path:
    """Encode ``frames`` (iterable of (H, W, 3) uint8) with ``masks`` (iterable of ``{obj_id: (H, W) bool}``)
    drawn over them: fill at ``opacity``, a 2-pixel outline, the id at the mask's top-left. Streams."""
    from fractions import Fraction

    import av
    from PIL import Image, ImageDraw
    from scipy import ndimage

    path = Path(path)
    rgb = {o: np.array(hex_to_rgb(c)) * 255 for o, c in colors.items()}
    with av.open(str(path), "w") as container:
        stream = None
        for pixels, frame_masks in zip(frames, masks):
            h, w = pixels.shape[:2]
            if stream is None:
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
                stream.width, stream.height = w + w % 2, h + h % 2  # yuv420p needs even sizes
                stream.pix_fmt = "yuv420p"
            out = pixels.astype(np.float32)
            labels = []
            for obj_id, m in frame_masks.items():
                if obj_id not in rgb or not m.any():
                    continue
                out[m] = out[m] * (1 - opacity) + rgb[obj_id] * opacity
                if outline:
                    edge = m & ~ndimage.binary_erosion(m, iterations=2)
                    out[edge] = rgb[obj_id]
                ys, xs = np.nonzero(m)
                labels.append((int(xs.min()), int(ys.min()), str(obj_id), tuple(int(v) for v in rgb[obj_id])))
            image = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
            if labels:
                draw = ImageDraw.Draw(image)
                for x, y, text, color in labels:
                    draw.text((x + 2, y + 1), text, fill=(255, 255, 255), stroke_width=1, stroke_fill=color)
            if image.size != (stream.width, stream.height):
                padded = Image.new("RGB", (stream.width, stream.height))
                padded.paste(image)
                image = padded
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        if stream is None:
            raise ValueError("no frames to write.")
        for packet in stream.encode():
            container.mux(packet)
    return path
