"""Genie Sim's planner rules that decide whether an exported task can run, restated from reading its
data-collection client (AgibotTech/genie_sim, v3.2.0, commit 0e659ad; client code unchanged since
3.0.3): the pick stage's grasp selection (client/planner/action/grasp.py), the place alignment
(client/planner/common.py get_aligned_pose), the auto arm choice (client/agent/omniagent.py) and
the robot's gripper frame (client/robot/omni_robot.py). Only the rules are restated here.

Pick (per arm; IK is not modelled):
- grasp poses from the pickle (GraspNet: X approach, Y jaw axis) are turned into the robot's
  gripper frame: R' = R @ OMNIPICKER_GRIPPER_TO_GRASP, so Z' = X (approach) and Y' = -Z;
- flip_grasp (default false) adds each pose turned 180 degrees about Z' (Y -> -Y);
- poses go to the world with the object's pose; disable_upside_down (default false) then keeps,
  for the omnipicker, only Y'_z > 0 for the right arm and Y'_z < 0 for the left arm (strict);
- grasp_offset (default 0.03 m when absent) moves every pose that far along Z' (the approach).
Auto arm: the arm whose gripper is more than ARM_CHOICE_M closer to the object; within that
margin either arm, at random. So a task must offer grasps to both arms.
Place: with place_with_origin_orientation (default TRUE when absent) the active element is the
object's origin with the world's -z as direction; otherwise the active object's place labels.
The active element's point is moved onto the passive label's point, its direction turned onto
the passive label's direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

GENIESIM_RULES_COMMIT = "0e659ad"  # AgibotTech/genie_sim v3.2.0
OMNIPICKER_GRIPPER_TO_GRASP = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
DEFAULT_GRASP_OFFSET_M = 0.03
ARM_CHOICE_M = 0.1
ARMS = ("left", "right")
# Genie Sim compares with 0 strictly; a component this close to 0 passes or fails by rounding, so it
# counts as failing here.
UPRIGHT_EPS = 1e-6


def pose_matrix(position: Any, quaternion_wxyz: Any) -> np.ndarray:
    w, x, y, z = (float(v) for v in quaternion_wxyz)
    n = np.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    m = np.eye(4)
    m[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    m[:3, 3] = [float(v) for v in position]
    return m


def arm_grasps(grasps: np.ndarray, object_pose: np.ndarray, extra_params: dict[str, Any],
               robot_cfg: str = "G2_omnipicker_fixed_dual.json") -> dict[str, np.ndarray]:
    """For each arm: indices into `grasps` (N, 4, 4, object frame) of the poses the pick stage keeps
    (a grasp counts once even if both it and its flipped copy pass)."""
    rot = grasps[:, :3, :3]
    if "omnipicker" in robot_cfg:
        rot = rot @ OMNIPICKER_GRIPPER_TO_GRASP
    world = object_pose[:3, :3] @ rot  # (N, 3, 3)
    flip = bool(extra_params.get("flip_grasp", False))
    out: dict[str, np.ndarray] = {}
    for arm in ARMS:
        if not extra_params.get("disable_upside_down", False):
            keep = np.ones(len(grasps), dtype=bool)
        elif "omnipicker" in robot_cfg:  # Y'_z; the flipped copy has -Y'
            v = world[:, 2, 1]
            keep = np.abs(v) > UPRIGHT_EPS if flip else ((v < -UPRIGHT_EPS) if arm == "left" else (v > UPRIGHT_EPS))
        else:  # X'_z > 0 for either arm; the flipped copy has -X'
            v = world[:, 2, 0]
            keep = np.abs(v) > UPRIGHT_EPS if flip else v > UPRIGHT_EPS
        out[arm] = np.flatnonzero(keep)
    return out


def grasp_offset_m(extra_params: dict[str, Any]) -> float:
    return float(extra_params.get("grasp_offset", DEFAULT_GRASP_OFFSET_M))


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation turning unit vector a onto unit vector b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-9:  # opposite: half a turn about any axis perpendicular to a
        p = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(p) < 1e-6:
            p = np.cross(a, [0.0, 1.0, 0.0])
        p /= np.linalg.norm(p)
        return 2 * np.outer(p, p) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def placed_pose(active_pose: np.ndarray, active_xyz: Any, active_direction: Any,
                passive_pose: np.ndarray, passive_xyz: Any, passive_direction: Any) -> np.ndarray:
    """Where the place stage puts the active object: its element's point onto the passive element's
    point, its element's direction turned onto the passive one (both given in their object frames)."""
    a_pt = active_pose @ np.r_[np.asarray(active_xyz, dtype=float), 1.0]
    a_dir = active_pose[:3, :3] @ np.asarray(active_direction, dtype=float)
    p_pt = passive_pose @ np.r_[np.asarray(passive_xyz, dtype=float), 1.0]
    p_dir = passive_pose[:3, :3] @ np.asarray(passive_direction, dtype=float)
    r = _align(a_dir, p_dir)
    t = np.eye(4)
    t[:3, :3] = r
    t[:3, 3] = p_pt[:3] - r @ a_pt[:3]
    return t @ active_pose


def active_elements(extra_params: dict[str, Any], active_pose: np.ndarray,
                    labels: list[dict[str, Any]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The active elements the place stage aligns: the origin pointing down in origin mode, else the labels."""
    if extra_params.get("place_with_origin_orientation", True):
        down = np.linalg.inv(active_pose)[:3, :3] @ np.array([0.0, 0.0, -1.0])
        return [(np.zeros(3), down)]
    return [(np.asarray(lab["xyz"], dtype=float), np.asarray(lab["direction"], dtype=float)) for lab in labels]
