"""The arm's start configuration in a task's scene: home, or home with the hand drawn back when
the arm at home meets the scene.

A robot's home is a fixed joint configuration; where the task placement puts the base, the arm
at home may reach into what the task works on. The UR10's hand at home is 0.69 m ahead of its
base: placed 35-50 cm from a cooler's door, it started 2 cm inside the closed door, the settle
pushed on the door and 2 of 4 corpus openings failed (`grasp_slip`). `clear_start` keeps home
when the arm there keeps START_CLEARANCE_M from everything but its own base link's supports;
else it solves the IK for the home hand pose drawn back towards the base and raised, by
PULLBACK_STEP_M and PULLBACK_RISE_M per step for up to PULLBACK_STEPS steps (hand orientation
kept), and takes the first configuration that clears the scene; when none does, home with the
base joint turned by TURNS_RAD (15 to 90 deg, either way, nearest first): the UR10's upper arm
stands 22 cm beside its shoulder (robots/description.py link_axis_offset_m), and at home it stood
inside the office example's bookshelf however far the hand was drawn back. None: home is clear
(the common case: nothing changes), or nothing clears it (home is kept, as before).
build_sim_scene writes the result into the scene's `home` keyframe, so the settled start, the
episodes' start draws, the scene camera and the exported MJCF all start there.
"""

from __future__ import annotations

import mujoco
import numpy as np

from blueprint_pipeline.robots import RobotDescription
from blueprint_pipeline.robots.builder import RobotNames
from blueprint_pipeline.sim.ik import ArmIK
from blueprint_pipeline.sim.margins import raised_margins

START_CLEARANCE_M = 0.01
PULLBACK_STEP_M = 0.08
PULLBACK_RISE_M = 0.03
PULLBACK_STEPS = 6
TURNS_RAD = tuple(float(s * np.radians(a)) for a in (15, 30, 45, 60, 90) for s in (1, -1))


def _arm_meets_scene(model: mujoco.MjModel, data: mujoco.MjData, names: RobotNames) -> bool:
    """Whether a robot geom other than the base link's is within START_CLEARANCE_M of a non-robot
    geom; the floor counts for the hand only (a floor-mounted arm's shoulder sits on it, as in
    scene_check.SceneCheck)."""
    root = model.body(names.base_body).id
    robot = model.body_rootid[model.geom_bodyid] == model.body_rootid[root]
    moving = robot & (model.geom_bodyid != root)
    hand_bodies = [model.body(names.hand_body).id] + [int(model.joint(j).bodyid[0]) for j in names.finger_joints]
    hand = np.isin(model.geom_bodyid, hand_bodies)
    floor = model.geom("floor").id
    with raised_margins(model, np.flatnonzero(moving), START_CLEARANCE_M):
        mujoco.mj_kinematics(model, data)
        mujoco.mj_collision(model, data)
    g = data.contact.geom[:data.ncon]
    dist = data.contact.dist[:data.ncon]
    mixed = robot[g[:, 0]] != robot[g[:, 1]]
    arm = moving[g[:, 0]] | moving[g[:, 1]]
    on_floor = ((g[:, 0] == floor) & ~hand[g[:, 1]]) | ((g[:, 1] == floor) & ~hand[g[:, 0]])
    return bool(np.any(mixed & arm & ~on_floor & (dist < START_CLEARANCE_M)))


def clear_start(model: mujoco.MjModel, names: RobotNames, desc: RobotDescription, base_pos_m,
                base_quat_wxyz) -> np.ndarray | None:
    """The arm's joint angles to start from instead of home, or None (module docstring)."""
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    if not _arm_meets_scene(model, data, names):
        return None
    qadr = np.array([model.joint(j).qposadr[0] for j in names.joints])
    home = data.qpos[qadr].copy()
    ik = ArmIK(desc, base_pos_m, base_quat_wxyz)
    tcp_pos, tcp_rot = ik.tcp_pose(home)
    back = np.asarray(base_pos_m, dtype=float)[:2] - tcp_pos[:2]
    back = back / max(float(np.linalg.norm(back)), 1e-9)
    seed = home
    for k in range(1, PULLBACK_STEPS + 1):
        target = tcp_pos + np.array([*(k * PULLBACK_STEP_M * back), k * PULLBACK_RISE_M])
        sol = ik.solve(target, tcp_rot, seed)
        if not sol.ok():
            continue
        seed = sol.q_rad
        data.qpos[qadr] = sol.q_rad
        if not _arm_meets_scene(model, data, names):
            return sol.q_rad
    for turn in TURNS_RAD:  # the base turned: what stands beside the arm's tubes, not ahead of its hand
        q = home.copy()
        q[0] = np.clip(home[0] + turn, desc.lower_rad[0], desc.upper_rad[0])
        data.qpos[qadr] = q
        if not _arm_meets_scene(model, data, names):
            return q
    return None
