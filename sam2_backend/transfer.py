"""Every copy between the host and the model's device in the tracking loop goes through here.

Off the CPU each copy costs a round trip, and a blocking one stops the CPU from queueing
work ahead of the GPU. So: host -> device copies come from pinned memory without blocking
(:func:`to_device`), and device -> host copies are gathered into one (:func:`to_host`),
once per frame. With the model on the CPU nothing is copied. Keeping them in one place also
lets the tests count them (tests/backend/test_host_syncs.py).
"""

from __future__ import annotations

import torch


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x`` on ``device``: itself when it is there; to CUDA from pinned memory, without blocking.

    A non-blocking copy is safe here: the pinned block is not reused before the copy is done
    (torch's pinned-memory allocator records the stream), and later work on the device is
    queued after it.
    """
    if x.device == device:
        return x
    if device.type == "cuda" and x.device.type == "cpu":
        return (x if x.is_pinned() else x.pin_memory()).to(device, non_blocking=True)
    return x.to(device)


def to_host(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """The tensors on the CPU, in one device -> host copy (one sync) however many there are.

    Off the CPU their bytes are packed into one buffer on the device, copied once and split
    again on the host; on the CPU they come back as they are (no copy).
    """
    if all(t.device.type == "cpu" for t in tensors):
        return [t.detach() for t in tensors]
    if len(tensors) == 1:
        return [tensors[0].detach().cpu()]
    packed, spans = pack(tensors)
    return unpack(packed.cpu(), tensors, spans)


def pack(tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """The bytes of ``tensors`` in one uint8 buffer on their device, each part 8-byte aligned
    (so it can be viewed as its dtype again), and each part's (start, size) in bytes."""
    parts, spans = [], []
    offset = 0
    for t in tensors:
        raw = t.detach().contiguous().reshape(-1).view(torch.uint8)
        parts.append(raw)
        pad = -raw.numel() % 8
        if pad:
            parts.append(raw.new_zeros(pad))
        spans.append((offset, raw.numel()))
        offset += raw.numel() + pad
    return torch.cat(parts), spans


def unpack(packed: torch.Tensor, like: tuple[torch.Tensor, ...], spans: list[tuple[int, int]]) -> list[torch.Tensor]:
    """The tensors of :func:`pack` back from its buffer: views with ``like``'s dtypes and shapes."""
    return [packed[start : start + size].view(t.dtype).reshape(t.shape) for t, (start, size) in zip(like, spans)]
