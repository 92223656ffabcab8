"""Temporary files of processes that died without removing them (a kernel killed mid-write).

Our temporary files and folders are named ``<prefix><pid>.<random><suffix>``: the process id of
their owner, then a dot, which names made by other programs (and ``tempfile``'s random
part) do not have there. :func:`remove_orphans` removes those whose owner is no longer running,
and only those: never a file of a live process, never a name without that marker.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
from pathlib import Path


def owned_prefix(prefix: str) -> str:
    """``prefix`` with this process's marker: pass it to ``tempfile.mkdtemp``/``mkstemp``."""
    return f"{prefix}{os.getpid()}."


def remove_orphans(folder: str | os.PathLike, prefix: str, suffix: str = "") -> list[Path]:
    """Remove ``<prefix><pid>.*<suffix>`` files and folders in ``folder`` whose process is gone;
    returns what was removed. Errors (a folder that cannot be listed or removed) are ignored:
    this is housekeeping, never a reason to fail."""
    removed = []
    with contextlib.suppress(OSError):
        for path in Path(folder).glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
            pid, dot, _ = path.name[len(prefix) :].partition(".")
            if not (dot and pid.isdigit()) or int(pid) == os.getpid() or process_alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on Windows: assumed, as there is no safe check without psutil)."""
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it runs
        return True
    return True
