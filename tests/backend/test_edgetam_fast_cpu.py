"""EdgeTAM's fast CPU path (modeling/fast_cpu_edgetam.py): installed on a bf16 EdgeTAM on a CPU,
the state dict unchanged, every specialised module computing what its plain module computes."""

from __future__ import annotations

import pytest
import torch
from timm.models.repvit import ConvNorm, RepVggDw, RepVitMlp

from sam2_backend import build_model, get_config
from sam2_backend.modeling import cpu_kernels
from sam2_backend.modeling.attention import Attention, RoPEAttention
from sam2_backend.modeling.fast_cpu import Bf16CpuSAM2Model
from sam2_backend.modeling.fast_cpu_edgetam import (
    ChannelsLastRepViTTrunk,
    ContiguousFoldedFpnNeck,
    FoldedConvNorm,
    FoldedRepVggDw,
    FusedGeluMlp,
    prepare_edgetam_bf16_cpu,
)
from tests.backend.reference import randomize_

BF16 = torch.bfloat16
IMAGE_SIZE = 256
pytestmark = [
    pytest.mark.skipif(not cpu_kernels.onednn_bf16(), reason="this CPU has no oneDNN bf16 kernels"),
    pytest.mark.cpu_only("EdgeTAM's bf16 fast CPU path"),
]


def _edgetam(precision: str):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(get_config("edgetam").replace(image_size=IMAGE_SIZE), device="cpu", precision=precision)
    return model


def _randomize_norms(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """BatchNorms far from the identity, so a wrong fold shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for norm in module.modules():
            if isinstance(norm, torch.nn.BatchNorm2d):
                n = norm.num_features
                norm.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                norm.bias.copy_(torch.randn(n, generator=gen))
                norm.running_mean.copy_(torch.randn(n, generator=gen))
                norm.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
    return module.eval()


def _rel(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx.float() - exact).norm() / exact.norm())


def test_prepare_installs_the_fast_modules_and_keeps_the_keys():
    plain, fast = _edgetam("fp32"), _edgetam("bf16")
    assert type(plain).__name__ == "SAM2Model" and isinstance(fast, Bf16CpuSAM2Model)
    assert isinstance(fast.image_encoder.trunk, ChannelsLastRepViTTrunk)
    assert isinstance(fast.image_encoder.neck, ContiguousFoldedFpnNeck)
    kinds = {type(m) for m in fast.modules()}
    assert {FoldedConvNorm, FoldedRepVggDw, FusedGeluMlp} <= kinds
    assert not kinds & {ConvNorm, RepVggDw, RepVitMlp}
    assert {Attention, RoPEAttention} <= kinds  # attention stays plain: the chunked kernel measured no faster
    assert all(p.dtype == BF16 for p in fast.image_encoder.parameters())
    assert list(fast.state_dict()) == list(plain.state_dict())
    fast.load_state_dict(plain.state_dict(), strict=True)
    assert prepare_edgetam_bf16_cpu(fast) is fast  # a second call changes nothing
    with pytest.raises(ValueError, match="EdgeTAM model of precision 'bf16' on the CPU"):
        prepare_edgetam_bf16_cpu(plain)
    with pytest.raises(ValueError, match="Hiera"):
        prepare_edgetam_bf16_cpu(build_model(get_config("tiny").replace(image_size=256), device="cpu"))


@pytest.mark.parametrize(
    ("make", "fast_cls"),
    [
        (lambda: ConvNorm(16, 32, 3, 2, 1), FoldedConvNorm),
        (lambda: ConvNorm(16, 16, 3, 1, 1, groups=16), FoldedConvNorm),
        (lambda: RepVggDw(16, 3, legacy=True), FoldedRepVggDw),
        (lambda: RepVggDw(16, 3, legacy=False), FoldedRepVggDw),
        (lambda: RepVitMlp(16, 32, torch.nn.GELU), FusedGeluMlp),
    ],
)
def test_folded_module_computes_the_plain_module(make, fast_cls):
    torch.manual_seed(0)
    plain = _randomize_norms(make())
    fast, rounded = (_randomize_norms(make()).to(BF16) for _ in range(2))
    fast.load_state_dict(plain.state_dict())
    rounded.load_state_dict(plain.state_dict())
    fast.__class__ = fast_cls
    x = torch.randn(2, 16, 12, 12)
    xb = x.to(BF16).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        exact, approx = plain(x), fast(xb)
        # The bf16 plain module rounds the same inputs and weights; the folded one adds no more error than that.
        bound = _rel(rounded(xb), exact)
    assert approx.dtype == BF16 and approx.is_contiguous(memory_format=torch.channels_last)
    assert _rel(approx, exact) < max(2 * bound, 0.01)


def test_the_fold_follows_new_weights_and_training_runs_the_plain_module():
    torch.manual_seed(0)
    module = _randomize_norms(RepVggDw(8, 3, legacy=True)).to(BF16)
    plain = RepVggDw(8, 3, legacy=True).to(BF16).eval()
    module.__class__ = FoldedRepVggDw
    x = torch.randn(1, 8, 10, 10).to(BF16)
    with torch.inference_mode():
        first = module(x)
        module.load_state_dict(_randomize_norms(RepVggDw(8, 3, legacy=True), seed=1).to(BF16).state_dict())
        plain.load_state_dict(module.state_dict())
        second = module(x)
        assert _rel(second, plain(x).float()) < 0.01 < _rel(first, plain(x).float())
    module.train()
    plain.train()
    assert torch.equal(module(x), plain(x))  # training: the plain module, batch statistics and all


def test_image_features_are_close_to_fp32_with_channels_last_trunk_maps():
    plain = _randomize_norms(randomize_(_edgetam("fp32")))
    fast = _edgetam("bf16")
    fast.load_state_dict(plain.state_dict())
    image = torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    with torch.inference_mode():
        exact = plain.forward_image(image)
        with fast.autocast():
            approx = fast.forward_image(image)
        maps = fast.image_encoder.trunk(image.to(BF16))
    assert all(m.is_contiguous(memory_format=torch.channels_last) for m in maps)
    for a, e in zip(approx.backbone_fpn, exact.backbone_fpn, strict=True):
        assert a.dtype == torch.float32 and a.shape == e.shape and a.is_contiguous()  # as the decoder expects
        assert _rel(a, e) < 0.03
    for a, e in zip(approx.vision_pos_enc, exact.vision_pos_enc, strict=True):
        assert torch.equal(a.float(), e)
