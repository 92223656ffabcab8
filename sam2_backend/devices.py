"""Where a model runs and in what precision: the user's words -> a ``torch.device`` and a :data:`Precision`."""

from __future__ import annotations

import torch

from .modeling.sam2 import Precision

__all__ = ["DeviceLike", "PrecisionLike", "resolve_device", "resolve_precision"]

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


def resolve_precision(precision: PrecisionLike, device: torch.device) -> Precision:
    """The precision a model on ``device`` computes in.

    Args:
        precision: ``"auto"`` (or ``None``): bf16 autocast on CUDA, as the official
            code, exact fp32 elsewhere. ``"fp32"``: exact everywhere. ``"bf16"``: bf16
            autocast, and on a CPU the fast CPU path (the image encoder stored in bf16
            with its own kernels). ``"fp16"``: fp16 autocast. Also accepted:
            ``"float32"``, ``"bfloat16"``, ``"float16"``, ``"half"`` (optionally prefixed
            with ``"torch."``) and ``torch.float32`` / ``torch.bfloat16`` / ``torch.float16``.
        device: where the model runs (decides ``"auto"``).

    Raises:
        ValueError: any other value.
    """
    if precision is None:
        precision = "auto"
    if isinstance(precision, torch.dtype) and precision in _DTYPE_PRECISIONS:
        return _DTYPE_PRECISIONS[precision]
    if isinstance(precision, str):
        key = precision.strip().lower().removeprefix("torch.")
        if key == "auto":
            return "bf16" if device.type == "cuda" else "fp32"
        if key in _PRECISIONS:
            return _PRECISIONS[key]
    raise ValueError(
        f"Unsupported precision {precision!r}. Use 'auto' (bf16 on CUDA, fp32 elsewhere), "
        "'fp32' (exact), 'bf16' or 'fp16'."
    )


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
