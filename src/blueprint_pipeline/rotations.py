"""Rotations: unit quaternions w-x-y-z and 3x3 rotation matrices, on MuJoCo's `mju_` functions.

One module for the whole project (scene normalisation, the Genie Sim export, the robot builders),
so every package spells a rotation the same way: quaternions are w-x-y-z, normalised with w >= 0
where a record stores them; matrices map the rotated frame to its parent (v_parent = R v_local).
Functions return plain tuples of floats (what the records hold) unless they say numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mujoco
import numpy as np

Quat = tuple[float, float, float, float]  # w, x, y, z
Vec3 = tuple[float, float, float]
Mat3 = tuple[Vec3, Vec3, Vec3]  # rows

IDENTITY: Quat = (1.0, 0.0, 0.0, 0.0)
_S = math.sqrt(0.5)
Y_UP_TO_Z_UP: Quat = (_S, _S, 0.0, 0.0)  # +90 degrees about x: (x, y, z) -> (x, -z, y)


def _arr(q: Sequence[float]) -> np.ndarray:
    return np.asarray(q, dtype=float)


def quat_mul(a: Sequence[float], b: Sequence[float]) -> Quat:
    """a * b (b applied first, then a)."""
    out = np.empty(4)
    mujoco.mju_mulQuat(out, _arr(a), _arr(b))
    return tuple(out.tolist())


def quat_conjugate(q: Sequence[float]) -> Quat:
    """q^-1 of a unit quaternion."""
    out = np.empty(4)
    mujoco.mju_negQuat(out, _arr(q))
    return tuple(out.tolist())


def quat_normalise(q: Sequence[float]) -> Quat:
    """Unit quaternion with w >= 0 (q and -q are the same rotation; one spelling keeps files
    diffable). math.hypot scales internally, so components near 1e308 cannot overflow."""
    n = math.hypot(q[0], q[1], q[2], q[3])
    s = 1.0 / n if q[0] >= 0 else -1.0 / n
    return (q[0] * s, q[1] * s, q[2] * s, q[3] * s)


def quat_from_euler(roll_rad: float, pitch_rad: float, yaw_rad: float) -> Quat:
    """R = Rz(yaw) Ry(pitch) Rx(roll): turns about the parent's fixed x, then y, then z."""
    out = np.empty(4)
    mujoco.mju_euler2Quat(out, np.array([roll_rad, pitch_rad, yaw_rad], dtype=float), "XYZ")
    return tuple(out.tolist())


def yaw_quat(yaw_rad: float) -> Quat:
    """A turn by `yaw_rad` about +z."""
    out = np.empty(4)
    mujoco.mju_axisAngle2Quat(out, np.array([0.0, 0.0, 1.0]), float(yaw_rad))
    return tuple(out.tolist())


def axis_angle_matrix(axis: Sequence[float], angle_rad: float) -> np.ndarray:
    """Rotation matrix (3, 3) of a right-handed turn by `angle_rad` about `axis` (normalised here)."""
    quat = np.empty(4)
    mujoco.mju_axisAngle2Quat(quat, np.asarray(axis, dtype=float) / np.linalg.norm(axis), float(angle_rad))
    return matrix_np(quat)


def quat_in_frame(change: Sequence[float], q: Sequence[float]) -> Quat:
    """c q c^-1: the rotation q expressed in the frame that `change` (c) turns into."""
    return quat_mul(quat_mul(change, q), quat_conjugate(change))


def matrix_np(q: Sequence[float]) -> np.ndarray:
    """Rotation matrix of a quaternion (normalised here), numpy (3, 3)."""
    qa = _arr(q)
    out = np.empty(9)
    mujoco.mju_quat2Mat(out, qa / np.linalg.norm(qa))
    return out.reshape(3, 3)


def quat_to_matrix(q: Sequence[float]) -> Mat3:
    """Rotation matrix of a quaternion (normalised here), as row tuples."""
    m = matrix_np(q).tolist()
    return (tuple(m[0]), tuple(m[1]), tuple(m[2]))


def matrix_to_quat(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion w-x-y-z (4,) of a rotation matrix (3, 3), numpy."""
    out = np.empty(4)
    mujoco.mju_mat2Quat(out, np.ascontiguousarray(rot, dtype=float).reshape(9))
    return out


def box_aabb(center_m: Sequence[float], orientation: Sequence[float],
             extents_m: Sequence[float]) -> tuple[Vec3, Vec3]:
    """(min, max) of the world axis-aligned box holding an oriented box with full `extents_m`
    along its own axes: half-size_i = sum_j |R_ij| * extent_j / 2."""
    (a, b, c), (d, e, f), (g, h, i) = quat_to_matrix(orientation)
    hx, hy, hz = extents_m[0] / 2, extents_m[1] / 2, extents_m[2] / 2
    half_x = abs(a) * hx + abs(b) * hy + abs(c) * hz
    half_y = abs(d) * hx + abs(e) * hy + abs(f) * hz
    half_z = abs(g) * hx + abs(h) * hy + abs(i) * hz
    x, y, z = center_m
    return (x - half_x, y - half_y, z - half_z), (x + half_x, y + half_y, z + half_z)
