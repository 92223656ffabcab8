"""RoPE attention's own rotation (modeling/attention.py) against the reference formula."""

from __future__ import annotations

import pytest
import torch

from sam2_backend.modeling.attention import RoPEAttention, _rotate
from sam2_backend.modeling.position_encoding import apply_rope, axial_rope_angles


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rotation_by_channel_tables_equals_apply_rope_to_the_bit(dtype):
    attn = RoPEAttention(64, 2)  # 32 channels per head
    cos, sin = attn._rope(64, torch.device("cpu"))  # an 8 x 8 grid
    angles = axial_rope_angles(32, 8, 8)
    x = (torch.randn(2, 2, 3, 64, 32) * 10).to(dtype)  # 3 frames of the grid, broadcast over them
    got = _rotate(x, cos, sin)
    assert got.dtype == dtype
    assert torch.equal(got, apply_rope(x, angles.cos(), angles.sin()))


def test_keys_span_whole_grids():
    attn = RoPEAttention(64, 1, rope_k_repeat=True)
    q, k = torch.randn(1, 16, 64), torch.randn(1, 2 * 16 + 3 + 5, 64)
    with pytest.raises(ValueError, match="no whole number of 16-token grids"):
        attn(q, k, k, num_k_exclude_rope=3)
    assert attn(q, k, k, num_k_exclude_rope=8).shape == (1, 16, 64)
    with pytest.raises(ValueError, match="rope_k_repeat is off"):
        RoPEAttention(64, 1)(q, k, k, num_k_exclude_rope=8)
