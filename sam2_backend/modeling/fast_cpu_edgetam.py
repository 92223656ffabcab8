"""EdgeTAM's fast CPU path: a ``"bf16"`` EdgeTAM model on a CPU, specialised at load time.

:func:`prepare_edgetam_bf16_cpu` is EdgeTAM's twin of ``fast_cpu.prepare_bf16_cpu``
(which specialises Hiera). It stores the image encoder's weights in bf16 and runs the
encoder outside autocast (``fast_cpu.Bf16CpuSAM2Model``), with:

- the RepViT trunk's BatchNorms folded into their convs, and each RepVGG token mixer
  (a kxk depthwise conv + a 1x1 depthwise conv + the identity, then a norm) run as one
  depthwise conv; the folded weights are kept in bf16 channels-last, and the trunk runs
  channels-last, so oneDNN takes its bf16 kernels for the depthwise and 1x1 convs;
- the neck's two high-resolution levels folded with the decoder's ``conv_s0``/``conv_s1``
  (``fast_cpu.FoldedFpnNeck``), in bf16, its maps handed on contiguous
  (:class:`ContiguousFoldedFpnNeck`).

The rest stays under plain autocast. The chunked bf16 attention kernel of ``cpu_kernels``
does not pay here: in the memory attention (self-attention, and the latent cross-attention
over the unprojected 64-channel values), with its feed-forward's ReLU fused in too, it
measured ~15% slower (0.36 s against 0.31 s of CPU time per object and frame at 1024),
PyTorch's flash kernel being quick at one 256-wide head; in the mask decoder, no faster.

As in ``fast_cpu``, every subclass computes what its plain module computes and adds no
parameter or buffer, so the state dict keeps its keys. The folded weights are a cache,
recomputed whenever a source tensor changes (a checkpoint load, a ``.to()``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.models.repvit import ConvNorm, RepVggDw, RepVitMlp
from torch import nn

from . import cpu_kernels
from .fast_cpu import Bf16CpuSAM2Model, FoldedFpnNeck, become, store_encoder_in_bf16
from .repvit import RepViTTrunk
from .sam2 import SAM2Model

__all__ = ["prepare_edgetam_bf16_cpu"]


def _fast(module: nn.Module, x: torch.Tensor) -> bool:
    return not module.training and cpu_kernels.fast_bf16_cpu(x)


def _folded(module: nn.Module, sources: list[torch.Tensor], fold) -> tuple[torch.Tensor, torch.Tensor]:
    """bf16 (weight, bias) from ``fold()`` (fp32), cached until one of ``sources`` is replaced or written.

    Tensors made in inference mode keep no version counter: with such sources it folds on every call.
    """
    key = None if any(t.is_inference() for t in sources) else tuple((t.data_ptr(), t._version) for t in sources)
    cache = module.__dict__.get("_folded_cache")
    if key is None or cache is None or cache[0] != key:
        with torch.no_grad(), torch.autocast("cpu", enabled=False):
            weight, bias = fold()
        weight = weight.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        cache = (key, weight, bias.to(torch.bfloat16))
        module.__dict__["_folded_cache"] = cache  # a plain attribute: not a buffer, not in the state dict
    return cache[1], cache[2]


def _conv_norm_weights(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 weight and bias of the conv equal to ``norm(conv(x))`` in eval mode."""
    scale = norm.weight.float() * (norm.running_var.float() + norm.eps).rsqrt()
    weight = conv.weight.float() * scale[:, None, None, None]
    bias = conv.bias.float() if conv.bias is not None else torch.zeros_like(scale)
    return weight, norm.bias.float() + (bias - norm.running_mean.float()) * scale


def _norm_sources(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> list[torch.Tensor]:
    tensors = [conv.weight, conv.bias, norm.weight, norm.bias, norm.running_mean, norm.running_var]
    return [t for t in tensors if t is not None]


def _folded_conv_norm(module: ConvNorm) -> tuple[torch.Tensor, torch.Tensor]:
    c, bn = module.c, module.bn
    return _folded(module, _norm_sources(c, bn), lambda: _conv_norm_weights(c, bn))


class FoldedConvNorm(ConvNorm):
    """timm's conv + BatchNorm as one conv with the norm folded into it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _fast(self, x):
            return super().forward(x)
        c = self.c
        weight, bias = _folded_conv_norm(self)
        return F.conv2d(x, weight, bias, c.stride, c.padding, c.dilation, c.groups)


class FoldedRepVggDw(RepVggDw):
    """timm's RepVGG token mixer, ``norm(dw_kxk(x) + dw_1x1(x) + x)``, as one kxk depthwise conv.

    The 1x1 branch and the identity are kxk kernels that are zero but at the centre.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _fast(self, x):
            return super().forward(x)
        kxk = self.conv.c
        sources = _norm_sources(kxk, self.conv.bn)
        sources += _norm_sources(self.conv1.c, self.conv1.bn) if self.legacy else [self.conv1.weight, self.conv1.bias]
        if not self.legacy:
            sources += _norm_sources(kxk, self.bn)[1:]
        weight, bias = _folded(self, sources, self._fold)
        return F.conv2d(x, weight, bias, kxk.stride, kxk.padding, kxk.dilation, kxk.groups)

    def _fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight, bias = _conv_norm_weights(self.conv.c, self.conv.bn)
        if self.legacy:
            w1, b1 = _conv_norm_weights(self.conv1.c, self.conv1.bn)
        else:
            w1, b1 = self.conv1.weight.float(), self.conv1.bias.float()
        centre = weight.shape[-1] // 2
        weight = weight.clone()
        weight[:, :, centre, centre] += w1[:, :, 0, 0] + 1.0  # + the 1x1 branch + the identity
        bias = bias + b1
        if self.legacy:  # no norm after the sum
            return weight, bias
        scale = self.bn.weight.float() * (self.bn.running_var.float() + self.bn.eps).rsqrt()
        return weight * scale[:, None, None, None], self.bn.bias.float() + (bias - self.bn.running_mean.float()) * scale


class FusedGeluMlp(RepVitMlp):
    """timm's RepViT MLP (1x1 conv, GELU, 1x1 conv) with the GELU fused into the first conv by oneDNN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _fast(self, x) or not isinstance(self.act, nn.GELU) or self.act.approximate != "none":
            return super().forward(x)
        c = self.conv1.c
        weight, bias = _folded_conv_norm(self.conv1)
        hidden = torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, c.padding, c.stride, c.dilation, c.groups, "gelu", [], "none"
        )
        return self.conv2(hidden)


class ChannelsLastRepViTTrunk(RepViTTrunk):
    """:class:`RepViTTrunk` that runs channels-last on the fast path (its maps come out channels-last)."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if _fast(self, x):
            x = x.contiguous(memory_format=torch.channels_last)
        return super().forward(x)


class ContiguousFoldedFpnNeck(FoldedFpnNeck):
    """:class:`FoldedFpnNeck` that hands on its channels-last maps in the usual contiguous layout.

    The decoder and the memory encoder mix these maps with contiguous ones; fed channels-last
    maps they run several times slower (strided adds, casts and convs): ~0.45 s instead of
    ~0.08 s for the decoder at 1024. The three copies take a few ms.
    """

    def forward(self, xs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        features, pos = super().forward(xs)
        return [f.contiguous() for f in features], pos


# Plain classes -> their fast twins.
_FAST: dict[type[nn.Module], type[nn.Module]] = {
    ConvNorm: FoldedConvNorm,
    RepVggDw: FoldedRepVggDw,
    RepVitMlp: FusedGeluMlp,
}


def prepare_edgetam_bf16_cpu(model: SAM2Model, *, stacklevel: int = 2) -> SAM2Model:
    """Install the fast CPU path on a ``"bf16"`` EdgeTAM model on a CPU, in place (again is a no-op).

    Raises:
        ValueError: the model is not a bf16 EdgeTAM model on a CPU.
    """
    trunk = model.image_encoder.trunk
    if model.precision != "bf16" or model.device.type != "cpu" or not isinstance(trunk, RepViTTrunk):
        raise ValueError(
            f"EdgeTAM's fast CPU path needs an EdgeTAM model of precision 'bf16' on the CPU; got "
            f"{type(trunk).__name__} trunk, {model.precision!r} on {model.device}."
        )
    if isinstance(model, Bf16CpuSAM2Model):
        return model
    heads = store_encoder_in_bf16(model, stacklevel=stacklevel + 1)
    for module in model.modules():
        if type(module) in _FAST:
            become(module, _FAST[type(module)])
    become(trunk, ChannelsLastRepViTTrunk)
    become(model.image_encoder.neck, ContiguousFoldedFpnNeck)
    model.image_encoder.neck.heads = heads
    become(model, Bf16CpuSAM2Model)
    return model
