"""Spatial relations between scene objects, inferred in the normalised z-up frame.

Rules (all distances in metres, on world axis-aligned boxes):
- `on` (upper -> lower): the upper box's bottom within ON_GAP_M of the lower box's top, and
  their footprints overlapping by at least half of the smaller footprint.
- `in` (inner -> container): the inner box inside the container's box grown by IN_MARGIN_M, and
  smaller than it. Room shells and background objects are not containers (they hold everything).
- `adjacent` (unordered): oriented footprints within ADJACENT_M of each other (touching or
  overlapping counts: a chair pushed under a desk), bottoms within SAME_LEVEL_M (they stand on the
  same surface, so a chair is never "next to" the keyboard on the desk), neither inside the other.
  Shell and background objects excluded.
- `aligned` (unordered): only between two adjacent objects that are both rotated off the world
  axes and share an axis (yaw equal modulo 90 degrees within ALIGNED_TOL_RAD). Two unrotated
  objects are trivially aligned and get no edge: it would carry no information.
Explicit manifest relationships win: an inferred edge is dropped when the manifest relates the
same two objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blueprint_pipeline.geniesim.geometry import SceneArrays, footprint_area_m2, footprint_gap_m, overlap_area_m2
from blueprint_pipeline.geniesim.spatial_index import candidate_pairs
from blueprint_pipeline.scene.records import SceneObject, SimRole

ON_GAP_M = 0.02
IN_MARGIN_M = 0.01
ADJACENT_M = 0.15
SAME_LEVEL_M = 0.05  # bottoms this close stand on the same surface
ALIGNED_TOL_RAD = float(np.deg2rad(2.0))
ROTATED_MIN_RAD = float(np.deg2rad(2.0))

_NOT_CONTAINER = (SimRole.SCENE_SHELL, SimRole.BACKGROUND)
_SYNONYMS = {
    "on": "on", "on_top_of": "on", "ontop": "on", "on_top": "on", "rests_on": "on", "placed_on": "on",
    "in": "in", "inside": "in", "inside_of": "in", "contained_in": "in", "within": "in",
    "adjacent": "adjacent", "adjacent_to": "adjacent", "next_to": "adjacent", "beside": "adjacent",
    "aligned": "aligned", "aligned_with": "aligned",
}


@dataclass(frozen=True)
class Relation:
    source: str
    target: str
    relation: str
    confidence: float
    origin: str  # "manifest" | "inferred"


def _classify(arr: SceneArrays, pairs: np.ndarray, yaw_mod: np.ndarray, rotated: np.ndarray,
              shell: np.ndarray, fp: Footprints) -> list[tuple[int, int, str, float]]:
    """Relations of the given (i < j) pairs, as (source index, target index, relation, confidence)."""
    if pairs.size == 0:
        return []
    i, j = pairs[:, 0], pairs[:, 1]
    amin, amax = arr.aabb_min, arr.aabb_max
    out: list[tuple[int, int, str, float]] = []
    vol = np.prod(amax - amin, axis=1)
    area = footprint_area_m2(amin, amax)
    ov = overlap_area_m2(amin[i], amax[i], amin[j], amax[j])
    min_area = np.minimum(area[i], area[j])
    overlapping = ov >= 0.5 * np.maximum(min_area, 1e-12)

    def inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return ((amin[a] >= amin[b] - IN_MARGIN_M).all(axis=1) & (amax[a] <= amax[b] + IN_MARGIN_M).all(axis=1)
                & (vol[a] < vol[b]) & ~shell[b])

    in_ij, in_ji = inside(i, j), inside(j, i)
    for a, b, mask in ((i, j, in_ij), (j, i, in_ji)):
        for k in np.flatnonzero(mask):
            out.append((int(a[k]), int(b[k]), "in", 0.9))

    contained = in_ij | in_ji
    for a, b in ((i, j), (j, i)):  # a on b
        gap = amin[a, 2] - amax[b, 2]
        on = (np.abs(gap) <= ON_GAP_M) & overlapping & ~contained & (amax[a, 2] > amax[b, 2])
        for k in np.flatnonzero(on):
            out.append((int(a[k]), int(b[k]), "on", round(1.0 - 0.5 * abs(float(gap[k])) / ON_GAP_M, 3)))

    dist = _footprint_separation(fp, i, j)
    # the world boxes contain the footprints, so their distance is also a lower bound; taking the
    # larger keeps every accepted pair within the grid's candidates (index == all pairs)
    g = footprint_gap_m(amin[i], amax[i], amin[j], amax[j])
    dist = np.maximum(dist, np.hypot(np.clip(g[:, 0], 0, None), np.clip(g[:, 1], 0, None)))
    same_level = np.abs(amin[i, 2] - amin[j, 2]) <= SAME_LEVEL_M
    z_overlap = np.minimum(amax[i, 2], amax[j, 2]) - np.maximum(amin[i, 2], amin[j, 2]) > 0
    adjacent = (dist <= ADJACENT_M) & same_level & z_overlap & ~contained & ~shell[i] & ~shell[j]
    for k in np.flatnonzero(adjacent):
        out.append((int(i[k]), int(j[k]), "adjacent", round(1.0 - 0.5 * float(dist[k]) / ADJACENT_M, 3)))

    d = np.abs(yaw_mod[i] - yaw_mod[j])
    d = np.minimum(d, np.pi / 2 - d)
    aligned = adjacent & rotated[i] & rotated[j] & (d <= ALIGNED_TOL_RAD)
    for k in np.flatnonzero(aligned):
        out.append((int(i[k]), int(j[k]), "aligned", round(1.0 - 0.5 * float(d[k]) / ALIGNED_TOL_RAD, 3)))
    return out


@dataclass(frozen=True)
class Footprints:
    """Oriented x-y footprints: centre (n, 2), unit axes u, v (n, 2) and half extents (n, 2).
    Objects not standing upright use their world box instead (axes x, y)."""

    centre: np.ndarray
    u: np.ndarray
    v: np.ndarray
    half: np.ndarray


def _footprints(arr: SceneArrays, upright: np.ndarray, extents: np.ndarray) -> Footprints:
    centre = (arr.aabb_min[:, :2] + arr.aabb_max[:, :2]) / 2
    u = arr.rotations[:, :2, 0].copy()
    v = arr.rotations[:, :2, 1].copy()
    half = extents[:, :2] / 2
    tilted = ~upright
    u[tilted], v[tilted] = (1.0, 0.0), (0.0, 1.0)
    half[tilted] = (arr.aabb_max[tilted, :2] - arr.aabb_min[tilted, :2]) / 2
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return Footprints(centre, u, v, half)


def _footprint_separation(fp: Footprints, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Distance between oriented footprints (separating-axis test: exact for boxes facing each
    other, a lower bound corner to corner across different yaws; 0 when they overlap)."""
    d = fp.centre[j] - fp.centre[i]
    seps = []
    for axis in (fp.u[i], fp.v[i], fp.u[j], fp.v[j]):
        ri = fp.half[i, 0] * np.abs((fp.u[i] * axis).sum(1)) + fp.half[i, 1] * np.abs((fp.v[i] * axis).sum(1))
        rj = fp.half[j, 0] * np.abs((fp.u[j] * axis).sum(1)) + fp.half[j, 1] * np.abs((fp.v[j] * axis).sum(1))
        seps.append(np.abs((d * axis).sum(1)) - ri - rj)
    sep = np.stack(seps, axis=1)  # (m, 4)
    # same yaw modulo 90 degrees: i's two axes are j's, so the corner distance is exact
    parallel = np.abs(np.abs((fp.u[i] * fp.u[j]).sum(1)) - np.abs(np.round((fp.u[i] * fp.u[j]).sum(1)))) < 1e-6
    corner = np.hypot(np.clip(sep[:, 0], 0, None), np.clip(sep[:, 1], 0, None))
    return np.where(parallel, corner, np.clip(sep.max(axis=1), 0, None))


def _per_object(arr: SceneArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yaw = np.arctan2(arr.rotations[:, 1, 0], arr.rotations[:, 0, 0])
    yaw_mod = np.mod(yaw, np.pi / 2)
    off_axis = np.minimum(yaw_mod, np.pi / 2 - yaw_mod)
    upright = np.abs(arr.rotations[:, 2, 2]) > np.cos(ROTATED_MIN_RAD)
    rotated = (off_axis > ROTATED_MIN_RAD) & upright
    shell = np.array([r in _NOT_CONTAINER for r in arr.roles], dtype=bool)
    return yaw_mod, rotated, shell


def inferred_relations(objects: Sequence[SceneObject], use_index: bool = True) -> list[tuple[int, int, str, float]]:
    """Inferred relations as index tuples, sorted; `use_index=False` is the all-pairs reference."""
    arr = SceneArrays.from_objects(objects)
    yaw_mod, rotated, shell = _per_object(arr)
    upright = np.abs(arr.rotations[:, 2, 2]) > np.cos(ROTATED_MIN_RAD)
    extents = np.array([o.extents_m for o in objects], dtype=float).reshape(-1, 3)
    per = (yaw_mod, rotated, shell, _footprints(arr, upright, extents))
    margin = max(ADJACENT_M, IN_MARGIN_M)
    out: list[tuple[int, int, str, float]] = []
    if use_index:
        out = _classify(arr, candidate_pairs(arr.aabb_min, arr.aabb_max, margin), *per)
    else:
        # the O(n^2) loop the grid replaces: every i against every j > i (row-vectorised)
        for a in range(arr.n - 1):
            js = np.arange(a + 1, arr.n)
            out.extend(_classify(arr, np.stack([np.full(js.size, a), js], axis=1), *per))
    return sorted(out)


def explicit_relations(objects: Sequence[SceneObject]) -> tuple[list[Relation], list[str]]:
    """Relationships the manifest states; also the problems (unknown ids) that were skipped."""
    known = {o.id for o in objects}
    rels: list[Relation] = []
    skipped: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for o in objects:
        for r in o.relationships:
            if r.subject_id not in known or r.object_id not in known:
                skipped.append(f"{o.id}: relationship {r.type!r} names an unknown object")
                continue
            rel = _SYNONYMS.get(r.type.strip().lower().replace(" ", "_").replace("-", "_"), r.type.strip().lower())
            key = (r.subject_id, r.object_id, rel)
            if key not in seen:
                seen.add(key)
                rels.append(Relation(r.subject_id, r.object_id, rel, 1.0, "manifest"))
    return rels, skipped


def scene_relations(objects: Sequence[SceneObject]) -> tuple[list[Relation], list[str]]:
    """Explicit relationships plus inferred ones for every pair the manifest does not relate."""
    explicit, skipped = explicit_relations(objects)
    stated = {(r.source, r.target) for r in explicit} | {(r.target, r.source) for r in explicit}
    ids = [o.id for o in objects]
    rels = list(explicit)
    for a, b, rel, conf in inferred_relations(objects):
        if (ids[a], ids[b]) in stated:
            continue
        rels.append(Relation(ids[a], ids[b], rel, conf, "inferred"))
    return rels, skipped
