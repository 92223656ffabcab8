"""The models widgets load by name, shared: re-running ``w = Sam2Widget(image)`` reuses the loaded model.

A notebook cell that makes a widget is often run again and again; each run used to load
another copy of the model (0.15 GB for tiny, 0.9 GB for large), and the widget it
replaced kept its copy alive (ipywidgets holds every widget that was not closed). Here
one model per (checkpoint, device, precision) is shared by every widget that names it,
and held only weakly: once the last widget using it is closed (``close()`` drops the
widget's model) or collected, it is freed, and the next widget loads it again.

The cache lives in the widget package, not in ``sam2_backend.load_model``: a model from
``load_model`` belongs to its caller, who may compile, move or fine-tune it; widgets only
run the model, so they can share it. A model passed to a widget is never cached here,
nor freed by the widget.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sam2_backend import ModelConfig, SAM2Model, load_model
from sam2_backend.build import classify_source
from sam2_backend.devices import PrecisionLike, precision_name, resolve_device, resolve_precision

_models: weakref.WeakValueDictionary[tuple, SAM2Model] = weakref.WeakValueDictionary()
_lock = threading.Lock()  # one load per key, even when two threads ask at once


def shared_model(
    name_or_path: str | os.PathLike | ModelConfig, device: Any = "auto", precision: PrecisionLike = "auto"
) -> SAM2Model:
    """The model ``load_model(name_or_path, device, precision)`` gives, loaded once and shared while in use.

    The key is the checkpoint (a model name's canonical config, or a file's real path,
    size and modification time, so a file rewritten on disk loads afresh), the device
    (``"cuda"`` as the current GPU's index) and the resolved precision.
    """
    key = _key(name_or_path, device, precision)
    with _lock:
        model = _models.get(key)
        if model is None:
            source, dev, chosen = key
            model = load_model(name_or_path, device=dev, precision=chosen)
            _models[key] = model
        return model


def _key(name_or_path: Any, device: Any, precision: PrecisionLike) -> tuple:
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    chosen = precision_name(precision)
    if chosen == "auto":
        chosen = resolve_precision(chosen, dev)
    kind, target = classify_source(name_or_path)
    if kind == "file":
        real = Path(os.path.realpath(target))
        stat = real.stat()
        return ("file", str(real), stat.st_size, stat.st_mtime_ns), dev, chosen
    return ("hub", target), dev, chosen


@dataclass(frozen=True)
class ReleasedModel:
    """What a closed widget keeps of its model: what names it in a saved session (``model_reference``)."""

    config: ModelConfig
    checkpoint_path: str | None

    @classmethod
    def of(cls, model: SAM2Model) -> ReleasedModel:
        return cls(model.config, model.checkpoint_path)


def free_device_cache(device: torch.device) -> None:
    """Hand the memory of freed CUDA tensors back to the driver (other processes, ``nvidia-smi``);
    PyTorch would otherwise keep it cached for this process."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
