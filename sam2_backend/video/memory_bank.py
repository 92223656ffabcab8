"""What the tracker remembers about each object, with a bounded RAM footprint.

Per object and tracked frame the model keeps a :class:`FrameState` (about
0.8 MiB at 1024: the bf16 spatial memory, low-res mask logits, the object
pointer and score; EdgeTAM's memory is 512 perceiver latents instead of the
64x64 map, about 0.3 MiB in all). Tracking only ever reads the states of the last
``num_maskmem``/``max_obj_ptrs`` frames in the direction of travel plus the
conditioning (prompted) frames, so :class:`SpillDict` keeps a small working
set in RAM and moves the rest to files in a temporary folder, from which it
comes back unchanged when a later correction or re-propagation needs it.
Results therefore stay identical to keeping everything in memory.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import transfer
from ..orphans import owned_prefix, remove_orphans


@dataclass
class FrameState:
    """One object on one frame.

    low_res: (1, 1, s, s) float32 mask logits (after hole filling).
    obj_ptr: (1, 256) object pointer.
    object_score: (1, 1) logit, > 0 when the object is visible.
    maskmem: bfloat16 spatial memory, (1, mem_dim, h, w), or EdgeTAM's perceiver
      latents (1, 512, mem_dim) (float32 holding bf16 values on a device without
      bfloat16); None until encoded.
    iou: (1, 1) predicted IoU of the mask kept, for ``TrackResults``; None where unknown.
    """

    low_res: torch.Tensor
    obj_ptr: torch.Tensor
    object_score: torch.Tensor
    maskmem: torch.Tensor | None = None
    iou: torch.Tensor | None = None


_FIELDS = ("low_res", "obj_ptr", "object_score", "maskmem", "iou")


def _save_state(state: FrameState, path: Path) -> None:
    # Raw arrays (bf16 viewed as int16): a few hundred microseconds per state, and one
    # device -> host copy for all its fields.
    names = [name for name in _FIELDS if getattr(state, name) is not None]
    arrays = {}
    for name, t in zip(names, transfer.to_host(*(getattr(state, name) for name in names))):
        arrays[name] = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()
        arrays[name + "_dtype"] = np.array(str(t.dtype))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _load_state(path: Path, device: torch.device) -> FrameState:
    with np.load(path) as data:
        values = {}
        for name in _FIELDS:
            if name not in data:
                values[name] = None
                continue
            t = torch.from_numpy(data[name])
            if str(data[name + "_dtype"]) == "torch.bfloat16":
                t = t.view(torch.bfloat16)
            values[name] = transfer.to_device(t, device)
    return FrameState(**values)


class SpillDict:
    """frame -> FrameState, holding at most ``capacity`` states in RAM.

    The least recently used states are written to ``folder`` when the limit is
    passed and read back on access. ``capacity=None`` keeps everything in RAM.
    """

    def __init__(self, folder: Path | None, capacity: int | None, device: torch.device) -> None:
        self._ram: OrderedDict[int, FrameState] = OrderedDict()
        self._disk: set[int] = set()
        self._folder = folder
        self._capacity = capacity
        self._device = device

    def _path(self, frame: int) -> Path:
        assert self._folder is not None
        return self._folder / f"{frame}.npz"

    def __contains__(self, frame: int) -> bool:
        return frame in self._ram or frame in self._disk

    def __len__(self) -> int:
        return len(self._ram) + len(self._disk)

    def keys(self) -> list[int]:
        return sorted(set(self._ram) | self._disk)

    def get(self, frame: int) -> FrameState | None:
        if frame in self._ram:
            self._ram.move_to_end(frame)
            return self._ram[frame]
        if frame in self._disk:
            state = _load_state(self._path(frame), self._device)
            self._disk.discard(frame)
            self._path(frame).unlink()
            self._put(frame, state)
            return state
        return None

    def __setitem__(self, frame: int, state: FrameState) -> None:
        self.remove(frame)
        self._put(frame, state)

    def _put(self, frame: int, state: FrameState) -> None:
        self._ram[frame] = state
        if self._capacity is None:
            return
        while len(self._ram) > self._capacity:
            old, old_state = self._ram.popitem(last=False)
            _save_state(old_state, self._path(old))
            self._disk.add(old)

    def remove(self, frame: int) -> None:
        """Forget ``frame``'s state if there is one; a spilled one is deleted unread."""
        if frame in self._disk:
            self._disk.discard(frame)
            self._path(frame).unlink()
        else:
            self._ram.pop(frame, None)

    def clear(self) -> None:
        for frame in list(self._disk):
            self._path(frame).unlink(missing_ok=True)
        self._disk.clear()
        self._ram.clear()

    def discard(self) -> None:
        """Forget everything and remove the spill folder (the object is gone)."""
        self.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def in_ram(self) -> int:
        return len(self._ram)


@dataclass
class ObjectMemory:
    """Everything tracked for one object.

    cond: prompted ("conditioning") frames; always in RAM, there are few.
    non_cond: frames tracked from memory (spilled beyond the working set).
    pending: prompts added since the last propagation, whose memory is not yet
      encoded; ``pending_is_cond`` tells where each goes.
    points / masks: the prompts per frame, in model-input pixels.
    tracked: frame -> whether it was last tracked in reverse.
    """

    non_cond: SpillDict
    cond: dict[int, FrameState] = field(default_factory=dict)
    pending: dict[int, FrameState] = field(default_factory=dict)
    pending_is_cond: dict[int, bool] = field(default_factory=dict)
    points: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    masks: dict[int, torch.Tensor] = field(default_factory=dict)
    tracked: dict[int, bool] = field(default_factory=dict)

    def state(self, frame: int, prefer_cond: bool | None = None) -> FrameState | None:
        """The newest output for ``frame``: a pending prompt first, then stored ones."""
        if frame in self.pending and (prefer_cond is None or self.pending_is_cond[frame] == prefer_cond):
            return self.pending[frame]
        if frame in self.cond:
            return self.cond[frame]
        return self.non_cond.get(frame)

    def prompt_frames(self) -> set[int]:
        return set(self.points) | set(self.masks)


SPILL_PREFIX = "sam2_memory_"


class MemoryStore:
    """Creates each object's memory and owns the spill folder.

    The folder is a new temporary one, made inside ``folder`` when given, so that
    trackers sharing a ``spill_dir`` never read or delete each other's files. It is removed
    on :meth:`close`, when the store is garbage collected, and at interpreter exit; the
    folders of processes killed before they could remove theirs go when the next store is
    made in the same place (``sam2_backend.orphans``: only ours, by the owner's pid in the name).
    """

    def __init__(self, device: torch.device, ram_frames: int | None, folder: str | None = None) -> None:
        self.device = device
        self.ram_frames = ram_frames
        self._root = None
        self._remove = None
        if ram_frames is not None:
            if folder is not None:
                Path(folder).mkdir(parents=True, exist_ok=True)
            remove_orphans(folder or tempfile.gettempdir(), SPILL_PREFIX)
            self._root = Path(tempfile.mkdtemp(prefix=owned_prefix(SPILL_PREFIX), dir=folder))
            self._remove = weakref.finalize(self, shutil.rmtree, self._root, ignore_errors=True)
        self._count = 0

    def new_object(self) -> ObjectMemory:
        folder = None
        if self._root is not None:
            folder = self._root / f"object_{self._count}"
            folder.mkdir(parents=True, exist_ok=True)
        self._count += 1
        return ObjectMemory(non_cond=SpillDict(folder, self.ram_frames, self.device))

    def close(self) -> None:
        if self._remove is not None:
            self._remove()  # runs once: close, garbage collection or exit, whichever comes first
            self._root = None


def select_cond_frames(
    frame: int, cond: dict[int, FrameState], limit: int
) -> tuple[dict[int, FrameState], dict[int, FrameState]]:
    """Split conditioning frames into those attended to and the rest.

    With ``limit`` -1 (the official default) all are used. Otherwise the closest
    before, the closest at-or-after, then the temporally nearest others.
    """
    if limit == -1 or len(cond) <= limit:
        return cond, {}
    if limit < 2:
        raise ValueError("max_cond_frames_in_attn must be -1 or at least 2")
    chosen: dict[int, FrameState] = {}
    before = max((t for t in cond if t < frame), default=None)
    after = min((t for t in cond if t >= frame), default=None)
    for t in (before, after):
        if t is not None:
            chosen[t] = cond[t]
    rest = sorted((t for t in cond if t not in chosen), key=lambda t: abs(t - frame))
    for t in rest[: limit - len(chosen)]:
        chosen[t] = cond[t]
    return chosen, {t: s for t, s in cond.items() if t not in chosen}
