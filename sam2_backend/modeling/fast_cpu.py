"""The fast CPU path: a model of precision ``"bf16"`` on a CPU, specialised at load time.

``load_model(name, precision="bf16")`` on a CPU calls :func:`prepare_bf16_cpu`, which
stores the image encoder's weights (and the decoder's ``conv_s0``/``conv_s1``, which
only ever see the encoder's maps) in bf16 and turns a few modules into the
subclasses below. CPU autocast re-casts every weight on every call and runs the
norms in fp32 with extra copies; an encoder stored in bf16 and run outside autocast
with its own kernels avoids both. The rest of the model stays fp32 under bf16
autocast, as with ``precision="bf16"`` anywhere.

Each subclass computes what its plain block computes and adds no parameter or
buffer, so the state dict keeps its keys and official checkpoints load strictly
before or after. What each saves, measured on SAM 2.1 tiny at 1024 on a 2-core
AVX-512 CPU (benchmarks/README.md; ``forward_image`` 1.32-1.35 s -> 0.98 s, the image
encoder's trunk 1.38 s -> 1.16 s from the kernels alone):

- :class:`ChunkedAttention` and its siblings: attention as two bf16 matmuls over
  chunks of queries (``cpu_kernels.attention``): ~95 ms instead of ~150-160 ms per
  global block of 4 heads x 4096 tokens, about half the time on small windows.
- the trunk's own CPU inference measures, which serve the exact fp32 path too
  (``hiera.py``): the MLPs' first linear layer and its GELU as one oneDNN call, one pass
  less over the widest activations (-60 ms), and windowed blocks run a strip of window
  rows at a time, so every intermediate stays in cache instead of faulting in fresh
  40-75 MB activations (minor page faults per forward 96 k -> 20 k, -85 ms).
- :class:`ChunkedRoPEAttention`: memory cross-attention over the unprojected 64-channel
  memory values, keys made in the kernel's transposed layout (see its docstring).
- :class:`ChannelsLastPatchEmbed` (stage 1 runs on a contiguous channels-last map, not a
  transposed view) and :class:`FoldedFpnNeck` (``conv_s0``/``conv_s1`` folded into the
  neck's 1x1 convs, so the 256-channel stride-4 map is never made), with no fp32 round
  trips of the high-resolution maps: together -70 ms of ``forward_image``.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from . import cpu_kernels
from .attention import Attention, RoPEAttention
from .hiera import MultiScaleAttention, PatchEmbed
from .neck import BackboneOutput, FpnNeck
from .sam2 import SAM2Model


class _ChunkedAttend:
    """``attend`` by the chunked bf16 kernel, which falls back to the plain op off the fast path."""

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.training:  # dropout is the plain op's business
            return super().attend(q, k, v)
        return cpu_kernels.attention(q, k, v)


class ChunkedAttention(_ChunkedAttend, Attention):
    """:class:`Attention` (two-way transformer, memory cross-attention) with the chunked kernel."""


class ChunkedRoPEAttention(_ChunkedAttend, RoPEAttention):
    """:class:`RoPEAttention` (memory attention) with the chunked kernel.

    Where the values arrive narrower than a head (the memory's 64 channels against 256
    per head), it attends over the unprojected values and projects afterwards: each
    query's weights sum to one, so the value projection commutes with them, and the
    weights-times-values product, half of the attention's work, shrinks by that ratio.

    The keys are projected straight into the transposed (channels x keys) layout the
    kernel multiplies by, and rotated there one memory frame at a time: no transposed
    copy of ~30k keys per layer, and no repeated angle tables or concatenation.
    """

    def _rotated_keys(
        self, k: torch.Tensor, num_k_exclude_rope: int, cos: torch.Tensor, sin: torch.Tensor
    ) -> torch.Tensor:
        if self.training or not cpu_kernels.attention_is_bf16(k):
            return super()._rotated_keys(k, num_k_exclude_rope, cos, sin)
        b, n_k, _ = k.shape
        n_rope = n_k - num_k_exclude_rope
        frames = self._rope_repeats(n_rope, cos.shape[0]) if n_rope > 0 else 0
        heads, dim = self.num_heads, self.internal_dim // self.num_heads
        keys_t = torch.matmul(self.k_proj.weight, k.transpose(-2, -1))  # (B, heads * dim, Nk), bf16 by autocast
        bias = self.k_proj.bias.float().view(heads, dim, 1)
        out = torch.empty(b, heads, dim, n_k, dtype=keys_t.dtype)
        keys_t = keys_t.view(b, heads, dim, n_k)
        torch.add(keys_t[..., n_rope:], bias, out=out[..., n_rope:])  # object pointers: not rotated
        if frames:
            # Channel pairs (2j, 2j+1) of each head, every frame rotated like the query grid.
            grids = (frames, cos.shape[0])
            pairs = keys_t[..., :n_rope].unflatten(2, (-1, 2)).unflatten(-1, grids)  # (B, heads, dim/2, 2, F, HW)
            done = out[..., :n_rope].unflatten(2, (-1, 2)).unflatten(-1, grids)
            b_pairs = bias.view(heads, -1, 2, 1, 1)
            even, odd = pairs[:, :, :, 0] + b_pairs[:, :, 0], pairs[:, :, :, 1] + b_pairs[:, :, 1]  # fp32
            # One angle per pair: (dim/2, 1, HW) from the per-channel tables (L, dim).
            cos_t, sin_t = cos[:, 0::2].t().contiguous()[:, None], sin[:, 1::2].t().contiguous()[:, None]
            torch.sub(even * cos_t, odd * sin_t, out=done[:, :, :, 0])
            torch.add(even * sin_t, odd * cos_t, out=done[:, :, :, 1])
        return out.transpose(-2, -1)  # (B, heads, Nk, dim), a view of the transposed keys

    def _output_from_values(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        head_dim = self.internal_dim // self.num_heads
        if self.training or v.shape[-1] >= head_dim or not cpu_kernels.attention_is_bf16(q):
            return super()._output_from_values(q, k, v)
        mixed = cpu_kernels.attention(q, k, v[:, None])  # (B, heads, Nq, C_kv), v shared by the heads
        weight, bias = self._folded_value_output()
        return F.linear(mixed.transpose(1, 2).flatten(2), weight, bias)  # (B, Nq, C)

    def _folded_value_output(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``out_proj`` after ``v_proj`` as one linear map from heads x C_kv channels, composed in fp32."""
        with torch.autocast("cpu", enabled=False):
            w_v = self.v_proj.weight.float().unflatten(0, (self.num_heads, -1))  # (heads, c, C_kv)
            w_out = self.out_proj.weight.float().unflatten(1, (self.num_heads, -1))  # (C, heads, c)
            weight = torch.einsum("ohc,hck->ohk", w_out, w_v).flatten(1)  # (C, heads * C_kv)
            bias = self.out_proj.weight.float() @ self.v_proj.bias.float() + self.out_proj.bias.float()
        return weight, bias


class ChunkedMultiScaleAttention(_ChunkedAttend, MultiScaleAttention):
    """Hiera's :class:`MultiScaleAttention` with the chunked kernel."""


class ChannelsLastPatchEmbed(PatchEmbed):
    """:class:`PatchEmbed` whose output is a contiguous channels-last map.

    The plain one returns a transposed view, as the reference does (the exact path
    keeps the reference's layout, and with it its sums); one copy here spares every
    later op of the first stage (norms, residual adds, window cuts) a strided pass.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).contiguous()


class FoldedFpnNeck(FpnNeck):
    """:class:`FpnNeck` that also applies the decoder's projections of its high-resolution levels.

    ``heads`` maps output levels to 1x1 convs (``{0: conv_s0, 1: conv_s1}``); on a
    level whose lateral map feeds nothing else, head and lateral conv are folded into
    one conv, so the wide lateral map is never made. Position encodings come back in
    exact fp32. The heads stay the decoder's modules (not submodules here), so the
    state dict is unchanged and the fold always uses the current weights.
    """

    heads: dict[int, nn.Conv2d]

    def forward(self, xs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if len(xs) != len(self.convs):
            raise ValueError(f"expected {len(self.convs)} trunk levels, got {len(xs)}")
        n = len(xs)
        features: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        pos: list[torch.Tensor] = [None] * n  # type: ignore[list-item]
        coarser = None
        for level in reversed(range(n)):
            conv, head = self.convs[n - 1 - level].conv, self.heads.get(level)
            top_down = coarser is not None and level in self.fpn_top_down_levels
            feeds_finer = level - 1 in self.fpn_top_down_levels
            if head is not None and not top_down and not feeds_finer:
                features[level] = F.conv2d(xs[level], *_fold_1x1(head, conv))
            else:
                lateral = conv(xs[level])  # (B, d_model, H_l, W_l)
                if top_down:
                    lateral = lateral + F.interpolate(coarser.float(), scale_factor=2.0, mode="nearest")
                coarser = lateral
                features[level] = coarser if head is None else head(coarser)
            pos[level] = self.position_encoding(features[level])
        return features, pos


def _fold_1x1(outer: nn.Conv2d, inner: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of the 1x1 conv equal to ``outer(inner(x))``, composed in fp32."""
    w_out, w_in = outer.weight.float()[:, :, 0, 0], inner.weight.float()[:, :, 0, 0]
    weight = (w_out @ w_in)[:, :, None, None]
    bias = w_out @ inner.bias.float() + outer.bias.float()
    return weight.to(inner.weight.dtype), bias.to(inner.weight.dtype)


class Bf16CpuSAM2Model(SAM2Model):
    """:class:`SAM2Model` whose image encoder holds bf16 weights and runs outside autocast.

    ``forward_image`` returns fp32 features with the high-resolution levels already
    projected (by :class:`FoldedFpnNeck`) and exact fp32 position encodings, as the
    plain model does. ``compile_parts`` leaves the encoder eager: its kernels are
    faster than what inductor makes of it.
    """

    def forward_image(self, images: torch.Tensor) -> BackboneOutput:
        with torch.autocast(images.device.type, enabled=False):
            out = self.image_encoder(images.to(torch.bfloat16))
        fpn = [f.float() for f in out.backbone_fpn]
        return BackboneOutput(vision_features=fpn[-1], vision_pos_enc=out.vision_pos_enc, backbone_fpn=fpn)

    def _compiled_parts(self, video: bool) -> list[tuple[nn.Module, bool]]:
        return [(part, dynamic) for part, dynamic in super()._compiled_parts(video) if part is not self.image_encoder]


# Plain attention classes -> their chunked twins.
_CHUNKED: dict[type[nn.Module], type[nn.Module]] = {
    Attention: ChunkedAttention,
    RoPEAttention: ChunkedRoPEAttention,
    MultiScaleAttention: ChunkedMultiScaleAttention,
}


def prepare_bf16_cpu(model: SAM2Model, *, stacklevel: int = 2) -> SAM2Model:
    """Install the fast CPU path on a ``"bf16"`` model on a CPU, in place (once; again is a no-op).

    Args:
        model: a model of precision ``"bf16"`` whose weights are on the CPU.
        stacklevel: of the warning for CPUs without native bf16 (2: the line that calls this function).

    Raises:
        ValueError: the model is not a bf16 model on a CPU.
    """
    if model.precision != "bf16" or model.device.type != "cpu":
        raise ValueError(
            f"The fast CPU path needs a model of precision 'bf16' on the CPU; got {model.precision!r} on "
            f"{model.device}. Load it with load_model(name, device='cpu', precision='bf16')."
        )
    if isinstance(model, Bf16CpuSAM2Model):
        return model
    heads = store_encoder_in_bf16(model, stacklevel=stacklevel + 1)
    encoder = model.image_encoder
    become(encoder.trunk.patch_embed, ChannelsLastPatchEmbed)
    become(encoder.neck, FoldedFpnNeck)
    encoder.neck.heads = heads
    for module in model.modules():
        if type(module) in _CHUNKED:
            become(module, _CHUNKED[type(module)])
    become(model, Bf16CpuSAM2Model)
    return model


def store_encoder_in_bf16(model: SAM2Model, *, stacklevel: int) -> dict[int, nn.Conv2d]:
    """What both fast CPU paths (Hiera's here, EdgeTAM's) do first: store the image encoder and
    the decoder's ``conv_s0``/``conv_s1`` (which only see the encoder's maps) in bf16, warning
    on a CPU without native bf16 (``stacklevel`` as ``warnings.warn`` counts it from here).
    Returns those two heads by level, for the folded neck."""
    if not cpu_kernels.onednn_bf16():
        warnings.warn(
            "This CPU has no native bf16 arithmetic (oneDNN reports none), so precision='bf16' "
            "will run slower than fp32 here; use precision='fp32' (the CPU default) for exact fp32.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    decoder = model.sam_mask_decoder
    heads = {0: decoder.conv_s0, 1: decoder.conv_s1} if decoder.use_high_res_features else {}
    for part in (model.image_encoder, *heads.values()):
        part.to(torch.bfloat16)
    return heads


def become(module: nn.Module, cls: type[nn.Module]) -> None:
    """Make ``module`` an instance of ``cls``, a subclass of its class that only changes how it computes."""
    if not issubclass(cls, type(module)):
        raise TypeError(f"{cls.__name__} does not specialise a {type(module).__name__}")
    module.__class__ = cls
