"""Denavit-Hartenberg kinematics in plain numpy (the reference the MuJoCo models are checked against).

Two conventions, as published by the manufacturers:
- modified (Craig), used by Franka: T_i = RotX(alpha_{i-1}) TransX(a_{i-1}) RotZ(theta_i) TransZ(d_i);
- standard, used by Universal Robots: T_i = RotZ(theta_i) TransZ(d_i) TransX(a_i) RotX(alpha_i).
Lengths in metres, angles in radians, 4x4 homogeneous transforms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Convention = Literal["modified", "standard"]


@dataclass(frozen=True)
class DHRow:
    """One joint's parameters: link length a [m], offset d [m], twist alpha [rad]."""

    a_m: float
    d_m: float
    alpha_rad: float


def rot_x(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]])


def rot_z(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])


def trans(x_m: float, y_m: float, z_m: float) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = (x_m, y_m, z_m)
    return t


def joint_transform(row: DHRow, theta_rad: float, convention: Convention) -> np.ndarray:
    """Transform from joint frame i-1 to joint frame i."""
    if convention == "modified":
        return rot_x(row.alpha_rad) @ trans(row.a_m, 0, 0) @ rot_z(theta_rad) @ trans(0, 0, row.d_m)
    return rot_z(theta_rad) @ trans(0, 0, row.d_m) @ trans(row.a_m, 0, 0) @ rot_x(row.alpha_rad)


def forward_kinematics(rows: tuple[DHRow, ...], q_rad: np.ndarray, convention: Convention,
                       flange: np.ndarray | None = None) -> np.ndarray:
    """Base -> flange (or last joint frame when `flange` is None) transform at joint angles q."""
    t = np.eye(4)
    for row, theta in zip(rows, q_rad, strict=True):
        t = t @ joint_transform(row, float(theta), convention)
    return t @ flange if flange is not None else t
