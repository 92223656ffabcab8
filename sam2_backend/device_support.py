"""What a device can do, probed once, and the fallbacks where it cannot.

Two gaps matter on Apple GPUs (MPS) with some torch or macOS versions: bicubic and
antialiased bilinear ``interpolate`` have no MPS kernels before torch 2.6 / 2.7, and
bfloat16 tensors are refused on MPS before macOS 14. Rather than trust version numbers,
each is probed once per device: a tiny operation is tried and a refusal remembered.
Where a kernel is missing the resize runs on the CPU and the result is moved back (the
inputs are small: position embeddings, masks, or a frame); where bf16 is missing, memories
are stored as float32 holding exactly the bf16-rounded values, so the numbers are the same.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

# Devices with every kernel and dtype used here; checked before any probe (also keeps
# ``torch.compile`` from tracing into the cached probes).
_COMPLETE = ("cpu", "cuda", "meta")


@functools.cache
def _interpolate_works(device: torch.device, mode: str, antialias: bool) -> bool:
    try:
        F.interpolate(torch.zeros(1, 1, 4, 4, device=device), size=(2, 2), mode=mode, antialias=antialias)
    except (NotImplementedError, RuntimeError):
        return False
    return True


def interpolate_works(device: torch.device, mode: str, antialias: bool = False) -> bool:
    """Whether ``F.interpolate(mode=..., antialias=...)`` has a kernel on ``device``."""
    device = torch.device(device)
    return device.type in _COMPLETE or _interpolate_works(device, mode, antialias)


def interpolate(x: torch.Tensor, size: tuple[int, int], mode: str, antialias: bool = False) -> torch.Tensor:
    """``F.interpolate(x, size, mode, align_corners=False, antialias)``, on the CPU when ``x``'s
    device has no kernel for it (older torch on MPS), returned on ``x``'s device."""
    if interpolate_works(x.device, mode, antialias):
        return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=antialias)
    out = F.interpolate(x.cpu(), size=size, mode=mode, align_corners=False, antialias=antialias)
    return out.to(x.device)


@functools.cache
def _stores_bf16(device: torch.device) -> bool:
    try:
        torch.zeros(1, dtype=torch.bfloat16, device=device).float()
    except (TypeError, RuntimeError):
        return False
    return True


def stores_bf16(device: torch.device) -> bool:
    """Whether ``device`` holds bfloat16 tensors (MPS does only from macOS 14)."""
    device = torch.device(device)
    return device.type in _COMPLETE or _stores_bf16(device)


def round_to_bf16(x: torch.Tensor) -> torch.Tensor:
    """float32 ``x`` rounded to the nearest bfloat16 value (ties to even), kept as float32.

    Bit for bit what ``x.to(torch.bfloat16).float()`` gives for every number (NaN stays NaN:
    torch's own kernels disagree on its bits), with integer operations only, so it runs where
    bfloat16 tensors do not.
    """
    bits = x.float().contiguous().view(torch.int32)
    rounded = (bits + (0x7FFF + ((bits >> 16) & 1))) & -0x10000  # keep the top 16 bits, ties to even
    return torch.where(x.isnan(), float("nan"), rounded.view(torch.float32))


def store_as_bf16(x: torch.Tensor) -> torch.Tensor:
    """``x`` in bfloat16 storage, or in float32 rounded to bfloat16 where the device has no bf16."""
    if stores_bf16(x.device):
        return x.to(torch.bfloat16)
    return round_to_bf16(x)


def prepares_on_device(device: torch.device) -> bool:
    """Whether images are sent to ``device`` as uint8 and resized and normalised there.

    Off the CPU that sends 4x fewer bytes than float32 and frees the CPU; it needs the
    antialiased bilinear kernel (missing on MPS before torch 2.7, where the CPU prepares them).
    """
    device = torch.device(device)
    return device.type != "cpu" and interpolate_works(device, "bilinear", antialias=True)
