"""Session files: one ``.npz`` holding the objects, prompts and masks of an image set or a clip.

Both kinds share a layout (read with ``np.load(path, allow_pickle=False)``, so loading never
unpickles):

* ``meta``: UTF-8 JSON as a uint8 array. Its ``format`` marker says which kind the file is
  (:data:`IMAGE_FORMAT` or :data:`VIDEO_FORMAT`), with a ``version``, the model, the objects and
  the selection;
* ``runs``: every mask's row-major run lengths (``sam2_backend.rle.encode_mask``),
  concatenated (compact, and exact); ``meta`` says where each mask lies in it.

An image set's ``meta`` also names its images (a file path, or the name of an array
``image_<i>`` in this file for an in-memory image) and holds per image its prompts, seed masks
and masks. A clip's ``meta`` (:meth:`VideoSession.to_meta`) names the clip's path (None for an
in-memory clip, which must be passed again), the shown frame, the prompts and mask prompts per
frame and every tracked mask.

Only the current state is stored, not the undo history. :func:`read_session_file` reads either
kind, and a file from any earlier version of this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sam2_backend.orphans import owned_prefix, remove_orphans

from .images import ImageSet
from .objects import ObjectInfo, ObjectList
from .prompts import prompt_from_dict
from .session import ImageState, MaskEntry, Session, SessionState
from .video_session import VideoSession

IMAGE_FORMAT = "sam2_widget.session"
VIDEO_FORMAT = "sam2_widget.video_session"
VERSIONS = {IMAGE_FORMAT: 1, VIDEO_FORMAT: 1}  # the newest each reads and writes

# What a damaged or foreign file raises while it is read: a truncated zip, a bad CRC or
# deflate stream, a field of the wrong JSON type or a missing array.
_DAMAGE = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
)


@dataclass
class SavedSession:
    """An image set's session as :func:`read_session_file` gives it back; ``source`` is what the
    widget reopens."""

    model: str
    source: list[Any]  # Path or numpy array per image; None for an item of a lazy sequence
    objects: list[ObjectInfo]
    next_id: int
    state: SessionState
    image_index: int
    extra: dict = field(default_factory=dict)  # what the widget added (e.g. "dataset": the review)


@dataclass
class SavedVideoSession:
    """A clip's session as :func:`read_session_file` gives it back, for ``VideoSession.restore``."""

    model: str
    source: str | None  # the clip's path, None for an in-memory clip
    frame: int
    meta: dict
    runs: np.ndarray


def write_session(
    path: str | os.PathLike, session: Session, model: str, image_index: int, extra: dict | None = None
) -> Path:
    """Write ``session`` to ``path`` (one ``.npz``); ``model`` is how to load the model again;
    ``extra``: more JSON entries of the meta (read back as ``SavedSession.extra``)."""
    with session.lock:
        state, objects, next_id = session.state, session.objects(), session.next_id
    runs: list[np.ndarray] = []
    offset = 0

    def place(entry: MaskEntry) -> dict:
        nonlocal offset
        runs.append(entry.runs)
        offset += len(entry.runs)
        return {"offset": offset - len(entry.runs), "length": len(entry.runs), "score": entry.score}

    arrays: dict[str, np.ndarray] = {}
    images, per_image = [], []
    for i, img in enumerate(state.images):
        source = session.images.path(i)
        if source is not None:
            images.append({"name": session.images.name(i), "path": str(source)})
        elif isinstance(session.images, ImageSet):
            arrays[f"image_{i}"] = session.images.array(i)
            images.append({"name": session.images.name(i), "array": f"image_{i}"})
        else:  # an item of a lazy sequence (a data set): the caller passes the images again
            images.append({"name": session.images.name(i), "lazy": True})
        prompted = dict.fromkeys(p.obj_id for p in img.prompts)
        per_image.append(
            {
                "prompts": [p.to_dict() for p in img.prompts],
                "seeds": [{"obj_id": o, **place(e)} for o, e in img.seeds.items()],
                # Masks of unprompted objects follow from the seeds; a stale mask (its
                # prediction failed) is kept as shown and predicted again after loading.
                "masks": [
                    {"obj_id": o, **place(img.masks[o]), "fresh": img.masks[o].key == img.key(o)}
                    for o in prompted
                    if o in img.masks
                ],
            }
        )
    meta = {
        "format": IMAGE_FORMAT,
        "version": VERSIONS[IMAGE_FORMAT],
        "model": model,
        "images": images,
        "objects": [o.to_dict() for o in objects],
        "object_ids": list(state.object_ids),
        "selected_id": state.selected_id,
        "next_id": next_id,
        "image_index": image_index,
        "per_image": per_image,
        "extra": extra or {},
    }
    arrays["meta"] = _json_array(meta)
    arrays["runs"] = np.concatenate(runs) if runs else np.zeros(0, dtype=np.uint32)
    return write_npz_atomic(path, arrays)


def write_video_session(
    path: str | os.PathLike, session: VideoSession, model: str, source: str | None, frame: int
) -> Path:
    """Write a clip's ``session`` to ``path``; ``source`` is the clip's path (None: in memory),
    ``frame`` the shown one."""
    meta, runs = session.to_meta()
    policy = session.tracker.memory_policy
    meta.update(
        {
            "format": VIDEO_FORMAT,
            "version": VERSIONS[VIDEO_FORMAT],
            "model": model,
            "source": source,
            "frame": frame,
            "memory": {"name": policy.name, "options": policy.options()},
        }
    )
    return write_npz_atomic(path, {"meta": _json_array(meta), "runs": runs})


def write_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez_compressed`` to ``path`` so that a crash at any moment leaves either the old
    file or the new one: write a temporary file in the same folder, fsync it, ``os.replace``.

    A failed write (a full disk, a vanished folder) raises ``OSError`` naming the file, and the
    previous file stays as it was. The temporary file's name holds the writer's process id, so
    the temporary files of a process that was killed mid-write are removed by the next write.
    """
    path = Path(path)
    remove_orphans(path.parent, f".{path.name}.", _TMP_SUFFIX)
    try:
        fd, tmp = tempfile.mkstemp(prefix=owned_prefix(f".{path.name}."), suffix=_TMP_SUFFIX, dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from e
    try:
        with os.fdopen(fd, "wb") as f:  # a file object keeps the name exactly as given (no added .npz)
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _write_error(path, e) from e
        raise
    return path


_TMP_SUFFIX = ".sam2w-tmp"


def _write_error(path: Path, error: OSError) -> OSError:
    kept = "the previous file is unchanged" if path.exists() else "nothing was written"
    return OSError(error.errno, f"could not write {path}: {error.strerror or error} ({kept})")


def read_session_file(path: str | os.PathLike) -> SavedSession | SavedVideoSession:
    """Read a file written by :func:`write_session` or :func:`write_video_session`; which one it is
    comes from its format marker. ``FileNotFoundError`` if there is no file, ``ValueError`` (naming
    the file and what is wrong) if it is not a session file this version reads."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Session file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError(f"its meta is a JSON {type(meta).__name__}, not an object")
            fmt = meta.get("format")
            if fmt not in VERSIONS:
                raise ValueError(f"its format marker is {fmt!r}, not one of {', '.join(VERSIONS)}")
            if meta["version"] > VERSIONS[fmt]:
                raise ValueError(f"version {meta['version']} is newer than this sam2_widget reads ({VERSIONS[fmt]})")
            return _image_session(meta, data) if fmt == IMAGE_FORMAT else _video_session(meta, data)
    except _DAMAGE as e:
        raise ValueError(f"{path} is not a readable sam2_widget session file ({type(e).__name__}: {e}).") from e


def model_reference(model: Any) -> str:
    """How a saved session names its model: the checkpoint file if known, else the config name."""
    return getattr(model, "checkpoint_path", None) or model.config.name


def _image_session(meta: dict, data: Any) -> SavedSession:
    runs = data["runs"]
    source = [_image_source(im, data) for im in meta["images"]]
    images = tuple(_image_state(d, runs) for d in meta["per_image"])
    objects = [ObjectInfo(**o) for o in meta["objects"]]
    state = SessionState(ObjectList(tuple(meta["object_ids"]), int(meta["selected_id"])), images)
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    return SavedSession(meta["model"], source, objects, int(meta["next_id"]), state, int(meta["image_index"]), extra)


def _image_source(entry: dict, data: Any) -> Any:
    """A saved image: its path, its array, or None for an item of a lazy sequence (passed again)."""
    if "path" in entry:
        return Path(entry["path"])
    return data[entry["array"]] if "array" in entry else None


def _video_session(meta: dict, data: Any) -> SavedVideoSession:
    return SavedVideoSession(meta["model"], meta["source"], int(meta["frame"]), meta, data["runs"])


def _json_array(meta: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)


def _image_state(d: dict, runs: np.ndarray) -> ImageState:
    def entry(e: dict, key: tuple | None) -> MaskEntry:
        part = runs[e["offset"] : e["offset"] + e["length"]]
        part.flags.writeable = False
        return MaskEntry(part, float(e["score"]), key)

    prompts = tuple(prompt_from_dict(p) for p in d["prompts"])
    seeds = {e["obj_id"]: entry(e, ((), True)) for e in d["seeds"]}
    img = ImageState(prompts, seeds)
    masks = {e["obj_id"]: entry(e, img.key(e["obj_id"]) if e["fresh"] else None) for e in d["masks"]}
    return ImageState(prompts, seeds, masks)


def _umask() -> int:
    """The process's umask (reading it means setting it; put it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
