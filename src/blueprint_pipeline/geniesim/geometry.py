"""Small geometry functions for the normalised scene (z-up, metres, quaternions w-x-y-z)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blueprint_pipeline.rotations import box_aabb, matrix_np, yaw_quat
from blueprint_pipeline.scene.records import SceneObject, SimRole



@dataclass(frozen=True)
class SceneArrays:
    """Column arrays of a scene's objects, for vectorised pair tests (n objects)."""

    ids: list[str]
    aabb_min: np.ndarray  # (n, 3) world, metres
    aabb_max: np.ndarray  # (n, 3)
    rotations: np.ndarray  # (n, 3, 3) object -> world
    roles: list[SimRole]

    @property
    def n(self) -> int:
        return len(self.ids)

    @classmethod
    def from_objects(cls, objects: Sequence[SceneObject]) -> SceneArrays:
        n = len(objects)
        rot = np.empty((n, 3, 3))
        for i, o in enumerate(objects):
            rot[i] = matrix_np(o.orientation_wxyz)
        return cls(
            ids=[o.id for o in objects],
            aabb_min=np.array([o.aabb_min_m for o in objects], dtype=float).reshape(n, 3),
            aabb_max=np.array([o.aabb_max_m for o in objects], dtype=float).reshape(n, 3),
            rotations=rot,
            roles=[o.sim_role for o in objects],
        )


def footprint_gap_m(a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray) -> np.ndarray:
    """Per-axis gap (x, y) between world footprints; negative where they overlap. Shapes (..., 2)."""
    return np.maximum(a_min[..., :2] - b_max[..., :2], b_min[..., :2] - a_max[..., :2])


def overlap_area_m2(a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray) -> np.ndarray:
    """Area of the intersection of two world footprints (0 when disjoint)."""
    lo = np.maximum(a_min[..., :2], b_min[..., :2])
    hi = np.minimum(a_max[..., :2], b_max[..., :2])
    d = np.clip(hi - lo, 0.0, None)
    return d[..., 0] * d[..., 1]


def footprint_area_m2(a_min: np.ndarray, a_max: np.ndarray) -> np.ndarray:
    d = a_max[..., :2] - a_min[..., :2]
    return d[..., 0] * d[..., 1]


def world_aabb(position_m: Sequence[float], extents_m: Sequence[float],
               orientation_wxyz: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned box (min, max) of an oriented box centred at `position_m`, numpy (3,)."""
    lo, hi = box_aabb(position_m, orientation_wxyz, extents_m)
    return np.array(lo), np.array(hi)


def box_overlap_m(pos_a: Sequence[float], rot_a: np.ndarray, ext_a: Sequence[float],
                  pos_b: Sequence[float], rot_b: np.ndarray, ext_b: Sequence[float]) -> float:
    """How deep two upright oriented boxes interpenetrate: the smallest overlap over the
    separating axes of their footprints (both boxes' x and y) and the vertical, in metres;
    <= 0 when they are apart (separating-axis test)."""
    d = np.asarray(pos_b, dtype=float) - np.asarray(pos_a, dtype=float)
    ha, hb = 0.5 * np.asarray(ext_a, dtype=float), 0.5 * np.asarray(ext_b, dtype=float)
    depth = ha[2] + hb[2] - abs(d[2])
    for axis in (rot_a[:2, 0], rot_a[:2, 1], rot_b[:2, 0], rot_b[:2, 1]):
        n = axis / max(float(np.linalg.norm(axis)), 1e-12)
        ra = ha[0] * abs(n @ rot_a[:2, 0]) + ha[1] * abs(n @ rot_a[:2, 1])
        rb = hb[0] * abs(n @ rot_b[:2, 0]) + hb[1] * abs(n @ rot_b[:2, 1])
        depth = min(depth, ra + rb - abs(float(n @ d[:2])))
    return float(depth)
