"""Parallel-jaw grasp candidates from an object's shape, in the object frame.

Convention (GraspNet, as Genie Sim reads it): each pose is a 4x4 matrix whose rotation columns
are +X the approach direction (gripper moving into the object), Y the jaw-closing axis and
Z = X x Y; the translation is the point between the fingertips (the task files set
grasp_offset 0, so Genie Sim sends the gripper exactly there). A grasp is antipodal: the jaws close
on two opposite faces (box) or across the section (cylinder), so it exists only where the object's
extent along the jaw axis fits the stroke less GRIP_MARGIN_M. Approaches come from the top and the
sides; never from below, through the support. An open-top hollow mesh (a mug, a bowl) also gets
grasps of its wall at the rim (`rim_grasps`), as the episodes stage takes it: there the jaws close
on the wall, not across the object.

Usable by either arm of Genie Sim's G2 (rules in `rules.py`): with disable_upside_down Genie Sim
keeps a grasp for the right arm only when its Z axis points down (world z < 0) and for the left
arm only when it points up; a grasp whose Z is horizontal passes for neither. So
- every physical grasp is written with both jaw senses (Y and -Y; Z flips with Y), one for each
  arm; the task files also set flip_grasp, as Genie Sim's shipped tasks do;
- the jaw axis is never vertical (Z would be horizontal): side grasps close horizontally;
- top grasps are tilted TOP_TILT_DEG about the jaw axis off straight down (straight down leaves
  Z horizontal), once each way.
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.robots.description import RIM_ROOM_M
from blueprint_pipeline.simready.antipodal import from_the_side
from blueprint_pipeline.simready.records import RimRecord

GRIP_MARGIN_M = 0.005  # extent along the jaw axis must be this much under the stroke
WIDTH_CLEARANCE_M = 0.01  # jaws open this much wider than the object
MAX_DEPTH_M = 0.025  # how far past the entry face the fingertip centre goes
MAX_GRASPS = 60  # above 60 Genie Sim runs a grasp NMS that rescales translations; stay at or under it
CYLINDER_DIRECTIONS = 8
TOP_TILT_DEG = 15.0


def _pose(approach: np.ndarray, jaw: np.ndarray, centre: np.ndarray) -> np.ndarray:
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 2], t[:3, 3] = approach, jaw, np.cross(approach, jaw), centre
    return t


def _offsets(half_extent: float, n: int = 3) -> np.ndarray:
    reach = max(half_extent - 0.01, 0.0)
    return np.linspace(-reach, reach, n) if reach > 0 else np.zeros(1)


def _tilted_down(jaw: np.ndarray, sign: float, down: np.ndarray | None = None) -> np.ndarray:
    """`down` (straight down unless given; at right angles to the jaw) turned by TOP_TILT_DEG
    about the jaw axis, one way or the other."""
    down = np.array([0.0, 0.0, -1.0]) if down is None else down
    side = np.cross(jaw, -down)
    t = np.radians(TOP_TILT_DEG)
    a = np.cos(t) * down + sign * np.sin(t) * side
    return a / np.linalg.norm(a)


class _Grasps:
    """Physical grasps (approach, jaw, centre, width); written out with both jaw senses."""

    def __init__(self, stroke_m: float):
        self.stroke_m = stroke_m
        self.items: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []

    def add(self, approach: np.ndarray, jaw: np.ndarray, centre: np.ndarray, extent_along_jaw: float,
            width_m: float | None = None) -> None:
        """A grasp closing on `extent_along_jaw`; the jaws open WIDTH_CLEARANCE_M wider, or `width_m`."""
        if extent_along_jaw > self.stroke_m - GRIP_MARGIN_M:
            return
        width = min(extent_along_jaw + WIDTH_CLEARANCE_M if width_m is None else width_m, self.stroke_m)
        self.items.append((approach, jaw, centre, width))

    def finish(self, limit: int = MAX_GRASPS) -> tuple[np.ndarray, np.ndarray]:
        """The poses and widths, both jaw senses of each grasp, at most `limit` of them."""
        items = self.items
        if not items or limit < 2:
            return np.zeros((0, 4, 4)), np.zeros(0)
        if 2 * len(items) > limit:  # keep an even spread over the list (it is ordered by approach)
            keep = np.linspace(0, len(items) - 1, limit // 2).round().astype(int)
            items = [items[k] for k in keep]
        poses, widths = [], []
        for approach, jaw, centre, width in items:
            for sense in (1.0, -1.0):  # the same fingers, wrist turned half a turn: one per arm
                poses.append(_pose(approach, sense * jaw, centre))
                widths.append(width)
        return np.stack(poses), np.asarray(widths, dtype=float)


def box_grasps(extents_m: tuple[float, float, float], stroke_m: float,
               limit: int = MAX_GRASPS) -> tuple[np.ndarray, np.ndarray]:
    ext = np.asarray(extents_m, dtype=float)
    axes = np.eye(3)
    out = _Grasps(stroke_m)
    top_depth = min(MAX_DEPTH_M, ext[2] / 2)
    for j in (0, 1):  # top: jaws across x or y, tilted either way about the jaw axis
        other = 1 - j
        for tilt in (1.0, -1.0):
            for off in _offsets(ext[other] / 2):
                centre = axes[2] * (ext[2] / 2 - top_depth) + axes[other] * off
                out.add(_tilted_down(axes[j], tilt), axes[j], centre, float(ext[j]))
    for a, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):  # sides: jaws horizontal
        approach = sign * axes[a]
        j = 1 - a
        depth = min(MAX_DEPTH_M, ext[a] / 2)
        for off in _offsets(ext[2] / 2):
            centre = -approach * (ext[a] / 2) + approach * depth + axes[2] * off
            out.add(approach, axes[j], centre, float(ext[j]))
    return out.finish(limit)


def _ellipse_extent(rx: float, ry: float, direction: np.ndarray) -> float:
    """Width of the ellipse with half-axes rx, ry along the unit direction (its support width)."""
    return float(2.0 * np.hypot(rx * direction[0], ry * direction[1]))


def cylinder_grasps(extents_m: tuple[float, float, float], stroke_m: float,
                    limit: int = MAX_GRASPS) -> tuple[np.ndarray, np.ndarray]:
    """Upright cylinder along z whose section is the ellipse of the x and y extents (a circle when
    they are equal); each grasp only where the section's width along the jaw axis fits the stroke."""
    rx, ry, height = extents_m[0] / 2, extents_m[1] / 2, float(extents_m[2])
    out = _Grasps(stroke_m)
    top_depth = min(MAX_DEPTH_M, height / 2)
    for ang in np.linspace(0, np.pi, 2, endpoint=False):  # top: jaws across x, then y; tilted both ways
        jaw = np.array([np.cos(ang), np.sin(ang), 0.0])
        for tilt in (1.0, -1.0):
            out.add(_tilted_down(jaw, tilt), jaw, np.array([0.0, 0.0, height / 2 - top_depth]),
                    _ellipse_extent(rx, ry, jaw))
    for ang in np.linspace(0, 2 * np.pi, CYLINDER_DIRECTIONS, endpoint=False):
        radial = np.array([np.cos(ang), np.sin(ang), 0.0])
        tangent = np.array([-np.sin(ang), np.cos(ang), 0.0])
        for z in _offsets(height / 2):  # side: approach towards the axis, jaws across the section
            out.add(-radial, tangent, np.array([0.0, 0.0, z]), _ellipse_extent(rx, ry, tangent))
    return out.finish(limit)


def rim_grasps(rim: RimRecord, origin_m: np.ndarray, stroke_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Grasps of an open-top hollow mesh's wall (simready/rims.py; the episodes stage's rim grasps):
    at each clear direction round the rim, the jaws radial (one finger inside the wall, one
    outside) across the wall's middle at its grip depth, opened to the wall plus RIM_ROOM_M a side,
    the hand leaned by the wall's lean (`rim.lean_rad`, as there), the approach then tilted
    TOP_TILT_DEG about the jaw axis either way (it stays in the wall's plane). `origin_m`: where
    the written mesh's origin is in the rim's object frame."""
    out = _Grasps(stroke_m)
    up, lean = np.array([0.0, 0.0, 1.0]), rim.lean_rad
    for a in rim.angles_rad:
        radial = np.array([np.cos(a), np.sin(a), 0.0])
        centre = np.array([rim.centre_m[0] + rim.radius_m * radial[0], rim.centre_m[1] + rim.radius_m * radial[1],
                           rim.top_z_m - rim.grip_depth_m]) - np.asarray(origin_m, dtype=float)
        jaw, down = np.cos(lean) * radial - np.sin(lean) * up, -np.cos(lean) * up - np.sin(lean) * radial
        for tilt in (1.0, -1.0):
            out.add(_tilted_down(jaw, tilt, down), jaw, centre, rim.wall_m, width_m=rim.wall_m + 2 * RIM_ROOM_M)
    return out.finish()


def antipodal_grasps(grasps, origin_m: np.ndarray, stroke_m: float,
                     limit: int = MAX_GRASPS) -> tuple[np.ndarray, np.ndarray]:
    """A mesh's antipodal grasps (simready/antipodal.py; the episodes stage's too) whose axis is
    at least 25 deg off vertical: the jaws along the axis across its centre, opened to its width
    plus RIM_ROOM_M a side, the approach as nearly down as the axis allows, tilted TOP_TILT_DEG
    about the jaw axis either way."""
    out = _Grasps(stroke_m)
    down = np.array([0.0, 0.0, -1.0])
    for g in grasps:
        jaw = np.asarray(g.axis, dtype=float)
        if not from_the_side(jaw):
            continue
        approach = down - np.dot(down, jaw) * jaw
        approach /= np.linalg.norm(approach)
        centre = np.asarray(g.centre_m, dtype=float) - np.asarray(origin_m, dtype=float)
        for tilt in (1.0, -1.0):
            out.add(_tilted_down(jaw, tilt, approach), jaw, centre, g.width_m, width_m=g.width_m + 2 * RIM_ROOM_M)
    return out.finish(limit)


def grasps_for(extents_m: tuple[float, float, float], round_shape: bool, stroke_m: float,
               rim: RimRecord | None = None, origin_m: np.ndarray | None = None,
               antipodal=()) -> tuple[np.ndarray, np.ndarray]:
    """Grasp poses (N, 4, 4) float64 and widths (N,) metres for a box or an upright cylinder, and
    for an open-top hollow mesh with a `rim` its rim grasps too (`rim_grasps`), then a mesh's
    `antipodal` grasps (`antipodal_grasps`), within MAX_GRASPS."""
    origin = np.zeros(3) if origin_m is None else origin_m
    rim_poses, rim_widths = (rim_grasps(rim, origin, stroke_m)
                             if rim is not None else (np.zeros((0, 4, 4)), np.zeros(0)))
    shape = cylinder_grasps if round_shape else box_grasps
    poses, widths = shape(extents_m, stroke_m, limit=MAX_GRASPS - len(rim_poses))
    room = MAX_GRASPS - len(rim_poses) - len(poses)
    anti_poses, anti_widths = (antipodal_grasps(antipodal, origin, stroke_m, room)
                               if antipodal else (np.zeros((0, 4, 4)), np.zeros(0)))
    return np.concatenate([poses, rim_poses, anti_poses]), np.concatenate([widths, rim_widths, anti_widths])
