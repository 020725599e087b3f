"""One recipe for random streams: every draw comes from a generator keyed by the scene, the stage,
the item and the user seed, so any item can be regenerated alone and no two items share a stream.

    rng = item_rng(scene_id, "synth", cell_index, seed)

The key is the first 128 bits of sha256("scene_id|stage|part|part..."), parts written with
`str` (strings and integers). Scene ids cannot hold "|"; the parts come last, item first, the user
seed (checked against [0, 2^32 - 1] where it enters, `contract.RunOptions.create`) last.
"""

from __future__ import annotations

import hashlib

import numpy as np


def seed_key(scene_id: str, stage: str, *parts: str | int) -> int:
    """The 128-bit seed of (scene, stage, *parts)."""
    for p in parts:
        if isinstance(p, bool) or not isinstance(p, (str, int, np.integer)):
            raise ValueError(f"seed parts are strings or integers, got {p!r}")
    text = "|".join([scene_id, stage, *(str(int(p)) if not isinstance(p, str) else p for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "little")


def item_rng(scene_id: str, stage: str, *parts: str | int) -> np.random.Generator:
    """The generator of one item of one stage (see the module docstring)."""
    return np.random.default_rng(seed_key(scene_id, stage, *parts))
