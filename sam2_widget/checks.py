"""Input rules shared by the image and video sessions: what an index, a name and a flag must be.

Each check returns the value in the type the session stores, or raises with what was wrong
and what to pass instead (``TypeError`` for a wrong type, ``ValueError`` for a bad value).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch


def to_host(value: Any) -> Any:
    """What the Python API was given (a mask, points, labels, a box), with a tensor as a numpy
    array: through ``.detach().cpu()``, so a tensor on a GPU works (``np.asarray`` refuses one:
    "can't convert cuda:0 device type tensor to numpy"), and bf16 as float32 (numpy has none).
    Anything else is returned as it is, for the checks to judge and explain."""
    if not isinstance(value, torch.Tensor):
        return value
    value = value.detach().cpu()
    return (value.float() if value.dtype == torch.bfloat16 else value).numpy()


def check_int(value: Any, what: str) -> int:
    """An ``int`` (numpy integers too, but not ``bool``: ``True`` is no index)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, got {value!r}.")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}.") from None


def check_index(value: Any, count: int, item: str, whole: str) -> int:
    """An index into ``count`` items, e.g. ``check_index(i, n, "frame", "clip")``."""
    index = check_int(value, f"{item} index")
    if not 0 <= index < count:
        raise ValueError(f"{item} index {index} is out of range: the {whole} has {count} {item}s (0 to {count - 1}).")
    return index


MAX_NAME_LENGTH = 200  # a name is a label in a list, not a document (it is synced to the browser)


def check_name(name: Any) -> str:
    """An object name: a string with something besides blanks, of at most ``MAX_NAME_LENGTH``
    characters (stored stripped)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"an object name must be a non-empty string, got {name!r:.80}.")
    if len(name.strip()) > MAX_NAME_LENGTH:
        raise ValueError(f"an object name may have at most {MAX_NAME_LENGTH} characters, got {len(name.strip())}.")
    return name.strip()


def check_flag(value: Any, what: str) -> bool:
    """``True`` or ``False``; numpy's ``np.bool_`` (what comparing arrays gives) counts as one."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}.")
    return bool(value)
