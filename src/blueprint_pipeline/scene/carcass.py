"""The carcass of a moving part: the fixed piece of furniture a door panel or a drawer lies in
(scene/doors.py, scene/drawers.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.scene.records import SceneObject, SimRole


def carcass_of(o: SceneObject, objects: Sequence[SceneObject]) -> SceneObject | None:
    """The smallest object without a joint, not a room shell, whose box (2 cm slack) holds `o`'s
    box centre, or None."""
    centre = np.asarray(o.position_m, dtype=float)
    best, best_vol = None, np.inf
    for f in objects:
        if f.id == o.id or f.articulation is not None or f.sim_role in (SimRole.SCENE_SHELL, SimRole.BACKGROUND):
            continue
        lo, hi = np.asarray(f.aabb_min_m) - 0.02, np.asarray(f.aabb_max_m) + 0.02
        if np.all(centre >= lo) and np.all(centre <= hi):
            vol = float(np.prod(f.extents_m))
            if vol < best_vol:
                best, best_vol = f, vol
    return best


def front_along(o: SceneObject, direction: np.ndarray) -> float:
    """How far `o`'s box reaches along the unit `direction` (world): the largest `corner @ direction`."""
    d = np.asarray(direction, dtype=float)
    return float(np.asarray(o.position_m, dtype=float) @ d
                 + 0.5 * np.abs(matrix_np(o.orientation_wxyz).T @ d) @ np.asarray(o.extents_m, dtype=float))
