"""A kernel that gets killed: run by tests/widget/test_autosave.py as ``python -m tests.widget.autosave_child FOLDER``.

Phase A: prompts for two objects, a full track, a correction; then it writes what it
holds (``a.json``, ``a_masks.npz``), prints ``A`` and waits for a line on stdin.
Phase B: a third object, then a track that autosaves after every frame and stops
forever in ``on_change`` at frame ``HOLD`` (after writing every tracked frame's
masks to ``b_<frame>.npz``), printing ``HOLD``. The test kills it there (SIGKILL).
Its clip and model are those of the fixtures ``clip`` and ``video_model`` (tests/widget/conftest.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from sam2_widget import Sam2Widget, autosave
from tests.clips import make_clip
from tests.models import tiny_model
from tests.widget.harness import VIDEO_FRAMES as T
from tests.widget.harness import VIDEO_IMAGE_SIZE

HOLD = 3


def state(widget) -> dict:
    return {
        "objects": widget.objects,
        "prompts": {f: [p.to_dict() for p in widget._session.prompts(f)] for f in range(T)},
    }


def main(folder: Path) -> None:
    w = Sam2Widget(make_clip(T), model=tiny_model(VIDEO_IMAGE_SIZE), video=True, autosave=folder / "autosave.npz")
    w.add_points([[30, 40]], [1])
    car = w.add_object("car")
    w.add_box([60, 28, 110, 60], obj_id=car, frame=2)
    w.track("forward")
    w.add_points([[70, 40]], [1], obj_id=1, frame=4)  # a correction after the track
    w.rename_object(1, "disk")
    w.wait_idle()
    (folder / "a.json").write_text(json.dumps(state(w)))
    np.savez(
        folder / "a_masks.npz", **{f"{f}_{o}": m for f in w.results.frames for o, m in w.results.frame_masks(f).items()}
    )
    print("A", flush=True)
    sys.stdin.readline()

    autosave.TRACK_INTERVAL_S, autosave.MAX_SHARE = 0.0, float("inf")  # save after every tracked frame
    w.add_points([[90, 90]], [1], obj_id=w.add_object("third"), frame=0)
    (folder / "b.json").write_text(json.dumps(state(w)))

    def hold(widget, frame, masks):
        if frame == HOLD:
            print("HOLD", flush=True)
            time.sleep(600)
        np.savez(folder / f"b_{frame}.npz", **{str(o): m for o, m in masks.items()})

    w.on_change(hold)
    w.track("forward", frame=0)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
