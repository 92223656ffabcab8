"""Every resize and coordinate rescale between original images and model space.

SAM 2 squashes an image to ``S x S`` (S = model.image_size, 1024) without
keeping the aspect ratio, so a pixel (x, y) of a W x H image maps to
(x * S / W, y * S / H).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import transfer
from .device_support import interpolate

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, 3, H, W) float RGB in [0, 1] -> (B, 3, S, S) normalised model input.

    Bilinear with antialiasing, like torchvision's tensor ``Resize`` that the
    official image predictor uses.
    """
    x = interpolate(images, (image_size, image_size), "bilinear", antialias=True)
    mean, std = (v.to(x.dtype) for v in _imagenet_stats(x.device))
    return (x - mean) / std


def preprocess_uint8(pixels: torch.Tensor, image_size: int) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, S, S) model input, where ``pixels`` are (on the GPU for a
    GPU model: a quarter of float32's bytes cross the bus, and the CPU is free).

    The same operations as ``preprocess(image_to_tensor(pixels)[None], S)``: the same numbers
    on the same device.
    """
    x = (pixels.permute(2, 0, 1)[None].float() / 255.0).contiguous()
    return preprocess(x, image_size)


_STATS: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}


def _imagenet_stats(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet mean and std as (1, 3, 1, 1) float32 on ``device``, sent there once."""
    if device not in _STATS:
        with torch.inference_mode(False):  # shared by calls inside and outside inference mode
            mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
            _STATS[device] = (transfer.to_device(mean, device), transfer.to_device(std, device))
    return _STATS[device]


def coords_to_model(coords: torch.Tensor, orig_hw: tuple[int, int], image_size: int) -> torch.Tensor:
    """Pixel (x, y) coordinates of an (H, W) image, shape (..., 2) -> model-input pixels."""
    h, w = orig_hw
    # Normalise first, then scale: the same rounding as the official predictor. Python scalars,
    # not a tensor of them: on a GPU that would be a host -> device copy per call.
    x, y = coords.unbind(-1)
    return torch.stack((x / w, y / h), dim=-1) * image_size


def boxes_to_model(boxes: torch.Tensor, orig_hw: tuple[int, int], image_size: int) -> torch.Tensor:
    """XYXY pixel boxes (B, 4) -> corner points in model-input pixels (B, 2, 2)."""
    return coords_to_model(boxes.reshape(-1, 2, 2), orig_hw, image_size)


def upscale_logits(logits: torch.Tensor, orig_hw: tuple[int, int]) -> torch.Tensor:
    """Low-resolution mask logits (B, C, h, w) -> (B, C, H, W) at the original size."""
    return F.interpolate(logits.float(), size=orig_hw, mode="bilinear", align_corners=False)


# --- masks given as prompts ---------------------------------------------------------
# A mask prompt is resized with antialiasing, as the reference resizes mask inputs
# (``add_new_mask`` and its mask-as-output path).

#: Logit magnitude of a mask taken as given: sigmoid(10) ~ 0.99995, the reference's +-10.
MASK_LOGIT = 10.0


def _resize_mask(mask: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) float mask or logits -> (B, C, size, size), bilinear with antialiasing."""
    return interpolate(mask, (size, size), "bilinear", antialias=True)


def mask_to_model(mask: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, 1, H, W) mask in {0, 1} (float) -> (B, 1, S, S) in {0, 1}: squashed like the image.

    A mask already at the model's size is kept as given; any other is resized and
    thresholded at 0.5, so it stays a mask.
    """
    if mask.shape[-2:] == (image_size, image_size):
        return mask
    return (_resize_mask(mask, image_size) >= 0.5).float()


def mask_to_logits(mask: torch.Tensor) -> torch.Tensor:
    """A mask in {0, 1} -> logits of +-``MASK_LOGIT`` (same shape, float)."""
    return mask.float() * (2 * MASK_LOGIT) - MASK_LOGIT


def mask_to_low_res_logits(mask: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, 1, H, W) mask in {0, 1} -> (B, 1, S/4, S/4) low-resolution logits of about +-``MASK_LOGIT``.

    What the mask decoder takes as ``mask_input`` and gives as its low-resolution output
    (S = ``image_size``); a mask of any size is squashed to the square like the image.
    The logits are resized, not the mask: the reference's order.
    """
    return _resize_mask(mask_to_logits(mask), image_size // 4)
