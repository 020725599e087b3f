"""Physics health of one episode: was the simulation stable enough for its frames to be data?

An episode is `sim_unstable` when any of these holds (checked on what the episode recorded, and on
MuJoCo's own warning counters over the episode):
- MuJoCo reported bad accelerations, velocities or positions (it then resets the state: the arm
  snaps to all-zero joints), or its contact or constraint buffer overflowed (contacts were lost);
- a recorded value is not finite;
- a free object moved faster than MAX_OBJECT_SPEED_M_S between two frames (a household object
  flung by an interpenetration), or ended more than MAX_OBJECT_TRAVEL_M from where it started;
- a free object turned faster than MAX_OBJECT_SPIN_RAD_S between two frames (a 7.6 g craft knife,
  let go on a table, spun about its long axis at up to 84 rad/s with nothing touching it but the
  table, and was flung off it: MuJoCo reported nothing; over the Franka corpus's 341 kept
  episodes no object turned faster than 2.1 rad/s);
- an arm joint jumped more than MAX_JOINT_STEP_RAD between two frames (15 rad/s at 30 Hz: six
  times the Panda's fastest joint).
Such episodes are failures whatever the judge says, and are never written to a dataset (not even
with --keep-failed); neither is an episode shorter than MIN_KEPT_S (`keepable`). The engine first
simulates an unstable episode again at a finer step (engine.UNSTABLE_RETRY_SUBSTEPS).
"""

from __future__ import annotations

import mujoco
import numpy as np

UNSTABLE = "sim_unstable"
MAX_OBJECT_SPEED_M_S = 10.0
MAX_OBJECT_TRAVEL_M = 5.0
MAX_OBJECT_SPIN_RAD_S = 30.0
MAX_JOINT_STEP_RAD = 0.5
MIN_KEPT_S = 1.0
_WARNINGS = {
    "bad_qacc": mujoco.mjtWarning.mjWARN_BADQACC, "bad_qvel": mujoco.mjtWarning.mjWARN_BADQVEL,
    "bad_qpos": mujoco.mjtWarning.mjWARN_BADQPOS, "contact_buffer_full": mujoco.mjtWarning.mjWARN_CONTACTFULL,
    "constraint_buffer_full": mujoco.mjtWarning.mjWARN_CNSTRFULL,
}


def warning_counts(d: mujoco.MjData) -> dict[str, int]:
    """MuJoCo's warning counters of `d` that mean the physics went wrong."""
    return {name: int(d.warning[int(w)].number) for name, w in _WARNINGS.items()}


def new_warnings(d: mujoco.MjData, before: dict[str, int]) -> dict[str, int]:
    """The warnings raised since `before` (a `warning_counts` snapshot)."""
    now = warning_counts(d)
    return {k: now[k] - before.get(k, 0) for k in now if now[k] > before.get(k, 0)}


def unstable_reason(fps: int, state: np.ndarray, object_poses: np.ndarray,
                    warnings: dict[str, int] | None = None) -> str | None:
    """Why the recorded episode is not physics (None: it is). `state` (T, dof+1) arm joints then
    the gripper; `object_poses` (T, K*7) position and quaternion per free object."""
    if warnings:
        return "MuJoCo warnings: " + ", ".join(f"{k} x{v}" for k, v in sorted(warnings.items()))
    if not (np.all(np.isfinite(state)) and np.all(np.isfinite(object_poses))):
        return "non-finite recorded values"
    if len(state) > 1:
        jump = float(np.max(np.abs(np.diff(state[:, :-1].astype(float), axis=0))))
        if jump > MAX_JOINT_STEP_RAD:
            return f"an arm joint jumped {jump:.2f} rad in one frame"
    if object_poses.size and len(object_poses) > 1:
        pos = object_poses.reshape(len(object_poses), -1, 7)[:, :, :3].astype(float)
        speed = float(np.max(np.linalg.norm(np.diff(pos, axis=0), axis=2))) * fps
        if speed > MAX_OBJECT_SPEED_M_S:
            return f"an object moved at {speed:.1f} m/s"
        travel = float(np.max(np.linalg.norm(pos - pos[:1], axis=2)))
        if travel > MAX_OBJECT_TRAVEL_M:
            return f"an object travelled {travel:.1f} m"
        quat = object_poses.reshape(len(object_poses), -1, 7)[:, :, 3:].astype(float)
        spin = float(np.max(2.0 * np.arccos(np.clip(np.abs(np.sum(quat[1:] * quat[:-1], axis=2)), 0.0, 1.0)))) * fps
        if spin > MAX_OBJECT_SPIN_RAD_S:
            return f"an object turned at {spin:.0f} rad/s"
    return None


def keepable(success: bool, failure_reason: str | None, frames: int, fps: int, keep_failed: bool) -> bool:
    """Whether an episode may be written to the dataset."""
    if failure_reason == UNSTABLE or frames < MIN_KEPT_S * fps:
        return False
    return success or keep_failed
