"""Memory policies: which candidate mask a tracking step keeps and which past frames it reads.

``make_policy("sam2" | "quality" | "samurai" | "dam4sam", **options)``; see each module.
"""

from __future__ import annotations

import inspect
from typing import Any

from .base import Candidates, FrameScores, MemoryPolicy, MemoryQuery, PolicyState
from .dam4sam import Dam4samPolicy
from .quality import QualityPolicy
from .samurai import SamuraiPolicy

POLICIES: dict[str, type[MemoryPolicy]] = {
    "sam2": MemoryPolicy,
    "quality": QualityPolicy,
    "samurai": SamuraiPolicy,
    "dam4sam": Dam4samPolicy,
}


def make_policy(memory: str | MemoryPolicy = "sam2", **options: Any) -> MemoryPolicy:
    """A policy by name with its options (the papers' defaults for those not given), or a policy as it is."""
    if isinstance(memory, MemoryPolicy):
        if options:
            raise ValueError("Options go with a policy's name, not with a policy object.")
        return memory
    if memory not in POLICIES:
        raise ValueError(f"memory must be one of {sorted(POLICIES)}, got {memory!r:.80}.")
    known = [p for p in inspect.signature(POLICIES[memory]).parameters if p != "self"]
    unknown = sorted(set(options) - set(known))
    if unknown:
        named = ", ".join(f"{name!r:.40}" for name in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise TypeError(f"{memory!r} has no option(s) {named}; its options: {', '.join(known) or 'none'}.")
    return POLICIES[memory](**options)


__all__ = ["POLICIES", "Candidates", "FrameScores", "MemoryPolicy", "MemoryQuery", "PolicyState", "make_policy"]
