"""Success and quality of an episode, judged from the physics state only.

pick_place succeeds when the target (1) left its start (> 3 cm), (2) was lifted with the gripper
(at the end of the lift it is >= 2 cm above its start with both pads touching it), and after
release and settling (3) touches the goal support, (4) has its centre inside the goal rectangle
(into a container: the region grown by the pad the task left to the walls, i.e. inside the walls;
sim/families/pick_place.judged_goal_size),
(5) is upright within 20 degrees of its start orientation's z axis (not judged for a sphere,
which has no up) and (6) is at rest (|v| < 2 cm/s, |w| < 0.5 rad/s). Failure reasons, first
match wins:
- ik_failure, no_clear_grasp (decided by the planner, before any motion: no reachable grasp, or
  every reachable one would drive the hand or arm into the scene),
- grasp_slip: not lifted with the gripper, or a pad lost the object before release,
- collision: another object was pushed more than 3 cm (objects that touched the target at the
  start are not counted: fruit leaning on the one taken out of a bowl rolls into the space it
  leaves, which is physics, not a collision),
- placement_miss: any of (3)-(6) fails.
(timeout is given by the worker pool when an episode exceeds its deadline.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UPRIGHT_LIMIT_RAD = np.deg2rad(20.0)
REST_SPEED_M_S = 0.02
REST_ANGULAR_RAD_S = 0.5
LEFT_START_M = 0.03
LIFT_MIN_M = 0.02
DISTURB_LIMIT_M = 0.03


@dataclass
class Verdict:
    success: bool
    reason: str | None
    checks: dict[str, bool]


def judge_pick_place(*, start_pos: np.ndarray, final_pos: np.ndarray, start_zaxis: np.ndarray,
                     final_zaxis: np.ndarray, final_lin_vel: np.ndarray, final_ang_vel: np.ndarray,
                     lifted_with_gripper: bool, lost_grip_before_release: bool, touches_goal_support: bool,
                     goal_center: np.ndarray, goal_size: np.ndarray, max_other_displacement_m: float,
                     has_up: bool = True) -> Verdict:
    tilt = float(np.arccos(np.clip(np.dot(start_zaxis, final_zaxis), -1.0, 1.0)))
    checks = {
        "left_start": float(np.linalg.norm(final_pos[:2] - start_pos[:2])) > LEFT_START_M,
        "lifted_with_gripper": lifted_with_gripper,
        "held_until_release": not lost_grip_before_release,
        "touches_goal_support": touches_goal_support,
        "inside_goal_region": bool(np.all(np.abs(final_pos[:2] - goal_center[:2]) <= 0.5 * goal_size)),
        "upright": bool(tilt <= UPRIGHT_LIMIT_RAD) or not has_up,
        "at_rest": float(np.linalg.norm(final_lin_vel)) < REST_SPEED_M_S
        and float(np.linalg.norm(final_ang_vel)) < REST_ANGULAR_RAD_S,
        "others_undisturbed": max_other_displacement_m <= DISTURB_LIMIT_M,
    }
    return _verdict(checks, grip_checks=("lifted_with_gripper", "held_until_release"))


def _verdict(checks: dict[str, bool], grip_checks: tuple[str, str]) -> Verdict:
    """Success if every check holds; else the first failure reason in the order grasp_slip
    (a grip check failed), collision (other objects disturbed), placement_miss (the rest)."""
    if all(checks.values()):
        return Verdict(True, None, checks)
    if not all(checks[k] for k in grip_checks):
        reason = "grasp_slip"
    elif not checks["others_undisturbed"]:
        reason = "collision"
    else:
        reason = "placement_miss"
    return Verdict(False, reason, checks)


def motion_metrics(q: np.ndarray, qvel: np.ndarray, fps: int, lower: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    """Joint-limit margin and peak velocity / acceleration / jerk of the recorded arm joints."""
    if len(q) == 0:
        return {}
    acc = np.diff(qvel, axis=0) * fps if len(qvel) > 1 else np.zeros((1, q.shape[1]))
    jerk = np.diff(acc, axis=0) * fps if len(acc) > 1 else np.zeros((1, q.shape[1]))
    return {
        "joint_limit_margin_rad": float(np.min(np.minimum(q - lower, upper - q))),
        "peak_joint_velocity_rad_s": float(np.max(np.abs(qvel))),
        "peak_joint_acceleration_rad_s2": float(np.max(np.abs(acc))),
        "peak_joint_jerk_rad_s3": float(np.max(np.abs(jerk))),
    }


JOINT_TOLERANCE_FRACTION = 0.02  # of the joint range: servo lag and grasp compliance at the end of the pull
JOINT_REST_SPEED = 0.01  # m/s or rad/s


def judge_open_close(*, joint_q: np.ndarray, target_q: float, joint_range: float, after_release_frame: int,
                     final_joint_speed: float, grasped_handle: bool, lost_grip_during_pull: bool,
                     max_other_displacement_m: float) -> Verdict:
    """open_close succeeds when the joint (positions signed so that the task's motion, opening or
    closing, increases them) is past
    target - JOINT_TOLERANCE_FRACTION x range at the end, stayed past it on every frame from the end
    of the release to the end of the still phase, and is at rest; reasons as for pick_place
    (grasp_slip, collision, placement_miss = the joint did not get or stay past its target)."""
    threshold = target_q - JOINT_TOLERANCE_FRACTION * joint_range
    checks = {
        "grasped_handle": grasped_handle,
        "held_during_pull": not lost_grip_during_pull,
        "past_target": bool(joint_q[-1] >= threshold),
        "stays_past_target": bool(np.all(joint_q[after_release_frame:] >= threshold)),
        "at_rest": final_joint_speed < JOINT_REST_SPEED,
        "others_undisturbed": max_other_displacement_m <= DISTURB_LIMIT_M,
    }
    return _verdict(checks, grip_checks=("grasped_handle", "held_during_pull"))


PUSH_MAX_RISE_M = 0.02


def judge_push(*, start_pos: np.ndarray, final_pos: np.ndarray, start_zaxis: np.ndarray, final_zaxis: np.ndarray,
               final_lin_vel: np.ndarray, final_ang_vel: np.ndarray, max_rise_m: float, touched_by_hand: bool,
               touches_goal_support: bool, goal_center: np.ndarray, goal_size: np.ndarray,
               max_other_displacement_m: float, left_start_m: float = LEFT_START_M) -> Verdict:
    """push succeeds when the target (1) left its start (> `left_start_m`, 3 cm; a push shorter
    than 6 cm, into a shelf, asks half its length), (2) was touched by the hand,
    (3) never rose more than PUSH_MAX_RISE_M (slid, not lifted or flipped onto an edge), and at the
    end (4) touches its support, (5) has its centre inside the goal square, (6) is upright within
    20 degrees and (7) is at rest. Reasons: collision (another object moved more than 3 cm), else
    placement_miss (never touched: `not_pushed`)."""
    tilt = float(np.arccos(np.clip(np.dot(start_zaxis, final_zaxis), -1.0, 1.0)))
    checks = {
        "left_start": float(np.linalg.norm(final_pos[:2] - start_pos[:2])) > left_start_m,
        "pushed_by_hand": touched_by_hand,
        "stayed_down": max_rise_m <= PUSH_MAX_RISE_M,
        "touches_goal_support": touches_goal_support,
        "inside_goal_region": bool(np.all(np.abs(final_pos[:2] - goal_center[:2]) <= 0.5 * goal_size)),
        "upright": bool(tilt <= UPRIGHT_LIMIT_RAD),
        "at_rest": float(np.linalg.norm(final_lin_vel)) < REST_SPEED_M_S
        and float(np.linalg.norm(final_ang_vel)) < REST_ANGULAR_RAD_S,
        "others_undisturbed": max_other_displacement_m <= DISTURB_LIMIT_M,
    }
    if all(checks.values()):
        return Verdict(True, None, checks)
    if not checks["pushed_by_hand"]:
        return Verdict(False, "not_pushed", checks)
    return Verdict(False, "collision" if not checks["others_undisturbed"] else "placement_miss", checks)
