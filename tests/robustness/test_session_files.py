"""Damaged and foreign session files: each is refused with a ValueError that names the file and
what is wrong, and the widget that tried to load one keeps its state."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sam2_widget import Sam2Widget
from sam2_widget.session_file import read_session_file
from tests.images import synthetic_image


def _savez(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _npz(meta) -> bytes:
    """A session-like file whose meta is ``meta`` as JSON (or these raw bytes)."""
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return _savez(meta=np.frombuffer(raw, np.uint8), runs=np.zeros(0, np.uint32))


def _flip_byte_in_member(data: bytes, member: str) -> bytes:
    """Corrupt the compressed bytes of one member (its CRC no longer matches)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = bytearray(data)
    damaged[start + info.compress_size // 2] ^= 0xFF
    return bytes(damaged)


@pytest.fixture(scope="module")
def good_file(tmp_path_factory, model) -> bytes:
    path = tmp_path_factory.mktemp("session") / "good.npz"
    w = Sam2Widget(synthetic_image(48, 64), model=model)
    w.add_points([[20, 20]], [1])
    w.save_session(path)
    w.close()
    return path.read_bytes()


DAMAGES = {
    "empty file": lambda good: b"",
    "text file": lambda good: b"objects: 1\nmasks: none\n",
    "truncated to half": lambda good: good[: len(good) // 2],
    "zip directory cut off": lambda good: good[:-22],
    "bad CRC in meta": lambda good: _flip_byte_in_member(good, "meta.npy"),
    "meta is a JSON list": lambda good: _npz([1, 2, 3]),
    "meta is a JSON string": lambda good: _npz("sam2_widget.session"),
    "meta is not UTF-8": lambda good: _npz(b"\xff\xfe\x00junk"),
    "meta is not JSON": lambda good: _npz(b"{format: session"),
    "no meta array": lambda good: _savez(runs=np.zeros(3, np.uint32)),
    "a foreign npz": lambda good: _savez(weights=np.ones(4)),
    "version is a string": lambda good: _npz({"format": "sam2_widget.session", "version": "one"}),
    "image session without images": lambda good: _npz({"format": "sam2_widget.session", "version": 1}),
    "video session without frame": lambda good: _npz({"format": "sam2_widget.video_session", "version": 1}),
    "object ids of the wrong type": lambda good: _npz(
        {
            "format": "sam2_widget.session",
            "version": 1,
            "model": "tiny",
            "images": [],
            "per_image": [],
            "objects": [{"obj_id": "one"}],
            "object_ids": 5,
            "selected_id": None,
            "next_id": "x",
            "image_index": 0,
        }
    ),
    "pickled object array": lambda good: _savez(meta=np.array([{"format": 1}], dtype=object)),
    "a pickle, not a zip": lambda good: pickle.dumps({"format": "sam2_widget.session"}),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_session_file_is_refused_by_name_and_reason(tmp_path: Path, good_file: bytes, damage: str):
    path = tmp_path / "damaged.npz"
    path.write_bytes(DAMAGES[damage](good_file))
    with pytest.raises(ValueError) as error:
        read_session_file(path)
    message = str(error.value)
    assert str(path) in message and "not a readable sam2_widget session file" in message
    assert message.rstrip(".").endswith(")"), message  # the reason is given in brackets


def test_the_widget_keeps_its_state_after_a_damaged_load(tmp_path: Path, good_file: bytes, model):
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    good.write_bytes(good_file)
    bad.write_bytes(good_file[: len(good_file) // 3])
    w = Sam2Widget(synthetic_image(48, 64, seed=1), model=model)
    w.add_points([[30, 10]], [1])
    before = w.masks
    with pytest.raises(ValueError, match="bad.npz"):
        w.load_session(bad, model=model)
    assert w.masks.keys() == before.keys() and all(np.array_equal(w.masks[k], before[k]) for k in before)
    w.add_points([[10, 30]], [1])  # still works
    restored = Sam2Widget.load_session(good, model=model)
    assert restored.masks[1].any()
    restored.close()
    w.close()
