"""Drawers things can be put into: where a drawer's inside is, and how much of it an opened
drawer shows.

A manifest gives a drawer as a box on a prismatic joint. When that box lies inside a fixed piece
of furniture's box (its carcass: a base cabinet, a dresser, a desk), the drawer is modelled as a
tray (`tray_of`): a bottom and four walls TRAY_WALL_M thick, open at the top, the carcass above
closing it. Such a drawer opened is a container: the episodes stage builds its walls
(`tray_parts`) and the task planner may put things into the part of it that has come out of the
carcass (`exposed_inside`). A drawer that is its own unit (the example kitchen's drawer unit,
on whose top things stand) stays one solid box: opening its top would drop what stands on it
into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.scene.carcass import carcass_of, front_along
from blueprint_pipeline.scene.records import SceneObject

TRAY_WALL_M = 0.012  # bottom and walls of a drawer tray
MIN_TRAY_HEIGHT_M = 0.06  # a flatter drawer (a keyboard tray) stays a solid box
CARCASS_TOLERANCE_M = 0.01  # the drawer's box may stick out of its carcass's box by this much


@dataclass(frozen=True)
class Tray:
    drawer_id: str
    carcass_id: str


def tray_of(o: SceneObject, objects: Sequence[SceneObject]) -> Tray | None:
    """The drawer `o` as a tray inside its carcass (scene/carcass.py), or None (not a prismatic
    box at least MIN_TRAY_HEIGHT_M tall whose whole box lies in a fixed piece of furniture's)."""
    art = o.articulation
    if art is None or art.type != "prismatic" or float(o.extents_m[2]) < MIN_TRAY_HEIGHT_M:
        return None
    c = carcass_of(o, objects)
    if c is None or c.sim_role.is_dynamic or c.sim_role.is_articulated:
        return None
    inside = np.all(np.asarray(c.aabb_min_m) <= np.asarray(o.aabb_min_m) + CARCASS_TOLERANCE_M) and \
        np.all(np.asarray(c.aabb_max_m) >= np.asarray(o.aabb_max_m) - CARCASS_TOLERANCE_M)
    return Tray(o.id, c.id) if inside else None


def tray_parts(o: SceneObject, wall_m: float = TRAY_WALL_M) -> list[tuple[np.ndarray, np.ndarray]]:
    """The tray's bottom and four walls as boxes (centre, half size) in the drawer's frame,
    within its box."""
    h = 0.5 * np.asarray(o.extents_m, dtype=float)
    w = 0.5 * wall_m
    return [
        (np.array([0.0, 0.0, -h[2] + w]), np.array([h[0], h[1], w])),  # bottom
        (np.array([h[0] - w, 0.0, w]), np.array([w, h[1], h[2] - w])),  # +x wall
        (np.array([-h[0] + w, 0.0, w]), np.array([w, h[1], h[2] - w])),  # -x wall
        (np.array([0.0, h[1] - w, w]), np.array([h[0] - wall_m, w, h[2] - w])),  # +y wall
        (np.array([0.0, -h[1] + w, w]), np.array([h[0] - wall_m, w, h[2] - w])),  # -y wall
    ]


@dataclass(frozen=True)
class Inside:
    """The part of an opened drawer's inside that has come out of its carcass, in the world."""

    centre_m: np.ndarray  # (3,): on the tray's floor
    along_m: np.ndarray  # (2,) unit: the pull direction in x-y
    depth_m: float  # along the pull
    width_m: float  # across it
    floor_z_m: float
    rim_z_m: float  # the walls' top

    def square_m(self) -> float:
        """The side of the largest world-axis-aligned square inside this turned rectangle
        (GoalRegion sizes are world-aligned)."""
        c, s = abs(float(self.along_m[0])), abs(float(self.along_m[1]))
        return min(self.depth_m, self.width_m) / (c + s)  # c + s >= 1; 1 when axis-aligned


def exposed_inside(o: SceneObject, carcass: SceneObject, pull: np.ndarray, opening_m: float,
                   wall_m: float = TRAY_WALL_M, margin_m: float = 0.02) -> Inside | None:
    """The inside of drawer `o` pulled `opening_m` along `pull` (world, unit), less what is still
    inside the carcass (and `margin_m` from its front face), or None when nothing of it is out."""
    p = np.array([pull[0], pull[1]], dtype=float)
    p /= max(float(np.linalg.norm(p)), 1e-9)
    side = np.array([-p[1], p[0]])
    rot = matrix_np(o.orientation_wxyz)
    ext = np.asarray(o.extents_m, dtype=float)
    depth = float(np.abs(rot.T @ np.array([p[0], p[1], 0.0])) @ ext)  # the drawer's size along the pull
    width = float(np.abs(rot.T @ np.array([side[0], side[1], 0.0])) @ ext)
    centre = np.asarray(o.position_m, dtype=float)[:2] + opening_m * p
    inner_front = float(centre @ p) + 0.5 * depth - wall_m
    inner_back = float(centre @ p) - 0.5 * depth + wall_m
    carcass_front = front_along(carcass, np.array([p[0], p[1], 0.0]))
    back = max(inner_back, carcass_front + margin_m)
    if inner_front - back <= 0.0:
        return None
    mid = 0.5 * (back + inner_front)
    xy = centre + (mid - float(centre @ p)) * p
    floor = float(o.aabb_min_m[2]) + wall_m
    return Inside(centre_m=np.array([xy[0], xy[1], floor]), along_m=p, depth_m=inner_front - back,
                  width_m=width - 2 * wall_m, floor_z_m=floor, rim_z_m=float(o.aabb_max_m[2]))
