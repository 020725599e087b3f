"""The floor of a scene: an object named or classed as floor (its top is the floor height), else
the normalised frame's z = 0."""

from __future__ import annotations

from collections.abc import Sequence

from blueprint_pipeline.scene.records import SceneObject
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
