"""Writing test clips with PyAV (shared by the source and tracker tests)."""

from __future__ import annotations

import av


def write_video(path, frames, codec, options=None, *, gop=8, container_options=None,
                pix_fmt="yuv420p", rotation=None):
    with av.open(str(path), "w", options=container_options or {}) as c:
        s = c.add_stream(codec, rate=24, options={"g": str(gop), **(options or {})})
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if rotation is not None:
            s.set_display_rotation(rotation)
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def has_encoder(name: str) -> bool:
    """Whether PyAV's bundled FFmpeg can encode with codec ``name``."""
    try:
        av.codec.Codec(name, "w")
        return True
    except ValueError:  # av's UnknownCodecError
        return False
