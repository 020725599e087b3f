"""open_close episodes of a drawer or a door: grasp its handle, pull it along its axis (a door:
along the handle's arc), release. A closing task (`TaskSpec.joint_start_fraction`) starts where its
opening ends (`start_state`: the part open, the arm released 10 cm up the bar), comes down the bar,
closes on it and pushes the part back to closed along the same line or arc.

Plan (joint set-points at 30 Hz, as for pick_place): a jerk-limited joint move to the pre-grasp
(10 cm in front of the handle), a straight min-jerk Cartesian line onto the handle, close, a
straight Cartesian pull along the drawer's axis to the target opening (`TaskSpec.
joint_target_fraction` of the joint range), release, a straight 10 cm retreat upwards (the open
fingers slide up the vertical bar), then a still phase. The hand approaches horizontally, fingers
closing across the vertical bar handle (scene_builder adds it; the records carry no handle).

Randomisation per episode (seeded like pick_place): every free object's mass and friction
(randomize.apply_randomization, nothing is moved) and the drawer's mass and friction within its
physics record's DR ranges. Success is judged from the physics state only (judge.judge_open_close).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.records import TaskSpec
from blueprint_pipeline.rotations import axis_angle_matrix, matrix_to_quat
from blueprint_pipeline.sim.episode import (
    CAMERAS,
    CONTACT_NAMES,
    EpisodeOptions,
    SceneCheck,
    _indices,
    _pair,
    advance_tick,
    episode_record,
    run_metrics,
    set_point_schedule,
    settled_start,
)
from blueprint_pipeline.sim import health
from blueprint_pipeline.sim.camera import frame_visibility, place_scene_camera
from blueprint_pipeline.sim.camera_model import episode_cameras
from blueprint_pipeline.sim.grasp import GraspCandidate, _hand_rotation
from blueprint_pipeline.sim.ik import ArmIK
from blueprint_pipeline.sim.judge import judge_open_close
from blueprint_pipeline.sim.opening import Opening, PartJoint, opening
from blueprint_pipeline.sim.planner import GRIPPER_TICKS, SETTLE_TICKS, BlockedGrasps, Plan
from blueprint_pipeline.sim.randomize import arm_rng, episode_rng, prepare_rendering, randomize_arm_start
from blueprint_pipeline.sim.records import EpisodeRecord, task_state
from blueprint_pipeline.sim.render import make_renderer
from blueprint_pipeline.sim.scene_builder import (
    FPS,
    SETTLE_S,
    STEPS_PER_FRAME,
    SimScene,
    prepare_for_target,
    set_sleep,
)
from blueprint_pipeline.sim.trajectory import (
    IKFailure,
    Pose,
    joint_segment,
    min_jerk,
    plan_arc,
    plan_segment,
)

PRE_GRASP_M = 0.10
RETREAT_M = 0.10
# Up, not along the pull: that would bring the hand 10 cm closer to the base, and folding a
# long arm that far swings its forearm sideways (the UR10's into the kitchen's chair_1, 25-72 mm
# deep in its collider, pushing it 2-7 cm); going up leaves the arm's clearance as the pull left it.
RETREAT_DIRECTION = np.array([0.0, 0.0, 1.0])
HOLD_TICKS = 15  # 0.5 s
APPROACH_PITCHES_RAD = (0.0, np.deg2rad(20.0), -np.deg2rad(20.0))
PULL_MIN_S = 1.0  # shortest pull (longer ones follow the TCP speed and acceleration limits)
# A door's hand turns with the door by 1, else 0.5, else 0 of its angle (the round handle turns
# in the closed fingers by the rest): the first that has a plan, so an arc at the edge of the
# arm's wrist range is still followed.
HAND_TURNS = (1.0, 0.5, 0.0)


def plan_opening(ik: ArmIK, op: Opening, q_home: np.ndarray, dt: float,
                 on_segment: Callable[[], None] = lambda: None, check=None, q_seed: np.ndarray | None = None) -> Plan:
    """The first feasible plan with the hand level, then pitched 20 deg down, then up (the fingers
    stay across a vertical bar; a level hand puts a UR10's wrist at its singularity; a bar that is
    not vertical is taken level only) that the whole-arm scene `check` (episode.SceneCheck)
    accepts. Raises IKFailure when no pitch works (BlockedGrasps when every planned one collides).
    The plan starts at `q_home`; the pre-grasp's IK starts from `q_seed` (default `q_home`: the
    nominal start, so a randomised start changes the approach, not the posture at the handle)."""
    last: IKFailure | None = None
    refused: list[str] = []
    vertical = abs(float(op.bar[2])) >= 0.9
    turns = HAND_TURNS if op.pull_m is None else HAND_TURNS[:1]
    for turn_hand in turns:
        for pitch in APPROACH_PITCHES_RAD if vertical else APPROACH_PITCHES_RAD[:1]:
            try:
                plan = _plan_with_pitch(ik, op, q_home, dt, on_segment, pitch, turn_hand,
                                        q_home if q_seed is None else q_seed)
            except IKFailure as exc:
                last = exc
                continue
            why = check.plan(plan) if check is not None else None
            if why is None:
                return plan
            refused.append(f"pitch {np.rad2deg(pitch):.0f} deg, hand turn {turn_hand:g}: {why}")
    if refused:
        raise BlockedGrasps(f"every planned {_motion(op)} collides (" + "; ".join(refused) + ")")
    raise IKFailure(f"no feasible {_motion(op)}: {last}")


def _motion(op: Opening) -> str:
    return "closing" if op.closing else "opening"


def open_close_plan_at_rest(sim: SimScene, task: TaskSpec) -> str | None:
    """The feasibility probe of an open_close task (a drawer or a door, opening or closing): plan
    the motion from the task's start state with the whole-arm scene check; why no plan exists, or
    None (as episode.plan_at_rest)."""
    ix = _indices(sim)
    target = task.target_object_id
    d = start_state(sim, task)
    joint = PartJoint.of(sim, target)
    op = opening(sim, target, float(d.qpos[joint.qpos_adr]), joint.target_q(task))
    try:
        plan_opening(ix.ik, op, d.qpos[ix.arm_qadr].copy(), 1.0 / FPS, check=SceneCheck(sim, d, ix, target, None))
    except IKFailure as exc:
        return f"{exc.reason}: {exc}"
    return None


def start_state(sim: SimScene, task: TaskSpec) -> mujoco.MjData:
    """A copy of the task's start: the scene at rest with the arm at home (episode.settled_start:
    what the manifest puts into each other is pushed apart at a fine time step first), the part
    never asleep. A closing task (`joint_start_fraction` set) starts where its opening ends: the
    part open at that fraction, what stands on it moved along, and the arm where the opening's
    plan leaves it (released, 10 cm off the handle); when the opening has no plan, at home.
    Computed once per task and cached on `sim`."""
    cache = sim.__dict__.setdefault("_open_close_start", {})
    if task.task_id not in cache:
        m, ix, target = sim.model, _indices(sim), task.target_object_id
        d = mujoco.MjData(m)
        mujoco.mj_copyData(d, m, settled_start(sim, target))
        mujoco.mj_forward(m, d)
        if task.joint_start_fraction is not None:
            joint = PartJoint.of(sim, target)
            jq, q_open = joint.qpos_adr, joint.start_q(task)
            try:
                op = opening(sim, target, float(d.qpos[jq]), q_open)
                arm = plan_opening(ix.ik, op, d.qpos[ix.arm_qadr].copy(), 1.0 / FPS,
                                   check=SceneCheck(sim, d, ix, target, None)).q[-1]
            except IKFailure:
                arm = None
            _move_part(sim, d, target, jq, q_open)
            if arm is not None:
                d.qpos[ix.arm_qadr] = arm
                d.act[ix.arm_actadr] = arm  # the servos' set-points hold the arm there
            d.qvel[:] = 0.0
            mujoco.mj_forward(m, d)
        cache[task.task_id] = d
    out = mujoco.MjData(sim.model)
    mujoco.mj_copyData(out, sim.model, cache[task.task_id])
    return out


def _move_part(sim: SimScene, d: mujoco.MjData, target: str, jq: int, q: float) -> None:
    """Set the part's joint to `q`, carrying the free objects that stand on it rigidly along."""
    m, b = sim.model, sim.body_id(target)
    mujoco.mj_kinematics(m, d)
    p0, r0 = d.xpos[b].copy(), d.xmat[b].reshape(3, 3).copy()
    d.qpos[jq] = q
    mujoco.mj_kinematics(m, d)
    p1, turn = d.xpos[b].copy(), d.xmat[b].reshape(3, 3) @ r0.T
    turn_quat = np.zeros(4)
    mujoco.mju_mat2Quat(turn_quat, turn.ravel())
    for oid, support in sim.support_of.items():
        if support == target:
            a = sim.free_qpos_adr(oid)
            d.qpos[a:a + 3] = p1 + turn @ (d.qpos[a:a + 3] - p0)
            quat = np.zeros(4)
            mujoco.mju_mulQuat(quat, turn_quat, d.qpos[a + 3:a + 7].copy())
            d.qpos[a + 3:a + 7] = quat


def _plan_with_pitch(ik: ArmIK, op: Opening, q_home: np.ndarray, dt: float, on_segment: Callable[[], None],
                     pitch_rad: float, hand_turn: float, q_seed: np.ndarray) -> Plan:
    out = np.asarray(op.out, dtype=float)
    hand_out = out
    if op.closing and op.is_door:
        # the hand turned with the open door by `hand_turn` (as an opening leaves it), and turns
        # back by as much over the arc, so it ends square to the closed front
        assert op.axis is not None
        hand_out = axis_angle_matrix(op.axis, op.angle_rad * (1.0 - hand_turn)) @ out
    approach = -np.cos(pitch_rad) * hand_out - np.sin(pitch_rad) * np.array([0.0, 0.0, 1.0])
    finger_axis = np.cross(hand_out, op.bar)
    grasp = Pose(np.asarray(op.handle_m, dtype=float), _hand_rotation(approach, finger_axis))
    cand = GraspCandidate("handle", grasp, approach, 0.02)
    home = Pose(*ik.tcp_pose(q_home))
    qs, grips, phases = [q_home[None, :]], [np.zeros(1)], ["start"]
    spans: dict[str, tuple[int, int]] = {}
    state = {"q": q_home, "pose": home, "grip": 0.0, "tick": 0}

    def add(name: str, seg: np.ndarray, goal: Pose | None) -> None:
        on_segment()
        qs.append(seg)
        grips.append(np.full(len(seg), state["grip"]))
        phases.extend([name] * len(seg))
        spans[name] = (state["tick"] + 1, state["tick"] + len(seg))
        state["tick"] += len(seg)
        state["q"] = seg[-1]
        if goal is not None:
            state["pose"] = goal

    def line(name: str, goal: Pose, min_s: float) -> None:
        add(name, plan_segment(ik, state["pose"], goal, state["q"], dt, min_s), goal)

    def hold(name: str, ticks: int, grip: float) -> None:
        state["grip"] = grip
        grips[-1][-1] = grip
        add(name, np.repeat(state["q"][None, :], ticks, axis=0), None)

    vertical = abs(float(op.bar[2])) >= 0.9
    # closing starts where an opening ends, 10 cm up a vertical bar: come down it (the opening's
    # retreat reversed); otherwise from 10 cm in front of the handle
    pre = cand.tcp.moved(PRE_GRASP_M * (RETREAT_DIRECTION if op.closing and vertical else hand_out))
    res = ik.solve(pre.pos_m, pre.rot, q_seed)
    if not res.ok():
        raise IKFailure(f"pre-grasp unreachable ({res.position_error_m * 1000:.1f} mm)")
    add("approach", joint_segment(q_home, res.q_rad, ik.desc, dt, 0.4), pre)
    line("reach", grasp, 0.6)
    hold("close", GRIPPER_TICKS, 1.0)
    if op.pull_m is not None:
        opened = grasp.moved(op.pull_m)
        line("pull", opened, PULL_MIN_S)
        back = RETREAT_DIRECTION
    else:
        assert op.pivot_m is not None and op.axis is not None
        seg, opened = plan_arc(ik, grasp, op.pivot_m, op.axis, op.angle_rad, state["q"], dt, PULL_MIN_S, hand_turn)
        add("pull", seg, opened)
        # up a vertical bar (as drawers), else straight back from the turned door's face
        back = RETREAT_DIRECTION if vertical else axis_angle_matrix(op.axis, op.angle_rad * hand_turn) @ hand_out
    hold("hold", HOLD_TICKS, 1.0)  # the part's rebound against the grasp dies out before letting go
    hold("release", GRIPPER_TICKS, 0.0)
    line("retreat", opened.moved(RETREAT_M * back), 0.5)
    hold("settle", SETTLE_TICKS, 0.0)
    # the part follows the hand through the pull, on the same min-jerk profile (trajectory.py)
    first, last = spans["pull"]
    progress = np.zeros(state["tick"] + 1)
    progress[first:last + 1] = min_jerk(np.arange(1, last - first + 2) / (last - first + 1))
    progress[last + 1:] = 1.0
    return Plan(q=np.vstack(qs), gripper=np.concatenate(grips), phase=phases, grasp=cand,
                place_object_pos_m=opened.pos_m, carry_tcp_z_m=float(grasp.pos_m[2]), phase_ticks=spans,
                part_q=op.q_from + (op.q_to - op.q_from) * progress)


def _randomize_drawer(sim: SimScene, target: str, rng: np.random.Generator) -> dict[str, float]:
    m = sim.model
    sim.restore_nominal()
    for oid in sim.dynamic_ids:  # same draws as pick_place's first step, objects stay in place
        ranges = sim.physics[oid].randomization
        b, g = sim.body_id(oid), sim.geom_id(oid)
        mass = float(rng.uniform(*ranges.mass_kg))
        m.body_inertia[b] = sim.nominal_body_inertia[b] * mass / sim.nominal_body_mass[b]
        m.body_mass[b] = mass
        m.geom_friction[g, 0] = float(rng.uniform(*ranges.static_friction))
    ranges = sim.physics[target].randomization
    b = sim.body_id(target)
    share = sim.nominal_body_mass[b] / sim.physics[target].mass_kg  # < 1: the front panel of a whole appliance
    mass = float(rng.uniform(*ranges.mass_kg)) * share
    m.body_inertia[b] = sim.nominal_body_inertia[b] * mass / sim.nominal_body_mass[b]
    m.body_mass[b] = mass
    friction = float(rng.uniform(*ranges.static_friction))
    m.geom_friction[sim.geom_id(target), 0] = friction
    return {"part_mass_kg": mass, "part_friction": friction}


@dataclass
class OpenCloseStart:
    """An open_close episode's start (`begin_open_close`): the live data after the drawn
    randomisation and the settle, the part's joint and the task's opening. Shared by
    `run_open_close_episode` and the evaluation environment (evaluate/env.py)."""

    data: mujoco.MjData
    warnings0: dict[str, int]
    drawn: dict[str, float]
    arm_offset: np.ndarray
    arm_fallback: bool
    settle_steps: int
    jq: int  # the part's joint: qpos address, range, dof address
    lo: float
    hi: float
    jv: int
    q_target: float
    op: Opening  # from where the part is at frame 0 to the target
    q_home: np.ndarray


def begin_open_close(sim: SimScene, task: TaskSpec, seed: int, episode_index: int,
                     options: EpisodeOptions = EpisodeOptions(),  # noqa: B008 (frozen)
                     beat: Callable[[], None] = lambda: None) -> OpenCloseStart:
    """The state at frame 0 of (scene, task, seed, index): the start state (a closing task: the
    part open), the drawn randomisation and arm start, settled SETTLE_S."""
    m, ix = sim.model, _indices(sim)
    target = task.target_object_id
    d = start_state(sim, task)  # the scene at rest, the part never asleep (a closing task: open)
    warnings0 = health.warning_counts(d)
    rng = episode_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index)
    drawn = _randomize_drawer(sim, target, rng)
    if options.render:
        prepare_rendering(sim, task.task_id, seed, episode_index, options.shadows, options.visual_randomization)
    arm_offset, arm_fallback = randomize_arm_start(
        d, ix, SceneCheck(sim, d, ix, target, None).start_pose,
        arm_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index), options.arm_start_rad)
    prepare_for_target(sim, target, sleep=False)  # every free object may sleep, the part never
    joint = PartJoint.of(sim, target)
    jv = int(m.jnt_dofadr[m.joint(f"obj:{target}:joint").id])
    q_target = joint.target_q(task)
    mujoco.mj_forward(m, d)
    set_sleep(m, True)
    settle_steps = round(SETTLE_S * STEPS_PER_FRAME * FPS)
    mujoco.mj_step(m, d, settle_steps)
    mujoco.mj_kinematics(m, d)
    beat()
    op = opening(sim, target, float(d.qpos[joint.qpos_adr]), q_target)  # from where the part is now
    return OpenCloseStart(d, warnings0, drawn, arm_offset, arm_fallback, settle_steps, joint.qpos_adr,
                          joint.lower, joint.upper, jv, q_target, op, d.qpos[ix.arm_qadr].copy())


def plan_open_close(sim: SimScene, task: TaskSpec, st: OpenCloseStart, beat: Callable[[], None] = lambda: None
                    ) -> tuple[Plan | None, str | None, str | None]:
    """The scripted plan from `st`: (plan or None, failure reason, planner message)."""
    ix = _indices(sim)
    try:
        plan = plan_opening(ix.ik, st.op, st.q_home, 1.0 / FPS, on_segment=beat,
                            check=SceneCheck(sim, st.data, ix, task.target_object_id, None),
                            q_seed=st.q_home - st.arm_offset)
    except IKFailure as exc:
        beat()
        return None, exc.reason, str(exc)[:500]
    beat()
    return plan, None, None


def run_open_close_episode(sim: SimScene, task: TaskSpec, episode_index: int, seed: int,
                           options: EpisodeOptions = EpisodeOptions(),  # noqa: B008 (frozen)
                           heartbeat: Callable[[], None] | None = None) -> EpisodeRecord:
    """Simulate one open_close episode of `task.target_object_id` (a drawer or a door)."""
    target = task.target_object_id
    obj = sim.scene.by_id().get(target)
    if task.type != "open_close" or obj is None or obj.articulation is None:
        raise ValueError(f"task {task.task_id}: only open_close tasks of an articulated object are simulated")
    wall0 = time.perf_counter()
    m, ix = sim.model, _indices(sim)
    beat = heartbeat or (lambda: None)
    st = begin_open_close(sim, task, seed, episode_index, options, beat)
    d, warnings0, drawn, arm_offset, arm_fallback = st.data, st.warnings0, st.drawn, st.arm_offset, st.arm_fallback
    jq, lo, hi, jv, q_target, op, settle_steps = st.jq, st.lo, st.hi, st.jv, st.q_target, st.op, st.settle_steps
    plan, reason, plan_error = plan_open_close(sim, task, st, beat)

    n_ticks = plan.n_ticks if plan else 0
    handle_mask = np.zeros(m.ngeom, bool)
    handle_gid = m.geom(SimScene.handle_geom_name(target)).id
    handle_mask[handle_gid] = True
    drawer_mask = handle_mask.copy()
    drawer_mask[sim.geom_id(target)] = True
    pad_masks = []
    for p in ix.pads:
        mk = np.zeros(m.ngeom, bool)
        mk[p] = True
        pad_masks.append(mk)
    other_furniture = ix.furniture_geom & ~drawer_mask
    other_obj_mask = np.zeros(m.ngeom, bool)
    for g in ix.dynamic_geom.values():
        other_obj_mask[g] = True
    robot_no_pads = ix.robot_geom.copy()
    for p in ix.pads:
        robot_no_pads[p] = False
    riders = {o for o, s in sim.support_of.items() if s == target}  # objects standing on the drawer ride along

    T = n_ticks + 1
    dof = len(ix.arm_qadr)
    K = len(sim.dynamic_ids)
    state = np.zeros((T, dof + 1), np.float32)
    velocity = np.zeros((T, dof + 1), np.float32)
    ee64 = np.zeros((T, 7))
    q64 = np.zeros((T, dof))
    obj_poses = np.zeros((T, K * 7), np.float32)
    action = np.zeros((T, dof + 1), np.float32)
    contact = np.zeros((T, len(CONTACT_NAMES)), np.uint8)
    reward = np.zeros(T, np.float32)
    joint_q = np.zeros(T)
    part_pose = np.zeros((T, 7))
    part_body = sim.body_id(target)
    images: dict[str, np.ndarray] = {}
    cameras: dict[str, dict] = {}
    renderer = make_renderer(m, options.image_size, options.image_size) if options.render else None
    if renderer is not None:
        images = {c: np.zeros((T, options.image_size, options.image_size, 3), np.uint8) for c in CAMERAS}
    cam_ids = {"scene_cam": m.camera("scene_cam").id, "wrist_cam": m.camera(sim.names.wrist_camera).id}
    dyn_bodies = np.array([sim.body_id(o) for o in sim.dynamic_ids], dtype=int)
    start_all = {o: d.xpos[sim.body_id(o)].copy() for o in sim.dynamic_ids}
    if plan is not None:
        set_points, set_velocity, gripper_target = set_point_schedule(plan, ix, sim.robot.gripper.stroke_per_finger_m)
    phase_of = plan.phase if plan else ["start"]
    q_start = float(d.qpos[jq])
    grasped = False
    unpadded_pull_frames = 0
    unexpected = 0
    frame_qpos: dict[str, np.ndarray] = {}  # start and grasp states, for the scene camera's visibility check
    try:
        for k in range(T):
            mujoco.mj_kinematics(m, d)
            if k == 0 or (plan and k == plan.phase_ticks["close"][1]):
                frame_qpos["start" if k == 0 else "grasp"] = d.qpos.copy()
            q = d.qpos[ix.arm_qadr]
            state[k, :dof], state[k, dof] = q, d.qpos[ix.finger_qadr].sum()
            velocity[k, :dof], velocity[k, dof] = d.qvel[ix.arm_vadr], d.qvel[ix.finger_vadr].sum()
            q64[k] = q
            tcp_pos, tcp_rot = d.site_xpos[ix.tcp], d.site_xmat[ix.tcp].reshape(3, 3)
            ee64[k, :3], ee64[k, 3:] = tcp_pos, matrix_to_quat(tcp_rot)
            if K:
                obj_poses[k] = np.hstack([d.xpos[dyn_bodies], d.xquat[dyn_bodies]]).ravel()
            geoms = d.contact.geom[:d.ncon] if d.ncon else np.zeros((0, 2), int)
            flags = [_pair(geoms, pad_masks[0], handle_mask), _pair(geoms, pad_masks[1], handle_mask), False,
                     _pair(geoms, robot_no_pads, other_furniture), _pair(geoms, ix.robot_geom, other_obj_mask), False]
            contact[k] = flags
            unexpected += int(flags[3] or flags[4])
            joint_q[k] = d.qpos[jq]
            part_pose[k, :3], part_pose[k, 3:] = d.xpos[part_body], d.xquat[part_body]
            both_pads = flags[0] and flags[1]
            phase = phase_of[k]
            if plan and k == plan.phase_ticks["close"][1]:
                grasped = bool(both_pads)
            if phase == "pull" and not both_pads:
                unpadded_pull_frames += 1
            progress = np.clip((joint_q[k] - q_start) / max(q_target - q_start, 1e-9), 0.0, 1.0) if q_target != q_start else 1.0
            reward[k] = 0.1 * (1 - np.tanh(10 * np.linalg.norm(tcp_pos - d.geom_xpos[handle_gid]))) \
                + 0.1 * both_pads + 0.1 * progress
            if renderer is not None:
                mujoco.mj_comPos(m, d)
                mujoco.mj_camlight(m, d)
                place_scene_camera(m, d)  # the chosen and jittered pose (sleeping skips world cameras)
                for cam in CAMERAS:
                    renderer.update_scene(d, camera=cam_ids[cam])
                    images[cam][k] = renderer.render()
                if k == 0:
                    cameras = episode_cameras(m, d, cam_ids, ix.tcp)
            if plan is None:
                action[k, :dof], action[k, dof] = q, 0.0
                break
            nxt = min(k + 1, n_ticks)
            action[k, :dof], action[k, dof] = plan.q[nxt], plan.gripper[k]
            if k == n_ticks:
                break
            advance_tick(m, d, ix, set_points[k], set_velocity[k], gripper_target[k])
            beat()

    finally:
        if renderer is not None:
            renderer.close()

    mujoco.mj_kinematics(m, d)
    moved_others = max((float(np.linalg.norm(d.xpos[sim.body_id(o)] - p)) for o, p in start_all.items()
                        if o not in riders), default=0.0)
    sign = 1.0 if q_target >= q_start else -1.0
    after_release = plan.phase_ticks["release"][1] if plan else 0
    if reason is None:
        verdict = judge_open_close(joint_q=sign * joint_q[:T], target_q=sign * q_target,
                                   joint_range=hi - lo, after_release_frame=after_release,
                                   final_joint_speed=abs(float(d.qvel[jv])), grasped_handle=grasped,
                                   lost_grip_during_pull=unpadded_pull_frames > 2,
                                   max_other_displacement_m=moved_others)
        success, reason, checks = verdict.success, verdict.reason, verdict.checks
    else:
        success, checks = False, {}
    threshold = sign * q_target - 0.02 * (hi - lo)
    reached = sign * joint_q[:T] >= threshold
    metrics = {
        "checks": checks,
        "joint_target": q_target,
        "joint_start": q_start,
        "joint_final": float(joint_q[T - 1]),
        "joint_fraction_final": float((joint_q[T - 1] - lo) / (hi - lo)) if hi > lo else 0.0,
        "joint_position": [float(v) for v in joint_q[:T]],
        "unexpected_contact_frames": int(unexpected),
        "max_other_displacement_m": moved_others,
        "grasp_kind": "handle" if plan else None,
        "grasp_frame": int(plan.phase_ticks["close"][1]) if plan else None,  # the fingers closed
        "plan_error": plan_error,
        "start_arm_offset_rad": [float(v) for v in arm_offset],
        "start_arm_fallback": arm_fallback,
        **drawn,
        **run_metrics(n_ticks, settle_steps, wall0, q64, velocity, ix),
        **frame_visibility(sim, task, frame_qpos | ({"final": d.qpos.copy()} if plan else {})),
    }
    return episode_record(sim, task, episode_index, seed, success, reason,
                          warnings=health.new_warnings(d, warnings0), state=state, velocity=velocity,
                          ee_pose=ee64.astype(np.float32), object_poses=obj_poses, action=action, contact=contact,
                          reward=reward, success_flags=reached, images=images, cameras=cameras, metrics=metrics,
                          task_state=task_state(part_pose, op.handle_at(1.0), joint_q[:T], q_target))
