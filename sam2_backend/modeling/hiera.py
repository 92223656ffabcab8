"""Hiera, the hierarchical vision transformer trunk of the SAM 2 image encoder.

The trunk turns a (B, 3, H, W) image into four feature maps at strides 4, 8, 16
and 32. Each stage is a run of transformer blocks working on channels-last
tensors (B, h, w, C); most blocks attend inside non-overlapping square windows,
a few attend globally. The first block of a stage halves the resolution by
max-pooling its queries ("q-pooling") and widens the channels.

Parameter names match the official checkpoints (``patch_embed.proj``,
``pos_embed``, ``pos_embed_window``, ``blocks.N.*``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..configs import HieraConfig
from ..device_support import interpolate
from . import cpu_kernels
from .common import MLP

# Tokens per strip of a windowed block in CPU inference: ~8192 keeps a strip's
# activations in cache instead of faulting in fresh 40-75 MB maps per block.
STRIP_TOKENS = 8192


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Cut (B, H, W, C) into (B * nWin, window, window, C) tiles, zero-padding H and W up.

    Returns the tiles and the padded size (Hp, Wp) needed to undo the cut.
    """
    b, h, w, c = x.shape
    pad_h = -h % window
    pad_w = -w % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window, window, wp // window, window, c)
    tiles = x.transpose(2, 3).reshape(-1, window, window, c)  # (B * nWin, win, win, C)
    return tiles, (hp, wp)


def window_unpartition(
    tiles: torch.Tensor, window: int, padded_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nWin, window, window, C) -> (B, H, W, C)."""
    hp, wp = padded_hw
    h, w = hw
    rows, cols = hp // window, wp // window
    b = tiles.shape[0] // (rows * cols)
    x = tiles.reshape(b, rows, cols, window, window, -1)
    x = x.transpose(2, 3).reshape(b, hp, wp, -1)  # (B, Hp, Wp, C)
    if hp > h or wp > w:
        x = x[:, :h, :w, :]
    return x


def _max_pool_hwc(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Non-overlapping max pooling of a channels-last map: (B, H, W, C) -> (B, H/s, W/s, C)."""
    x = F.max_pool2d(x.permute(0, 3, 1, 2), kernel_size=stride, stride=stride)
    return x.permute(0, 2, 3, 1)


class PatchEmbed(nn.Module):
    """7x7 stride-4 convolution: (B, 3, H, W) image -> (B, H/4, W/4, C) channels-last tokens."""

    def __init__(self, *, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)  # a channels-last view, as the reference's


class MultiScaleAttention(nn.Module):
    """Self-attention over a (B, H, W, dim) map that may max-pool its queries.

    With ``q_stride`` set, the output is (B, H/s, W/s, dim_out); keys and values
    keep the full resolution, so every pooled query still sees the whole input.
    """

    def __init__(self, *, dim: int, dim_out: int, num_heads: int, q_stride: int | None = None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_stride = q_stride
        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).view(b, h * w, 3, self.num_heads, -1)  # (B, HW, 3, nH, c)
        q, k, v = qkv.unbind(2)  # each (B, HW, nH, c)
        if self.q_stride:
            # Pool all heads together in channels-last layout, then split them again.
            q = _max_pool_hwc(q.reshape(b, h, w, -1), self.q_stride)  # (B, h', w', nH * c)
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1)
        out = self.attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))  # (B, nH, h'w', c)
        out = out.transpose(1, 2).reshape(b, h, w, -1)  # (B, h', w', dim_out)
        return self.proj(out)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Softmax attention per head: q (B, nH, Nq, c), k and v (B, nH, Nk, c) -> (B, nH, Nq, c)."""
        return F.scaled_dot_product_attention(q, k, v)


class FusedMLP(MLP):
    """:class:`MLP` whose hidden layers spare a pass over their output in CPU inference.

    Same parameters and keys as :class:`MLP`. ``cpu_kernels.linear_act`` runs linear +
    activation as one oneDNN call in bf16 and the activation in place in fp32 (the same
    bits as the two ops); anywhere else, the two ops.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = cpu_kernels.linear_act(x, layer, self.act)
        x = self.layers[-1](x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block on (B, H, W, dim) -> (B, H', W', dim_out).

    In CPU inference a windowed block runs strip by strip over rows of windows: each
    row of windows is attended on its own, and the norms and the MLP are per token, so
    the strips give the same sums as the whole map while every intermediate stays in
    cache.

    Args:
        dim: input channels.
        dim_out: output channels; when different, the residual goes through ``proj``.
        num_heads: attention heads.
        window_size: side of the attention windows; 0 means global attention.
        q_stride: query pooling stride (stage transitions only), halving H and W.
        mlp_ratio: hidden width of the MLP relative to ``dim_out``.
    """

    def __init__(
        self,
        *,
        dim: int,
        dim_out: int,
        num_heads: int,
        window_size: int,
        q_stride: int | None = None,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiScaleAttention(dim=dim, dim_out=dim_out, num_heads=num_heads, q_stride=q_stride)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = FusedMLP(dim_out, int(dim_out * mlp_ratio), dim_out, 2, activation=nn.GELU)
        self.proj = nn.Linear(dim, dim_out) if dim != dim_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = self.strip_rows(x)
        if rows >= x.shape[1]:
            return self._forward_map(x)
        return torch.cat([self._forward_map(x[:, r : r + rows]) for r in range(0, x.shape[1], rows)], 1)

    def strip_rows(self, x: torch.Tensor) -> int:
        """Rows of tokens per strip of ``x`` (B, H, W, C): whole rows of windows in CPU inference, else all."""
        if not self.window_size or x.device.type != "cpu" or torch.is_grad_enabled() or torch.compiler.is_compiling():
            return x.shape[1]
        b, _, w, _ = x.shape
        return max(1, STRIP_TOKENS // (b * w * self.window_size)) * self.window_size

    def _forward_map(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x  # (B, H, W, dim)
        x = self.norm1(x)
        if self.proj is not None:
            # The residual is taken after the norm here, to change its width.
            shortcut = self.proj(x)
            if self.q_stride:
                shortcut = _max_pool_hwc(shortcut, self.q_stride)  # (B, H', W', dim_out)

        window = self.window_size
        if window > 0:
            x, padded_hw = window_partition(x, window)
        x = self.attn(x)
        if window > 0:
            if self.q_stride:
                # Each window shrank with its pooled queries.
                window //= self.q_stride
                padded_hw = (padded_hw[0] // self.q_stride, padded_hw[1] // self.q_stride)
            x = window_unpartition(x, window, padded_hw, shortcut.shape[1:3])

        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class Hiera(nn.Module):
    """Hierarchical ViT trunk: (B, 3, H, W) -> four maps (B, C_i, H/s_i, W/s_i), s_i = 4, 8, 16, 32.

    Args:
        embed_dim: channels of the first stage; multiplied by ``dim_mul`` per stage.
        num_heads: heads of the first stage; multiplied by ``head_mul`` per stage.
        stages: number of blocks per stage.
        global_att_blocks: indices (over all blocks) that attend globally.
        window_pos_embed_bkg_spatial_size: grid of the learned background position
            embedding, resized bicubically to the token grid.
        window_spec: attention window side per stage.
        q_pool: how many stage transitions pool their queries.
        q_stride: the (square) pooling stride at those transitions.
    """

    def __init__(
        self,
        *,
        embed_dim: int,
        num_heads: int,
        stages: tuple[int, ...],
        global_att_blocks: tuple[int, ...],
        window_pos_embed_bkg_spatial_size: tuple[int, int],
        window_spec: tuple[int, ...] = (8, 4, 14, 7),
        q_pool: int = 3,
        q_stride: tuple[int, int] = (2, 2),
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
    ) -> None:
        super().__init__()
        if len(stages) != len(window_spec):
            raise ValueError("stages and window_spec need one entry per stage")
        if not 0 <= q_pool < len(stages):
            raise ValueError(f"q_pool must be in [0, {len(stages) - 1}]")
        if q_stride[0] != q_stride[1]:
            raise ValueError("only square q_stride is supported (windows are square)")

        self.patch_embed = PatchEmbed(embed_dim=embed_dim)
        # Windowed position embedding (arXiv:2311.05613): a coarse background grid
        # interpolated to the token grid plus one window-sized pattern tiled over it.
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *window_pos_embed_bkg_spatial_size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, window_spec[0], window_spec[0]))
        self._pos_cache: tuple | None = None  # (key, embedding), see _position_embedding

        dims, heads = [embed_dim], [num_heads]
        for _ in stages[1:]:
            dims.append(int(dims[-1] * dim_mul))
            heads.append(int(heads[-1] * head_mul))

        self.blocks = nn.ModuleList()
        self.stage_ends: list[int] = []
        for stage, depth in enumerate(stages):
            for j in range(depth):
                index = len(self.blocks)
                # The first block of a stage still sees the previous stage's
                # resolution, so it also uses that stage's window and width.
                entering = stage > 0 and j == 0
                window = window_spec[stage - 1] if entering else window_spec[stage]
                self.blocks.append(
                    MultiScaleBlock(
                        dim=dims[stage - 1] if entering else dims[stage],
                        dim_out=dims[stage],
                        num_heads=heads[stage],
                        window_size=0 if index in global_att_blocks else window,
                        q_stride=q_stride[0] if entering and stage <= q_pool else None,
                    )
                )
            self.stage_ends.append(len(self.blocks) - 1)
        self.channel_list = dims[::-1]  # lowest resolution first, as the neck expects

    @classmethod
    def from_config(cls, cfg: HieraConfig) -> Hiera:
        return cls(
            embed_dim=cfg.embed_dim,
            num_heads=cfg.num_heads,
            stages=tuple(cfg.stages),
            global_att_blocks=tuple(cfg.global_att_blocks),
            window_pos_embed_bkg_spatial_size=tuple(cfg.window_pos_embed_bkg_spatial_size),
            window_spec=tuple(cfg.window_spec),
            q_pool=cfg.q_pool,
            q_stride=tuple(cfg.q_stride),
            dim_mul=cfg.dim_mul,
            head_mul=cfg.head_mul,
        )

    def _position_embedding(self, h: int, w: int) -> torch.Tensor:
        """Position embedding for an (h, w) token grid: (1, h, w, C).

        At inference it only changes with the grid and the weights, and the bicubic
        resize costs ~3 % of a CPU forward, so it is cached; the key holds the
        parameters' storage and version counters, which every weight update (loading
        a state dict, ``.to()``, assigning ``.data``) changes.
        """
        params = (self.pos_embed, self.pos_embed_window)
        if torch.is_grad_enabled() or torch.compiler.is_compiling() or any(p.is_inference() for p in params):
            return self._compute_position_embedding(h, w)
        device = self.pos_embed.device.type
        autocast = torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device)
        key = (h, w, autocast) + tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params)
        if self._pos_cache is None or self._pos_cache[0] != key:
            self._pos_cache = (key, self._compute_position_embedding(h, w))
        return self._pos_cache[1]

    def _compute_position_embedding(self, h: int, w: int) -> torch.Tensor:
        pos = interpolate(self.pos_embed, (h, w), "bicubic")  # (1, C, h, w); on the CPU where MPS has no bicubic
        win = self.pos_embed_window
        reps = (-(-h // win.shape[-2]), -(-w // win.shape[-1]))
        pos = pos + win.tile(1, 1, *reps)[..., :h, :w]
        return pos.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) image -> per-stage maps (B, C_i, H_i, W_i), highest resolution first."""
        x = self.patch_embed(x)  # (B, H/4, W/4, C)
        x = x + self._position_embedding(x.shape[1], x.shape[2])
        outputs = []
        ends = set(self.stage_ends)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
