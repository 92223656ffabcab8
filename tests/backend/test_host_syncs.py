"""Host <-> device copies per tracked frame, counted where a CPU can count them.

On a GPU every copy between host and device costs a round trip, and a blocking one (or a
``.item()``/``float()``/``bool()`` of a device tensor) stops the CPU from queueing work ahead.
The tracker sends them all through ``sam2_backend.transfer``: here those calls are counted per
frame, and every other way of crossing (``.cpu()``, ``.item()``, ``float()``, ``tolist()``,
``new_tensor``, ``torch.tensor(device=...)``, ``.to(<device>)``) is refused anywhere else in a
tracking step. Before this was built, the same step crossed 2 + 3N times per frame (N objects),
2 + 7N once memories started spilling to disk, 3N more with hole filling.
"""

from __future__ import annotations

import collections
import sys
import traceback

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from sam2_backend import transfer
from sam2_backend.video import memory_bank
from sam2_backend.video.tracker import VideoTracker
from tests.models import tiny_model

RAM_FRAMES = 32  # the smallest working set: from frame 33 on, each object spills one state per frame
FRAMES = 36
CHECKED = {1, 2, RAM_FRAMES + 1, FRAMES - 1}

T = torch.Tensor
_CROSSING = {T.cpu, T.item, T.tolist, T.__float__, T.__int__, T.__bool__, T.new_tensor, T.cuda, T.pin_memory}


def _names_device(args, kwargs) -> bool:
    return any(isinstance(v, (torch.device, str)) for v in (*args[1:], *kwargs.values()))


class Crossings(TorchFunctionMode):
    """Records every call that copies between host and device (or would, off the CPU) made
    outside ``sam2_backend/transfer.py``, except on tensors that ``transfer.to_host`` returned."""

    def __init__(self, host_tensors: set[int]) -> None:
        super().__init__()
        self.host = host_tensors
        self.stray: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        crossing = (
            func in _CROSSING
            or (func is T.to and _names_device(args, kwargs))
            or (func is torch.tensor and "device" in kwargs)
        )
        if crossing and not (args and id(args[0]) in self.host) and not _inside_transfer():
            where = traceback.extract_stack(limit=4)[0]
            self.stray.append(f"{getattr(func, '__name__', func)} at {where.filename}:{where.lineno}")
        return func(*args, **kwargs)


def _inside_transfer() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith("sam2_backend/transfer.py"):
            return True
        frame = frame.f_back
    return False


class ScalarReads(TorchDispatchMode):
    """Counts ``aten._local_scalar_dense``: ``.item()``, ``float()``, ``bool()`` of a tensor, a sync on a GPU."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture(scope="module")
def model():
    return tiny_model(128)


def _clip() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((FRAMES, 96, 128, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize(("objects", "fill_hole_area"), [(1, 0), (3, 0), (3, 8)])
def test_one_host_copy_per_frame_and_one_per_spilled_state(model, monkeypatch, objects, fill_hole_area):
    calls = collections.Counter()
    host: set[int] = set()
    keep = []  # the ids in ``host`` stay valid while their tensors live
    to_host, to_device = transfer.to_host, transfer.to_device

    def counting_to_host(*tensors):
        calls["to_host"] += 1
        out = to_host(*tensors)
        keep.extend(out)
        host.update(id(t) for t in out)
        return out

    def counting_to_device(x, device):
        calls["to_device"] += 1
        return to_device(x, device)

    # Tables made once per device and grid (RoPE, positions, ImageNet statistics) are made here.
    with VideoTracker(model, _clip()[:2]) as warm_up:
        warm_up.add_box(0, 1, [8, 8, 48, 70])
        list(warm_up.propagate())
    monkeypatch.setattr(transfer, "to_host", counting_to_host)
    monkeypatch.setattr(transfer, "to_device", counting_to_device)
    trk = VideoTracker(model, _clip(), memory_frames_in_ram=RAM_FRAMES, fill_hole_area=fill_hole_area)
    for k in range(objects):
        trk.add_box(0, k + 1, [8 + 24 * k, 8, 48 + 24 * k, 70])
    scalar_reads, crossings = ScalarReads(), Crossings(host)
    track_frame = trk._track_frame

    def checked_track_frame(frame, *args):
        if frame not in CHECKED:  # the modes are slow: a few frames before and after spilling starts
            return track_frame(frame, *args)
        with scalar_reads, crossings:
            return track_frame(frame, *args)

    trk._track_frame = checked_track_frame
    per_frame = {}
    before = calls.copy()
    for frame, _ in trk.propagate():
        per_frame[frame] = calls - before
        before = calls.copy()
    trk.close()

    assert not crossings.stray, crossings.stray
    assert scalar_reads.count == 0
    assert sorted(per_frame) == list(range(FRAMES))
    for frame in range(1, FRAMES):
        spilling = frame > RAM_FRAMES  # frame 0 is a prompt (cond) frame, never spilled
        # masks + scores; every object's holes at once (the results come back without blocking);
        # each spilled state
        expected = 1 + (fill_hole_area > 0) + (objects if spilling else 0)
        assert per_frame[frame]["to_host"] == expected, (frame, per_frame)
        holes = 2 if fill_hole_area else 0  # the hole labels and areas
        assert per_frame[frame]["to_device"] - holes <= 1, (frame, per_frame[frame])  # the frame itself...
    assert per_frame[FRAMES - 1]["to_device"] - holes == 1  # ...is sent once


def test_overwriting_or_removing_a_spilled_memory_does_not_read_it(tmp_path, monkeypatch):
    loads = []
    load_state = memory_bank._load_state
    monkeypatch.setattr(memory_bank, "_load_state", lambda *a: loads.append(a[0]) or load_state(*a))
    states = memory_bank.SpillDict(tmp_path, capacity=2, device=torch.device("cpu"))

    def state(value):
        return memory_bank.FrameState(torch.full((1, 1, 4, 4), value), torch.zeros(1, 8), torch.ones(1, 1))

    for frame in range(5):
        states[frame] = state(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.npz", "1.npz", "2.npz"]
    states[0] = state(10.0)  # re-tracked: the old memory is replaced unread
    states.remove(1)  # forgotten around a new prompt
    assert not loads
    assert 1 not in states and len(states) == 4
    assert not (tmp_path / "1.npz").exists()
    assert states.get(0).low_res[0, 0, 0, 0] == 10.0
    assert states.get(2).low_res[0, 0, 0, 0] == 2.0 and len(loads) == 1  # a read still loads


def test_one_copy_packs_and_unpacks_any_tensors():
    # What to_host does off the CPU, around its one copy: checked here on the CPU, and the packing
    # on the meta device (where mixing devices raises, as on a GPU).
    gen = torch.Generator().manual_seed(0)
    tensors = (
        torch.rand(3, 5, 7, generator=gen) > 0.5,  # masks: 105 bytes, then padding
        torch.randn(3, generator=gen),  # scores
        torch.randn(1, 16, 4, 4, generator=gen).to(torch.bfloat16),  # a memory
        torch.randn(1, 1, 6, 6, generator=gen)[..., ::2],  # not contiguous
        torch.tensor(2.5),  # 0-dim
        torch.zeros(0, 4),  # empty
        torch.arange(3),  # int64
    )
    packed, spans = transfer.pack(tensors)
    assert packed.dtype == torch.uint8 and all(start % 8 == 0 for start, _ in spans)
    for got, want in zip(transfer.unpack(packed, tensors, spans), tensors):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert torch.equal(got, want)
    on_meta, _ = transfer.pack(tuple(t.to("meta") for t in tensors))
    assert on_meta.device.type == "meta" and on_meta.shape == packed.shape


def test_on_the_cpu_nothing_is_copied():
    x = torch.randn(4)
    assert transfer.to_device(x, torch.device("cpu")) is x
    (y,) = transfer.to_host(x)
    assert y.data_ptr() == x.data_ptr()
