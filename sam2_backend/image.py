"""Prompted segmentation of single images: embed once, then click as often as you like."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from . import postprocess, transfer
from .device_support import prepares_on_device
from .devices import reject_autocast
from .inputs import ImageLike, check_boxes, check_mask_input, check_points, image_to_pixels, image_to_tensor
from .modeling.sam2 import ImageFeatures, SAM2Model
from .transforms import boxes_to_model, coords_to_model, preprocess, preprocess_uint8, upscale_logits


class Prediction(NamedTuple):
    """What :meth:`ImagePredictor.predict` returns (unpacks as a 3-tuple).

    masks: (C, H, W) bool at the original size (float logits with ``return_logits``);
      (B, C, H, W) for a batch of B prompts.
    scores: (C,) or (B, C) predicted IoU of each mask.
    logits: (C, s, s) or (B, C, s, s) low-resolution logits (s = image_size / 4),
      clamped to +-32, to pass back as ``mask_input``.
    """

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray


class ImagePredictor:
    """Predict masks for points, boxes and masks on an image whose embedding is cached.

    Args:
        model: a :class:`SAM2Model` from ``load_model`` or ``build_model``.
        mask_threshold: logit above which a pixel is in the mask.
        max_hole_area: fill background regions of at most this many low-res pixels
            inside masks (0 = off).
        max_sprinkle_area: remove foreground specks of at most this many low-res
            pixels (0 = off).
        compile: ``torch.compile`` the image encoder and the mask decoder (see
            ``SAM2Model.compile_parts``; the first set_image and predict take tens of
            seconds). The fast CPU path is a model loaded with ``precision="bf16"``, and
            with ``compile=True`` for faster clicks (benchmarks/README.md).

    The predictor computes in the model's precision (``model.precision``, chosen by
    ``load_model(precision=...)``).
    """

    def __init__(
        self,
        model: SAM2Model,
        *,
        mask_threshold: float = 0.0,
        max_hole_area: float = 0.0,
        max_sprinkle_area: float = 0.0,
        compile: bool = False,
        autocast: None = None,
    ) -> None:
        if not isinstance(model, SAM2Model):
            raise TypeError(
                f"ImagePredictor needs a SAM2Model (from sam2_backend.load_model), got {type(model).__name__}."
            )
        reject_autocast(autocast)
        self.model = model.eval()
        self.mask_threshold = mask_threshold
        self.max_hole_area = max_hole_area
        self.max_sprinkle_area = max_sprinkle_area
        if compile:
            model.compile_parts()
        self._features: list[ImageFeatures] = []
        self._orig_hws: list[tuple[int, int]] = []

    # -- image embedding -------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def is_image_set(self) -> bool:
        return bool(self._features)

    @property
    def nbytes(self) -> int:
        """Bytes held by the features of the image(s) set (0 before ``set_image``)."""
        return sum(t.nelement() * t.element_size() for f in self._features for t in (f.image_embed, *f.high_res_feats))

    @property
    def orig_hw(self) -> tuple[int, int]:
        """(H, W) of the current (first) image."""
        self._require_image()
        return self._orig_hws[0]

    def reset(self) -> None:
        """Forget the current image(s) and their embeddings."""
        self._features = []
        self._orig_hws = []

    @torch.inference_mode()
    def set_image(self, image: ImageLike) -> None:
        """Compute and cache the embedding of one image (see ``inputs.image_to_tensor``)."""
        self.set_image_batch([image])

    @torch.inference_mode()
    def set_image_batch(self, images: Sequence[ImageLike]) -> None:
        """Compute and cache embeddings of several images, used by :meth:`predict_batch`."""
        if isinstance(images, (np.ndarray, torch.Tensor)) or not len(images):
            raise TypeError("set_image_batch expects a non-empty list of images.")
        # Every image is checked before the current ones are forgotten.
        on_device = prepares_on_device(self.device)
        pixels = [image_to_pixels(img, pin=self.device.type == "cuda") if on_device else None for img in images]
        host = [image_to_tensor(img) if p is None else p for p, img in zip(pixels, images)]
        self.reset()
        for t in host:
            with self.model.autocast():
                feats = self.model.image_features(self._model_input(t, on_device))
            self._features.append(feats)
            self._orig_hws.append(tuple(t.shape[:2]) if t.dtype == torch.uint8 else (t.shape[1], t.shape[2]))

    def _model_input(self, image: torch.Tensor, on_device: bool) -> torch.Tensor:
        """(1, 3, S, S) on the model's device from (H, W, 3) uint8 pixels or a (3, H, W) float image.

        Off the CPU the image is sent first and prepared there (uint8: a quarter of the bytes);
        on the CPU, or a device without the antialiased resize (older torch on MPS), it is
        prepared on the CPU and the model input is sent.
        """
        size = self.model.image_size
        if image.dtype == torch.uint8:
            return preprocess_uint8(transfer.to_device(image, self.device), size)
        if on_device:
            return preprocess(transfer.to_device(image[None], self.device), size)
        return transfer.to_device(preprocess(image[None], size), self.device)

    def get_image_embedding(self) -> torch.Tensor:
        """The cached (1, 256, S/16, S/16) embedding of the current image."""
        self._require_image()
        return self._features[0].image_embed

    def _require_image(self) -> None:
        if not self._features:
            raise RuntimeError("No image is set: call set_image(image) before predicting.")

    # -- prompting -------------------------------------------------------------

    def predict(
        self,
        points: Any = None,
        labels: Any = None,
        box: Any = None,
        mask_input: Any = None,
        multimask: bool = True,
        return_logits: bool = False,
    ) -> Prediction:
        """Masks for prompts on the current image, in original-pixel coordinates.

        Args:
            points: (N, 2) clicks as (x, y) pixels, or (B, N, 2) for B objects.
            labels: (N,) or (B, N): 1 positive, 0 negative.
            box: (4,) XYXY pixels, or (B, 4) for a batch of boxes in one call.
            mask_input: low-res logits from a previous call, (1, s, s) or (B, 1, s, s).
            multimask: return 3 candidate masks (best for a single click) or 1.
            return_logits: return float logits at the original size instead of bools.
        """
        self._require_image()
        return self._predict_numpy(0, points, labels, box, mask_input, multimask, return_logits)

    def predict_batch(
        self,
        points_batch: Sequence[Any] | None = None,
        labels_batch: Sequence[Any] | None = None,
        box_batch: Sequence[Any] | None = None,
        mask_input_batch: Sequence[Any] | None = None,
        multimask: bool = True,
        return_logits: bool = False,
    ) -> list[Prediction]:
        """:meth:`predict` for every image of :meth:`set_image_batch`; one entry per image."""
        self._require_image()
        n = len(self._features)
        for name, seq in (
            ("points_batch", points_batch),
            ("labels_batch", labels_batch),
            ("box_batch", box_batch),
            ("mask_input_batch", mask_input_batch),
        ):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name} has {len(seq)} entries for {n} images.")

        def pick(seq, i):
            return None if seq is None else seq[i]

        return [
            self._predict_numpy(
                i,
                pick(points_batch, i),
                pick(labels_batch, i),
                pick(box_batch, i),
                pick(mask_input_batch, i),
                multimask,
                return_logits,
            )
            for i in range(n)
        ]

    def _predict_numpy(self, index, points, labels, box, mask_input, multimask, return_logits):
        hw = self._orig_hws[index]
        if points is None and labels is not None:
            raise ValueError("labels were given without points.")
        if points is None and box is None and mask_input is None:
            raise ValueError("Give at least one prompt: points with labels, a box, or a mask_input.")
        size = self.model.image_size
        pts = lab = boxes = mask = None
        if points is not None:
            point_xy, point_labels = check_points(points, labels, hw)
            pts = coords_to_model(transfer.to_device(torch.from_numpy(point_xy), self.device), hw, size)
            lab = transfer.to_device(torch.from_numpy(point_labels), self.device)
        if box is not None:
            b = check_boxes(box, hw)
            boxes = boxes_to_model(transfer.to_device(torch.from_numpy(b), self.device), hw, size).flatten(1)
        if mask_input is not None:
            mask = transfer.to_device(torch.from_numpy(check_mask_input(mask_input, size // 4)), self.device)
        sizes = {t.shape[0] for t in (pts, boxes, mask) if t is not None}
        if len(sizes) > 1:
            raise ValueError(f"points, box and mask_input disagree on the batch size: {sorted(sizes)}.")
        masks, scores, logits = self.predict_torch(
            pts, lab, boxes, mask, multimask=multimask, return_logits=return_logits, image_index=index
        )
        batched = (
            max(sizes) > 1 or (points is not None and np.ndim(points) == 3) or (box is not None and np.ndim(box) == 2)
        )
        out = (t.float() if t.is_floating_point() else t for t in (masks, scores, logits))
        out = [t.numpy() for t in transfer.to_host(*out)]
        if not batched:
            out = [t[0] for t in out]
        return Prediction(*out)

    @torch.inference_mode()
    def predict_torch(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask: bool = True,
        return_logits: bool = False,
        image_index: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The model-space layer under :meth:`predict` (no input checks).

        Args:
            point_coords: (B, N, 2) in model-input pixels (already scaled to ``image_size``).
            point_labels: (B, N) int, 1 positive / 0 negative.
            boxes: (B, 4) XYXY in model-input pixels.
            mask_input: (B, 1, s, s) low-res logits.
        Returns:
            masks (B, C, H, W) at the original size (bool, or logits), IoU scores
            (B, C), low-res logits (B, C, s, s) clamped to +-32.
        """
        feats = self._features[image_index]
        hw = self._orig_hws[image_index]
        points = None
        if point_coords is not None:
            points = (point_coords, point_labels)
        if boxes is not None:
            # Boxes enter the prompt encoder as two corner points labelled 2 and 3, first.
            corners = boxes.reshape(-1, 2, 2)
            corner_labels = torch.tensor([[2, 3]], dtype=torch.int32, device=boxes.device)
            corner_labels = corner_labels.expand(corners.shape[0], -1)
            if points is None:
                points = (corners, corner_labels)
            else:
                points = (torch.cat([corners, points[0]], 1), torch.cat([corner_labels, points[1]], 1))
        with self.model.autocast():
            sparse, dense = self.model.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
            many = points is not None and points[0].shape[0] > 1
            out = self.model.sam_mask_decoder(
                image_embeddings=feats.image_embed,
                image_pe=self.model.sam_prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
                repeat_image=many,
                high_res_features=feats.high_res_feats,
            )
        low_res = out.masks.float()
        masks = upscale_logits(self._clean(low_res), hw)
        if not return_logits:
            masks = masks > self.mask_threshold
        return masks, out.iou_pred.float(), low_res.clamp(-32.0, 32.0)

    def _clean(self, logits: torch.Tensor) -> torch.Tensor:
        """Optional hole filling and speck removal on low-res logits (B, C, s, s).

        Both are found on the same (unfilled) logits, as the official predictor does.
        """
        return postprocess.fill_holes_and_remove_sprinkles(
            logits, self.max_hole_area, self.max_sprinkle_area, self.mask_threshold
        )
