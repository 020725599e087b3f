"""push: slide an object the gripper cannot hold (geniesim/push_tasks.py says which) across its
support, the open fingers' pads against one of its faces, without lifting it.

Start: as pick_place (`pick_place.begin_pick_place`: the settled scene, the target's pose and the
arm's start drawn, every free object's mass and friction drawn, settled), the distractors left
where they are (the task cleared the path of them where they stand), with the target's drawn
offset and yaw at most PUSH_JITTER_M and PUSH_YAW_RAD (geniesim/push_tasks.py; the task keeps its
path clear of the neighbours by as much): the push is planned on the face the task names, and a
start turned 45 deg would put a corner there.

The episode's goal follows the start: the task names a face (the side of the target its goal lies
beyond, in the target's own frame) and a distance; the goal is the target's centre moved that
distance along that face's normal as the target stands after the settle (as a stack's goal follows
its base). The goal square keeps the task's size.

Plan (joint set-points at 30 Hz, the gripper's opening held throughout): a joint move to
2 x PUSH_ABOVE_M above the spot PUSH_STANDOFF_M behind the face (else PUSH_ABOVE_M: the lower
spot's joint move swept a UR10's hand through a bottle beside the path, which the plan's check
at every third tick did not see), the hand pointing down, its fingers
across the push direction, opened to a quarter of the face's width a side (a line contact that
keeps a flat face square), closed for a round object (spread pads would take it between them and
wedge it); a straight line down until the pads' lower ends are PUSH_PAD_LIFT_M above the
support; a straight push at most PUSH_SPEED_M_S until the face, and so the centre, has moved the
distance; a still PUSH_HOLD_TICKS; back PUSH_STANDOFF_M, up PUSH_ABOVE_M, still. Both finger
directions (the hand turned half a turn) are tried, for a round object (closed fingers) also the
hand turned by ROUND_PUSH_YAWS_DEG about the vertical, each with the whole-arm scene check; the
first that IK reaches along every line and the check accepts is used; from the higher spot
first, then the lower.

Physics: the plan runs at a third of the nominal time step, 1/1440 s (`Push.physics_substeps`;
the settle before it at the nominal one).

Judge: judge.judge_push on the physics state. Rewards (per frame): 0.1 * (1 - tanh(10 * |TCP -
pushed face|)) + 0.1 * [a pad touches the target] + 0.1 * progress (the centre's distance to
the goal, from the start's 1 to 0); 1.0 more on the last frame of a success.
"""

from __future__ import annotations

from dataclasses import replace

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.push_tasks import (
    PUSH_JITTER_M,
    PUSH_PAD_LIFT_M,
    PUSH_YAW_RAD,
    SHELF_PUSH_JITTER_M,
    SHELF_PUSH_YAW_RAD,
)
from blueprint_pipeline.geniesim.records import GoalRegion, TaskSpec
from blueprint_pipeline.rotations import axis_angle_matrix, matrix_np
from blueprint_pipeline.sim.engine import Logs, Outcome, Planned
from blueprint_pipeline.sim.episode import _indices, _object_box, start_data
from blueprint_pipeline.sim.families.pick_place import EpisodeStart, PickPlace, begin_pick_place
from blueprint_pipeline.sim.grasp import GraspCandidate, _hand_rotation
from blueprint_pipeline.sim.ik import ArmIK
from blueprint_pipeline.sim.judge import LEFT_START_M, judge_push
from blueprint_pipeline.sim.planner import SETTLE_TICKS, BlockedGrasps, ObjectBox, Plan
from blueprint_pipeline.sim.records import task_state
from blueprint_pipeline.sim.scene_builder import FPS, SimScene
from blueprint_pipeline.sim.scene_check import SceneCheck
from blueprint_pipeline.sim.trajectory import IKFailure, Pose, joint_segment, plan_segment

PUSH_STANDOFF_M = 0.03
PUSH_ABOVE_M = 0.10
PUSH_SPEED_M_S = 0.10
PUSH_HOLD_TICKS = 9  # 0.3 s
ROUND_PUSH_YAWS_DEG = (90.0, -90.0, 45.0, -45.0, 135.0, -135.0)
_DOWN = np.array([0.0, 0.0, -1.0])
_UP = np.array([0.0, 0.0, 1.0])
# pushing further back into open furniture (`plan_shelf_push`)
SHELF_STAGE_M = 0.2  # the hand first stops this far in front of its spot before the face
SHELF_PITCHES_RAD = (0.0, float(np.deg2rad(20.0)))  # the hand level, else pitched down (the push stays level)
SHELF_PUSH_HEIGHTS_M = (0.03, 0.045, 0.06)  # the TCP above the board, lowest first
# An episode's hand line across the face, from its centre, tried in turn: an object drawn 1 cm
# towards a side panel left the centred hand no room beside it (a laundry shelf's push, 3 of 10
# episodes without a plan from any drawn start; 0 of 10 so). The feasibility probe plans the
# centred push only: with a quarter of the width off centre, two pushes it had refused became
# tasks, and 2 of 5 of their episodes ended off their goal (placement_miss).
SHELF_PUSH_OFFSETS = (0.0, 0.125, -0.125)  # x the face's width
SHELF_TOP_MARGIN_M = 0.015  # and at least this far below the object's top


def _into_shelf(sim: SimScene, task: TaskSpec) -> bool:
    """Whether the task pushes a thing further back into open furniture (`plan_shelf_push`)."""
    return sim.shelf_level(task.target_object_id) is not None


def push_geometry(sim: SimScene, task: TaskSpec, box: ObjectBox) -> tuple[np.ndarray, float, np.ndarray]:
    """(push direction (unit, horizontal), distance, goal point) of this episode: the task's face
    and distance, on the target as it stands now (module docstring); into open furniture, the
    task's direction itself (straight towards the back, whatever the object's yaw)."""
    obj = sim.scene.by_id()[task.target_object_id]
    toward = np.array([task.goal.center_m[0] - obj.position_m[0], task.goal.center_m[1] - obj.position_m[1], 0.0])
    distance = float(np.linalg.norm(toward))
    if _into_shelf(sim, task):
        u = toward / max(distance, 1e-9)
        return u, distance, np.array([box.pos_m[0], box.pos_m[1], task.goal.surface_z_m]) + distance * u
    local = matrix_np(obj.orientation_wxyz).T @ (toward / max(distance, 1e-9))
    axis = int(np.argmax(np.abs(local[:2])))
    u = box.rot[:, axis] * np.sign(local[axis])
    u = np.array([u[0], u[1], 0.0]) / max(float(np.linalg.norm(u[:2])), 1e-9)
    goal = np.array([box.pos_m[0], box.pos_m[1], task.goal.surface_z_m]) + distance * u
    return u, distance, goal


def plan_push(ik: ArmIK, sim: SimScene, box: ObjectBox, u: np.ndarray, distance: float, surface_z: float,
              q_home: np.ndarray, check: SceneCheck | None = None, q_seed: np.ndarray | None = None,
              beat=lambda: None) -> Plan:
    """The first plan (of the two finger directions) that IK reaches and the scene check accepts.
    Raises IKFailure (BlockedGrasps when every reachable one collides)."""
    grip = sim.robot.gripper
    back = float(np.abs(box.rot.T @ u) @ (0.5 * np.asarray(box.size_m)))  # centre to the pushed face
    across = np.cross([0.0, 0.0, 1.0], u)
    face_width = float(np.abs(box.rot.T @ across) @ np.asarray(box.size_m))
    # a flat face is pushed by both pads at a quarter of its width either side of the centre line
    # (a line contact that keeps it square); a round one by the closed fingers through its centre
    # (spread pads would take it between them and wedge it)
    open_m = 0.0 if box.round_xy else min(grip.stroke_per_finger_m, face_width / 4)
    z = surface_z + PUSH_PAD_LIFT_M + grip.pad_half_size_m[2]
    face = np.array([box.pos_m[0], box.pos_m[1], z]) - back * u
    pad = grip.pad_half_size_m[0]
    start = face - (pad + PUSH_STANDOFF_M) * u
    end = face + (distance - pad) * u
    refused, last = [], None
    # the fingers across the push (either way round); closed on a round object, the hand may also
    # turn about the vertical (ROUND_PUSH_YAWS_DEG): the closed pads bear on it all the same
    yaws = (0.0, 180.0) + (ROUND_PUSH_YAWS_DEG if box.round_xy else ())
    # from twice PUSH_ABOVE_M above the spot behind the face, else from PUSH_ABOVE_M (module docstring)
    for above, yaw in [(a, y) for a in (2 * PUSH_ABOVE_M, PUSH_ABOVE_M) for y in yaws]:
        rot = _hand_rotation(_DOWN, axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.deg2rad(yaw)) @ across)
        try:
            plan = _plan(ik, rot, start, end, u, q_home, q_home if q_seed is None else q_seed, beat, distance,
                         1.0 - open_m / grip.stroke_per_finger_m, above)
        except IKFailure as exc:
            last = exc
            continue
        plan.place_object_pos_m = np.array([box.pos_m[0], box.pos_m[1], box.pos_m[2]]) + distance * u
        why = check.plan(plan) if check is not None else None
        if why is None:
            return plan
        refused.append(why)
    if refused:
        raise BlockedGrasps("every planned push collides (" + "; ".join(refused) + ")")
    raise IKFailure(f"no reachable push: {last}")


class _Phases:
    """A push's joint set-points phase by phase: a joint move from `q_home` to `first` (its IK
    seeded from `q_seed`; IKFailure naming `what` when unreachable), then what `add` appends."""

    def __init__(self, ik: ArmIK, first: Pose, q_home: np.ndarray, q_seed: np.ndarray, beat, what: str):
        res = ik.solve(first.pos_m, first.rot, q_seed)
        if not res.ok():
            raise IKFailure(f"{what} is unreachable ({res.position_error_m * 1000:.1f} mm)")
        self.ik, self.beat = ik, beat
        self.segs, self.phases, self.spans, self.tick = [q_home[None, :]], ["start"], {}, 0
        self.add("approach", joint_segment(q_home, res.q_rad, ik.desc, 1.0 / FPS, 0.4))

    def add(self, name: str, seg: np.ndarray) -> None:
        self.beat()
        self.segs.append(seg)
        self.phases.extend([name] * len(seg))
        self.spans[name] = (self.tick + 1, self.tick + len(seg))
        self.tick += len(seg)

    def line(self, name: str, a: Pose, b: Pose, min_s: float) -> None:
        self.add(name, plan_segment(self.ik, a, b, self.segs[-1][-1], 1.0 / FPS, min_s))

    def still(self, name: str, ticks: int) -> None:
        self.add(name, np.repeat(self.segs[-1][-1:], ticks, axis=0))

    def plan(self, gripper: float, start: Pose, u: np.ndarray, end: np.ndarray) -> Plan:
        q = np.vstack(self.segs)
        return Plan(q=q, gripper=np.full(len(q), gripper), phase=self.phases,
                    grasp=GraspCandidate("push", start, u, 0.0), place_object_pos_m=end,
                    carry_tcp_z_m=float(start.pos_m[2]), phase_ticks=self.spans, holds=False)


def _push_time(distance: float) -> float:
    return max(1.0, (distance + PUSH_STANDOFF_M) / PUSH_SPEED_M_S)


def _plan(ik: ArmIK, rot: np.ndarray, start: np.ndarray, end: np.ndarray, u: np.ndarray, q_home: np.ndarray,
          q_seed: np.ndarray, beat, distance: float, gripper: float, above_m: float) -> Plan:
    above, at, to = Pose(start + above_m * _UP, rot), Pose(start, rot), Pose(end, rot)
    back = Pose(end - PUSH_STANDOFF_M * u, rot)
    ph = _Phases(ik, above, q_home, q_seed, beat, "the spot above the push")
    ph.line("descend", above, at, 0.6)
    ph.line("push", at, to, _push_time(distance))
    ph.still("hold", PUSH_HOLD_TICKS)
    ph.line("retreat", to, back, 0.5)
    ph.line("rise", back, Pose(back.pos_m + PUSH_ABOVE_M * _UP, rot), 0.5)
    ph.still("settle", SETTLE_TICKS)
    return ph.plan(gripper, at, u, end)


def plan_shelf_push(ik: ArmIK, sim: SimScene, box: ObjectBox, u: np.ndarray, distance: float, surface_z: float,
                    q_home: np.ndarray, check: SceneCheck | None = None, q_seed: np.ndarray | None = None,
                    beat=lambda: None, offsets: tuple[float, ...] = (0.0,)) -> Plan:
    """Into open furniture: the hand level, pointing along the push, comes in under the board
    above and pushes the front face with its fingertips. The fingers across the push opened to a
    quarter of the face's width a side (closed on a round object), else stacked vertically and
    closed; the TCP SHELF_PUSH_HEIGHTS_M above the board (lowest first, and SHELF_TOP_MARGIN_M
    below the object's top: a low push slides rather than tips); each finger direction either way
    round; at each of `offsets` x the face's width off its centre in turn (an episode's:
    SHELF_PUSH_OFFSETS). The first plan that IK reaches along every line and the scene check
    accepts is used.
    Raises IKFailure (BlockedGrasps when every reachable one collides)."""
    grip = sim.robot.gripper
    size = np.asarray(box.size_m, dtype=float)
    # centre to the pushed face along the line of the push through the centre (a box turned to
    # the push is met there, not at its corner): the nearest of its faces that the line crosses
    along = np.abs(box.rot.T @ u)[:2]
    back = 0.5 * float(min(size[0], size[1])) if box.round_xy else float(
        min(0.5 * size[k] / along[k] for k in (0, 1) if along[k] > 1e-6))
    across = np.cross(_UP, u)
    face_width = float(np.abs(box.rot.T @ across) @ size)
    top = float(box.pos_m[2] + 0.5 * np.abs(box.rot[2, :]) @ size)
    heights = [h for h in SHELF_PUSH_HEIGHTS_M if surface_z + h <= top - SHELF_TOP_MARGIN_M] or [(top - surface_z) / 2]
    open_m = 0.0 if box.round_xy else min(grip.stroke_per_finger_m, face_width / 4)
    hands = [(across, open_m), (-across, open_m), (_UP, 0.0), (-_UP, 0.0)]
    tip = grip.pad_half_size_m[2]  # the fingertips reach this far past the TCP
    refused, last = [], None
    for side, h, pitch in [(k, h, p) for k in offsets for p in SHELF_PITCHES_RAD for h in heights]:
        face = np.array([box.pos_m[0], box.pos_m[1], surface_z + h]) - back * u + side * face_width * across
        start, end = face - (tip + PUSH_STANDOFF_M) * u, face + (distance - tip) * u
        pointing = np.cos(pitch) * u - np.sin(pitch) * _UP
        for finger_axis, opening in hands:
            rot = _hand_rotation(pointing, finger_axis)
            # the hand alone where the plan stops (in front of the shelf, at the face, at the end of
            # the push) first: what it meets there the plan's check would refuse, without the IK
            blocked = None if check is None else check.hand_at(
                [Pose(start - SHELF_STAGE_M * u, rot), Pose(start, rot), Pose(end, rot)], opening)
            if blocked is not None:
                refused.append(f"{blocked} (before the IK)")
                continue
            try:
                plan = _plan_in(ik, rot, start, end, u, q_home, q_home if q_seed is None else q_seed, beat, distance,
                                1.0 - opening / grip.stroke_per_finger_m)
            except IKFailure as exc:
                last = exc
                continue
            plan.place_object_pos_m = np.asarray(box.pos_m, dtype=float) + distance * u
            why = check.plan(plan) if check is not None else None
            if why is None:
                return plan
            refused.append(why)
    if refused:
        raise BlockedGrasps("every planned push collides (" + "; ".join(refused[-3:]) + ")")
    raise IKFailure(f"no reachable push: {last}")


def _plan_in(ik: ArmIK, rot: np.ndarray, start: np.ndarray, end: np.ndarray, u: np.ndarray, q_home: np.ndarray,
             q_seed: np.ndarray, beat, distance: float, gripper: float) -> Plan:
    """A joint move to SHELF_STAGE_M in front of `start`, a line in to it, the push to `end`, a
    still, a line back out to the staging spot, a still."""
    stage, at, to = Pose(start - SHELF_STAGE_M * u, rot), Pose(start, rot), Pose(end, rot)
    ph = _Phases(ik, stage, q_home, q_seed, beat, "the spot in front of the shelf")
    ph.line("enter", stage, at, 0.8)
    ph.line("push", at, to, _push_time(distance))
    ph.still("hold", PUSH_HOLD_TICKS)
    ph.line("retreat", to, stage, 0.8)
    ph.still("settle", SETTLE_TICKS)
    return ph.plan(gripper, at, u, end)


def _planner(sim: SimScene, task: TaskSpec):
    """The push's planner: into open furniture `plan_shelf_push`, else `plan_push`."""
    return plan_shelf_push if _into_shelf(sim, task) else plan_push


def push_at_rest(sim: SimScene, task: TaskSpec) -> str | None:
    """The feasibility probe: plan the push from the settled start, no randomisation."""
    ix = _indices(sim)
    d = start_data(sim, task.target_object_id)
    sim.restore_nominal()
    mujoco.mj_forward(sim.model, d)
    box = _object_box(sim, d, task.target_object_id)
    u, distance, _ = push_geometry(sim, task, box)
    try:
        _planner(sim, task)(ix.ik, sim, box, u, distance, task.goal.surface_z_m, d.qpos[ix.arm_qadr].copy(),
                            SceneCheck(sim, d, ix, task.target_object_id, task.goal.support_object_id))
    except IKFailure as exc:
        return f"{exc.reason}: {exc}"
    return None


class Push(PickPlace):
    """push (non-prehensile): what the gripper cannot hold, slid to a goal on its support."""

    task_types = ("push",)
    contact_phase = "push"
    # the pads bearing on a light object's edge tossed it at the nominal 1/480 s (an 80 g calculator
    # 2 cm thick: 3 of 4 corpus episodes sim_unstable, at 466,000 m/s). Measured on the corpus's two
    # calculators, 20 episodes each with the Franka and the UR10: 77/80 pushed cleanly at 1/960 s
    # (3 sim_unstable), 80/80 at 1/1440 s
    physics_substeps = 3

    def substeps(self, sim, task) -> int:
        # into a shelf the fingertips bear squarely on a face: the nominal step (an episode the
        # health check finds unstable is simulated again at engine.UNSTABLE_RETRY_SUBSTEPS)
        return 1 if _into_shelf(sim, task) else self.physics_substeps

    def probe(self, sim, task) -> str | None:
        return push_at_rest(sim, task)

    def begin(self, sim, task, seed, episode_index, options, beat) -> EpisodeStart:
        # the distractors stay where they are: the task cleared the path of them as they stand
        jitter, yaw = ((SHELF_PUSH_JITTER_M, SHELF_PUSH_YAW_RAD) if _into_shelf(sim, task)
                       else (PUSH_JITTER_M, PUSH_YAW_RAD))
        narrow = replace(options, jitter_m=min(options.jitter_m, jitter), yaw_rad=min(options.yaw_rad, yaw),
                         distractor_jitter_m=0.0, distractor_yaw_rad=0.0)
        return begin_pick_place(sim, task, seed, episode_index, narrow, beat)

    def plan(self, sim, task, start, beat=lambda: None) -> Planned:
        ix = _indices(sim)
        u, distance, goal_pt = push_geometry(sim, task, start.target_box)
        goal = task.goal.model_copy(update={"center_m": tuple(float(v) for v in goal_pt)})
        shelf = {"offsets": SHELF_PUSH_OFFSETS} if _into_shelf(sim, task) else {}
        try:
            plan = _planner(sim, task)(ix.ik, sim, start.target_box, u, distance, task.goal.surface_z_m, start.q_home,
                                       SceneCheck(sim, start.data, ix, task.target_object_id,
                                                  task.goal.support_object_id),
                                       start.q_home - start.arm_offset, beat, **shelf)
        except IKFailure as exc:
            return Planned(None, exc.reason, str(exc)[:500], {"goal": goal, "direction": u})
        return Planned(plan, None, None, {"goal": goal, "direction": u})

    def judge(self, sim, task, start, planned, logs: Logs) -> Outcome:
        return _judge(sim, task, start, planned, logs)


def _judge(sim: SimScene, task: TaskSpec, st: EpisodeStart, planned: Planned, logs: Logs) -> Outcome:
    d, target = st.data, task.target_object_id
    goal: GoalRegion = planned.extra["goal"]
    ti = sim.dynamic_ids.index(target)
    pos = logs.obj_pos[:, ti]
    zaxis = logs.object_zaxis(ti)
    flags = logs.contact.astype(bool)
    pads = flags[:, 0] | flags[:, 1]
    touched = _hand_touched(sim, logs, target)
    goal_xy = np.asarray(goal.center_m[:2])
    moved = np.linalg.norm(logs.obj_pos[-1] - logs.obj_pos[0], axis=1)
    moved[ti] = 0.0
    moved_others = float(np.max(moved, initial=0.0))
    vadr = sim.free_qvel_adr(target)
    tb = sim.body_id(target)
    if planned.reason is None:
        verdict = judge_push(start_pos=pos[0], final_pos=d.xpos[tb].copy(), start_zaxis=zaxis[0],
                             final_zaxis=d.xmat[tb].reshape(3, 3)[:, 2], final_lin_vel=d.qvel[vadr:vadr + 3],
                             final_ang_vel=d.qvel[vadr + 3:vadr + 6], max_rise_m=float(np.max(pos[:, 2]) - pos[0, 2]),
                             touched_by_hand=touched, touches_goal_support=bool(flags[-1, 2]),
                             goal_center=goal_xy, goal_size=np.asarray(goal.size_m),
                             max_other_displacement_m=moved_others,
                             left_start_m=min(LEFT_START_M, 0.5 * float(np.linalg.norm(goal_xy - pos[0, :2]))))
        success, reason, checks = verdict.success, verdict.reason, verdict.checks
    else:
        success, reason, checks = False, planned.reason, {}
    start_gap = max(float(np.linalg.norm(pos[0, :2] - goal_xy)), 1e-9)
    gap = np.linalg.norm(pos[:, :2] - goal_xy, axis=1)
    face = planned.plan.grasp.tcp.pos_m if planned.plan is not None else pos[0]
    reward = (0.1 * (1 - np.tanh(10 * np.linalg.norm(logs.tcp_pos - face, axis=1))) + 0.1 * pads
              + 0.1 * np.clip(1.0 - gap / start_gap, 0.0, 1.0)).astype(np.float32)
    inside = np.all(np.abs(pos[:, :2] - goal_xy) <= 0.5 * np.asarray(goal.size_m), axis=1)
    metrics = {
        "checks": checks,
        "goal_center_error_m": float(gap[-1]),
        "push_distance_m": float(np.linalg.norm(pos[-1, :2] - pos[0, :2])),
        "push_direction": [float(v) for v in planned.extra["direction"][:2]],
        "max_rise_m": float(np.max(pos[:, 2]) - pos[0, 2]),
        "unexpected_contact_frames": int(np.count_nonzero(flags[:, 3] | flags[:, 4] | flags[:, 5])),
        "max_other_displacement_m": moved_others,
        "start_offset_m": list(st.rand.target_offset_m),
        "start_yaw_rad": st.rand.target_yaw_rad,
        "start_pose_fallback": st.rand.fallback,
        "goal_center_m": [float(v) for v in goal.center_m],
        "start_position_m": pos[0].tolist(),
        "settle_shift_m": st.settle_shift,
        "settle_penetration_m": st.penetration,
    }
    return Outcome(success, reason, metrics, reward, flags[:, 2] & inside & ~pads,
                   task_state(logs.obj_poses[:, ti * 7:ti * 7 + 7], (*goal.center_m[:2], goal.surface_z_m)))


def _hand_touched(sim: SimScene, logs: Logs, target: str) -> bool:
    """Whether any robot geom touched the target in the episode (a push bears with the pads'
    sides, and with closed fingers the finger bodies may touch first)."""
    if not logs.contact_log:
        return False
    robot = _indices(sim).robot_geom
    tmask = np.zeros(sim.model.ngeom, bool)
    tmask[sim.object_geom_ids(target)] = True
    pairs = np.concatenate([g for _, g in logs.contact_log])
    a, b = pairs[:, 0], pairs[:, 1]
    return bool(np.any((robot[a] & tmask[b]) | (robot[b] & tmask[a])))
