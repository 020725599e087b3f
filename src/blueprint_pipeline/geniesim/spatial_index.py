"""Candidate object pairs from a uniform grid over world footprints (x-y), never all pairs.

Hand-rolled rather than scipy's cKDTree: a k-d tree indexes points, but our objects are boxes
of very different sizes (a mug and a counter), and the question is "which footprints come within
`margin_m` of each other" - a grid of cells that each box covers answers it directly, in numpy.
Boxes that would cover very many cells (floors, room shells) are kept aside and tested against
every box with one vectorised comparison, so they cannot blow up the grid.
"""

from __future__ import annotations

import numpy as np

MAX_CELLS_PER_BOX = 64


def _pairs_within_groups(keys_sorted: np.ndarray, members_sorted: np.ndarray) -> np.ndarray:
    """All (a, b) member pairs that share a key, as an (m, 2) array (keys sorted ascending)."""
    if keys_sorted.size < 2:
        return np.empty((0, 2), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys_sorted[1:] != keys_sorted[:-1]])
    sizes = np.diff(np.r_[starts, keys_sorted.size])
    group_end = np.repeat(starts + sizes, sizes)  # exclusive end of each entry's group
    pos = np.arange(keys_sorted.size)
    partners = group_end - pos - 1  # entries after this one in the same group
    total = int(partners.sum())
    if total == 0:
        return np.empty((0, 2), dtype=np.int64)
    left = np.repeat(pos, partners)
    first = np.cumsum(partners) - partners
    right = left + 1 + (np.arange(total) - np.repeat(first, partners))
    return np.stack([members_sorted[left], members_sorted[right]], axis=1)


def candidate_pairs(aabb_min: np.ndarray, aabb_max: np.ndarray, margin_m: float,
                    cell_m: float | None = None) -> np.ndarray:
    """Unique pairs (i < j) whose footprints are within `margin_m` on both axes, shape (m, 2).

    Exactly the pairs with per-axis footprint gap <= margin_m, so a test that needs footprints
    within `margin_m` of each other (or overlapping) sees every pair it could accept.
    """
    n = aabb_min.shape[0]
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    lo = aabb_min[:, :2] - margin_m / 2.0
    hi = aabb_max[:, :2] + margin_m / 2.0
    size = hi - lo
    if cell_m is None:
        # cells about twice the typical box: each box covers a few cells, each cell holds a few boxes
        cell_m = float(np.clip(2.0 * np.median(size.max(axis=1)), 0.05, 5.0))
    origin = lo.min(axis=0)
    c0 = np.floor((lo - origin) / cell_m).astype(np.int64)
    c1 = np.floor((hi - origin) / cell_m).astype(np.int64)
    span = c1 - c0 + 1
    cells_per_box = span[:, 0] * span[:, 1]
    big = cells_per_box > MAX_CELLS_PER_BOX
    small_idx = np.flatnonzero(~big)
    big_idx = np.flatnonzero(big)

    pairs = [np.empty((0, 2), dtype=np.int64)]
    if small_idx.size:
        counts = cells_per_box[small_idx]
        owner = np.repeat(small_idx, counts)
        k = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        sx = span[owner, 0]
        cx = c0[owner, 0] + k % sx
        cy = c0[owner, 1] + k // sx
        ny = int(c1[:, 1].max()) + 1
        keys = cx * ny + cy
        order = np.argsort(keys, kind="stable")
        pairs.append(_pairs_within_groups(keys[order], owner[order]))
    for b in big_idx:  # few: floors, room shells, very long counters
        pairs.append(np.stack([np.full(n, b, dtype=np.int64), np.arange(n)], axis=1))
    allp = np.concatenate(pairs)
    allp = allp[allp[:, 0] != allp[:, 1]]
    allp = np.sort(allp, axis=1)
    allp = np.unique(allp[:, 0] * n + allp[:, 1])
    allp = np.stack([allp // n, allp % n], axis=1)
    i, j = allp[:, 0], allp[:, 1]
    gap = np.maximum(lo[i] - hi[j], lo[j] - hi[i])  # per-axis gap of the expanded boxes
    keep = (gap <= 1e-12).all(axis=1)
    return allp[keep]


def all_pairs(n: int) -> np.ndarray:
    """Every pair (i < j): the reference the grid is checked against (tests and benchmark only)."""
    i, j = np.triu_indices(n, k=1)
    return np.stack([i, j], axis=1).astype(np.int64)
