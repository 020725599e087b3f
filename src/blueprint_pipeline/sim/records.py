"""One simulated episode, as handed from the episodes stage to the dataset writer.

Arrays are per recorded frame (T frames at `fps`), float32 unless noted:
- state (T, J+1): joint positions [rad or m] then gripper opening width [m]
- velocity (T, J+1): joint velocities then gripper width rate
- ee_pose (T, 7): end-effector (TCP) position [m] and orientation w-x-y-z in the world frame,
  computed by the simulator from the recorded joints
- object_poses (T, K*7): position + w-x-y-z of each tracked object, in `object_ids` order
- action (T, J+1): commanded joint targets then gripper command (1 closed, 0 open)
- contact (T, C) uint8 / bool flags named by `contact_names`
- reward (T,), done (T,) bool, success (T,) bool
- images: camera name -> (T, H, W, 3) uint8 rendered by MuJoCo (absent when not rendered)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
    images: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.state.shape[0])
