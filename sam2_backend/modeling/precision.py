"""What a model computes in, and the context every model call runs in.

``"fp32"`` is exact: on CUDA the calls run with TF32 off for cuDNN convolutions and
cuBLAS matmuls (:func:`exact_fp32`), which PyTorch would otherwise allow for
convolutions by default on Ampere and newer GPUs (10 mantissa bits instead of 23).
The flags are set only while a model call runs and put back afterwards, so the
user's own settings hold everywhere else. ``"bf16"`` / ``"fp16"`` run under autocast
and leave those flags alone.

On CUDA a bf16 / fp16 model stores its Linear and Conv weights in that dtype
(:func:`store_compute_weights`): autocast would otherwise cast every one of them
again on each call, since its cast cache lives only as long as one autocast context.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Literal

import torch
from torch import nn

# What the predictors and the tracker compute in: exact fp32, or autocast to bf16 / fp16.
Precision = Literal["fp32", "bf16", "fp16"]
AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}

# The layers autocast runs in its lower precision; their weights are stored in it.
_COMPUTE_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d)


def precision_context(precision: Precision, device: torch.device) -> contextlib.AbstractContextManager:
    """The context a model of ``precision`` on ``device`` is called in: autocast for bf16 / fp16,
    TF32 off on CUDA for fp32, nothing for fp32 elsewhere."""
    if precision != "fp32":
        return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])
    if device.type == "cuda":
        return exact_fp32()
    return contextlib.nullcontext()


# Worker threads of several widgets may run exact models at once: the first to enter turns
# TF32 off, the last to leave puts the saved flags back.
_exact_lock = threading.Lock()
_exact_depth = 0
_saved_flags: tuple[str, str] | None = None


@contextlib.contextmanager
def exact_fp32() -> Iterator[None]:
    """TF32 off for cuDNN convolutions and cuBLAS matmuls while the block runs (process-wide flags,
    restored when the last exact block in any thread ends)."""
    global _exact_depth, _saved_flags
    with _exact_lock:
        if _exact_depth == 0:
            _saved_flags = _tf32_flags()
            _set_tf32_flags(("ieee", "ieee"))
        _exact_depth += 1
    try:
        yield
    finally:
        with _exact_lock:
            _exact_depth -= 1
            if _exact_depth == 0:
                _set_tf32_flags(_saved_flags)
                _saved_flags = None


def _new_precision_api() -> bool:
    """Whether this torch has the per-backend ``fp32_precision`` settings (2.9 and newer).

    Where it has, the old ``allow_tf32`` getters may raise once a setting was made through
    the new one, so only the new one is read and written."""
    return hasattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision")


def _tf32_flags() -> tuple[str, str]:
    """(convolutions, matmuls): ``"tf32"`` / ``"ieee"`` (or ``"none"``: inherited) in the new API's words."""
    if _new_precision_api():
        return torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    conv = "tf32" if torch.backends.cudnn.allow_tf32 else "ieee"
    return conv, torch.get_float32_matmul_precision()  # "highest" / "high" / "medium"


def _set_tf32_flags(flags: tuple[str, str]) -> None:
    conv, matmul = flags
    if _new_precision_api():
        torch.backends.cudnn.conv.fp32_precision = conv
        torch.backends.cuda.matmul.fp32_precision = matmul
        return
    torch.backends.cudnn.allow_tf32 = conv == "tf32"
    torch.set_float32_matmul_precision("highest" if matmul == "ieee" else matmul)


def store_compute_weights(model: nn.Module, dtype: torch.dtype) -> None:
    """Store the weights and biases of every Linear and Conv layer of ``model`` in ``dtype``, in place.

    Autocast then finds them already in its compute dtype and casts nothing. Everything
    else keeps its dtype: norms, learned embeddings and tokens, position tables, which
    autocast also leaves in fp32. What a call computes is unchanged: autocast would have
    rounded these weights to ``dtype`` the same way on every call."""
    for module in model.modules():
        if isinstance(module, _COMPUTE_LAYERS):
            module.to(dtype)
