"""What the GPU benchmark and the GPU tests count, with torch's own means only.

* Host-device synchronisations: ``torch.cuda.set_sync_debug_mode("warn")`` makes every
  synchronising call (a blocking copy either way, ``.item()``, ``.cpu()``, ``nonzero`` ...)
  emit one warning, "called a synchronizing CUDA operation"; :class:`SyncCounter` counts them.
* Peak device memory: ``torch.cuda.max_memory_allocated`` since the last reset.

Off CUDA neither exists: the counter still counts the warnings (so a CPU test can check the
counting) but reports that nothing was measured.
"""

from __future__ import annotations

import warnings

import torch

SYNC_WARNING = "called a synchronizing CUDA operation"


class SyncCounter:
    """``with SyncCounter(device) as syncs: ...``; then ``syncs.count`` (None where the device is not
    CUDA: torch can only count there)."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.measured = self.device.type == "cuda"
        self._records: list[warnings.WarningMessage] = []

    def __enter__(self) -> SyncCounter:
        self._catch = warnings.catch_warnings(record=True)
        self._records = self._catch.__enter__()
        warnings.simplefilter("always")  # every occurrence, not once per call site
        if self.measured:
            self._previous = torch.cuda.get_sync_debug_mode()
            torch.cuda.set_sync_debug_mode("warn")
        return self

    def __exit__(self, *exc) -> None:
        if self.measured:
            torch.cuda.set_sync_debug_mode(self._previous)
        self._catch.__exit__(*exc)

    @property
    def warned(self) -> int:
        """The synchronisation warnings recorded (whatever the device)."""
        return sum(SYNC_WARNING in str(w.message) for w in self._records)

    @property
    def count(self) -> int | None:
        return self.warned if self.measured else None


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mib(device: torch.device) -> float | None:
    """Peak memory allocated on ``device`` since :func:`reset_peak_memory` (None off CUDA)."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20
