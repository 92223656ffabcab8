"""Checks of the fields of front-end messages (docs/widget_protocol.md).

Each getter raises ``ValueError`` (missing field, non-finite number) or
``TypeError`` (wrong JSON type) with a message naming the message type and the
field; the widget turns these into an error ``ack``, whose text is ``describe_error``'s.
"""

from __future__ import annotations

import math
from typing import Any

# Every message type of the protocol. Each widget handles those in its ``_messages`` table (by a
# ``_msg_<type>`` method) and refuses the others as not supported for it.
TYPES = (
    "add_point",
    "add_box",
    "remove_prompt",
    "undo",
    "redo",
    "add_object",
    "select_object",
    "rename_object",
    "set_visible",
    "delete_object",
    "merge_objects",
    "clear_object",
    "clear_image",
    "goto",
    "segment_everything",
    "track",
    "cancel",
    "fetch_frames",
    "set_memory",
    "mark",
    "set_note",
    "next",
    "set_filter",
    "fetch_thumbnails",
)

MAX_THUMBNAILS = 64  # indices of one fetch_thumbnails message


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _get(msg: dict, name: str) -> Any:
    if name not in msg:
        raise ValueError(f"{msg.get('type')} message is missing the field {name!r}.")
    return msg[name]


def number(msg: dict, name: str) -> float:
    value = _get(msg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{msg['type']}: {name} must be a finite number, got {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{msg['type']}: {name} must be a finite number, got {value!r}.")
    return float(value)


def integer(msg: dict, name: str) -> int:
    value = _get(msg, name)
    if not is_int(value):
        raise TypeError(f"{msg['type']}: {name} must be an integer, got {value!r}.")
    return value


def boolean(msg: dict, name: str) -> bool:
    value = _get(msg, name)
    if not isinstance(value, bool):
        raise TypeError(f"{msg['type']}: {name} must be true or false, got {value!r}.")
    return value


def string(msg: dict, name: str) -> str:
    value = _get(msg, name)
    if not isinstance(value, str):
        raise TypeError(f"{msg['type']}: {name} must be a string, got {value!r}.")
    return value


def optional_string(msg: dict, name: str) -> str | None:
    """A string or null (a missing field is null too)."""
    value = msg.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{msg['type']}: {name} must be a string or null, got {value!r:.80}.")
    return value


def integer_list(msg: dict, name: str) -> list[int]:
    value = _get(msg, name)
    if not isinstance(value, list) or not all(is_int(v) for v in value):
        raise TypeError(f"{msg['type']}: {name} must be a list of integers, got {value!r:.80}.")
    return value


def describe_error(error: BaseException) -> str:
    """The message of an exception (a KeyError's without the quotes ``str`` adds)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__
