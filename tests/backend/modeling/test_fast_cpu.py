"""The fast CPU path (modeling/fast_cpu.py): installed at load time on a bf16 CPU model only,
the state dict unchanged, every specialised module computing what its plain block computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_backend import ImagePredictor, VideoTracker
from sam2_backend.modeling import fast_cpu, hiera
from sam2_backend.modeling.attention import Attention, RoPEAttention
from sam2_backend.modeling.fast_cpu import (
    Bf16CpuSAM2Model,
    ChannelsLastPatchEmbed,
    FoldedFpnNeck,
    prepare_bf16_cpu,
)
from sam2_backend.modeling.hiera import FusedMLP, MultiScaleAttention, MultiScaleBlock
from tests.images import synthetic_image
from tests.models import tiny_model

pytestmark = pytest.mark.cpu_only("the bf16 fast CPU path: installed on CPU models only")

BF16 = torch.bfloat16
PLAIN_ATTENTION = (Attention, RoPEAttention, MultiScaleAttention)


def _run(model) -> None:
    """One click on an image and three tracked frames (memory attention included)."""
    pred = ImagePredictor(model)
    pred.set_image(synthetic_image(100, 120))
    pred.predict(points=[[50, 40]], labels=[1])
    trk = VideoTracker(model, np.stack([synthetic_image(40, 50, seed=s) for s in range(3)]))
    trk.add_points(0, 1, [[10, 10]], [1])
    list(trk.propagate())
    trk.close()


def test_prepare_installs_the_fast_modules_and_keeps_the_keys():
    plain = tiny_model()
    fast = tiny_model(precision="bf16")
    assert isinstance(fast, Bf16CpuSAM2Model) and type(plain).__name__ == "SAM2Model"
    trunk = fast.image_encoder.trunk
    assert isinstance(trunk.patch_embed, ChannelsLastPatchEmbed)
    assert isinstance(fast.image_encoder.neck, FoldedFpnNeck)
    attention = [m for m in fast.modules() if isinstance(m, PLAIN_ATTENTION)]
    assert attention and all(type(m) not in PLAIN_ATTENTION for m in attention)
    # The plain model's blocks stay plain: the specialisations live on modules made for them.
    assert all(type(m) in PLAIN_ATTENTION for m in plain.modules() if isinstance(m, PLAIN_ATTENTION))
    assert list(fast.state_dict()) == list(plain.state_dict())
    fast.load_state_dict(plain.state_dict(), strict=True)
    assert prepare_bf16_cpu(fast) is fast  # a second call changes nothing
    with pytest.raises(ValueError, match="precision 'bf16' on the CPU; got 'fp32'"):
        prepare_bf16_cpu(plain)
    # The bf16 encoder stays eager under compile_parts: its kernels beat inductor's.
    assert fast.image_encoder not in [part for part, _ in fast._compiled_parts(video=True)]
    assert plain.image_encoder in [part for part, _ in plain._compiled_parts(video=True)]


def test_fast_path_never_reaches_the_plain_attention_op(no_flash):
    plain = tiny_model()
    with pytest.raises(AssertionError, match="was called"):
        _run(plain)  # the patch does catch the plain blocks ...
    _run(tiny_model(precision="bf16"))  # ... which no attention of the fast path reaches


@pytest.mark.parametrize("dtype", [torch.float32, BF16])
@pytest.mark.parametrize("q_stride", [None, 2])
def test_windowed_block_in_strips_equals_the_whole_map(monkeypatch, q_stride, dtype):
    torch.manual_seed(0)
    block = MultiScaleBlock(dim=32, dim_out=64 if q_stride else 32, num_heads=2, window_size=8, q_stride=q_stride)
    block = block.to(dtype).eval()
    assert isinstance(block.mlp, FusedMLP)
    x = torch.randn(1, 37, 20, 32).to(dtype)  # neither side a multiple of the window
    with torch.no_grad():
        assert block.strip_rows(x) >= 37  # 8192 tokens a strip: the whole map at once
        monkeypatch.setattr(hiera, "STRIP_TOKENS", 160)  # one row of windows per strip
        assert block.strip_rows(x) == 8
        strips = block(x)
        monkeypatch.setattr(hiera, "STRIP_TOKENS", 10**9)
        whole = block(x)
    with torch.enable_grad():
        assert block.strip_rows(x) == 37  # training sees the whole map
    assert strips.shape == whole.shape == ((1, 18, 10, 64) if q_stride else (1, 37, 20, 32))
    # The same sums; a matmul over fewer rows may round some outputs by one step.
    diff = (strips.float() - whole.float()).abs()
    bound = 0.05 if dtype == BF16 else 1e-5
    assert diff.max() <= bound and diff.mean() < bound / 25, (diff.max(), diff.mean())


def test_folded_neck_equals_the_neck_then_the_projections():
    model = tiny_model()
    neck, decoder = model.image_encoder.neck, model.sam_mask_decoder
    folded = FoldedFpnNeck(
        position_encoding=neck.position_encoding,
        d_model=neck.d_model,
        backbone_channel_list=neck.backbone_channel_list,
        fpn_top_down_levels=neck.fpn_top_down_levels,
    )
    folded.load_state_dict(neck.state_dict(), strict=True)
    folded.heads = {0: decoder.conv_s0, 1: decoder.conv_s1}
    with torch.inference_mode():
        xs = model.image_encoder.trunk(torch.randn(1, 3, 256, 256))
        want, want_pos = neck(xs)
        got, got_pos = folded(xs)
        want[0], want[1] = decoder.conv_s0(want[0]), decoder.conv_s1(want[1])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)  # fp32 weights: only the sums' order differs
    for g, w in zip(got_pos, want_pos):
        assert g.dtype == torch.float32 and torch.equal(g, w)


def test_fast_cpu_predictor_stays_close_to_fp32():
    """The whole fast path at the full 1024 input (chunked global attention, strips,
    folded high-resolution projections) against the exact fp32 path."""
    exact = tiny_model(1024)
    fast = tiny_model(1024, precision="bf16")
    fast.load_state_dict(exact.state_dict())
    image = synthetic_image(600, 800, seed=3)
    outs = []
    for model in (exact, fast):
        pred = ImagePredictor(model)
        pred.set_image(image)
        out = pred.predict(points=[[300, 200], [500, 420]], labels=[1, 0], multimask=True)
        outs.append((pred._features[0], out))
    (f_exact, p_exact), (f_fast, p_fast) = outs
    for a, b in zip(f_exact.high_res_feats + [f_exact.image_embed], f_fast.high_res_feats + [f_fast.image_embed]):
        assert b.dtype == torch.float32 and a.shape == b.shape
        rel = (a - b).abs().mean() / a.abs().mean()
        assert 0 < rel < 0.02, rel  # bf16 ran; mean error ~1 % of the features' size
    diff = np.abs(p_exact.logits - p_fast.logits)
    scale = np.abs(p_exact.logits).max()
    assert 0 < diff.max() < 0.05 * scale, (diff.max(), scale)
    assert (p_exact.masks == p_fast.masks).mean() > 0.99


@pytest.mark.parametrize("heads", [1, 2])
def test_memory_cross_attention_in_its_own_order_stays_as_close_as_the_plain_order(monkeypatch, heads):
    """Memory cross-attention (64-channel values, wider heads) rotates its keys in the transposed
    layout and attends over the raw values, projecting after: as close to the fp32 result as the
    plain order run in bf16."""
    torch.manual_seed(0)
    plain = RoPEAttention(256, heads, rope_k_repeat=True, kv_in_dim=64).eval()
    fast = fast_cpu.ChunkedRoPEAttention(256, heads, rope_k_repeat=True, kv_in_dim=64).eval()
    fast.load_state_dict(plain.state_dict())
    x, memory = torch.randn(1, 64, 256), torch.randn(1, 3 * 64 + 4, 64)  # 3 frames of an 8x8 grid + 4 pointers
    with torch.inference_mode():
        want = plain(x, memory, memory, num_k_exclude_rope=4)
        with torch.autocast("cpu", dtype=BF16):
            folded = fast(x, memory, memory, num_k_exclude_rope=4).float()
            for name in ("_rotated_keys", "_output_from_values"):
                monkeypatch.setattr(fast_cpu.ChunkedRoPEAttention, name, getattr(RoPEAttention, name))
            unfolded = fast(x, memory, memory, num_k_exclude_rope=4).float()
    err_folded, err_unfolded = (folded - want).abs().mean(), (unfolded - want).abs().mean()
    assert 0 < err_folded < 1.2 * err_unfolded, (err_folded, err_unfolded)
    assert (folded - want).abs().max() < 0.02 * want.abs().max()
