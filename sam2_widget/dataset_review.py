"""A data set under review in an image widget: its existing labels as session objects, each
image's review status, the filter, and what goes back out (``coco_export``, ``label_changes``).

Labels are read per image on its first visit (:meth:`DatasetReview.seed`), so a set of
10,000 labelled images opens without decoding a mask; an image never visited is unchanged
and exports as read. Widget object ids: a COCO annotation keeps its ``obj_id`` (unique in
the set; new objects get ids above ``max_obj_id``); a label map's values repeat from image to
image, so each gets a fresh id and :attr:`loaded_id` maps it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .annotations import Annotations
from .label_changes import Changes, CurrentLabels, label_changes
from .review import STATUSES, ReviewState
from .session import Session


class DatasetReview:
    """Review state and existing labels (``annotations`` may be None: review only) of ``session``'s set."""

    def __init__(self, session: Session, annotations: Annotations | None) -> None:
        self.session = session
        self.annotations = annotations
        self.state = ReviewState(len(session.images))
        self.filter: dict[str, str | None] = {"status": None, "category": None}
        self.seeded: set[int] = set()  # images whose labels are in the session
        self.loaded_id: dict[int, tuple[int, int]] = {}  # widget id -> (image, label's obj_id)
        self._keep_ids = annotations is not None and annotations.max_obj_id is not None
        if self._keep_ids:
            session.reserve_ids(annotations.max_obj_id)

    # -- labels in -------------------------------------------------------------

    def seed(self, index: int) -> bool:
        """Add image ``index``'s labels to the session if not done yet; returns whether it did."""
        if self.annotations is None or index in self.seeded:
            return False
        loaded = self.annotations.objects(index)
        s = self.session
        with s.lock:
            if index in self.seeded:
                return False
            seeds = []
            for k, o in enumerate(loaded):
                obj_id = o.obj_id if self._keep_ids else s.next_id + k
                seeds.append((obj_id, o.category, o.runs))
                self.loaded_id[obj_id] = (index, o.obj_id)
            s.add_seed_objects(index, seeds)
            self.seeded.add(index)
        return bool(seeds)

    def restore(self, seeded: Iterable[int], loaded_id: Mapping[str, Any], review: Any) -> None:
        """What :meth:`to_meta` saved (a session file's ``dataset`` entry)."""
        self.seeded = {int(i) for i in seeded}
        self.loaded_id = {int(k): (int(v[0]), int(v[1])) for k, v in loaded_id.items()}
        count = len(self.session.images)
        self.state = ReviewState(count) if review is None else ReviewState.from_dict(review, count)

    def to_meta(self) -> dict:
        return {
            "seeded": sorted(self.seeded),
            "loaded_id": {str(k): list(v) for k, v in self.loaded_id.items()},
            "review": self.state.to_dict(),
        }

    # -- what each image holds -------------------------------------------------

    def object_names(self) -> dict[int, str]:
        return {o.id: o.name for o in self.session.objects()}

    def mask_count(self, index: int) -> int | None:
        if index in self.seeded or self.annotations is None:
            return len(self.session.mask_entries(index))
        return self.annotations.mask_count(index)

    def categories(self, index: int, names: Mapping[int, str] | None = None) -> list[str] | None:
        if index in self.seeded or self.annotations is None:
            names = self.object_names() if names is None else names
            return list(dict.fromkeys(names[o] for o in self.session.mask_entries(index) if o in names))
        return self.annotations.categories(index)

    def category_names(self) -> list[str]:
        known = [] if self.annotations is None else list(self.annotations.category_names)
        return list(dict.fromkeys([*known, *(o.name for o in self.session.objects())]))

    # -- the filter ------------------------------------------------------------

    def passing(self, status: str | None = None, category: str | None = None) -> list[int]:
        """The images passing a filter (default: the current one), in order."""
        if status is None and category is None:
            status, category = self.filter["status"], self.filter["category"]
        names = self.object_names()
        return self.state.filter(status, category, lambda i: self.categories(i, names))

    def set_filter(self, status: Any, category: Any) -> list[int]:
        """Check and set the filter; returns the images passing it (``ValueError`` if none: unchanged)."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"filter status must be one of {', '.join(STATUSES)} or null, got {status!r:.80}.")
        if category is not None:
            if not isinstance(category, str):
                raise TypeError(f"filter category must be a category name or null, got {category!r:.80}.")
            known = self.category_names()
            if category not in known:
                raise ValueError(f"unknown category {category!r:.80}; categories: {', '.join(known) or 'none'}.")
        if status is None and category is None:
            self.filter = {"status": None, "category": None}
            return list(range(len(self.state)))
        found = self.passing(status, category)
        if not found:
            what = " and ".join(x for x in (status and f"status {status}", category and f"category {category}") if x)
            raise ValueError(f"no image has {what}; the filter is unchanged.")
        self.filter = {"status": status, "category": category}
        return found

    def next(self, index: int, status: str, direction: int) -> int | None:
        """The next image after ``index`` within the filter with ``status`` (``any``: any), wrapping."""
        if status != "any" and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)} or any, got {status!r:.80}.")
        if direction not in (1, -1) or isinstance(direction, bool):
            raise ValueError(f"direction must be 1 or -1, got {direction!r:.80}.")
        wanted = set(self.passing())
        if status != "any":
            wanted &= set(self.state.indices(status))
        ordered = sorted(wanted - {index})
        if not ordered:
            return None
        after = [i for i in ordered if (i > index if direction == 1 else i < index)]
        if after:
            return after[0] if direction == 1 else after[-1]
        return ordered[0] if direction == 1 else ordered[-1]

    def step(self, index: int, direction: int) -> int | None:
        """The neighbour of ``index`` within the filter (the arrows), ``None`` at either end."""
        found = self.passing()
        after = [i for i in found if (i > index if direction == 1 else i < index)]
        if not after:
            return None
        return after[0] if direction == 1 else after[-1]

    def view(self, index: int) -> dict:
        """The ``review`` trait for the shown image ``index``."""
        found = self.passing()
        position = found.index(index) if index in found else -1
        return {
            "status": self.state.status(index),
            "note": self.state.note(index),
            "counts": self.state.counts(),
            "filter": dict(self.filter),
            "filtered": len(found),
            "position": position,
            "categories": self.category_names(),
        }

    def table(self) -> Any:
        names = self.object_names()
        images = self.session.images
        return self.state.table(
            [images.name(i) for i in range(len(images))], self.mask_count, lambda i: self.categories(i, names)
        )

    # -- labels out ------------------------------------------------------------

    def current(self) -> CurrentLabels:
        """``{image: {label obj_id: (category, runs)}}`` of every visited image (the others are unchanged)."""
        names = self.object_names()
        by_image: dict[int, dict[int, int]] = {}
        for wid, (i, lid) in self.loaded_id.items():
            by_image.setdefault(i, {})[wid] = lid
        out = {}
        for index in sorted(self.seeded):
            entries = self.session.mask_entries(index)
            loaded = by_image.get(index, {})
            taken = set(loaded.values())
            labels = {}
            for wid, entry in entries.items():
                key = loaded.get(wid)
                if key is None:  # a new object: an id no label of this image has
                    key = wid if wid not in taken else max(taken) + wid
                labels[key] = (names.get(wid, f"object {wid}"), entry.runs)
            out[index] = labels
        return out

    def changes(self) -> Changes:
        if self.annotations is None:
            raise ValueError("changes() needs the labels the review started from: open the set with annotations=...")
        images = self.session.images
        names = [images.name(i) for i in range(len(images))]
        return label_changes(self.annotations, self.current(), names, images.size)
