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

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.records import TaskSpec
from blueprint_pipeline.rotations import axis_angle_matrix
from blueprint_pipeline.sim import health
from blueprint_pipeline.sim.engine import Family, Logs, Outcome, Planned, Start, geom_mask
from blueprint_pipeline.sim.episode import EpisodeOptions, _indices, settled_start
from blueprint_pipeline.sim.grasp import GraspCandidate, _hand_rotation
from blueprint_pipeline.sim.ik import ArmIK
from blueprint_pipeline.sim.judge import judge_open_close
from blueprint_pipeline.sim.opening import Opening, PartJoint, opening
from blueprint_pipeline.sim.planner import GRIPPER_TICKS, SETTLE_TICKS, ApproachRefused, BlockedGrasps, Plan
from blueprint_pipeline.sim.randomize import arm_rng, episode_rng, prepare_rendering, randomize_arm_start
from blueprint_pipeline.sim.records import task_state
from blueprint_pipeline.sim.scene_builder import (
    FPS,
    SETTLE_S,
    STEPS_PER_FRAME,
    SimScene,
    prepare_for_target,
    set_sleep,
)
from blueprint_pipeline.sim.scene_check import SceneCheck
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
# A vertical bar is round to the fingers: it may be taken with the hand turned about it by up to
# 30 deg (the fingers still close across it, the pull or arc is the same). Tried only after every
# square approach above (so a task planned square before is planned the same): from a base
# beside a drawer's path, the square hand's wrist ran out of range at the end of the pull (a
# kitchen's utensil drawer, 31 mm short), turned towards the base it does not.
# On a door, a turned hand is tried only where it keeps the hand within 30 deg of square to the
# door's face over the arc, or no further off than the square hand with the same turn
# (`_hand_off_square_rad`): a UR10 hand turned 30 deg one way that did not turn with the door
# ended 90 deg off its face, and the handle slid out of the fingers' mouth (an office cabinet's
# door, 0 of 6 episodes).
HAND_YAWS_RAD = (0.0, np.deg2rad(30.0), -np.deg2rad(30.0))
# When every approach above is refused on its way to the pre-grasp (a joint-space move from the
# start that sweeps the hand or arm through the furniture: a UR10's fingers over a 55 cm
# nightstand's top edge on the way down to its drawer's handle), the same tries again with the
# hand brought first to a staging pose this much further out in front of the pre-grasp, then
# straight in along the approach line, as into a shelf (planner.STAGING_M).
STAGED_OUT_M = (0.15, 0.30)


def plan_opening(ik: ArmIK, op: Opening, q_home: np.ndarray, dt: float,
                 on_segment: Callable[[], None] = lambda: None, check=None, q_seed: np.ndarray | None = None) -> Plan:
    """The first feasible plan with the hand level, then pitched 20 deg down, then up (the fingers
    stay across a vertical bar; a level hand puts a UR10's wrist at its singularity; a bar that is
    not vertical is taken level and square only), then the same with the hand turned about a
    vertical bar (HAND_YAWS_RAD), that the whole-arm scene `check` (scene_check.SceneCheck)
    accepts. Raises IKFailure when no pitch works (BlockedGrasps when every planned one collides).
    The plan starts at `q_home`; the pre-grasp's IK starts from `q_seed` (default `q_home`: the
    nominal start, so a randomised start changes the approach, not the posture at the handle)."""
    last: IKFailure | None = None
    refused: list[str] = []
    vertical = abs(float(op.bar[2])) >= 0.9
    turns = HAND_TURNS if op.pull_m is None else HAND_TURNS[:1]
    tries = [(yaw, turn_hand, pitch) for yaw in (HAND_YAWS_RAD if vertical else HAND_YAWS_RAD[:1])
             for turn_hand in turns for pitch in (APPROACH_PITCHES_RAD if vertical else APPROACH_PITCHES_RAD[:1])]
    tries = [(yaw, turn_hand, pitch) for yaw, turn_hand, pitch in tries
             if not (yaw and op.is_door and (_hand_off_square_rad(op, yaw, turn_hand)
                                             > max(HAND_YAWS_RAD[1], _hand_off_square_rad(op, 0.0, turn_hand)) + 1e-6))]
    at_approach = []  # the tries refused on their way to the pre-grasp: staged next
    for staged in (0.0, *STAGED_OUT_M):
        for yaw, turn_hand, pitch in (tries if not staged else at_approach):
            try:
                plan = _plan_with_pitch(ik, op, q_home, dt, on_segment, pitch, turn_hand,
                                        q_home if q_seed is None else q_seed, yaw,
                                        None if check is None else check.plan, staged)
                why = check.plan(plan) if check is not None else None
            except ApproachRefused as refused_early:
                why = refused_early.why
                if not staged:
                    at_approach.append((yaw, turn_hand, pitch))
            except IKFailure as exc:
                last = exc
                continue
            if why is None:
                return plan
            if not staged:
                turned = f", turned {np.rad2deg(yaw):.0f} deg about the bar" if yaw else ""
                refused.append(f"pitch {np.rad2deg(pitch):.0f} deg, hand turn {turn_hand:g}{turned}: {why}")
    if refused:
        raise BlockedGrasps(f"every planned {_motion(op)} collides (" + "; ".join(refused) + ")")
    raise IKFailure(f"no feasible {_motion(op)}: {last}")


def _hand_off_square_rad(op: Opening, yaw_rad: float, hand_turn: float) -> float:
    """The largest horizontal angle between the hand's approach and a door's face normal at the
    start and at the end of the arc, for the hand turned `yaw_rad` about the bar that turns with
    the door by `hand_turn` (as `_plan_with_pitch` and trajectory.plan_arc place it)."""
    assert op.axis is not None
    out = _hand_out(op, yaw_rad, hand_turn)
    ends = ((out, op.out), (axis_angle_matrix(op.axis, op.angle_rad * hand_turn) @ out,
                            axis_angle_matrix(op.axis, op.angle_rad) @ op.out))
    return max(abs(float(np.arctan2(a[0] * b[1] - a[1] * b[0], a[:2] @ b[:2]))) for a, b in ends)


def _hand_out(op: Opening, yaw_rad: float, hand_turn: float) -> np.ndarray:
    """The way the hand faces out of the handle at the grasp: against `op.out`, turned about the
    vertical bar by `yaw_rad`; a door's closing hand turned with the open door by `hand_turn`
    (as an opening leaves it; it turns back by as much over the arc, so it ends square to the
    closed front)."""
    out = np.asarray(op.out, dtype=float)
    if yaw_rad:
        out = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), yaw_rad) @ out
    if op.closing and op.is_door:
        assert op.axis is not None
        out = axis_angle_matrix(op.axis, op.angle_rad * (1.0 - hand_turn)) @ out
    return out


def _motion(op: Opening) -> str:
    return "closing" if op.closing else "opening"


def open_close_plan_at_rest(sim: SimScene, task: TaskSpec) -> str | None:
    """The feasibility probe of an open_close task (a drawer or a door, opening or closing): plan
    the motion from the task's start state with the whole-arm scene check; why no plan exists, or
    None (as pick_place.plan_at_rest)."""
    ix = _indices(sim)
    target = task.target_object_id
    d = start_state(sim, task)
    joint = PartJoint.of(sim, target)
    q_to = joint.target_q(task)
    op = opening(sim, target, float(d.qpos[joint.qpos_adr]), q_to)
    try:
        plan = plan_opening(ix.ik, op, d.qpos[ix.arm_qadr].copy(), 1.0 / FPS, check=SceneCheck(sim, d, ix, target, None))
    except IKFailure as exc:
        _remember_opening(sim, task, q_to, None)
        return f"{exc.reason}: {exc}"
    _remember_opening(sim, task, q_to, plan.q[-1])
    return None


# Where an opening from the settled start leaves the arm (None: it has no plan), by the compiled
# model, the part and the opening's end: the probe of a drawer's or door's opening finds it, and
# the probe of its closing, which starts there (`start_state`), would plan the same opening again
# (the same model, start and check: the same answer). Kept for a few models, in this process.
_OPENING_ENDS: dict[tuple, np.ndarray | None] = {}
_OPENING_ENDS_SIZE = 64


def _opening_key(sim: SimScene, target: str, q_to: float) -> tuple:
    m = sim.model
    digest = hashlib.sha1()
    for a in (m.body_pos, m.body_quat, m.geom_pos, m.geom_size, m.jnt_range, m.geom_type):
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest(), target, round(float(q_to), 9)


def _remember_opening(sim: SimScene, task: TaskSpec, q_to: float, arm: np.ndarray | None) -> None:
    if task.joint_start_fraction is not None:  # a closing's own motion, not an opening
        return
    if len(_OPENING_ENDS) >= _OPENING_ENDS_SIZE:
        _OPENING_ENDS.pop(next(iter(_OPENING_ENDS)))
    _OPENING_ENDS[_opening_key(sim, task.target_object_id, q_to)] = None if arm is None else arm.copy()


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
            key = _opening_key(sim, target, q_open)
            if key in _OPENING_ENDS:  # the opening's probe planned it (module note above)
                arm = _OPENING_ENDS[key]
            else:
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
                     pitch_rad: float, hand_turn: float, q_seed: np.ndarray, yaw_rad: float = 0.0,
                     refuse: Callable[[Plan], str | None] | None = None, staged_m: float = 0.0) -> Plan:
    """The plan with this pitch, hand turn and yaw (`plan_opening`); `refuse` as for
    planner._plan_with_grasp: the scene check, asked of the approach as soon as it is planned;
    `staged_m`: the approach goes to a staging pose this much further out first (STAGED_OUT_M)."""
    hand_out = _hand_out(op, yaw_rad, hand_turn)
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
        spans[name] = (spans[name][0] if name in spans else state["tick"] + 1, state["tick"] + len(seg))
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
    if staged_m:  # to the staging pose in joint space, then straight in to the pre-grasp
        away = pre.pos_m - cand.tcp.pos_m
        staging = pre.moved(staged_m * away / max(float(np.linalg.norm(away)), 1e-9))
        res_s = ik.solve(staging.pos_m, staging.rot, res.q_rad)
        if not res_s.ok():
            raise IKFailure(f"staging pose unreachable ({res_s.position_error_m * 1000:.1f} mm)")
        add("approach", joint_segment(q_home, res_s.q_rad, ik.desc, dt, 0.4), staging)
        line("approach", pre, 0.4)
    else:
        add("approach", joint_segment(q_home, res.q_rad, ik.desc, dt, 0.4), pre)
    if refuse is not None:  # the part stays where it is until the pull
        n = state["tick"] + 1
        why = refuse(Plan(q=np.vstack(qs), gripper=np.concatenate(grips), phase=list(phases), grasp=cand,
                          place_object_pos_m=np.asarray(op.handle_m, dtype=float), carry_tcp_z_m=float(grasp.pos_m[2]),
                          phase_ticks=dict(spans), part_q=np.full(n, op.q_from)))
        if why is not None:
            raise ApproachRefused(why)
    checked = state["tick"] if refuse is not None else -1
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
                part_q=op.q_from + (op.q_to - op.q_from) * progress, checked_through=checked)


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
class OpenCloseStart(Start):
    """An open_close episode's start (`begin_open_close`): besides the engine's `Start`, the drawn
    part mass and friction, the part's joint and the task's opening. Shared by the engine and the
    evaluation environment (evaluate/env.py)."""

    drawn: dict[str, float]
    jq: int  # the part's joint: qpos address, range, dof address
    lo: float
    hi: float
    jv: int
    q_target: float
    op: Opening  # from where the part is at frame 0 to the target


def begin_open_close(sim: SimScene, task: TaskSpec, seed: int, episode_index: int,
                     options: EpisodeOptions = EpisodeOptions(),  # noqa: B008 (frozen)
                     beat: Callable[[], None] = lambda: None) -> OpenCloseStart:
    """The state at frame 0 of (scene, task, seed, index): the start state (a closing task: the
    part open), the drawn randomisation and arm start, settled SETTLE_S."""
    m, ix = sim.model, _indices(sim)
    target = task.target_object_id
    d = start_state(sim, task)  # the scene at rest, the part never asleep (a closing task: open)
    warnings0 = health.warning_counts(d)
    rng = episode_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index, options.start_draw)
    drawn = _randomize_drawer(sim, target, rng)
    if options.render:
        prepare_rendering(sim, task.task_id, seed, episode_index, options.shadows, options.visual_randomization)
    arm_offset, arm_fallback = randomize_arm_start(
        d, ix, SceneCheck(sim, d, ix, target, None).start_pose,
        arm_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index, options.start_draw),
        options.arm_start_rad)
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
    return OpenCloseStart(data=d, warnings0=warnings0, settle_steps=settle_steps, arm_offset=arm_offset,
                          arm_fallback=arm_fallback, q_home=d.qpos[ix.arm_qadr].copy(), drawn=drawn,
                          jq=joint.qpos_adr, lo=joint.lower, hi=joint.upper, jv=jv, q_target=q_target, op=op)


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


class OpenClose(Family):
    """Drawers and hinged doors, opened, and closed again (`TaskSpec.joint_start_fraction`)."""

    task_types = ("open_close",)

    def simulable(self, task: TaskSpec, scene_objects: dict) -> bool:
        obj = scene_objects.get(task.target_object_id)
        return obj is not None and obj.articulation is not None

    def check(self, sim: SimScene, task: TaskSpec) -> None:
        super().check(sim, task)
        if not self.simulable(task, sim.scene.by_id()):
            raise ValueError(f"task {task.task_id}: only open_close tasks of an articulated object are simulated")

    def probe(self, sim: SimScene, task: TaskSpec) -> str | None:
        return open_close_plan_at_rest(sim, task)

    def begin(self, sim, task, seed, episode_index, options, beat) -> OpenCloseStart:
        return begin_open_close(sim, task, seed, episode_index, options, beat)

    def plan(self, sim, task, start, beat=lambda: None) -> Planned:
        plan, reason, error = plan_open_close(sim, task, start, beat)
        return Planned(plan, reason, error)

    def tracked_bodies(self, sim: SimScene, task: TaskSpec) -> list[int]:
        return [sim.body_id(task.target_object_id)]  # the part

    def contact_masks(self, sim, task, start):
        m, ix, target = sim.model, _indices(sim), task.target_object_id
        handle_mask = geom_mask(sim, [m.geom(SimScene.handle_geom_name(target)).id])
        drawer_mask = handle_mask | geom_mask(sim, [sim.geom_id(target)])
        robot_no_pads = ix.robot_geom & ~geom_mask(sim, ix.pads)
        none = np.zeros(m.ngeom, bool)
        return [(geom_mask(sim, [ix.pads[0]]), handle_mask), (geom_mask(sim, [ix.pads[1]]), handle_mask),
                (none, none), (robot_no_pads, ix.furniture_geom & ~drawer_mask),
                (ix.robot_geom, geom_mask(sim, ix.dynamic_geom.values())), (none, none)]

    def judge(self, sim, task, start, planned, logs: Logs) -> Outcome:
        return _judge(sim, task, start, planned, logs)


def _judge(sim: SimScene, task: TaskSpec, st: OpenCloseStart, planned: Planned, logs: Logs) -> Outcome:
    m, d, plan, reason = sim.model, st.data, planned.plan, planned.reason
    target, T = task.target_object_id, logs.T
    jq, lo, hi, q_target = st.jq, st.lo, st.hi, st.q_target
    riders = {o for o, s in sim.support_of.items() if s == target}  # objects standing on the drawer ride along
    flags = logs.contact.astype(bool)
    both_pads = flags[:, 0] & flags[:, 1]
    unexpected = int(np.count_nonzero(flags[:, 3] | flags[:, 4]))
    joint_q = logs.qpos[:, jq]
    q_start = float(joint_q[0])
    phase_of = np.array(plan.phase if plan else ["start"])[:T]
    grasped = bool(both_pads[plan.phase_ticks["close"][1]]) if plan else False
    unpadded_pull_frames = int(np.count_nonzero((phase_of == "pull") & ~both_pads))
    part_pos, part_quat = logs.body_pos[:, 0], logs.body_quat[:, 0]
    handle = m.geom(SimScene.handle_geom_name(target)).id
    handle_pos = np.zeros((T, 3))
    for k in range(T):  # the handle is a geom of the part's body
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, part_quat[k])
        handle_pos[k] = part_pos[k] + rot.reshape(3, 3) @ m.geom_pos[handle]
    progress = (np.clip((joint_q - q_start) / max(q_target - q_start, 1e-9), 0.0, 1.0) if q_target != q_start
                else np.ones(T))
    reward = (0.1 * (1 - np.tanh(10 * np.linalg.norm(logs.tcp_pos - handle_pos, axis=1)))
              + 0.1 * both_pads + 0.1 * progress).astype(np.float32)
    moved = np.linalg.norm(logs.obj_pos[-1] - logs.obj_pos[0], axis=1)
    moved_others = max((float(v) for o, v in zip(sim.dynamic_ids, moved) if o not in riders), default=0.0)
    sign = 1.0 if q_target >= q_start else -1.0
    after_release = plan.phase_ticks["release"][1] if plan else 0
    if reason is None:
        verdict = judge_open_close(joint_q=sign * joint_q, target_q=sign * q_target,
                                   joint_range=hi - lo, after_release_frame=after_release,
                                   final_joint_speed=abs(float(d.qvel[st.jv])), grasped_handle=grasped,
                                   lost_grip_during_pull=unpadded_pull_frames > 2,
                                   max_other_displacement_m=moved_others)
        success, reason, checks = verdict.success, verdict.reason, verdict.checks
    else:
        success, checks = False, {}
    reached = sign * joint_q >= sign * q_target - 0.02 * (hi - lo)
    metrics = {
        "checks": checks,
        "joint_target": q_target,
        "joint_start": q_start,
        "joint_final": float(joint_q[T - 1]),
        "joint_fraction_final": float((joint_q[T - 1] - lo) / (hi - lo)) if hi > lo else 0.0,
        "joint_position": [float(v) for v in joint_q],
        "unexpected_contact_frames": unexpected,
        "max_other_displacement_m": moved_others,
        **st.drawn,
    }
    return Outcome(success, reason, metrics, reward, reached,
                   task_state(np.hstack([part_pos, part_quat]), st.op.handle_at(1.0), joint_q, q_target))
