"""The objects of a session, for images and clips alike: their ids, names, colours, visibility,
and which of them exist and is selected.

Two parts, because undo treats them differently:

* :class:`ObjectList`, the objects in display order and the selected one, is an immutable
  value that every undo step holds (undoing a deletion brings the object back in its place);
* :class:`ObjectRegistry` keeps the name, colour and visibility of every object ever made,
  which undo leaves alone (they are how you look at the work, not the work), and hands out
  ids, which are never reused, not even after an undo.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from .checks import check_flag, check_int, check_name
from .colors import color_for


@dataclass(frozen=True)
class ObjectInfo:
    """What the object list shows: id, name, ``#rrggbb`` colour, visibility."""

    id: int
    name: str
    color: str
    visible: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ObjectList:
    """The objects in display order and the one new prompts go to (0: none, the next click makes one)."""

    ids: tuple[int, ...] = ()
    selected_id: int = 0

    def check(self, obj_id: Any) -> int:
        """``obj_id`` as an int, if it is one of these objects (``KeyError`` if not)."""
        obj_id = check_int(obj_id, "object id")
        if obj_id not in self.ids:
            known = ", ".join(map(str, self.ids)) or "none yet"
            raise KeyError(f"unknown object id {obj_id} (objects: {known}); add one with add_object().")
        return obj_id

    def added(self, obj_id: int) -> ObjectList:
        """With ``obj_id`` appended and selected."""
        return ObjectList(self.ids + (obj_id,), obj_id)

    def removed(self, obj_ids: Iterable[int]) -> ObjectList:
        """Without ``obj_ids`` (no selection if the selected one goes)."""
        gone = set(obj_ids)
        return ObjectList(
            tuple(o for o in self.ids if o not in gone), 0 if self.selected_id in gone else self.selected_id
        )

    def selecting(self, obj_id: Any) -> ObjectList:
        """With ``obj_id`` (checked; 0 for none) selected."""
        obj_id = 0 if check_int(obj_id, "object id") == 0 else self.check(obj_id)
        return replace(self, selected_id=obj_id)


class ObjectRegistry:
    """Name, colour and visibility of every object ever made, and the next id to hand out.

    The methods that change an object take the session's current :class:`ObjectList` and check
    the object is in it, so both sessions share one set of rules for what may be renamed or hidden.
    """

    def __init__(self) -> None:
        self._info: dict[int, ObjectInfo] = {}  # objects undone or deleted too, so an undo can bring one back
        self._next_id = 1

    @property
    def next_id(self) -> int:
        return self._next_id

    def listed(self, objects: ObjectList) -> list[ObjectInfo]:
        """The info of ``objects``, in their display order."""
        return [self._info[o] for o in objects.ids]

    def known(self, obj_id: int) -> bool:
        """Whether ``obj_id`` was ever handed out (ids are never reused)."""
        return obj_id in self._info

    def info(self, obj_id: int) -> ObjectInfo:
        return self._info[obj_id]

    def add(self, objects: ObjectList, name: str | None = None, obj_id: int | None = None) -> tuple[ObjectList, int]:
        """A new object (named ``name``, default ``"object <id>"``) appended to ``objects`` and selected;
        its id is the next one, or ``obj_id`` if that was never handed out (later ids go on from it)."""
        name = None if name is None else check_name(name)
        if obj_id is None:
            obj_id = self._next_id
        self.register(obj_id, name)
        return objects.added(obj_id), obj_id

    def register(self, obj_id: int, name: str | None = None) -> None:
        """Record object ``obj_id`` (named ``name``, default ``"object <id>"``) without listing it;
        later ids go on above the highest given so far, whatever order they came in."""
        name = None if name is None else check_name(name)
        self._next_id = max(self._next_id, obj_id + 1)
        self._info[obj_id] = ObjectInfo(obj_id, name or f"object {obj_id}", color_for(obj_id))

    def reserve(self, max_id: int) -> None:
        """Keep ids up to ``max_id`` for objects recorded later (existing labels not read yet)."""
        self._next_id = max(self._next_id, max_id + 1)

    def target(self, objects: ObjectList, obj_id: Any = None) -> tuple[ObjectList, int]:
        """The object a prompt goes to: ``obj_id`` if given, else the selected one, else a new one.

        As in SAM 2's own predictors, an ``obj_id`` never used before makes that object (so
        ``add_points(..., obj_id=1)`` works on a fresh session); one that was deleted is refused,
        because ids are never reused (an undo may bring the old object back).
        """
        if obj_id is not None:
            obj_id = check_int(obj_id, "object id")
            if obj_id in objects.ids:
                return objects, obj_id
            if obj_id < 1:
                raise ValueError(f"object ids start at 1, got {obj_id} (pass None for the selected object).")
            if obj_id >= self._next_id:
                return self.add(objects, obj_id=obj_id)
            known = ", ".join(map(str, objects.ids)) or "none"
            raise KeyError(
                f"object id {obj_id} was used by an object that no longer exists (objects: {known}); ids are "
                f"not reused: pass a new id (>= {self._next_id}) or None, or undo the deletion."
            )
        if objects.selected_id:
            return objects, objects.selected_id
        return self.add(objects)

    def rename(self, objects: ObjectList, obj_id: Any, name: Any) -> None:
        name = check_name(name)
        obj_id = objects.check(obj_id)
        self._info[obj_id] = replace(self._info[obj_id], name=name)

    def set_visible(self, objects: ObjectList, obj_id: Any, visible: Any) -> None:
        visible = check_flag(visible, "visible")
        obj_id = objects.check(obj_id)
        self._info[obj_id] = replace(self._info[obj_id], visible=visible)

    def restore(self, objects: Sequence[ObjectInfo], next_id: int) -> None:
        """Replace everything with saved objects; ids go on from ``next_id``."""
        self._info = {o.id: o for o in objects}
        self._next_id = next_id
