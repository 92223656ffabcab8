"""Build the official SAM 2 (``sam2==1.1.0``, the reference) with random weights.

Parity tests build the reference from its own hydra configs, give every tensor
random values from a seeded generator, and load the same state dict strictly
into ours. Everything runs in fp32 on CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

_YAML_SIZE = {"tiny": "t", "small": "s", "base-plus": "b+", "large": "l"}


def reference_config_file(name: str) -> str:
    """The official hydra config name for one of our canonical model names."""
    version, _, size = name.partition("-hiera-")
    folder = "sam2.1" if version == "sam2.1" else "sam2"
    return f"configs/{folder}/{folder}_hiera_{_YAML_SIZE[size]}.yaml"


def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Perturb every parameter and buffer so no tensor keeps a trivial init (zeros, ones, 1e-6)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, tensor in sorted(module.state_dict().items()):
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=gen, dtype=torch.float32)
            tensor.add_(0.02 * noise.to(tensor.dtype))
    return module


def build_reference(
    name: str, *, image_size: int = 1024, seed: int = 0, video: bool = False, overrides: list[str] | None = None
) -> torch.nn.Module:
    """The official model for ``name`` with random weights, in eval mode on CPU.

    ``video=True`` builds ``SAM2VideoPredictor`` (with the official builder's
    post-processing overrides except hole filling, which the reference cannot do on CPU).
    """
    import sam2  # noqa: F401  (initialises the reference's hydra config module)
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    extra = [
        f"++model.image_size={image_size}",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
    ]
    if video:
        extra += [
            "++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor",
            "++model.binarize_mask_from_pts_for_mem_enc=true",
            "++model.fill_hole_area=0",
        ]
    extra += overrides or []
    torch.manual_seed(seed)
    cfg = compose(config_name=reference_config_file(name), overrides=extra)
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model, _recursive_=True)
    randomize_(model, seed)
    return model.eval()


def ours_like(reference: torch.nn.Module, name: str, *, image_size: int = 1024, **config_changes):
    """Our model for ``name`` (with ``config_changes`` to its config) with the reference's weights loaded strictly."""
    from sam2_backend import build_model
    from sam2_backend.configs import get_config

    config = get_config(name).replace(image_size=image_size, **config_changes)
    model = build_model(config, device="cpu")
    model.load_state_dict(reference.state_dict(), strict=True)
    return model.eval()


def memory_in_fp32(ref) -> None:
    """Make the reference's video predictor run on a CPU. It stores memories in bf16 and,
    outside CUDA autocast, feeds them to fp32 layers ("mat1 and mat2 must have the same
    dtype"). Cast them to fp32 at the door of its memory attention, keeping the bf16-rounded
    values: our tracker stores its memories in bf16 too (video/step.py), and must give the
    numbers the reference computes from them."""
    forward = ref.memory_attention.forward

    def fp32_forward(curr, memory, curr_pos=None, memory_pos=None, num_obj_ptr_tokens=0):
        return forward(
            curr=curr,
            memory=memory.float(),
            curr_pos=curr_pos,
            memory_pos=memory_pos.float(),
            num_obj_ptr_tokens=num_obj_ptr_tokens,
        )

    ref.memory_attention.forward = fp32_forward


def scipy_components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Stand-in for the reference's CUDA ``get_connected_components``, one plane at a time."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    areas = np.zeros(mask.shape, dtype=np.int32)
    for i, plane in enumerate(mask.bool().numpy()[:, 0]):
        lab, _ = ndimage.label(plane, structure=np.ones((3, 3)))
        labels[i, 0] = lab
        areas[i, 0] = np.where(lab > 0, np.bincount(lab.ravel())[lab], 0)
    return torch.from_numpy(labels), torch.from_numpy(areas)
