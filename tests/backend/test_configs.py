"""The config table: flags fixed by every official checkpoint are refused with another value."""

from __future__ import annotations

import pytest

from sam2_backend.configs import CONFIGS, get_config

FIXED = {
    "directly_add_no_mem_embed": True,
    "use_obj_ptrs_in_encoder": True,
    "use_mlp_for_obj_ptr_proj": True,
    "non_overlap_masks_for_mem_enc": False,
}


@pytest.mark.parametrize("name, value", FIXED.items())
def test_a_flag_every_checkpoint_fixes_accepts_only_that_value(name, value):
    assert all(getattr(cfg, name) == value for cfg in CONFIGS.values())
    with pytest.raises(ValueError, match=rf"ModelConfig.{name}={not value} is not supported.*uses {value}"):
        get_config("tiny").replace(**{name: not value})


def test_binarizing_prompted_memories_can_be_switched_off():
    assert all(cfg.binarize_mask_from_pts_for_mem_enc for cfg in CONFIGS.values())  # the official builders
    assert not get_config("tiny").replace(binarize_mask_from_pts_for_mem_enc=False).binarize_mask_from_pts_for_mem_enc
