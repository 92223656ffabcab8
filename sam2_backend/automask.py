"""Automatic ("segment everything") mask generation.

A grid of single-point prompts is run over the image (and optionally over
overlapping crops of it); the resulting masks are filtered by predicted IoU and
stability, de-duplicated with box NMS and returned as per-mask records. The
behaviour follows the official ``SAM2AutomaticMaskGenerator``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from . import mask_utils as mu
from .image import ImagePredictor
from .inputs import ImageLike, image_to_tensor
from .modeling.sam2 import SAM2Model
from .transforms import coords_to_model

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")


def tv_ops():
    """``torchvision.ops``, imported on first use: importing torchvision costs ~1 s and
    ~165 MiB, and only the automatic mask generator needs it (for NMS)."""
    import torchvision.ops

    return torchvision.ops


class AutomaticMaskGenerator:
    """Generate masks for everything in an image from a grid of point prompts.

    Args:
        model_or_predictor: a :class:`SAM2Model`, or an :class:`ImagePredictor` whose
            model (and so its precision) is used; the generator keeps its own predictor,
            so the given one's image is left alone.
        points_per_side: grid points per image side (layer 0); exclusive with ``point_grids``.
        points_per_batch: point prompts run through the decoder at once.
        pred_iou_thresh: keep masks whose predicted IoU is above this (0 disables).
        stability_score_thresh: keep masks whose stability score is at least this (0 disables).
        stability_score_offset: logit offset of the stability score.
        mask_threshold: logit threshold that binarises masks.
        box_nms_thresh: box IoU of the NMS that removes duplicates within a crop.
        crop_n_layers: extra crop layers; layer i tiles the image with (2**i)^2 crops.
        crop_nms_thresh: box IoU of the NMS between crops (masks of smaller crops win).
        crop_overlap_ratio: overlap of layer-1 crops as a fraction of the short image side.
        crop_n_points_downscale_factor: layer i uses ``points_per_side / factor**i`` points.
        point_grids: explicit normalised (N_i, 2) (x, y) grids in [0, 1], one per layer.
        min_mask_region_area: if > 0, holes and specks of at most this many pixels of the
            low-resolution (image_size / 4) logits are filled / removed before upscaling.
            As in the official generator, this cleanup uses the threshold 0, not
            ``mask_threshold``.
        output_mode: ``"binary_mask"`` (HxW bool arrays), ``"uncompressed_rle"`` or
            ``"coco_rle"`` (needs pycocotools).
        use_m2m: refine every mask once more, prompting with its point and its own
            low-resolution logits.
        multimask_output: three candidate masks per point (else one).
    """

    def __init__(
        self,
        model_or_predictor: SAM2Model | ImagePredictor,
        *,
        points_per_side: int | None = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        mask_threshold: float = 0.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: Sequence[np.ndarray] | None = None,
        min_mask_region_area: float = 0,
        output_mode: str = "binary_mask",
        use_m2m: bool = False,
        multimask_output: bool = True,
    ) -> None:
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"Unknown output_mode {output_mode!r}; use one of {', '.join(OUTPUT_MODES)}.")
        if output_mode == "coco_rle" and importlib.util.find_spec("pycocotools") is None:
            raise ImportError("output_mode='coco_rle' needs pycocotools: pip install pycocotools")
        if crop_n_layers < 0:
            raise ValueError(f"crop_n_layers must be >= 0, got {crop_n_layers}.")
        if crop_n_points_downscale_factor < 1:
            raise ValueError(f"crop_n_points_downscale_factor must be >= 1, got {crop_n_points_downscale_factor}.")
        if points_per_batch < 1:
            raise ValueError(f"points_per_batch must be >= 1, got {points_per_batch}.")
        if min_mask_region_area < 0:
            raise ValueError(f"min_mask_region_area must be >= 0, got {min_mask_region_area}.")
        self.point_grids = _point_grids(points_per_side, point_grids, crop_n_layers, crop_n_points_downscale_factor)

        model = model_or_predictor.model if isinstance(model_or_predictor, ImagePredictor) else model_or_predictor
        self.predictor = ImagePredictor(
            model, max_hole_area=min_mask_region_area, max_sprinkle_area=min_mask_region_area
        )
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.stability_score_offset = stability_score_offset
        self.mask_threshold = mask_threshold
        self.box_nms_thresh = box_nms_thresh
        self.crop_n_layers = crop_n_layers
        self.crop_nms_thresh = crop_nms_thresh
        self.crop_overlap_ratio = crop_overlap_ratio
        self.min_mask_region_area = min_mask_region_area
        self.output_mode = output_mode
        self.use_m2m = use_m2m
        self.multimask_output = multimask_output

    @torch.inference_mode()
    def generate(self, image: ImageLike) -> list[dict[str, Any]]:
        """Masks for everything in ``image`` (anything ``ImagePredictor.set_image`` accepts).

        Returns one dict per mask, in the order the NMS keeps them (highest predicted IoU
        first; with crops, masks of smaller crops first):
            segmentation: (H, W) bool array, or an uncompressed / COCO RLE dict;
            area: int pixel count; bbox: [x, y, w, h] (inclusive pixel box, so a
            one-pixel mask has w = h = 0); predicted_iou: float; point_coords:
            [[x, y]] the prompt in image pixels; stability_score: float;
            crop_box: [x, y, w, h] of the crop the mask came from.
        """
        pixels = image_to_tensor(image)  # (3, H, W) float in [0, 1]
        records = self._generate_records(pixels)
        rles = records["rles"]
        if self.output_mode == "binary_mask":
            segmentations = [mu.rle_to_mask(rle) for rle in rles]
        elif self.output_mode == "coco_rle":
            segmentations = [mu.rle_to_coco(rle) for rle in rles]
        else:
            segmentations = rles
        columns = zip(
            segmentations,
            rles,
            mu.box_xyxy_to_xywh(records["boxes"]).float().tolist(),
            records["iou"].float().tolist(),
            records["points"].float().tolist(),
            records["stability"].float().tolist(),
            mu.box_xyxy_to_xywh(records["crop_boxes"]).float().tolist(),
        )
        return [
            {
                "segmentation": seg,
                "area": mu.rle_area(rle),
                "bbox": bbox,
                "predicted_iou": iou,
                "point_coords": [point],
                "stability_score": stability,
                "crop_box": crop_box,
            }
            for seg, rle, bbox, iou, point, stability, crop_box in columns
        ]

    def _generate_records(self, pixels: torch.Tensor) -> mu.MaskRecords:
        """All crops' records, de-duplicated between crops; ``pixels`` is (3, H, W)."""
        image_hw = tuple(pixels.shape[1:])
        boxes, layers = mu.crop_boxes(image_hw, self.crop_n_layers, self.crop_overlap_ratio)
        records = mu.MaskRecords()
        for crop_box, layer in zip(boxes, layers):
            records.extend(self._process_crop(pixels, crop_box, layer))
        if len(boxes) > 1:
            # A mask found in a smaller crop is preferred: it saw the object at a higher resolution.
            scores = 1 / tv_ops().box_area(records["crop_boxes"])
            keep = tv_ops().batched_nms(
                records["boxes"].float(),
                scores.to(records["boxes"].device),
                torch.zeros(len(records), dtype=torch.int64, device=records["boxes"].device),
                iou_threshold=self.crop_nms_thresh,
            )
            records.keep(keep)
        return records

    def _process_crop(self, pixels: torch.Tensor, crop_box: list[int], layer: int) -> mu.MaskRecords:
        """Records of one crop, NMS'd, with boxes and points in image pixels."""
        x0, y0, x1, y1 = crop_box
        crop = pixels[:, y0:y1, x0:x1].permute(1, 2, 0).numpy()  # HWC float in [0, 1]
        crop_hw = crop.shape[:2]
        self.predictor.set_image(crop)
        # Grid points in crop pixels (float64, as the official generator computes them).
        points = self.point_grids[layer] * np.array(crop_hw[::-1])[None]
        records = mu.MaskRecords()
        for (batch,) in mu.batch_iterator(self.points_per_batch, points):
            records.extend(self._process_batch(batch, crop_hw, crop_box, tuple(pixels.shape[1:])))
        self.predictor.reset()

        boxes = records["boxes"]
        keep = tv_ops().batched_nms(
            boxes.float(),
            records["iou"],
            torch.zeros(len(records), dtype=torch.int64, device=boxes.device),
            iou_threshold=self.box_nms_thresh,
        )
        records.keep(keep)
        records["boxes"] = mu.uncrop_boxes(records["boxes"], crop_box)
        records["points"] = mu.uncrop_points(records["points"], crop_box)
        records["crop_boxes"] = torch.tensor([crop_box], device=boxes.device).repeat(len(records), 1)
        return records

    def _process_batch(
        self, points: np.ndarray, crop_hw: tuple[int, int], crop_box: list[int], image_hw: tuple[int, int]
    ) -> mu.MaskRecords:
        """Predict, filter, binarise and RLE-encode the masks of a batch of (x, y) crop-pixel points."""
        device = self.predictor.device
        points_t = torch.as_tensor(points, dtype=torch.float32, device=device)
        model_points = coords_to_model(points_t, crop_hw, self.predictor.model.image_size)
        labels = torch.ones(len(points_t), 1, dtype=torch.int32, device=device)
        masks, iou, low_res = self.predictor.predict_torch(
            model_points[:, None], labels, multimask=self.multimask_output, return_logits=True
        )
        per_point = masks.shape[1]
        masks, iou, low_res = masks.flatten(0, 1), iou.flatten(0, 1), low_res.flatten(0, 1)
        points_t = points_t.repeat_interleave(per_point, dim=0)
        if self.use_m2m:
            masks, iou = self._refine_with_own_masks(model_points.repeat_interleave(per_point, dim=0), low_res)
        del low_res

        records = mu.MaskRecords(masks=masks, iou=iou, points=points_t)
        if self.pred_iou_thresh > 0:
            records.keep(records["iou"] > self.pred_iou_thresh)
        records["stability"] = mu.stability_score(records["masks"], self.mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0:
            records.keep(records["stability"] >= self.stability_score_thresh)

        binary = records["masks"] > self.mask_threshold
        del records["masks"]
        records["boxes"] = mu.masks_to_boxes(binary)
        h, w = image_hw
        near_edge = mu.is_box_near_crop_edge(records["boxes"], crop_box, [0, 0, w, h])
        records.keep(~near_edge)
        binary = binary[~near_edge]
        records["rles"] = mu.masks_to_rle(mu.uncrop_masks(binary, crop_box, image_hw))
        return records

    def _refine_with_own_masks(
        self, model_points: torch.Tensor, low_res: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One more single-mask decoder pass per mask, prompted with its point and its logits.

        ``model_points``: (M, 2) model-input pixels; ``low_res``: (M, s, s) logits.
        Returns masks (M, H, W) logits at the crop size and IoU predictions (M,).
        """
        labels = torch.ones(len(model_points), 1, dtype=torch.int32, device=model_points.device)
        masks, ious = [], []
        for pts, lab, logits in mu.batch_iterator(self.points_per_batch, model_points, labels, low_res):
            m, iou, _ = self.predictor.predict_torch(
                pts[:, None], lab, mask_input=logits[:, None], multimask=False, return_logits=True
            )
            masks.append(m[:, 0])
            ious.append(iou[:, 0])
        return torch.cat(masks), torch.cat(ious)


def _point_grids(
    points_per_side: int | None, point_grids: Sequence[np.ndarray] | None, crop_n_layers: int, downscale: int
) -> list[np.ndarray]:
    """Validated normalised point grids, one (N_i, 2) array per crop layer."""
    if (points_per_side is None) == (point_grids is None):
        raise ValueError("Give exactly one of points_per_side and point_grids.")
    if points_per_side is not None:
        if int(points_per_side / downscale**crop_n_layers) < 1:
            raise ValueError(
                f"points_per_side={points_per_side} leaves no points in crop layer {crop_n_layers} "
                f"(downscaled by {downscale} per layer); use more points or fewer layers."
            )
        return mu.layer_point_grids(points_per_side, crop_n_layers, downscale)
    grids = [np.asarray(g, dtype=np.float64) for g in point_grids]
    if len(grids) != crop_n_layers + 1:
        raise ValueError(f"point_grids needs one grid per crop layer ({crop_n_layers + 1}), got {len(grids)}.")
    for i, g in enumerate(grids):
        if g.ndim != 2 or g.shape[1] != 2 or len(g) == 0:
            raise ValueError(f"point_grids[{i}] must be a non-empty (N, 2) array, got shape {g.shape}.")
        if g.min() < 0 or g.max() > 1:
            raise ValueError(f"point_grids[{i}] must hold normalised (x, y) in [0, 1].")
    return grids
