"""pick_place and stack: grasp the target, lift it, carry it and set it down in its goal region
(a spot on a support, a stack's base object's top, the inside of a container).

Start (`begin_pick_place`): the settled scene (episode.settled_start), the target's pose drawn
within +- jitter and +- yaw (randomize.apply_randomization), every free object's mass and
friction drawn, the distractors moved a little (randomize.jitter_distractors), the arm's start
drawn, settled SETTLE_S. Plan (`plan_from_start`): the goal spot
drawn per episode on open furniture tops (randomize.draw_goal; the task's own region is the
fallback), grasp candidates tried in turn with the whole-arm scene check (planner.plan_pick_place).
Judge: judge.judge_pick_place on the physics state.

Rewards (per frame): sparse 1.0 on the last frame of a successful episode, plus dense terms
0.1 * (1 - tanh(10 * |TCP - object|)) + 0.1 * [both pads touch the object]
+ 0.1 * [both pads touch] * (1 - tanh(5 * |object - place spot|_xy)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.records import GoalRegion, TaskSpec
from blueprint_pipeline.geniesim.tasks import PLACE_IN_PAD_M
from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.sim import health
from blueprint_pipeline.sim.engine import Family, Logs, Outcome, Planned, Start, geom_mask
from blueprint_pipeline.sim.episode import (
    EpisodeOptions,
    _Indices,
    _indices,
    _object_box,
    _scratch_data,
    start_data,
)
from blueprint_pipeline.sim.judge import judge_pick_place
from blueprint_pipeline.sim.opening import open_goal_part
from blueprint_pipeline.sim.planner import ObjectBox, Plan, plan_pick_place
from blueprint_pipeline.sim.randomize import (
    Randomization,
    apply_randomization,
    arm_rng,
    distractor_rng,
    draw_goal,
    episode_rng,
    goal_rng,
    jitter_distractors,
    prepare_rendering,
    randomize_arm_start,
)
from blueprint_pipeline.sim.records import task_state
from blueprint_pipeline.sim.scene_builder import FPS, SETTLE_S, STEPS_PER_FRAME, SimScene, prepare_for_target
from blueprint_pipeline.sim.scene_check import SceneCheck
from blueprint_pipeline.sim.trajectory import IKFailure
from blueprint_pipeline.simready.records import ColliderShape

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
    open_goal_part(sim, d, task)
    sim.restore_nominal()
    mujoco.mj_forward(m, d)
    goal = episode_goal(sim, d, task)
    others = [_object_box(sim, d, o) for o in sim.dynamic_ids + sim.fixed_ids + sim.articulated_ids
              if o not in (target, task.goal.support_object_id, sim.support_of.get(target))]
    level = sim.shelf_level(target)
    try:
        plan_pick_place(ix.ik, _object_box(sim, d, target), others, goal, d.qpos[ix.arm_qadr].copy(), 1.0 / FPS,
                        check=SceneCheck(sim, d, ix, target, task.goal.support_object_id),
                        ceiling_z=level.ceiling_m if level else None, front=sim.shelf_front(target),
                        rim_z=_rim_z(sim, d, task))
    except IKFailure as exc:
        return f"{exc.reason}: {exc}"
    return None


@dataclass
class EpisodeStart(Start):
    """A pick_place or stack episode's start (`begin_pick_place`): besides the engine's `Start`,
    the drawn randomisation, what the settle moved, and what planning needs. Shared by the engine
    and the evaluation environment (evaluate/env.py), so a policy is evaluated from exactly the
    start the scripted planner would have had for the same (scene, task, seed, index) (the first
    draw; the engine draws again when that has no plan, engine.START_DRAWS)."""

    rand: Randomization
    settle_shift: float
    penetration: float
    others: list[ObjectBox]
    target_box: ObjectBox
    goal: GoalRegion  # the task's goal region (the drawn spot is chosen by `plan_from_start`)
    distractors: dict[str, list[float]]  # the distractors moved: [dx, dy, yaw] by object
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
    open_goal_part(sim, d, task)  # into a drawer: the drawer starts open
    warnings0 = health.warning_counts(d)
    draw = options.start_draw
    rng = episode_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index, draw)
    rand = apply_randomization(sim, d, target, rng, options.jitter_m, options.yaw_rad)
    distractors = jitter_distractors(sim, d, {target, task.goal.support_object_id},
                                     distractor_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index, draw),
                                     options.distractor_jitter_m, options.distractor_yaw_rad)
    if options.render:
        prepare_rendering(sim, task.task_id, seed, episode_index, options.shadows, options.visual_randomization)
    mujoco.mj_kinematics(m, d)
    arm_offset, arm_fallback = randomize_arm_start(
        d, ix, SceneCheck(sim, d, ix, target, task.goal.support_object_id).start_pose,
        arm_rng(sim.scene.header.scene_id, task.task_id, seed, episode_index, draw), options.arm_start_rad)
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
    return EpisodeStart(data=d, warnings0=warnings0, settle_steps=settle_steps, arm_offset=arm_offset,
                        arm_fallback=arm_fallback, q_home=q_home, rand=rand, settle_shift=settle_shift,
                        penetration=penetration, others=others, target_box=_object_box(sim, d, target),
                        goal=episode_goal(sim, d, task), distractors=distractors, episode_index=episode_index,
                        seed=seed, options=options)


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
                          goal_rng(sim.scene.header.scene_id, task.task_id, st.seed, st.episode_index, st.options.start_draw),
                          st.options.goal_jitter_m)
    goal_offset = (0.0, 0.0)
    for candidate in ([drawn[0], goal] if drawn is not None else [goal]):  # the drawn spot, else the task's
        try:
            plan = plan_pick_place(ix.ik, tgt, planned_around, candidate, q_home, 1.0 / FPS,
                                   on_segment=beat, check=SceneCheck(sim, d, ix, target, task.goal.support_object_id),
                                   ceiling_z=level.ceiling_m if level else None, front=sim.shelf_front(target),
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


class PickPlace(Family):
    """pick_place (on a support, onto a tray's furniture, into a container) and stack."""

    task_types = ("pick_place", "stack")

    def probe(self, sim: SimScene, task: TaskSpec) -> str | None:
        return plan_at_rest(sim, task)

    def begin(self, sim, task, seed, episode_index, options, beat) -> EpisodeStart:
        return begin_pick_place(sim, task, seed, episode_index, options, beat)

    def plan(self, sim, task, start, beat=lambda: None) -> Planned:
        plan, goal, goal_offset, reason, error = plan_from_start(sim, task, start, beat)
        return Planned(plan, reason, error, {"goal": goal, "goal_offset": goal_offset})

    def check(self, sim: SimScene, task: TaskSpec) -> None:
        super().check(sim, task)
        if task.goal is None:
            raise ValueError(f"task {task.task_id}: a {task.type} task without a goal is not simulated")

    def contact_masks(self, sim, task, start):
        ix, target = _indices(sim), task.target_object_id
        target_mask = geom_mask(sim, sim.object_geom_ids(target))  # a hollow container's walls are the target too
        support_mask = geom_mask(sim, sim.object_geom_ids(task.goal.support_object_id))  # furniture, or a stack's base
        base = task.goal.support_object_id if _moves_with_goal(sim, task) else None  # meant to be touched
        other_obj_mask = geom_mask(sim, [g for oid, g in ix.dynamic_geom.items() if oid not in (target, base)])
        return [(geom_mask(sim, [ix.pads[0]]), target_mask), (geom_mask(sim, [ix.pads[1]]), target_mask),
                (target_mask, support_mask), (ix.robot_geom, ix.furniture_geom),
                (ix.robot_geom, other_obj_mask), (target_mask, other_obj_mask)]

    def judge(self, sim, task, start, planned, logs: Logs) -> Outcome:
        return _judge(sim, task, start, planned, logs)


def _judge(sim: SimScene, task: TaskSpec, st: EpisodeStart, planned: Planned, logs: Logs) -> Outcome:
    ix, d = _indices(sim), st.data
    target = task.target_object_id
    plan, reason = planned.plan, planned.reason
    goal: GoalRegion = planned.extra["goal"]
    T = logs.T
    tb = sim.body_id(target)
    ti = sim.dynamic_ids.index(target)
    base = task.goal.support_object_id if _moves_with_goal(sim, task) else None
    tgt_pos = logs.obj_pos[:, ti]
    start_pos = tgt_pos[0].copy()
    tgt_zaxis = logs.object_zaxis(ti)
    start_z = tgt_zaxis[0]
    flags = logs.contact.astype(bool)
    unexpected = int(np.count_nonzero(flags[:, 3] | flags[:, 4] | flags[:, 5]))
    both_pads = flags[:, 0] & flags[:, 1]
    min_clearance = _min_clearance(sim, logs, target, base)
    ee64, tcp_mat = logs.ee64, logs.tcp_mat
    place_xy = plan.place_object_pos_m[:2] if plan else start_pos[:2]
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

    final_pos = d.xpos[tb].copy()
    vadr = sim.free_qvel_adr(target)
    moved = np.linalg.norm(logs.obj_pos[-1] - logs.obj_pos[0], axis=1)
    moved[ti] = 0.0
    # what rested against the target may roll into the space it leaves, unless the robot touched it
    leaning = _resting_against_logged(sim, logs, target)
    touched: set[str] = set()
    if logs.contact_log and leaning:
        geom_owner = {int(g): oid for oid in sim.dynamic_ids if oid != target for g in sim.object_geom_ids(oid)}
        every = np.concatenate([g for _, g in logs.contact_log])
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
            touches_goal_support=bool(logs.contact[-1, 2]), goal_center=np.asarray(final_goal_center),
            goal_size=judged_goal_size(sim, task, goal), max_other_displacement_m=moved_others,
            has_up=sim.physics[target].collider is not ColliderShape.SPHERE)
        success, reason, checks = verdict.success, verdict.reason, verdict.checks
    else:
        success, checks = False, {}
    rand = st.rand
    metrics = {
        "checks": checks,
        "placement_error_m": float(np.linalg.norm(final_pos[:2] - place_xy)),
        "goal_center_error_m": float(np.linalg.norm(final_pos[:2] - np.asarray(final_goal_center[:2]))),
        "min_clearance_to_others_m": min_clearance,
        "unexpected_contact_frames": int(unexpected),
        "max_other_displacement_m": moved_others,
        "resting_against_target": sorted(leaning),
        "grasp_slip_m": max_slip,
        # the opening between the pads while approaching (less than the stroke: pre-shaped in clutter)
        "grasp_open_m": (2 * (sim.robot.gripper.stroke_per_finger_m if plan.grasp.open_m is None
                              else plan.grasp.open_m)) if plan else None,
        "slide_out_m": plan.slide_out_m if plan else None,  # slid out of a shelf's row this far
        "start_offset_m": list(rand.target_offset_m),
        "start_yaw_rad": rand.target_yaw_rad,
        "start_pose_fallback": rand.fallback,
        "goal_offset_m": list(planned.extra["goal_offset"]),
        "goal_center_m": [float(v) for v in goal.center_m],
        "start_position_m": start_pos.tolist(),
        "settle_shift_m": st.settle_shift,
        "settle_penetration_m": st.penetration,
        "distractors_moved": len(st.distractors),
    }
    return Outcome(success, reason, metrics, reward, placed,
                   task_state(logs.obj_poses[:, ti * 7:ti * 7 + 7], (*goal.center_m[:2], goal.surface_z_m)))


def _min_clearance(sim: SimScene, logs: Logs, target: str, base: str | None) -> float:
    """The target's least distance to the other free objects over the episode (0.05 when nothing
    came closer): exact distances only at frames where bounding spheres come within 5 cm, from the
    logged qpos (mj_kinematics of it reproduces the live geometry exactly)."""
    m, ix = sim.model, _indices(sim)
    radius = {o: 0.5 * float(np.linalg.norm(sim.physics[o].collider_size_m)) for o in sim.dynamic_ids}
    others_ids = [o for o in sim.dynamic_ids if o not in (target, base)]
    other_idx = np.array([sim.dynamic_ids.index(o) for o in others_ids], dtype=int)
    other_geoms = np.array([ix.dynamic_geom[o] for o in others_ids], dtype=int)
    near_sq_m2 = (np.array([radius[o] for o in others_ids]) + radius[target] + 0.05) ** 2
    tgt_pos = logs.obj_pos[:, sim.dynamic_ids.index(target)]
    target_geom = sim.geom_id(target)
    min_clearance = 0.05
    gap = logs.obj_pos[:, other_idx] - tgt_pos[:, None]
    near = np.einsum("tkc,tkc->tk", gap, gap) < near_sq_m2
    if near.any():
        scratch = _scratch_data(sim)
        for k in np.flatnonzero(near.any(axis=1)):
            scratch.qpos[:] = logs.qpos[k]
            mujoco.mj_kinematics(m, scratch)
            for g in other_geoms[near[k]]:
                min_clearance = min(min_clearance, mujoco.mj_geomDistance(m, scratch, target_geom, int(g), 0.05, None))
    return min_clearance


def _resting_against_logged(sim: SimScene, logs: Logs, target: str) -> set[str]:
    """`_resting_against` at the episode's first frame (its logged state)."""
    scratch = _scratch_data(sim)
    scratch.qpos[:] = logs.qpos[0]
    mujoco.mj_kinematics(sim.model, scratch)
    return _resting_against(sim, scratch, target)
