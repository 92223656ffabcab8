"""A long session through the message protocol: does anything grow, leak or go unanswered?

Drives a clip widget and an image-set widget, both with autosave on, the way a front end
does (every action is a front-end message through ipywidgets' own handler, the same path as
in a notebook): clicks, new and deleted objects, gotos, track/cancel cycles, undo/redo,
session saves and loads. It reports the process's RSS, open file descriptors, threads and
the files in its temporary folder after a warm-up round (a quarter of the work: the undo
histories, 200 steps each, and the caches are full: the frame JPEGs, the embeddings, torch's
allocator), after each tenth of the work and at the end, and checks that every message got
exactly one ack. RSS is read after ``gc.collect()`` and glibc's
``malloc_trim`` (freed heap given back), so it counts memory in use.

    python benchmarks/soak.py [--clicks 2000] [--gotos 300] [--tracks 50] [--undos 100]
        [--saves 20] [--images 12] [--frames 24] [--image-size 128]

Pass: RSS, descriptors and threads at the end within 5 % of the warm start (descriptors and
threads exactly equal), no file left in the temporary folder, every message answered.
``run()`` is what tests/robustness/test_soak.py calls with small counts.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOLERANCE = 0.05
# Objects alive at once in each widget. A new one every 7 clicks replaces the oldest, so what
# the session holds stays bounded (as when a person moves on through a set or a clip) and any
# growth of the process is a leak. Without it, once six objects exist every click goes to the
# last one: ~950 points pile up on it in each widget (~40 on each frame, ~80 on each image),
# and RSS followed them, +5.4 % (the user's own data, not a leak; benchmarks/README.md).
MAX_OBJECTS = 6


@dataclass
class Sample:
    rss_mb: float
    fds: int
    threads: int
    temp_files: int

    @staticmethod
    def take(temp: Path) -> Sample:
        gc.collect()
        _release_free_heap()
        proc = psutil.Process()
        return Sample(
            proc.memory_info().rss / 2**20,
            proc.num_fds() if hasattr(proc, "num_fds") else len(proc.open_files()),
            threading.active_count(),
            sum(1 for _ in temp.rglob("*")),
        )


def _release_free_heap() -> None:
    """Give freed heap pages back to the system (glibc keeps them), so RSS shows what is in use."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class Report:
    warm: Sample
    end: Sample
    after_close: Sample
    curve: list[float]  # RSS MiB after each tenth of the work
    sent: int
    answered: int
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def flat(self) -> bool:
        return (
            self.end.rss_mb <= self.warm.rss_mb * (1 + TOLERANCE)
            and self.end.fds == self.warm.fds
            and self.end.threads == self.warm.threads
        )

    @property
    def passed(self) -> bool:
        clean = self.after_close.temp_files == 0
        return self.flat and clean and self.sent == self.answered and not self.errors


class Driver:
    """One widget and its fake front end; counts messages and acks."""

    def __init__(self, widget) -> None:
        from tests.widget.harness import Frontend

        self.widget = widget
        self.front = Frontend(widget)
        self.sent = 0
        self.errors: list[str] = []

    def send(self, kind: str, **fields) -> None:
        self.expect([self.front.send(kind, **fields)])

    def expect(self, seqs: list[int]) -> None:
        """Wait until idle; each of ``seqs`` must have been acked without an error."""
        self.sent += len(seqs)
        self.widget.wait_idle(120)
        acks = self.front.acks()
        for seq in seqs:
            if seq not in acks:
                self.errors.append(f"no ack for {seq}")
            elif not acks[seq]["ok"]:
                self.errors.append(f"{seq}: {acks[seq]['error']}")
        self.front.sent.clear()  # keep the record small over thousands of messages

    @property
    def answered(self) -> int:
        return self.sent - sum(1 for e in self.errors if e.startswith("no ack"))


def _workload(clip, image_set, counts: dict, rng: np.random.Generator, folder: Path) -> None:
    """``counts`` of each action, interleaved over both widgets."""
    drivers = (clip, image_set)
    total = counts["clicks"]
    every = {k: max(1, total // max(1, counts[k])) for k in ("gotos", "tracks", "undos", "saves")}
    done = dict.fromkeys(every, 0)
    for i in range(total):
        d = drivers[i % 2]
        w = d.widget
        if i % 7 == 0:
            if len(w.objects) >= MAX_OBJECTS:  # the oldest goes: the live prompts stay bounded
                d.send("delete_object", id=w.objects[0]["id"])
            d.send("add_object")
        d.send(
            "add_point",
            x=float(rng.uniform(2, w.image_width - 2)),
            y=float(rng.uniform(2, w.image_height - 2)),
            label=int(rng.integers(0, 2)) if w.prompts else 1,
        )
        if i % every["gotos"] == 0 and done["gotos"] < counts["gotos"]:
            d.send("goto", index=int(rng.integers(0, w.image_count)))
            done["gotos"] += 1
        if i % every["undos"] == 0 and done["undos"] < counts["undos"]:
            d.send("undo")
            d.send("redo")
            done["undos"] += 1
        if i % every["tracks"] == 0 and done["tracks"] < counts["tracks"]:
            _track_and_cancel(clip)
            done["tracks"] += 1
        if i % every["saves"] == 0 and done["saves"] < counts["saves"]:
            _save_and_load(d, folder, clip.widget)
            done["saves"] += 1


def _track_and_cancel(clip: Driver) -> None:
    """Start tracking both ways and cancel it at once: the track is acked when it stops."""
    clip.expect([clip.front.send("track", direction="both"), clip.front.send("cancel")])


def _save_and_load(d: Driver, folder: Path, clip_widget) -> None:
    from sam2_widget import Sam2Widget

    path = folder / "manual.npz"
    d.widget.save_session(path)
    source = clip_widget._soak_clip if d.widget is clip_widget else None
    close_and_join(Sam2Widget.load_session(path, source, model=d.widget._model))


def close_and_join(widget) -> None:
    """Close a widget and wait for its threads to end (``close`` only asks them to)."""
    widget.close()
    for name in ("_worker", "_frames_worker"):
        worker = getattr(widget, name, None)
        if worker is not None:
            worker.join(60)


def run(
    clicks: int = 2000,
    gotos: int = 300,
    tracks: int = 50,
    undos: int = 100,
    saves: int = 20,
    images: int = 12,
    frames: int = 24,
    image_size: int = 128,
    seed: int = 0,
) -> Report:
    """The soak in this process, in a temporary folder of its own (also the process's temp dir)."""
    from PIL import Image

    from sam2_widget import Sam2Widget
    from tests.clips import make_clip
    from tests.images import synthetic_image
    from tests.models import tiny_model

    rng = np.random.default_rng(seed)
    counts = {"clicks": clicks, "gotos": gotos, "tracks": tracks, "undos": undos, "saves": saves}
    with tempfile.TemporaryDirectory(prefix="sam2w-soak-") as root:
        root = Path(root)
        temp, work = root / "tmp", root / "work"
        temp.mkdir()
        work.mkdir()
        old_tempdir = tempfile.tempdir
        tempfile.tempdir = str(temp)  # every temporary of the widgets lands here, to be counted
        try:
            for i in range(images):
                Image.fromarray(synthetic_image(120 + 8 * (i % 3), 160, seed=i)).save(work / f"{i:03d}.png")
            model = tiny_model(image_size)
            clip_frames = make_clip(frames)
            clip = Driver(Sam2Widget(clip_frames, model=model, video=True, autosave=work / "clip_auto.npz"))
            clip.widget._soak_clip = clip_frames
            image_set = Driver(Sam2Widget(work, model=model, autosave=work / "set_auto.npz"))

            # A quarter of the work first: the undo histories (200 steps each) and every cache fill up.
            warmup = {k: max(1, v // 4) for k, v in counts.items()}
            _workload(clip, image_set, warmup, rng, work)
            warm = Sample.take(temp)
            start = time.perf_counter()
            tenth = {k: max(1, v // 10) for k, v in counts.items()}
            curve = []
            for _ in range(10):
                _workload(clip, image_set, tenth, rng, work)
                curve.append(Sample.take(temp).rss_mb)
            seconds = time.perf_counter() - start
            end = Sample.take(temp)
            close_and_join(clip.widget)
            close_and_join(image_set.widget)
            after_close = Sample.take(temp)
        finally:
            tempfile.tempdir = old_tempdir
        return Report(
            warm,
            end,
            after_close,
            curve,
            sent=clip.sent + image_set.sent,
            answered=clip.answered + image_set.answered,
            errors=clip.errors + image_set.errors,
            seconds=seconds,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in (
        ("clicks", 2000),
        ("gotos", 300),
        ("tracks", 50),
        ("undos", 100),
        ("saves", 20),
        ("images", 12),
        ("frames", 24),
        ("image-size", 128),
    ):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    report = run(**{k.replace("-", "_"): v for k, v in vars(args).items()})
    print(f"soak: {report.sent} messages in {report.seconds:.0f} s ({os.cpu_count()} CPUs)")
    print(f"{'':14}{'RSS MiB':>10}{'fds':>6}{'threads':>9}{'temp files':>12}")
    for name in ("warm", "end", "after_close"):
        s = getattr(report, name)
        print(f"{name:14}{s.rss_mb:10.1f}{s.fds:6d}{s.threads:9d}{s.temp_files:12d}")
    print("RSS MiB after each tenth:", " ".join(f"{x:.1f}" for x in report.curve))
    growth = report.end.rss_mb / report.warm.rss_mb - 1
    print(f"RSS growth warm -> end: {growth:+.1%} (limit {TOLERANCE:.0%})")
    print(f"answered: {report.answered}/{report.sent}; errors: {len(report.errors)}")
    for e in report.errors[:10]:
        print("  ", e)
    print("PASS" if report.passed else "FAIL")
    sys.exit(0 if report.passed else 1)


if __name__ == "__main__":
    main()
