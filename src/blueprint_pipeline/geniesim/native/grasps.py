"""Parallel-jaw grasp candidates from an object's shape, in the object frame.

Convention (GraspNet, as Genie Sim reads it): each pose is a 4x4 matrix whose rotation columns
are +X the approach direction (gripper moving into the object), Y the jaw-closing axis and
Z = X x Y; the translation is the point between the fingertips. A grasp is antipodal: the jaws
close on two opposite faces (box) or across a diameter (cylinder), so it exists only where the
object's extent along the jaw axis fits the stroke less a margin. Approaches come from the top
(-z) and the four sides; never from below, through the support.
"""

from __future__ import annotations

import numpy as np

GRIP_MARGIN_M = 0.005  # extent must be this much under the stroke
WIDTH_CLEARANCE_M = 0.01  # jaws open this much wider than the object
MAX_DEPTH_M = 0.025  # how far past the entry face the fingertip centre goes
MAX_GRASPS = 60  # above 60 Genie Sim runs a grasp NMS; stay under it
CYLINDER_DIRECTIONS = 8


def _pose(approach: np.ndarray, jaw: np.ndarray, centre: np.ndarray) -> np.ndarray:
    a, j = approach, jaw
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 3] = a, j, centre
    # Z = X x Y written out: np.cross costs more than the rest of the pose for single vectors
    t[:3, 2] = (a[1] * j[2] - a[2] * j[1], a[2] * j[0] - a[0] * j[2], a[0] * j[1] - a[1] * j[0])
    return t


def _offsets(half_extent: float, n: int = 3) -> np.ndarray:
    reach = max(half_extent - 0.01, 0.0)
    return np.linspace(-reach, reach, n) if reach > 0 else np.zeros(1)


def box_grasps(extents_m: tuple[float, float, float], stroke_m: float) -> tuple[np.ndarray, np.ndarray]:
    ext = np.asarray(extents_m, dtype=float)
    axes = np.eye(3)
    poses, widths = [], []
    # approach directions: top (-z), then the four sides (+-x, +-y)
    for approach in (-axes[2], axes[0], -axes[0], axes[1], -axes[1]):
        a = int(np.argmax(np.abs(approach)))
        depth = min(MAX_DEPTH_M, ext[a] / 2)
        entry = -approach * (ext[a] / 2)  # centre of the face the gripper enters through
        for j in (k for k in range(3) if k != a):
            if ext[j] > stroke_m - GRIP_MARGIN_M:
                continue
            third = 3 - a - j
            for sign in (1.0, -1.0):  # the jaw axis either way round (same fingers, flipped wrist)
                for off in _offsets(ext[third] / 2):
                    centre = entry + approach * depth + axes[third] * off
                    poses.append(_pose(approach, sign * axes[j], centre))
                    widths.append(min(ext[j] + WIDTH_CLEARANCE_M, stroke_m))
    return _finish(poses, widths)


def cylinder_grasps(extents_m: tuple[float, float, float], stroke_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Upright cylinder (axis z, diameter = the smaller of the x and y extents)."""
    diameter, height = float(min(extents_m[0], extents_m[1])), float(extents_m[2])
    poses, widths = [], []
    if diameter > stroke_m - GRIP_MARGIN_M:
        return _finish(poses, widths)
    width = min(diameter + WIDTH_CLEARANCE_M, stroke_m)
    for ang in np.linspace(0, 2 * np.pi, CYLINDER_DIRECTIONS, endpoint=False):
        radial = np.array([np.cos(ang), np.sin(ang), 0.0])
        tangent = np.array([-np.sin(ang), np.cos(ang), 0.0])
        depth_top = min(MAX_DEPTH_M, height / 2)
        poses.append(_pose(np.array([0.0, 0.0, -1.0]), radial, np.array([0.0, 0.0, height / 2 - depth_top])))
        widths.append(width)
        for z in _offsets(height / 2):  # side: approach towards the axis, jaws across the diameter
            poses.append(_pose(-radial, tangent, np.array([0.0, 0.0, z])))
            widths.append(width)
    return _finish(poses, widths)


def _finish(poses: list[np.ndarray], widths: list[float]) -> tuple[np.ndarray, np.ndarray]:
    if not poses:
        return np.zeros((0, 4, 4)), np.zeros(0)
    p, w = np.stack(poses), np.asarray(widths, dtype=float)
    if len(p) > MAX_GRASPS:  # keep an even spread over the list (it is ordered by approach)
        keep = np.linspace(0, len(p) - 1, MAX_GRASPS).round().astype(int)
        p, w = p[keep], w[keep]
    return p, w


def grasps_for(extents_m: tuple[float, float, float], round_shape: bool, stroke_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Grasp poses (N, 4, 4) float64 and widths (N,) metres for a box or an upright cylinder."""
    return cylinder_grasps(extents_m, stroke_m) if round_shape else box_grasps(extents_m, stroke_m)
