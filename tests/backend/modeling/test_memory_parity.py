"""Parity of our memory attention and memory encoder with the official SAM 2.1 modules.

The reference (``sam2==1.1.0``) is built with random weights; its ``memory_attention.*``
and ``memory_encoder.*`` entries are loaded strictly into ours and both run on the
same random inputs (drawn on the CPU) in exact fp32 on the test device.
"""

from __future__ import annotations

import functools

import pytest
import torch

from sam2_backend.modeling.memory_attention import MemoryAttention
from sam2_backend.modeling.memory_encoder import MemoryEncoder
from tests.backend.reference import PARITY_TOL, build_reference
from tests.models import TEST_DEVICE, on_test_device

NAME = "sam2.1-hiera-tiny"
TOL = PARITY_TOL


def _sub_state_dict(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in model.state_dict().items() if k.startswith(prefix)}


@functools.cache
def _models(image_size: int):
    """Reference model and our memory attention / encoder holding its weights."""
    ref = build_reference(NAME, image_size=image_size)
    attn = MemoryAttention().to(TEST_DEVICE).eval()
    attn.load_state_dict(_sub_state_dict(ref, "memory_attention."), strict=True)
    enc = MemoryEncoder().to(TEST_DEVICE).eval()
    enc.load_state_dict(_sub_state_dict(ref, "memory_encoder."), strict=True)
    return ref, attn, enc


def test_key_sets_match():
    ref, attn, enc = _models(512)
    assert set(attn.state_dict()) == set(_sub_state_dict(ref, "memory_attention."))
    assert set(enc.state_dict()) == set(_sub_state_dict(ref, "memory_encoder."))


# The 1024 grid has 4096 tokens per frame, so only two cases run there;
# 512 checks that RoPE adapts to a 32x32 grid.
@pytest.mark.parametrize(
    "image_size, batch, frames, num_ptr",
    [
        (1024, 1, 2, 16),
        (1024, 2, 1, 0),
        (512, 1, 2, 16),
        (512, 1, 2, 0),
        (512, 2, 3, 16),
        (512, 2, 1, 4),
    ],
)
def test_memory_attention(image_size, batch, frames, num_ptr):
    ref, attn, _ = _models(image_size)
    side = image_size // 16  # feature grid: 64 or 32
    gen = torch.Generator().manual_seed(batch * 100 + frames * 10 + num_ptr)
    hw, mem = side * side, frames * side * side + num_ptr
    curr = torch.randn(hw, batch, 256, generator=gen)
    curr_pos = torch.randn(hw, batch, 256, generator=gen)
    memory = torch.randn(mem, batch, 64, generator=gen)
    memory_pos = torch.randn(mem, batch, 64, generator=gen)
    curr, curr_pos, memory, memory_pos = map(on_test_device, (curr, curr_pos, memory, memory_pos))
    with torch.no_grad():
        expected = ref.memory_attention(
            curr=curr,
            memory=memory,
            curr_pos=curr_pos,
            memory_pos=memory_pos,
            num_obj_ptr_tokens=num_ptr,
        )
        got = attn(curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=num_ptr)
    assert got.shape == expected.shape == (hw, batch, 256)
    diff = (got - expected).abs().max().item()
    print(f"memory attention img{image_size} B={batch} frames={frames} ptr={num_ptr}: {diff:.3g}")
    assert diff <= TOL


@pytest.mark.parametrize("image_size", [1024, 512])
@pytest.mark.parametrize("skip_mask_sigmoid", [False, True])
def test_memory_encoder(image_size, skip_mask_sigmoid):
    ref, _, enc = _models(image_size)
    side = image_size // 16
    batch = 2
    gen = torch.Generator().manual_seed(7)
    pix_feat = torch.randn(batch, 256, side, side, generator=gen)
    masks = 4 * torch.randn(batch, 1, image_size, image_size, generator=gen)
    if skip_mask_sigmoid:
        # What the tracker feeds: scaled and shifted probabilities.
        masks = torch.sigmoid(masks) * 20.0 - 10.0
    pix_feat, masks = on_test_device(pix_feat), on_test_device(masks)
    with torch.no_grad():
        expected = ref.memory_encoder(pix_feat, masks, skip_mask_sigmoid=skip_mask_sigmoid)
        got = enc(pix_feat, masks, skip_mask_sigmoid=skip_mask_sigmoid)
    assert got.vision_features.shape == (batch, 64, side, side)
    feat_diff = (got.vision_features - expected["vision_features"]).abs().max().item()
    pos_diff = (got.vision_pos_enc - expected["vision_pos_enc"][0]).abs().max().item()
    print(f"memory encoder img{image_size} skip={skip_mask_sigmoid}: {feat_diff:.3g}, pos {pos_diff:.3g}")
    assert feat_diff <= TOL
    assert pos_diff <= TOL
