"""One episode: randomise, settle, plan, execute with position servos, record at 30 Hz, judge.

Recording: frame k is the state at control tick k (t = k / 30 s exactly: 16 steps of 1/480 s per
frame). Positions are refreshed with mj_kinematics before recording (after mj_step they describe
the previous step), so the recorded TCP pose is the forward kinematics of the recorded joints.
action[k] = (arm set-point reached at tick k+1, gripper command held over [k, k+1)).

Execution: between ticks the set-point moves linearly; each servo's set-point leads by
(kv/kp) * set-point velocity, which cancels the steady lag of a position servo. The set-point is
the servo's activation, integrated from ctrl = its velocity (robots/builder.py), so one tick is
one write of (set-point, velocity) and one mj_step call of 16 steps. Per tick the loop only
copies the live state into arrays (qpos, qvel, the TCP pose, the contacts' geom pairs); object
poses, quaternions, contact flags, clearances, rewards and grasp checks are derived from those
logs after the loop.

Start state: the scene at rest is settled once per (scene, target) with the nominal physics and
cached (the resting clutter asleep); every episode starts from a copy of it, draws its
randomisation, moves the target and settles again for SETTLE_S (the target and anything it
touches are awake). Episode i is therefore still a function of (scene, task, seed, i) only.

Rewards (per frame): sparse 1.0 on the last frame of a successful episode, plus dense terms
0.1 * (1 - tanh(10 * |TCP - object|)) + 0.1 * [both pads touch the object]
+ 0.1 * [both pads touch] * (1 - tanh(5 * |object - place spot|_xy)).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.records import GoalRegion, TaskSpec
from blueprint_pipeline.geniesim.tasks import PLACE_IN_PAD_M
from blueprint_pipeline.robots import home_qpos
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.sim import health, language
from blueprint_pipeline.sim.camera import frame_visibility, place_scene_camera
from blueprint_pipeline.sim.camera_model import episode_cameras
from blueprint_pipeline.sim.ik import ArmIK, BoxObstacle
from blueprint_pipeline.sim.judge import judge_pick_place, motion_metrics
from blueprint_pipeline.sim.grasp import GraspCandidate
from blueprint_pipeline.sim.planner import ObjectBox, Plan, plan_pick_place
from blueprint_pipeline.sim.randomize import (
    Randomization,
    apply_randomization,
    prepare_rendering,
    arm_rng,
    draw_goal,
    episode_rng,
    goal_rng,
    randomize_arm_start,
)
from blueprint_pipeline.sim.records import EpisodeRecord, task_state
from blueprint_pipeline.sim.render import make_renderer
from blueprint_pipeline.sim.scene_builder import (
    FPS,
    SETTLE_S,
    STEPS_PER_FRAME,
    SimScene,
    prepare_for_target,
)
from blueprint_pipeline.sim.trajectory import IKFailure
from blueprint_pipeline.simready.records import ColliderShape

CONTACT_NAMES = ["pad_left_target", "pad_right_target", "target_goal_support", "robot_furniture",
                 "robot_other_objects", "target_other_objects"]
CAMERAS = ("scene_cam", "wrist_cam")
SETTLE_MAX_S = 2.0  # the cached start state settles at most this long for the clutter to sleep
SETTLE_FINE_S, SETTLE_FINE_SUBSTEPS = 0.25, 4  # first, this long at a quarter step (interpenetrating input)


@dataclass(frozen=True)
class EpisodeOptions:
    render: bool = False
    image_size: int = 128
    jitter_m: float = 0.08
    yaw_rad: float = float(np.pi / 4)
    arm_start_rad: float = 0.1  # each arm joint's start within +- this of the task's (randomize.py)
    goal_jitter_m: float = 0.05  # a pick_place goal spot within +- this of the task's (randomize.draw_goal)
    visual_randomization: bool = True  # when rendering: the episode's drawn look (randomize.prepare_rendering)
    shadows: bool = False  # when rendering: shadows from every light (appearance.set_shadows)


class _Indices:
    """Ids and masks of a SimScene that every tick needs (computed once per scene)."""

    def __init__(self, sim: SimScene):
        m, n = sim.model, sim.names
        self.arm_qadr = np.array([m.joint(j).qposadr[0] for j in n.joints])
        self.arm_vadr = np.array([m.joint(j).dofadr[0] for j in n.joints])
        self.finger_qadr = np.array([m.joint(j).qposadr[0] for j in n.finger_joints])
        self.finger_vadr = np.array([m.joint(j).dofadr[0] for j in n.finger_joints])
        self.arm_act = np.array([m.actuator(a).id for a in n.actuators])
        self.arm_actadr = m.actuator_actadr[self.arm_act]
        self.grip_act = m.actuator(n.gripper_actuator).id
        self.lag_s = -m.actuator_biasprm[self.arm_act, 2] / m.actuator_gainprm[self.arm_act, 0]
        self.tcp = m.site(n.tcp_site).id
        self.pads = [m.geom(g).id for g in n.pad_geoms]
        root = m.body(n.base_body).id
        self.robot_geom = m.body_rootid[m.geom_bodyid] == root
        self.furniture_geom = np.zeros(m.ngeom, bool)
        for oid in sim.fixed_ids + sim.articulated_ids:
            self.furniture_geom[sim.object_geom_ids(oid)] = True
        self.furniture_geom[m.geom("floor").id] = True
        self.dynamic_geom = {oid: sim.geom_id(oid) for oid in sim.dynamic_ids}
        self.dynamic_qadr = np.array([sim.free_qpos_adr(oid) for oid in sim.dynamic_ids], dtype=int)
        self.lower = np.array(sim.robot.lower_rad)
        self.upper = np.array(sim.robot.upper_rad)
        self.ik = ArmIK(sim.robot, sim.base_pos_m, sim.base_quat_wxyz, obstacles=_furniture_obstacles(sim),
                        min_clearance_m=0.005)
        self.home = home_qpos(m, sim.robot)


def _furniture_obstacles(sim: SimScene, within_m: float = 1.5) -> list[BoxObstacle]:
    """Fixed and articulated furniture boxes near the base, for IK collision avoidance (every
    board and panel of open furniture and every wall of a container on its own)."""
    out = []
    m = sim.model
    for oid in sim.fixed_ids + sim.articulated_ids:
        for g in sim.object_geom_ids(oid):
            b = int(m.geom_bodyid[g])
            if m.geom_type[g] != mujoco.mjtGeom.mjGEOM_BOX:
                continue
            pos = m.body_pos[b] + matrix_np(m.body_quat[b]) @ m.geom_pos[g]
            if np.linalg.norm(pos[:2] - sim.base_pos_m[:2]) > within_m + float(np.linalg.norm(m.geom_size[g][:2])):
                continue
            quat = np.zeros(4)
            mujoco.mju_mulQuat(quat, m.body_quat[b], m.geom_quat[g])
            out.append(BoxObstacle(m.geom(g).name, tuple(pos), tuple(quat), tuple(m.geom_size[g])))
    return out


def _deepest_support_penetration(sim: SimScene, d: mujoco.MjData, ix: _Indices) -> float:
    """Deepest overlap [m] between a free object and its support (or the floor), by geometric
    distance queries, which see sleeping objects too (their contacts are not listed)."""
    floor = sim.model.geom("floor").id
    deepest = 0.0
    for oid, g in ix.dynamic_geom.items():
        support = sim.support_of.get(oid)
        for other in (sim.object_geom_ids(support) if support else [floor]):
            deepest = max(deepest, -mujoco.mj_geomDistance(sim.model, d, g, other, 0.01, None))
    return deepest


TOUCHING_M = 0.002


def _resting_against(sim: SimScene, d: mujoco.MjData, target: str) -> set[str]:
    """The free objects resting against the target, directly or through each other (fruit in a
    bowl, a row of cans): within TOUCHING_M by geometric distance, so sleeping ones count too."""
    m = sim.model
    ids = [o for o in sim.dynamic_ids]
    pos = np.array([d.xpos[sim.body_id(o)] for o in ids])
    radius = np.array([0.5 * float(np.linalg.norm(sim.physics[o].collider_size_m)) for o in ids])
    found, frontier = {target}, [target]
    while frontier:
        a = frontier.pop()
        ia = ids.index(a)
        near = np.linalg.norm(pos - pos[ia], axis=1) < radius + radius[ia] + TOUCHING_M
        for ib in np.flatnonzero(near):
            b = ids[ib]
            if b in found:
                continue
            if any(mujoco.mj_geomDistance(m, d, int(g), int(h), TOUCHING_M + 0.001, None) < TOUCHING_M
                   for g in sim.object_geom_ids(a) for h in sim.object_geom_ids(b)):
                found.add(b)
                frontier.append(b)
    return found - {target}


def _indices(sim: SimScene) -> _Indices:
    idx = getattr(sim, "_episode_indices", None)
    if idx is None:
        idx = _Indices(sim)
        sim._episode_indices = idx  # type: ignore[attr-defined]
    return idx


def settled_start(sim: SimScene, target: str) -> mujoco.MjData:
    """The scene at rest with the arm at home and `target` never asleep: settled once per
    (scene, target) with the nominal physics (the same in every worker, whatever ran before) until
    every other free object sleeps (at most SETTLE_MAX_S), then cached. Callers copy it.
    A manifest may put solids into each other (crossed pens, a book through a box): the first
    SETTLE_FINE_S are stepped at a quarter of the time step, which lets MuJoCo push them apart
    where the full step flings light objects (measured on the corpus: 9 g pens crossed 1.4 cm deep
    reached 400 m/s at the full step, 0.3 m/s at a quarter)."""
    cache = sim.__dict__.setdefault("_settled_start", {})
    if target not in cache:
        m = sim.model
        sim.restore_nominal()
        prepare_for_target(sim, target, sleep=True)
        d = mujoco.MjData(m)
        mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
        others = [m.body_treeid[sim.body_id(o)] for o in sim.dynamic_ids if o != target]
        step = m.opt.timestep
        m.opt.timestep = step / SETTLE_FINE_SUBSTEPS
        try:
            mujoco.mj_step(m, d, round(SETTLE_FINE_S / step) * SETTLE_FINE_SUBSTEPS)
        finally:
            m.opt.timestep = step
        for _ in range(round(SETTLE_MAX_S / m.opt.timestep) // STEPS_PER_FRAME):
            mujoco.mj_step(m, d, STEPS_PER_FRAME)
            if not others or np.all(d.tree_asleep[others] >= 0):
                break
        cache[target] = d
    return cache[target]


def start_data(sim: SimScene, target: str) -> mujoco.MjData:
    """A working copy of `settled_start` (one MjData per scene, overwritten by every episode)."""
    start = settled_start(sim, target)
    d = sim.__dict__.get("_episode_data")
    if d is None:
        d = sim._episode_data = mujoco.MjData(sim.model)  # type: ignore[attr-defined]
    mujoco.mj_copyData(d, sim.model, start)
    return d


def _scratch_data(sim: SimScene) -> mujoco.MjData:
    """An MjData for geometry queries on logged states (one per scene)."""
    d = sim.__dict__.get("_scratch_data")
    if d is None:
        d = sim._scratch_data = mujoco.MjData(sim.model)  # type: ignore[attr-defined]
    return d


def servo_command(q_from: np.ndarray, q_to: np.ndarray, gripper: np.ndarray | float, ix: _Indices,
                  stroke_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:
    """A tick (or, on stacked arrays, ticks) from joint targets `q_from` to `q_to`: the arm's
    set-point at its start (leading by kv/kp x velocity), its velocity over the tick, and the
    gripper actuator's target (finger opening) for the command `gripper` (fraction closed)."""
    vel = (q_to - q_from) * FPS
    return q_from + ix.lag_s * vel, vel, stroke_m * (1.0 - gripper)


def set_point_schedule(plan: Plan, ix: _Indices, stroke_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`servo_command` for every tick of `plan`."""
    return servo_command(plan.q[:-1], plan.q[1:], plan.gripper[:-1], ix, stroke_m)


def advance_tick(m: mujoco.MjModel, d: mujoco.MjData, ix: _Indices, set_point: np.ndarray, velocity: np.ndarray,
                 gripper_target_m: float) -> None:
    """One control tick: the set-points ramp from `set_point` at `velocity` over 16 steps."""
    d.act[ix.arm_actadr] = set_point
    d.ctrl[ix.arm_act] = velocity
    d.ctrl[ix.grip_act] = gripper_target_m
    mujoco.mj_step(m, d, STEPS_PER_FRAME)


def run_metrics(n_ticks: int, settle_steps: int, wall0: float, q: np.ndarray, velocity: np.ndarray,
                ix: _Indices) -> dict[str, object]:
    """The metrics every task type reports the same way: time, steps, and the arm's motion."""
    dof = q.shape[1]
    return {
        "sim_time_s": n_ticks / FPS,
        "physics_steps": n_ticks * STEPS_PER_FRAME + settle_steps,
        "wall_time_s": time.perf_counter() - wall0,
        **motion_metrics(q, velocity[:, :dof].astype(float), FPS, ix.lower, ix.upper),
    }


def episode_record(sim: SimScene, task: TaskSpec, episode_index: int, seed: int, success: bool, reason: str | None,
                   reward: np.ndarray, warnings: dict[str, int] | None = None, **arrays) -> EpisodeRecord:
    """The EpisodeRecord of a simulated episode (the fields every task type fills the same way):
    the physics health check (`health.unstable_reason` on the recorded arrays and the MuJoCo
    `warnings` raised during the episode) overrides the judge with `sim_unstable`; every episode
    is done at its last frame, which earns the shaped `reward` (changed in place) a bonus of 1
    when the episode succeeded. Its instruction is drawn per episode (`language.instruction`)."""
    unstable = health.unstable_reason(FPS, arrays["state"], arrays["object_poses"], warnings)
    if unstable is not None:
        success, reason = False, health.UNSTABLE
        arrays["metrics"] = {**arrays.get("metrics", {}), "unstable": unstable}
    if success:
        reward[-1] += 1.0
    done = np.zeros(len(reward), bool)
    done[-1] = True
    return EpisodeRecord(
        episode_index=episode_index, task_id=task.task_id,
        task_description=language.instruction(sim, task, episode_index, seed),
        robot=sim.robot.name, seed=seed, fps=FPS, success=success, failure_reason=reason,
        joint_names=list(sim.names.joints) + ["gripper_width"], object_ids=list(sim.dynamic_ids),
        contact_names=list(CONTACT_NAMES), reward=reward, done=done, **arrays)


def _pair(geoms: np.ndarray, mask_a: np.ndarray, mask_b: np.ndarray) -> bool:
    a, b = geoms[:, 0], geoms[:, 1]
    return bool(np.any((mask_a[a] & mask_b[b]) | (mask_a[b] & mask_b[a])))


def _object_box(sim: SimScene, data: mujoco.MjData, oid: str) -> ObjectBox:
    b = sim.body_id(oid)
    rot = data.xmat[b].reshape(3, 3).copy()
    shape = sim.physics[oid].collider
    round_xy = shape is ColliderShape.SPHERE or (shape in (ColliderShape.CYLINDER, ColliderShape.CAPSULE)
                                                 and abs(rot[2, 2]) > 0.95)  # upright
    mesh = sim.physics[oid].mesh
    return ObjectBox(oid, data.xpos[b].copy(), rot, np.asarray(sim.physics[oid].collider_size_m, dtype=float),
                     round_xy=round_xy, rim=mesh.rim if mesh is not None else None)


START_TARGET_CLEARANCE_M = 0.02  # a drawn start keeps the hand this far from the target (SceneCheck.start_pose)
GRASP_CLEARANCE_M = 0.003  # at pre-grasp and grasp the hand and arm keep this far from everything but the target
PLAN_CLEARANCE_M = 0.001  # and along the planned motion (placing next to a neighbour is close work)
SUPPORT_TOLERANCE_M = 0.002  # finger tips (and the carried object) may touch a support this deep
PLAN_CHECK_EVERY = 3  # ticks between the planned configurations checked against the scene
_CARRIED = ("lift", "transport", "lower")


class SceneCheck:
    """Whole-arm checks of grasps and plans against the scene as it is now (`d`), with MuJoCo's own
    collision detection on a scratch copy and the robot geoms' margin raised to
    GRASP_CLEARANCE_M (PLAN_CLEARANCE_M for plans) for the duration of a check (restored after):
    - `grasp(candidate)`: the arm at the pre-grasp and the grasp (fingers open) against every geom
      but the target's (the target's supports within SUPPORT_TOLERANCE_M); also records how far the
      hand rises above the TCP there (`headroom_m`, for lifting under a shelf);
    - `plan(plan)`: every PLAN_CHECK_EVERY-th planned configuration, with the target carried
      rigidly by the hand from lift to lower; neither arm nor carried object may meet anything
      but the target and, within the tolerance, its start and goal supports; a free target may
      not be touched during the joint-space approach and after the release either (an open
      finger sweeping a placed box into its neighbour blew the kitchen's spoon box up). A drawer
      or door moves with the plan (`Plan.part_q`), and only the hand may touch it;
    - `start_pose(q)`: the arm at a drawn start touches nothing, the target included.
    Each returns why it refuses (the object met, by id) or None."""

    def __init__(self, sim: SimScene, d: mujoco.MjData, ix: _Indices, target: str, goal_support: str | None):
        m = sim.model
        self.sim, self.d, self.ix, self.target = sim, d, ix, target
        self.target_mask = np.zeros(m.ngeom, bool)
        self.target_mask[sim.object_geom_ids(target)] = True
        try:  # a drawer's or door's handle is part of what the hand is meant to touch, its carcass is not
            self.target_mask[m.geom(SimScene.handle_geom_name(target)).id] = True
            self.target_mask[m.geom(SimScene.carcass_name(target)).id] = False
        except KeyError:
            pass
        self.support_mask = np.zeros(m.ngeom, bool)
        for sup in {sim.support_of.get(target), goal_support} - {None}:
            self.support_mask[sim.object_geom_ids(sup)] = True
        self.owner = {g: oid for oid in sim.dynamic_ids + sim.fixed_ids + sim.articulated_ids
                      for g in sim.object_geom_ids(oid)}
        # the robot's geoms, but its fixed base link (which stands on the floor or its pedestal)
        self.moving = ix.robot_geom & (m.geom_bodyid != m.body(sim.names.base_body).id)
        self.floor = m.geom("floor").id
        self.robot = np.flatnonzero(ix.robot_geom)
        hand_bodies = [m.body(b).id for b in (sim.names.hand_body, f"{sim.robot.name}_finger_left_body",
                                              f"{sim.robot.name}_finger_right_body")]
        self.hand = np.flatnonzero(np.isin(m.geom_bodyid, hand_bodies))
        self.tqadr = sim.free_qpos_adr(target)
        # a drawer or door: its joint moves with the plan, and only the hand may touch it
        self.part_qadr = self.tqadr if target in sim.articulated_ids else None

    def _pose(self, scratch: mujoco.MjData, q_arm: np.ndarray, fingers_m: float, part_q: float | None = None) -> None:
        scratch.qpos[:] = self.d.qpos
        scratch.qpos[self.ix.arm_qadr] = q_arm
        scratch.qpos[self.ix.finger_qadr] = fingers_m
        if part_q is not None and self.part_qadr is not None:
            scratch.qpos[self.part_qadr] = part_q
        mujoco.mj_kinematics(self.sim.model, scratch)

    def _hit(self, scratch: mujoco.MjData, carried: bool, placed: bool = False) -> str | None:
        m = self.sim.model
        mujoco.mj_collision(m, scratch)
        n = scratch.ncon
        g1, g2 = scratch.contact.geom[:n, 0], scratch.contact.geom[:n, 1]
        dist = scratch.contact.dist[:n]
        robot = self.ix.robot_geom
        tolerated = dist > -SUPPORT_TOLERANCE_M
        base_link = robot[g1] & ~self.moving[g1] | robot[g2] & ~self.moving[g2]
        # a floor-mounted arm's shoulder sits on the floor plane: only the hand may not touch it
        hand = np.zeros(m.ngeom, bool)
        hand[self.hand] = True
        base_link |= ((g1 == self.floor) & ~hand[g2]) | ((g2 == self.floor) & ~hand[g1])
        # the arm against anything but the target (its supports within the tolerance)
        other = np.where(robot[g1], g2, g1)
        bad = (robot[g1] != robot[g2]) & ~base_link & ~self.target_mask[other] & ~(self.support_mask[other] & tolerated)
        if self.part_qadr is not None:  # the arm (not the hand) in a drawer or door
            arm = robot & ~hand
            bad |= ((arm[g1] & self.target_mask[g2]) | (arm[g2] & self.target_mask[g1])) & (dist < 0.0)
        if placed:  # before the grasp and after the release the hand does not touch the target
            bad |= ((robot[g1] & self.target_mask[g2]) | (robot[g2] & self.target_mask[g1])) & (dist < 0.0)
        # the geometric margin is for the arm only: other contacts count when they penetrate
        if carried:
            t1, t2 = self.target_mask[g1], self.target_mask[g2]
            other_t = np.where(t1, g2, g1)
            bad |= ((t1 != t2) & ~robot[other_t] & (dist < -SUPPORT_TOLERANCE_M) & ~self.support_mask[other_t])
            other = np.where(bad & (t1 != t2), other_t, other)
        if not bad.any():
            return None
        k = int(np.flatnonzero(bad)[0])
        return self.owner.get(int(other[k]), m.geom(int(other[k])).name)

    def _raised_margins(self, clearance_m: float = GRASP_CLEARANCE_M):
        m = self.sim.model
        saved = m.geom_margin[self.robot].copy()
        m.geom_margin[self.robot] = clearance_m
        return saved

    def start_pose(self, q_arm: np.ndarray) -> str | None:
        """Why the arm at `q_arm` (fingers open) would not do as a start, or None: it meets
        something (the target too), or the hand is within START_TARGET_CLEARANCE_M of the target
        (a closing starts 10 cm off its handle: a start drawn closer swings the fingers onto it)."""
        m, scratch = self.sim.model, _scratch_data(self.sim)
        saved = self._raised_margins()
        try:
            self._pose(scratch, q_arm, self.sim.robot.gripper.stroke_per_finger_m)
            hit = self._hit(scratch, carried=False, placed=True)
        finally:
            m.geom_margin[self.robot] = saved
        if hit is not None:
            return f"the hand or arm meets {hit}"
        near = START_TARGET_CLEARANCE_M
        for g in self.hand:
            for t in np.flatnonzero(self.target_mask):
                if mujoco.mj_geomDistance(m, scratch, int(g), int(t), near, None) < near:
                    return f"the hand is within {near * 100:.0f} cm of {self.target}"
        return None

    def grasp(self, cand: GraspCandidate) -> str | None:
        m, scratch = self.sim.model, _scratch_data(self.sim)
        saved = self._raised_margins()
        try:
            opening = self.sim.robot.gripper.stroke_per_finger_m if cand.open_m is None else cand.open_m
            for q in (cand.q_pre, cand.q_grasp):
                self._pose(scratch, q, opening)
                hit = self._hit(scratch, carried=False)
                if hit is not None:
                    return f"the hand or arm meets {hit}"
            rot = scratch.geom_xmat[self.hand].reshape(-1, 3, 3)  # at the grasp: the hand's top
            centre = scratch.geom_xpos[self.hand] + np.einsum("nij,nj->ni", rot, m.geom_aabb[self.hand, :3])
            top = centre[:, 2] + np.einsum("nj,nj->n", np.abs(rot[:, 2, :]), m.geom_aabb[self.hand, 3:])
            cand.headroom_m = float(np.max(top) - scratch.site_xpos[self.ix.tcp][2])
        finally:
            m.geom_margin[self.robot] = saved
        return None

    def plan(self, plan: Plan) -> str | None:
        m, scratch, ix = self.sim.model, _scratch_data(self.sim), self.ix
        stroke = self.sim.robot.gripper.stroke_per_finger_m
        k_grasp = plan.phase_ticks["close"][1]
        self._pose(scratch, plan.q[k_grasp], stroke)  # the carried object's pose in the hand (pick_place)
        tcp_pos, tcp_rot = scratch.site_xpos[ix.tcp].copy(), scratch.site_xmat[ix.tcp].reshape(3, 3).copy()
        obj_pos = self.d.qpos[self.tqadr:self.tqadr + 3].copy()
        obj_rot = np.zeros(9)
        mujoco.mju_quat2Mat(obj_rot, self.d.qpos[self.tqadr + 3:self.tqadr + 7])
        rel_pos = tcp_rot.T @ (obj_pos - tcp_pos)
        rel_rot = tcp_rot.T @ obj_rot.reshape(3, 3)
        carried = np.isin(np.array(plan.phase), _CARRIED)
        last_carried = int(np.flatnonzero(carried)[-1]) if carried.any() and self.part_qadr is None else None
        placed: np.ndarray | None = None  # the target's qpos where the plan lets go of it
        ticks = sorted(set(range(0, plan.n_ticks + 1, PLAN_CHECK_EVERY)) | {plan.n_ticks}
                       | ({last_carried} if last_carried is not None else set()))
        saved = self._raised_margins(PLAN_CLEARANCE_M)
        try:
            for k in ticks:
                closed = plan.gripper[k] > 0.5 or carried[k]
                self._pose(scratch, plan.q[k], 0.0 if closed else stroke * (1.0 - float(plan.gripper[k])),
                           None if plan.part_q is None else float(plan.part_q[k]))
                if carried[k]:
                    r = scratch.site_xmat[ix.tcp].reshape(3, 3)
                    quat = np.zeros(4)
                    mujoco.mju_mat2Quat(quat, (r @ rel_rot).reshape(9))
                    scratch.qpos[self.tqadr:self.tqadr + 3] = scratch.site_xpos[ix.tcp] + r @ rel_pos
                    scratch.qpos[self.tqadr + 3:self.tqadr + 7] = quat
                    mujoco.mj_kinematics(m, scratch)
                    if k == last_carried:
                        placed = scratch.qpos[self.tqadr:self.tqadr + 7].copy()
                elif closed:
                    continue  # closing on the target: the fingers are meant to touch it
                elif placed is not None:
                    scratch.qpos[self.tqadr:self.tqadr + 7] = placed
                    mujoco.mj_kinematics(m, scratch)
                # a free target is not touched before the grasp or after the release (a drawer's or
                # door's handle may be brushed on the way: the part's own motion is checked above)
                untouched = self.part_qadr is None and (plan.phase[k] == "approach" or (placed is not None
                                                                                         and not carried[k]))
                hit = self._hit(scratch, carried=bool(carried[k]), placed=untouched)
                if hit is not None:
                    what = "the carried object or the arm" if carried[k] else "the hand or arm"
                    return f"{what} meets {hit} while {plan.phase[k]}"
        finally:
            m.geom_margin[self.robot] = saved
        return None


def into_container(sim: SimScene, task: TaskSpec) -> bool:
    """Whether the task puts its target into a container (its goal's support is one)."""
    return task.goal is not None and sim.is_container(task.goal.support_object_id)


def _moves_with_goal(sim: SimScene, task: TaskSpec) -> bool:
    """The goal's support is a free object (a stack's base, a basket): the goal follows it."""
    return task.goal is not None and task.goal.support_object_id in sim.dynamic_ids


def judged_goal_size(sim: SimScene, task: TaskSpec, goal: GoalRegion) -> np.ndarray:
    """The rectangle the target's centre must end in. Into a container (place_in) it is the goal
    region grown by the PLACE_IN_PAD_M the task left between the region and the walls: the
    planner aims inside that pad, but the rule is "inside the container's walls, at rest", and
    where the object settles on a real (curved, meshed) container's floor is physics."""
    size = np.asarray(goal.size_m, dtype=float)
    if task.goal is not None and sim.is_container(task.goal.support_object_id):
        size = size + 2 * PLACE_IN_PAD_M
    return size


def episode_goal(sim: SimScene, d: mujoco.MjData, task: TaskSpec) -> GoalRegion:
    """Where the target must end up in this episode: the task's goal region; for a stack, the
    base object's top where the base stands now, and into a free container, its floor where it
    stands now (free objects: settling and the start's randomisation may have moved them since
    the task was written)."""
    assert task.goal is not None
    if not _moves_with_goal(sim, task):
        return task.goal
    base = _object_box(sim, d, task.goal.support_object_id)
    if task.type == "stack":
        top = float(base.aabb()[1][2])
        return task.goal.model_copy(update={"center_m": (float(base.pos_m[0]), float(base.pos_m[1]), top),
                                            "surface_z_m": top})
    dz = float(base.pos_m[2] - sim.scene.by_id()[task.goal.support_object_id].position_m[2])
    floor = task.goal.surface_z_m + dz
    return task.goal.model_copy(update={"center_m": (float(base.pos_m[0]), float(base.pos_m[1]), floor),
                                        "surface_z_m": floor})


def _rim_z(sim: SimScene, d: mujoco.MjData, task: TaskSpec) -> float | None:
    """The top of the container the task puts its target into, where it stands now (None: no container)."""
    if not into_container(sim, task):
        return None
    return float(_object_box(sim, d, task.goal.support_object_id).aabb()[1][2])


def plan_at_rest(sim: SimScene, task: TaskSpec) -> str | None:
    """The feasibility probe of a pick_place task: plan it, with the whole-arm scene check, from
    the settled start without any randomisation. Returns why no plan exists (the planner's
    reason: no reachable grasp, every grasp collides with ..., no room under the shelf above ...)
    or None. Deterministic: a function of the scene and the task only."""
    m, ix = sim.model, _indices(sim)
    target = task.target_object_id
    d = start_data(sim, target)
    sim.restore_nominal()
    mujoco.mj_forward(m, d)
    goal = episode_goal(sim, d, task)
    others = [_object_box(sim, d, o) for o in sim.dynamic_ids + sim.fixed_ids + sim.articulated_ids
              if o not in (target, task.goal.support_object_id, sim.support_of.get(target))]
    level = sim.shelf_level(target)
    try:
        plan_pick_place(ix.ik, _object_box(sim, d, target), others, goal, d.qpos[ix.arm_qadr].copy(), 1.0 / FPS,
                        check=SceneCheck(sim, d, ix, target, task.goal.support_object_id),
                        ceiling_z=level.ceiling_m if level else None, rim_z=_rim_z(sim, d, task))
    except IKFailure as exc:
        return f"{exc.reason}: {exc}"
    return None


@dataclass
class EpisodeStart:
    """A pick_place or stack episode's start (`begin_pick_place`): the live data after the drawn
    randomisation and the settle, and what planning needs. Shared by `run_episode` and the
    evaluation environment (evaluate/env.py), so a policy is evaluated from exactly the start
    the scripted planner would have had for the same (scene, task, seed, index)."""

    data: mujoco.MjData
    rand: Randomization
    arm_offset: np.ndarray
    arm_fallback: bool
    warnings0: dict[str, int]
    settle_steps: int
    settle_shift: float
    penetration: float
    others: list[ObjectBox]
    target_box: ObjectBox
    goal: GoalRegion  # the task's goal region (the drawn spot is chosen by `plan_from_start`)
    q_home: np.ndarray
    episode_index: int = 0
    seed: int = 0
    options: EpisodeOptions = EpisodeOptions()


def begin_pick_place(sim: SimScene, task: TaskSpec, seed: int, episode_index: int,
                     options: EpisodeOptions = EpisodeOptions(),
                     beat: Callable[[], None] = lambda: None) -> EpisodeStart:
    """Copy the settled start, draw the episode's randomisation (target pose, arm start, look),
    settle SETTLE_S: the state at frame 0, a function of (scene, task, seed, index) only."""
    m, ix = sim.model, _indices(sim)
    target = task.target_object_id
    d = start_data(sim, target)
    warnings0 = health.warning_counts(d)
    rng = episode_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index)
    rand = apply_randomization(sim, d, target, rng, options.jitter_m, options.yaw_rad)
    if options.render:
        prepare_rendering(sim, task.task_id, seed, episode_index, options.shadows, options.visual_randomization)
    mujoco.mj_kinematics(m, d)
    arm_offset, arm_fallback = randomize_arm_start(
        d, ix, SceneCheck(sim, d, ix, target, task.goal.support_object_id).start_pose,
        arm_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index), options.arm_start_rad)
    prepare_for_target(sim, target, sleep=True)  # resting clutter stays asleep unless touched
    mujoco.mj_forward(m, d)
    pre_settle = d.qpos[ix.dynamic_qadr[:, None] + np.arange(3)].copy()
    settle_steps = round(SETTLE_S * STEPS_PER_FRAME * FPS)
    mujoco.mj_step(m, d, settle_steps)
    mujoco.mj_kinematics(m, d)
    settle_shift = float(np.max(np.linalg.norm(d.qpos[ix.dynamic_qadr[:, None] + np.arange(3)] - pre_settle, axis=1),
                                initial=0.0))
    penetration = _deepest_support_penetration(sim, d, ix)
    beat()
    others = [_object_box(sim, d, o) for o in sim.dynamic_ids + sim.fixed_ids + sim.articulated_ids if o != target]
    q_home = d.qpos[ix.arm_qadr].copy()
    return EpisodeStart(d, rand, arm_offset, arm_fallback, warnings0, settle_steps, settle_shift, penetration,
                        others, _object_box(sim, d, target), episode_goal(sim, d, task), q_home,
                        episode_index, seed, options)


def plan_from_start(sim: SimScene, task: TaskSpec, st: EpisodeStart, beat: Callable[[], None] = lambda: None
                    ) -> tuple[Plan | None, GoalRegion, tuple[float, float], str | None, str | None]:
    """The scripted planner from `st`: (plan or None, the goal used, the drawn goal's offset,
    failure reason, planner message). The goal spot is drawn (randomize.draw_goal) on open
    furniture tops; the task's own region is the fallback."""
    ix, d, target = _indices(sim), st.data, task.target_object_id
    tgt, goal, q_home = st.target_box, st.goal, st.q_home
    plan: Plan | None = None
    reason: str | None = None
    plan_error: str | None = None
    level = sim.shelf_level(target)
    planned_around = [o for o in st.others
                      if o.id != task.goal.support_object_id and o.id != sim.support_of.get(target)]
    drawn = None
    if (task.type == "pick_place" and level is None and task.goal.support_object_id not in sim.shelves
            and not into_container(sim, task)):
        sup = sim.scene.by_id()[task.goal.support_object_id]
        blockers = [o.aabb() for o in planned_around + [tgt] if o.aabb()[1][2] > goal.surface_z_m + 0.005]
        drawn = draw_goal(goal, sup.position_m, matrix_np(sup.orientation_wxyz), sup.extents_m, blockers,
                          goal_rng(sim.scene.header.scene_id, task.task_id, st.seed, st.episode_index),
                          st.options.goal_jitter_m)
    goal_offset = (0.0, 0.0)
    for candidate in ([drawn[0], goal] if drawn is not None else [goal]):  # the drawn spot, else the task's
        try:
            plan = plan_pick_place(ix.ik, tgt, planned_around, candidate, q_home, 1.0 / FPS,
                                   on_segment=beat, check=SceneCheck(sim, d, ix, target, task.goal.support_object_id),
                                   ceiling_z=level.ceiling_m if level else None,
                                   turn_back_rad=-st.rand.target_yaw_rad, q_seed=st.q_home - st.arm_offset,
                                   rim_z=_rim_z(sim, d, task))
        except IKFailure as exc:
            reason, plan_error = exc.reason, str(exc)[:500]
            continue
        reason, plan_error = None, None
        if drawn is not None and candidate is drawn[0]:
            goal_offset = drawn[1]
        goal = candidate
        break
    beat()
    return plan, goal, goal_offset, reason, plan_error


def run_episode(sim: SimScene, task: TaskSpec, episode_index: int, seed: int,
                options: EpisodeOptions = EpisodeOptions(),
                heartbeat: Callable[[], None] | None = None) -> EpisodeRecord:
    """Simulate one pick_place (or stack) episode of `task`; reproducible from (scene, task, seed, index)."""
    if task.type not in ("pick_place", "stack") or task.goal is None:
        raise ValueError(f"task {task.task_id}: only pick_place and stack tasks with a goal are simulated here")
    wall0 = time.perf_counter()
    m, ix = sim.model, _indices(sim)
    beat = heartbeat or (lambda: None)
    target = task.target_object_id
    st = begin_pick_place(sim, task, seed, episode_index, options, beat)
    d, rand, arm_offset, arm_fallback = st.data, st.rand, st.arm_offset, st.arm_fallback
    warnings0, settle_steps, settle_shift, penetration = st.warnings0, st.settle_steps, st.settle_shift, st.penetration
    plan, goal, goal_offset, reason, plan_error = plan_from_start(sim, task, st, beat)
    n_ticks = plan.n_ticks if plan else 0
    support_geoms = sim.object_geom_ids(task.goal.support_object_id)  # furniture, or a stack's base
    target_geom = sim.geom_id(target)
    target_mask = np.zeros(m.ngeom, bool)
    target_mask[sim.object_geom_ids(target)] = True  # a hollow container's walls are the target too
    pad_masks = []
    for p in ix.pads:
        mk = np.zeros(m.ngeom, bool)
        mk[p] = True
        pad_masks.append(mk)
    support_mask = np.zeros(m.ngeom, bool)
    support_mask[support_geoms] = True
    geom_owner = {int(g): oid for oid in sim.dynamic_ids if oid != target for g in sim.object_geom_ids(oid)}
    base = task.goal.support_object_id if _moves_with_goal(sim, task) else None  # meant to be touched
    other_obj_mask = np.zeros(m.ngeom, bool)
    for oid, g in ix.dynamic_geom.items():
        if oid not in (target, base):
            other_obj_mask[g] = True
    # contact flag i of a geom pair (a, b) is bit i of pair_bits[a, b]: one table look-up per
    # contact and one OR-reduction per frame instead of six mask tests
    pair_bits = np.zeros((m.ngeom, m.ngeom), np.uint8)
    for bit, (mask_a, mask_b) in enumerate([(pad_masks[0], target_mask), (pad_masks[1], target_mask),
                                            (target_mask, support_mask), (ix.robot_geom, ix.furniture_geom),
                                            (ix.robot_geom, other_obj_mask), (target_mask, other_obj_mask)]):
        hit = np.outer(mask_a, mask_b)
        pair_bits |= ((hit | hit.T) * (1 << bit)).astype(np.uint8)
    flag_bits = 1 << np.arange(len(CONTACT_NAMES))

    T = n_ticks + 1
    dof = len(ix.arm_qadr)
    K = len(sim.dynamic_ids)
    qpos_log = np.zeros((T, m.nq))
    qvel_log = np.zeros((T, m.nv))
    tcp_pos = np.zeros((T, 3))
    tcp_mat = np.zeros((T, 9))
    contact_log: list[tuple[int, np.ndarray]] = []  # (tick, contact geom pairs) of the ticks with contacts
    images: dict[str, np.ndarray] = {}
    cameras: dict[str, dict] = {}
    renderer = None
    if options.render:
        renderer = make_renderer(m, options.image_size, options.image_size)
        images = {c: np.zeros((T, options.image_size, options.image_size, 3), np.uint8) for c in CAMERAS}
    cam_ids = {"scene_cam": m.camera("scene_cam").id, "wrist_cam": m.camera(sim.names.wrist_camera).id}

    tb = sim.body_id(target)
    leaning = _resting_against(sim, d, target)
    start_pos = d.xpos[tb].copy()
    start_z = d.xmat[tb].reshape(3, 3)[:, 2].copy()
    start_all = d.qpos[ix.dynamic_qadr[:, None] + np.arange(3)].copy()
    place_xy = plan.place_object_pos_m[:2] if plan else start_pos[:2]
    radius = {o: 0.5 * float(np.linalg.norm(sim.physics[o].collider_size_m)) for o in sim.dynamic_ids}
    ti = sim.dynamic_ids.index(target)
    others_ids = [o for o in sim.dynamic_ids if o not in (target, base)]
    other_idx = np.array([sim.dynamic_ids.index(o) for o in others_ids], dtype=int)
    other_geoms = np.array([ix.dynamic_geom[o] for o in others_ids], dtype=int)
    near_sq_m2 = (np.array([radius[o] for o in others_ids]) + radius[target] + 0.05) ** 2
    if plan is not None:
        set_points, set_velocity, gripper_target = set_point_schedule(plan, ix, sim.robot.gripper.stroke_per_finger_m)

    try:
        # per tick only what needs the live simulator state is done here; object poses,
        # quaternions, flags, rewards and grasp checks are derived from the logs after the loop
        for k in range(T):
            # --- record frame k (state at t = k / FPS) ---
            mujoco.mj_kinematics(m, d)
            qpos_log[k] = d.qpos
            qvel_log[k] = d.qvel
            tcp_pos[k] = d.site_xpos[ix.tcp]
            tcp_mat[k] = d.site_xmat[ix.tcp]
            if d.ncon:
                contact_log.append((k, d.contact.geom.copy()))
            if renderer is not None:
                mujoco.mj_comPos(m, d)
                mujoco.mj_camlight(m, d)
                place_scene_camera(m, d)  # the chosen and jittered pose (sleeping skips world cameras)
                for cam in CAMERAS:
                    renderer.update_scene(d, camera=cam_ids[cam])
                    images[cam][k] = renderer.render()
                if k == 0:
                    cameras = episode_cameras(m, d, cam_ids, ix.tcp)
            if plan is None or k == n_ticks:
                break
            # --- advance to tick k + 1 ---
            advance_tick(m, d, ix, set_points[k], set_velocity[k], gripper_target[k])
            beat()  # a store into shared memory: cheap enough for every tick
    finally:
        if renderer is not None:
            renderer.close()

    q64 = qpos_log[:, ix.arm_qadr]
    state = np.zeros((T, dof + 1), np.float32)
    velocity = np.zeros((T, dof + 1), np.float32)
    state[:, :dof] = q64
    state[:, dof] = qpos_log[:, ix.finger_qadr].sum(axis=1)
    velocity[:, :dof] = qvel_log[:, ix.arm_vadr]
    velocity[:, dof] = qvel_log[:, ix.finger_vadr].sum(axis=1)
    ee64 = np.zeros((T, 7))
    ee64[:, :3] = tcp_pos
    for k in range(T):
        mujoco.mju_mat2Quat(ee64[k, 3:], tcp_mat[k])
    # a free body's pose is its joint's qpos (mj_kinematics copies it, normalising the quaternion)
    obj_pos = qpos_log[:, ix.dynamic_qadr[:, None] + np.arange(3)]
    obj_quat = qpos_log[:, ix.dynamic_qadr[:, None] + np.arange(3, 7)]
    obj_quat /= np.linalg.norm(obj_quat, axis=2, keepdims=True)
    obj_poses = np.concatenate([obj_pos, obj_quat], axis=2).reshape(T, K * 7).astype(np.float32)
    w, x, y, z = obj_quat[:, ti].T
    tgt_zaxis = np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=1)
    contact_bits = np.zeros(T, np.uint8)
    if contact_log:
        ticks = np.array([k for k, _ in contact_log])
        pairs = np.concatenate([g for _, g in contact_log])
        starts = np.cumsum([0] + [len(g) for _, g in contact_log[:-1]])
        contact_bits[ticks] = np.bitwise_or.reduceat(pair_bits[pairs[:, 0], pairs[:, 1]], starts)
    contact = ((contact_bits[:, None] & flag_bits) != 0).astype(np.uint8)
    flags = contact.astype(bool)
    unexpected = int(np.count_nonzero(flags[:, 3] | flags[:, 4] | flags[:, 5]))
    both_pads = flags[:, 0] & flags[:, 1]
    tgt_pos = obj_pos[:, ti]
    # clearance to the other objects: exact distances only at frames where bounding spheres come
    # within 5 cm, from the logged qpos (mj_kinematics of it reproduces the live geometry exactly)
    min_clearance = 0.05  # reported as 0.05 when nothing came closer than that
    gap = obj_pos[:, other_idx] - tgt_pos[:, None]
    near = np.einsum("tkc,tkc->tk", gap, gap) < near_sq_m2
    if near.any():
        scratch = _scratch_data(sim)
        for k in np.flatnonzero(near.any(axis=1)):
            scratch.qpos[:] = qpos_log[k]
            mujoco.mj_kinematics(m, scratch)
            for g in other_geoms[near[k]]:
                min_clearance = min(min_clearance, mujoco.mj_geomDistance(m, scratch, target_geom, int(g), 0.05, None))
    action = np.zeros((T, dof + 1), np.float32)
    if plan is None:
        action[:, :dof] = q64
    else:
        action[:, :dof] = plan.q[np.minimum(np.arange(1, T + 1), n_ticks)]
        action[:, dof] = plan.gripper[:T]
    phase_of = np.array(plan.phase if plan else ["start"])
    carry = np.isin(phase_of[:T], ("lift", "transport", "lower"))
    max_slip, unpadded_frames = 0.0, 0
    if carry.any():
        rot = tcp_mat[carry].reshape(-1, 3, 3)
        rel = np.einsum("nji,nj->ni", rot, tgt_pos[carry] - ee64[carry, :3])  # R^T (object - TCP)
        max_slip = float(np.max(np.linalg.norm(rel - rel[0], axis=1)))
        unpadded_frames = int(np.count_nonzero(~both_pads[carry]))
    lifted = False
    if plan:
        k_lift = plan.phase_ticks["lift"][1]
        lifted = bool(tgt_pos[k_lift, 2] - start_pos[2] >= 0.02 and both_pads[k_lift])
    inside = np.all(np.abs(tgt_pos[:, :2] - np.asarray(goal.center_m[:2])) <= 0.5 * np.asarray(goal.size_m), axis=1)
    placed = flags[:, 2] & inside & (tgt_zaxis @ start_z >= np.cos(np.deg2rad(20))) & ~both_pads
    d_reach = np.linalg.norm(ee64[:, :3] - tgt_pos, axis=1)
    reward = (0.1 * (1 - np.tanh(10 * d_reach)) + 0.1 * both_pads
              * (1 + (1 - np.tanh(5 * np.linalg.norm(tgt_pos[:, :2] - place_xy, axis=1))))).astype(np.float32)

    mujoco.mj_kinematics(m, d)
    final_pos = d.xpos[tb].copy()
    vadr = sim.free_qvel_adr(target)
    end_all = d.qpos[ix.dynamic_qadr[:, None] + np.arange(3)]
    moved = np.linalg.norm(end_all - start_all, axis=1)
    moved[ti] = 0.0
    # what rested against the target may roll into the space it leaves, unless the robot touched it
    touched: set[str] = set()
    if contact_log and leaning:
        every = np.concatenate([g for _, g in contact_log])
        with_robot = every[ix.robot_geom[every[:, 0]] != ix.robot_geom[every[:, 1]]]
        touched = {geom_owner[int(g)] for g in np.unique(with_robot) if int(g) in geom_owner}
    moved[[sim.dynamic_ids.index(o) for o in leaning - touched]] = 0.0
    moved_others = float(np.max(moved, initial=0.0))
    # a stack (into a free container) is judged on its base where the base is at the end (it may shift)
    final_goal_center = (d.xpos[sim.body_id(task.goal.support_object_id)][:2] if _moves_with_goal(sim, task)
                         else np.asarray(goal.center_m[:2]))
    if reason is None:
        verdict = judge_pick_place(
            start_pos=start_pos, final_pos=final_pos, start_zaxis=start_z, final_zaxis=d.xmat[tb].reshape(3, 3)[:, 2],
            final_lin_vel=d.qvel[vadr:vadr + 3], final_ang_vel=d.qvel[vadr + 3:vadr + 6],
            lifted_with_gripper=lifted, lost_grip_before_release=unpadded_frames > 2 or max_slip > 0.02,
            touches_goal_support=bool(contact[-1, 2]), goal_center=np.asarray(final_goal_center),
            goal_size=judged_goal_size(sim, task, goal), max_other_displacement_m=moved_others,
            has_up=sim.physics[target].collider is not ColliderShape.SPHERE)
        success, reason, checks = verdict.success, verdict.reason, verdict.checks
    else:
        success, checks = False, {}
    metrics = {
        "checks": checks,
        "placement_error_m": float(np.linalg.norm(final_pos[:2] - place_xy)),
        "goal_center_error_m": float(np.linalg.norm(final_pos[:2] - np.asarray(final_goal_center[:2]))),
        "min_clearance_to_others_m": min_clearance,
        "unexpected_contact_frames": int(unexpected),
        "max_other_displacement_m": moved_others,
        "resting_against_target": sorted(leaning),
        "grasp_slip_m": max_slip,
        "grasp_kind": plan.grasp.kind if plan else None,
        "grasp_frame": int(plan.phase_ticks["close"][1]) if plan else None,  # the fingers closed
        # the opening between the pads while approaching (less than the stroke: pre-shaped in clutter)
        "grasp_open_m": (2 * (sim.robot.gripper.stroke_per_finger_m if plan.grasp.open_m is None
                              else plan.grasp.open_m)) if plan else None,
        "slide_out_m": plan.slide_out_m if plan else None,  # slid out of a shelf's row this far
        "plan_error": plan_error,  # why planning found no plan (ik_failure, no_clear_grasp)
        "start_offset_m": list(rand.target_offset_m),
        "start_yaw_rad": rand.target_yaw_rad,
        "start_pose_fallback": rand.fallback,
        "start_arm_offset_rad": [float(v) for v in arm_offset],
        "start_arm_fallback": arm_fallback,
        "goal_offset_m": list(goal_offset),
        "goal_center_m": [float(v) for v in goal.center_m],
        "start_position_m": start_pos.tolist(),
        "settle_shift_m": settle_shift,
        "settle_penetration_m": penetration,
        **run_metrics(n_ticks, settle_steps, wall0, q64, velocity, ix),
        **frame_visibility(sim, task, {"start": qpos_log[0]} if plan is None else {
            "start": qpos_log[0], "grasp": qpos_log[plan.phase_ticks["close"][1]], "final": qpos_log[T - 1]}),
    }
    return episode_record(sim, task, episode_index, seed, success, reason,
                          warnings=health.new_warnings(d, warnings0), state=state, velocity=velocity,
                          ee_pose=ee64.astype(np.float32), object_poses=obj_poses, action=action, contact=contact,
                          reward=reward, success_flags=placed, images=images, cameras=cameras, metrics=metrics,
                          task_state=task_state(obj_poses[:, ti * 7:ti * 7 + 7],
                                                (*goal.center_m[:2], goal.surface_z_m)))
