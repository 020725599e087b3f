"""What every episode shares, whatever its task family (sim/families/): the options, the scene's
ids and masks, the settled start state, the servo tick, and the object boxes planners see.

Recording (sim/engine.py): frame k is the state at control tick k (t = k / 30 s exactly: 16 steps
of 1/480 s per frame). Positions are refreshed with mj_kinematics before recording (after mj_step
they describe the previous step), so the recorded TCP pose is the forward kinematics of the
recorded joints. action[k] = (arm set-point reached at tick k+1, gripper command held over [k, k+1)).

Execution: between ticks the set-point moves linearly; each servo's set-point leads by
(kv/kp) * set-point velocity, which cancels the steady lag of a position servo. The set-point is
the servo's activation, integrated from ctrl = its velocity (robots/builder.py), so one tick is
one write of (set-point, velocity) and one mj_step call of 16 steps.

Start state: the scene at rest is settled once per (scene, target) with the nominal physics and
cached (the resting clutter asleep); every episode starts from a copy of it, draws its
randomisation and settles again for SETTLE_S (the target and anything it touches are awake).
Episode i is therefore still a function of (scene, task, seed, i) only.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.robots import home_qpos
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.sim.ik import ArmIK, BoxObstacle, as_slice
from blueprint_pipeline.sim.planner import ObjectBox, Plan
from blueprint_pipeline.sim.scene_builder import FPS, STEPS_PER_FRAME, SimScene, prepare_for_target
from blueprint_pipeline.simready.records import ColliderShape

CONTACT_NAMES = ["pad_left_target", "pad_right_target", "target_goal_support", "robot_furniture",
                 "robot_other_objects", "target_other_objects"]
CAMERAS = ("scene_cam", "wrist_cam")
SETTLE_MAX_S = 2.0  # the cached start state settles at most this long for the clutter to sleep
SETTLE_FINE_S, SETTLE_FINE_SUBSTEPS = 0.25, 4  # first, this long at a quarter step (interpenetrating input)
SETTLE_FINE_DEPTH_M = 0.001  # ... when a free object starts deeper than this in anything


@dataclass(frozen=True)
class EpisodeOptions:
    render: bool = False
    image_size: int = 128
    jitter_m: float = 0.08
    yaw_rad: float = float(np.pi / 4)
    arm_start_rad: float = 0.1  # each arm joint's start within +- this of the task's (randomize.py)
    goal_jitter_m: float = 0.05  # a pick_place goal spot within +- this of the task's (randomize.draw_goal)
    # the other free objects standing alone on furniture within +- this and +- distractor_yaw_rad
    # (randomize.jitter_distractors)
    distractor_jitter_m: float = 0.015
    distractor_yaw_rad: float = float(np.deg2rad(10.0))
    visual_randomization: bool = True  # when rendering: the episode's drawn look (randomize.prepare_rendering)
    shadows: bool = False  # when rendering: shadows from every light (appearance.set_shadows)
    # the episode's rank among its task's episodes (dealing.Deal.slot): the instruction template is
    # the slot-th of the task's own shuffled order; None: drawn at random (language.instruction)
    instruction_slot: int | None = None
    phrasings: tuple[str, ...] = ()  # the LLM's phrasings of the task's template family (sim/phrasings.py)
    # which draw of the episode's start this is (engine.START_DRAWS): 0 the first; n > 0 keys the
    # target's, distractors', arm's and goal's streams anew (randomize.py), the look stays
    start_draw: int = 0


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
        # the same as slices where they are runs (as a robot's are): an array index costs a tick
        # about a microsecond more
        self.arm_act_at, self.arm_actadr_at = as_slice(self.arm_act), as_slice(self.arm_actadr)
        self.arm_qadr_at, self.finger_qadr_at = as_slice(self.arm_qadr), as_slice(self.finger_qadr)
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
    A manifest may put solids into each other (crossed pens, a book through a box): when a free
    object starts more than SETTLE_FINE_DEPTH_M deep in anything, the first SETTLE_FINE_S are
    stepped at a quarter of the time step, which lets MuJoCo push them apart where the full step
    flings light objects (measured on the corpus: 9 g pens crossed 1.4 cm deep reached 400 m/s at
    the full step, 0.3 m/s at a quarter). Without such an overlap the settling starts at the full
    step: the quarter steps, all objects awake, were three quarters of the settling's CPU on the
    corpus, and after them most scenes slept within one frame."""
    cache = sim.__dict__.setdefault("_settled_start", {})
    if target not in cache:
        m = sim.model
        sim.restore_nominal()
        prepare_for_target(sim, target, sleep=True)
        d = mujoco.MjData(m)
        mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
        others = [m.body_treeid[sim.body_id(o)] for o in sim.dynamic_ids if o != target]
        step = m.opt.timestep
        if _deepest_overlap_m(sim, d) > SETTLE_FINE_DEPTH_M:
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


def _deepest_overlap_m(sim: SimScene, d: mujoco.MjData) -> float:
    """How deep the deepest contact of a free object is at `d`'s state (0 without one)."""
    m = sim.model
    mujoco.mj_kinematics(m, d)
    mujoco.mj_collision(m, d)
    n = d.ncon
    if n == 0:
        return 0.0
    free = np.zeros(m.nbody, bool)
    free[[sim.body_id(o) for o in sim.dynamic_ids]] = True
    bodies = m.geom_bodyid[d.contact.geom[:n]]
    involved = free[bodies[:, 0]] | free[bodies[:, 1]]
    return float(max(0.0, -np.min(d.contact.dist[:n][involved], initial=0.0)))


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
                 gripper_target_m: float, substeps: int = 1) -> None:
    """One control tick: the set-points ramp from `set_point` at `velocity` over 16 steps; with
    `substeps` > 1 over 16 x `substeps` steps of the time step divided by `substeps` (restored
    after: a family on a finer step, engine.Family.physics_substeps)."""
    d.act[ix.arm_actadr_at] = set_point
    d.ctrl[ix.arm_act_at] = velocity
    d.ctrl[ix.grip_act] = gripper_target_m
    if substeps == 1:
        mujoco.mj_step(m, d, STEPS_PER_FRAME)
        return
    nominal = m.opt.timestep
    m.opt.timestep = nominal / substeps
    try:
        mujoco.mj_step(m, d, STEPS_PER_FRAME * substeps)
    finally:
        m.opt.timestep = nominal



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
                     round_xy=round_xy, rim=mesh.rim if mesh is not None else None,
                     antipodal=mesh.antipodal if mesh is not None else ())


