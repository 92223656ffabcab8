"""Where a model runs and in what precision: the user's words -> a ``torch.device`` and a :data:`Precision`."""

from __future__ import annotations

import warnings
from typing import Literal

import torch

from .modeling.precision import Precision

__all__ = [
    "DeviceLike",
    "PrecisionLike",
    "cuda_native_bf16",
    "mps_bf16_missing",
    "precision_name",
    "resolve_device",
    "resolve_precision",
]

DeviceLike = str | torch.device | int | None
PrecisionLike = str | torch.dtype | None


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """The ``torch.device`` to run on.

    Args:
        device: ``"auto"`` (or ``None``) picks CUDA if available, else Apple MPS,
            else the CPU. Otherwise a device string (``"cpu"``, ``"cuda"``,
            ``"cuda:1"``, ``"mps"``), a ``torch.device``, or a CUDA index.

    Raises:
        ValueError: the device string is malformed, or the device is not
            available on this machine (the message says what to pass instead).
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"Invalid device {device!r}. Use 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'.") from e

    if dev.type == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda
            why = (
                f"this PyTorch ({torch.__version__}) was built with CUDA {built} but finds no usable GPU "
                "(check the NVIDIA driver and CUDA_VISIBLE_DEVICES)"
                if built
                else f"this PyTorch ({torch.__version__}) was built without CUDA support "
                "(install a CUDA build of PyTorch)"
            )
            raise ValueError(
                f"Device {str(dev)!r} was requested but CUDA is not available: {why}. "
                "Pass device='cpu', or device='auto' to use the best available device."
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"Device {str(dev)!r} was requested but only {count} CUDA device(s) are visible "
                f"(valid: {', '.join(f'cuda:{i}' for i in range(count))}). "
                "Pass one of those, or device='auto'."
            )
    elif dev.type == "mps":
        if not _mps_available():
            raise ValueError(
                "Device 'mps' was requested but Apple Metal (MPS) is not available on this machine. "
                "Pass device='cpu', or device='auto' to use the best available device."
            )
    elif dev.type != "cpu":
        backend = getattr(torch, dev.type, None)
        is_available = getattr(backend, "is_available", None)
        if callable(is_available) and not is_available():
            raise ValueError(
                f"Device {str(dev)!r} was requested but it is not available on this machine. "
                "Pass device='cpu', or device='auto' to use the best available device."
            )
    return dev


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


_PRECISIONS: dict[str, Precision] = {
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
}
_DTYPE_PRECISIONS: dict[torch.dtype, Precision] = {
    torch.float32: "fp32",
    torch.bfloat16: "bf16",
    torch.float16: "fp16",
}


def resolve_precision(precision: PrecisionLike, device: torch.device, *, stacklevel: int = 2) -> Precision:
    """The precision a model on ``device`` computes in.

    Args:
        precision: ``"auto"`` (or ``None``): bf16 autocast on a CUDA GPU with native bf16
            (compute capability 8.0 and newer: A100, L4, H100, RTX 30xx/40xx), exact fp32
            everywhere else: on older GPUs (T4, V100) bf16 is emulated and slower than fp32,
            on MPS and CPUs fp32 is the safe default. ``"fp32"``: exact everywhere (on CUDA
            with TF32 off while the model runs). ``"bf16"``: bf16 autocast, and on a CPU the
            fast CPU path (the image encoder stored in bf16 with its own kernels); on MPS it
            needs macOS 14 and torch 2.6. ``"fp16"``: fp16 autocast, the fast choice on a
            T4 or V100, but not verified for SAM 2 (an activation above 65504 would
            overflow; check masks against ``"fp32"`` on your data). Also accepted:
            ``"float32"``, ``"bfloat16"``, ``"float16"``, ``"half"`` (optionally prefixed
            with ``"torch."``) and ``torch.float32`` / ``torch.bfloat16`` / ``torch.float16``.
        device: where the model runs (decides ``"auto"``).
        stacklevel: of the warning for bf16 on a GPU without it (2: the line that calls this function).

    Raises:
        ValueError: any other value, or bf16 on an MPS device that lacks it.
    """
    chosen = precision_name(precision)
    if chosen == "auto":
        return "bf16" if device.type == "cuda" and cuda_native_bf16(device) else "fp32"
    if chosen == "bf16" and device.type == "cuda" and not cuda_native_bf16(device):
        major, minor = torch.cuda.get_device_capability(device)
        warnings.warn(
            f"This GPU (compute capability {major}.{minor}) has no native bf16: precision='bf16' is emulated "
            "here and slower than fp32. Use precision='fp32' (the default on this GPU) or 'fp16' (faster, "
            "not verified for SAM 2).",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    if chosen == "bf16" and device.type == "mps":
        missing = mps_bf16_missing()
        if missing:
            raise ValueError(
                f"precision='bf16' on MPS needs {missing}. Use precision='fp32' (the default on MPS) or 'fp16'."
            )
    return chosen


def precision_name(precision: PrecisionLike) -> Precision | Literal["auto"]:
    """``precision`` in one spelling (``"auto"``, ``"fp32"``, ``"bf16"``, ``"fp16"``), not yet resolved for a device.

    Raises:
        ValueError: a value :func:`resolve_precision` does not accept.
    """
    if precision is None:
        return "auto"
    if isinstance(precision, torch.dtype) and precision in _DTYPE_PRECISIONS:
        return _DTYPE_PRECISIONS[precision]
    if isinstance(precision, str):
        key = precision.strip().lower().removeprefix("torch.")
        if key == "auto":
            return "auto"
        if key in _PRECISIONS:
            return _PRECISIONS[key]
    raise ValueError(
        f"Unsupported precision {precision!r}. Use 'auto' (bf16 on CUDA GPUs with native bf16, fp32 "
        "elsewhere), 'fp32' (exact), 'bf16' or 'fp16'."
    )


def cuda_native_bf16(device: torch.device) -> bool:
    """Whether a CUDA GPU computes in bf16 natively (compute capability 8.0, Ampere, and newer).

    Older GPUs (T4 sm_75, V100 sm_70) store bf16 but emulate its arithmetic, without tensor
    cores, and PyTorch's flash and memory-efficient attention kernels refuse bf16 there."""
    return torch.cuda.get_device_capability(device) >= (8, 0)


def mps_bf16_missing() -> str | None:
    """What bf16 on MPS lacks here, or None: bf16 tensors need macOS 14 (Sonoma), autocast to bf16
    on MPS torch 2.6 (torch 2.5 turns it off with a warning and computes in fp32)."""
    missing = []
    newer = getattr(torch.backends.mps, "is_macos_or_newer", None)
    if newer is None or not newer(14, 0):
        missing.append("macOS 14 or newer")
    if torch.__version__ < (2, 6):
        missing.append(f"torch 2.6 or newer (this is {torch.__version__})")
    return " and ".join(missing) or None


def reject_autocast(autocast: object) -> None:
    """The predictors' former ``autocast=`` argument: the precision now belongs to the model.

    Raises:
        TypeError: ``autocast`` was given (anything but ``None``).
    """
    if autocast is not None:
        raise TypeError(
            f"autocast={autocast!r} is no longer an argument of the predictors: the model's precision is "
            "chosen once, when it is loaded: load_model(name, precision='bf16') for bf16, precision='fp32' "
            "for exact fp32 (the default off CUDA). The predictors and the tracker read model.precision."
        )
