"""One simulated episode, as handed from the episodes stage to the dataset writer.

Arrays are per recorded frame (T frames at `fps`), float32 unless noted:
- state (T, J+1): joint positions [rad or m] then gripper opening width [m]
- velocity (T, J+1): joint velocities then gripper width rate
- ee_pose (T, 7): end-effector (TCP) position [m] and orientation w-x-y-z in the world frame,
  computed by the simulator from the recorded joints
- object_poses (T, K*7): position + w-x-y-z of each tracked object, in `object_ids` order (for
  the judge and the metrics; the dataset does not carry it)
- task_state (T, 12): the task-relevant objects in one fixed layout, `TASK_STATE_NAMES`, whatever
  the task: the target's pose (a free object, or a drawer's or door's moving part: position +
  w-x-y-z), the goal point (pick_place: the goal rectangle's centre on the support's surface;
  open_close: where the handle is at the task's target opening), and the joint (open_close: the
  part's joint position and the task's target, rad or m; 0 and 0 for pick_place)
- action (T, J+1): commanded joint targets then gripper command (1 closed, 0 open)
- contact (T, C) uint8 / bool flags named by `contact_names`
- reward (T,), done (T,) bool, success (T,) bool
- images: camera name -> (T, H, W, 3) uint8 rendered by MuJoCo (absent when not rendered)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TASK_STATE_NAMES = ("target.x", "target.y", "target.z", "target.qw", "target.qx", "target.qy", "target.qz",
                    "goal.x", "goal.y", "goal.z", "joint.position", "joint.target")


def task_state(target_pose: np.ndarray, goal_m, joint_q: np.ndarray | None = None,
               joint_target: float = 0.0) -> np.ndarray:
    """The (T, 12) task_state array from the target's per-frame pose (T, 7), the goal point and,
    for a drawer or door, the per-frame joint position and its target (module docstring)."""
    out = np.zeros((len(target_pose), len(TASK_STATE_NAMES)), np.float32)
    out[:, :7] = target_pose
    out[:, 7:10] = np.asarray(goal_m, dtype=float)
    if joint_q is not None:
        out[:, 10] = joint_q
        out[:, 11] = joint_target
    return out


@dataclass
class EpisodeRecord:
    episode_index: int  # index within the run (reproducible from scene, task, seed, index)
    task_id: str
    task_description: str
    robot: str
    seed: int
    fps: int
    success: bool
    failure_reason: str | None
    joint_names: list[str]
    object_ids: list[str]
    contact_names: list[str]
    state: np.ndarray
    velocity: np.ndarray
    ee_pose: np.ndarray
    object_poses: np.ndarray
    action: np.ndarray
    contact: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    success_flags: np.ndarray
    task_state: np.ndarray
    images: dict[str, np.ndarray] = field(default_factory=dict)
    # per rendered camera: fovy_deg, frame, extrinsics (sim/camera_model.py)
    cameras: dict[str, dict] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.state.shape[0])
