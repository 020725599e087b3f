"""The floor of a scene: an object named or classed as floor (its top is the floor height), else
the normalised frame's z = 0; and the room around it (`room_bounds`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blueprint_pipeline.scene.records import Scene, SceneObject
from blueprint_pipeline.simready.words import Matcher

# "floor" as a whole word anywhere in the category, class or name ("kitchen_floor", "FloorPlane"),
# not inside another word.
_FLOOR: Matcher[bool] = Matcher([("floor", True), ("flooring", True)])


def _floor_object(objects: Sequence[SceneObject]) -> SceneObject | None:
    for o in objects:
        named_floor = any(_FLOOR.mentions(text) for text in (o.category, o.semantic_class or "", o.name))
        if named_floor and (o.aabb_max_m[2] - o.aabb_min_m[2]) < 0.3:
            return o
    return None


def floor_height_m(objects: Sequence[SceneObject]) -> float:
    """Top of an object named or classed as floor, else 0 (the normalised frame's floor)."""
    floor = _floor_object(objects)
    return float(floor.aabb_max_m[2]) if floor is not None else 0.0


def floor_footprint(objects: Sequence[SceneObject]) -> tuple[float, float, float, float] | None:
    """x-y box (lo_x, lo_y, hi_x, hi_y) of the floor object, None when the scene has none."""
    floor = _floor_object(objects)
    if floor is None:
        return None
    return (float(floor.aabb_min_m[0]), float(floor.aabb_min_m[1]), float(floor.aabb_max_m[0]), float(floor.aabb_max_m[1]))


def room_bounds(scene: Scene) -> tuple[np.ndarray, np.ndarray] | None:
    """(lo, hi) of the room's walls, floor and ceiling: the header's room box (`room_size_m` from
    `room_origin_m` as a corner, or as the centre, whichever holds every object's centre), its
    bottom at the floor height. None when the header gives no room, or no such box holds the objects."""
    objs = scene.objects
    centres = np.array([o.position_m for o in objs], dtype=float).reshape(-1, 3)
    h = scene.header
    if h.room_size_m is None or not centres.size:
        return None
    size = np.asarray(h.room_size_m, dtype=float)
    origin = np.asarray(h.room_origin_m if h.room_origin_m is not None else (0.0, 0.0, 0.0), dtype=float)
    floor = floor_height_m(objs)
    for lo in (origin, origin - 0.5 * size):
        hi = lo + size
        if np.all((centres[:, :2] >= lo[:2] - 0.01) & (centres[:, :2] <= hi[:2] + 0.01)):
            return np.array([lo[0], lo[1], floor]), np.array([hi[0], hi[1], floor + size[2]])
    return None
