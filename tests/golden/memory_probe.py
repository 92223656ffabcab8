"""Which stored frames a tracker's memory attention read, found from the tensors it was given.

Shared by the recording script (on the authors' code) and the golden test (on ours): the
memory attention's ``memory`` input is the concatenation of stored frames' spatial memories
(then object pointers); each chunk equals exactly one stored frame's memory, and its
position encoding minus the spatial one is the learned temporal encoding of its slot.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch


class MemoryProbe:
    """Wrap ``model.memory_attention.forward``; :meth:`frames` names what each call read.

    ``current``: returns a key for what is being tracked when the attention runs (the frame,
    or (frame, object)).
    """

    def __init__(self, model: torch.nn.Module, current: Callable[[], Hashable]) -> None:
        self.calls: dict[Hashable, tuple[torch.Tensor, torch.Tensor, int]] = {}
        forward = model.memory_attention.forward

        def probed(curr, memory, curr_pos=None, memory_pos=None, num_obj_ptr_tokens=0):
            seen = (memory.detach().float().clone(), memory_pos.detach().float().clone(), num_obj_ptr_tokens)
            self.calls[current()] = seen
            return forward(
                curr=curr,
                memory=memory,
                curr_pos=curr_pos,
                memory_pos=memory_pos,
                num_obj_ptr_tokens=num_obj_ptr_tokens,
            )

        model.memory_attention.forward = probed
        self.tpos = model.maskmem_tpos_enc.detach().float()  # (num_maskmem, 1, 1, mem_dim)

    def frames(
        self, stored: dict[int, torch.Tensor], pos_enc: torch.Tensor, keys: list[Hashable] | None = None
    ) -> dict[Hashable, list[tuple[int, int]]]:
        """Per call (``keys``: those calls only), (frame read, temporal encoding index) of every
        spatial memory, in order.

        stored: frame -> its spatial memory as (tokens, 1, mem_dim); pos_enc: (tokens, 1, mem_dim).
        """
        out = {}
        for frame in sorted(self.calls) if keys is None else keys:
            memory, memory_pos, num_ptr = self.calls[frame]
            n = next(iter(stored.values())).shape[0]
            spatial = memory.shape[0] - num_ptr
            read = []
            for start in range(0, spatial, n):
                chunk = memory[start : start + n]
                match = [t for t, m in stored.items() if torch.equal(m.float(), chunk)]
                assert len(match) == 1, f"frame {frame}: a memory chunk matches {match}"
                slot = (memory_pos[start : start + n] - pos_enc)[0, 0]
                k = int(torch.argmin((self.tpos[:, 0, 0] - slot).abs().sum(-1)))
                read.append((match[0], k))
            out[frame] = read
        return out
