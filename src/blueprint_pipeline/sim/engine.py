"""The episode engine, one for every task family: start -> plan -> execute (record, render) -> judge.

A task family (sim/families/) is a plug-in, a `Family` subclass with five parts:
- `begin`: the state at frame 0 of (scene, task, seed, index): the drawn randomisation (sim/
  randomize.py), the arm's start, the settle. Returns a `Start` (or the family's subclass of it);
- `plan`: the scripted plan from that start (joint set-points at 30 Hz and gripper commands,
  `planner.Plan`), checked with the whole arm against the scene (scene_check.SceneCheck). Returns
  a `Planned`: the plan, or why there is none;
- `contact_masks`: the geom masks of the six contact flags (episode.CONTACT_NAMES) as the family
  reads them (for a drawer, "target" is its handle);
- `judge`: success from the physics state only, the shaped reward, the per-frame success flags and
  the 12-value task state (records.task_state), from the recorded `Logs` and the live data;
- `probe`: the feasibility check before any episode (plan from the nominal start).
The engine owns what every family shares: executing the plan tick by tick with the servos
(episode.advance_tick), recording, rendering, the physics health check (health.unstable_reason,
applied in `episode_record`), the common metrics (time, steps, motion, the arm's start, the scene
camera's view at start, contact and end), and the instruction (sim/language.py). The worker pool,
the resume journal and the dataset writer sit above it (sim/stage.py) and never see a family.

Recording: per tick the loop only copies the live state into arrays (qpos, qvel, the TCP pose, the
contacts' geom pairs, the poses of the bodies the family tracks, and the camera images when
rendering); object poses, quaternions, contact flags, rewards and grasp checks are derived from
those logs after the loop.

Adding a family: one module in sim/families/ with a `Family` subclass, and one entry in
sim/families/__init__.py's FAMILIES (docs/episodes.md, "Task families").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import mujoco
import numpy as np

from blueprint_pipeline.geniesim.records import TaskSpec
from blueprint_pipeline.robots.gripper_meshes import drawn_linkage, pose_linkage
from blueprint_pipeline.sim import health, language
from blueprint_pipeline.sim.camera import frame_visibility, place_scene_camera
from blueprint_pipeline.sim.camera_model import episode_cameras
from blueprint_pipeline.sim.episode import (
    CAMERAS,
    CONTACT_NAMES,
    EpisodeOptions,
    _Indices,
    _indices,
    advance_tick,
    set_point_schedule,
)
from blueprint_pipeline.sim.judge import motion_metrics
from blueprint_pipeline.sim.planner import Plan, from_start
from blueprint_pipeline.sim.records import EpisodeRecord
from blueprint_pipeline.sim.render import FrameRenderer
from blueprint_pipeline.sim.scene_builder import FPS, STEPS_PER_FRAME, SimScene
from blueprint_pipeline.sim.scene_check import SceneCheck

Beat = Callable[[], None]


def _no_beat() -> None:
    return None


@dataclass
class Start:
    """An episode's state at frame 0, as a family's `begin` leaves it: the live data (after the drawn
    randomisation and the settle), MuJoCo's warning counters before the episode, the settle's
    physics steps, the arm's drawn start offset from the task's and whether it fell back to it,
    and the arm's joints now. Families extend it with what their planner and judge need."""

    data: mujoco.MjData
    warnings0: dict[str, int]
    settle_steps: int
    arm_offset: np.ndarray
    arm_fallback: bool
    q_home: np.ndarray


@dataclass
class Planned:
    """A family's plan from its start, or why there is none (`reason`: ik_failure,
    no_clear_grasp, ...; `error`: the planner's message); `extra`: what else the family's judge
    needs from planning (pick_place: the goal region used and its drawn offset)."""

    plan: Plan | None
    reason: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """A family's verdict on an episode: success and failure reason from the physics state, its own
    metrics, the shaped reward per frame, the per-frame success flags, and the task state."""

    success: bool
    reason: str | None
    metrics: dict[str, Any]
    reward: np.ndarray
    success_flags: np.ndarray
    task_state: np.ndarray


@dataclass
class Logs:
    """What the engine recorded over T = n_ticks + 1 frames, and what it derives from that."""

    n_ticks: int
    qpos: np.ndarray  # (T, nq), float64
    qvel: np.ndarray  # (T, nv)
    tcp_pos: np.ndarray  # (T, 3)
    tcp_mat: np.ndarray  # (T, 9)
    contact_log: list[tuple[int, np.ndarray]]  # (tick, contact geom pairs) of the ticks with contacts
    body_pos: np.ndarray  # (T, B, 3): the family's tracked bodies (`Family.tracked_bodies`)
    body_quat: np.ndarray  # (T, B, 4)
    images: dict[str, np.ndarray]
    cameras: dict[str, dict]
    # derived after the loop (`_derive`)
    q64: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, dof) arm joints
    state: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, dof + 1) float32
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ee64: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, 7) TCP position, quaternion
    obj_pos: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, K, 3) free objects
    obj_quat: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, K, 4), normalised
    obj_poses: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, K * 7) float32
    contact: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, 6) uint8, CONTACT_NAMES
    action: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (T, dof + 1) float32

    @property
    def T(self) -> int:  # noqa: N802 (the frame count, as everywhere in this package)
        return self.n_ticks + 1

    def object_zaxis(self, i: int) -> np.ndarray:
        """(T, 3): free object i's up axis (its z axis in the world) at every frame."""
        w, x, y, z = self.obj_quat[:, i].T
        return np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=1)


class Family:
    """A task family's plug-in (see the module docstring). `task_types`: the TaskSpec types it runs."""

    task_types: tuple[str, ...] = ()
    # the plan phase whose last tick is the hand's work on the object (the fingers closed on it, or
    # a push's end): the metrics' grasp_frame and the scene camera's "grasp" view
    contact_phase = "close"
    # physics steps per nominal step while the plan runs (the settle before it is at the nominal
    # step): more for a family whose contacts need a finer step to stay stable
    physics_substeps = 1

    def substeps(self, sim: SimScene, task: TaskSpec) -> int:
        """Physics steps per nominal step for this task's plan (the family's `physics_substeps`
        unless the family says otherwise for some of its tasks)."""
        return self.physics_substeps

    def simulable(self, task: TaskSpec, scene_objects: dict) -> bool:
        """Whether the episodes stage can simulate `task` (given the scene's objects by id)."""
        return task.goal is not None

    def probe(self, sim: SimScene, task: TaskSpec) -> str | None:
        """Why no plan exists from the nominal start (with the whole-arm scene check), or None."""
        raise NotImplementedError

    def begin(self, sim: SimScene, task: TaskSpec, seed: int, episode_index: int, options: EpisodeOptions,
              beat: Beat) -> Start:
        raise NotImplementedError

    def plan(self, sim: SimScene, task: TaskSpec, start: Start, beat: Beat = _no_beat) -> Planned:
        raise NotImplementedError

    def contact_masks(self, sim: SimScene, task: TaskSpec, start: Start) -> Sequence[tuple[np.ndarray, np.ndarray]]:
        """Six (mask_a, mask_b) geom masks, one per CONTACT_NAMES flag: a frame's flag is set when
        a contact pairs a geom of one mask with one of the other."""
        raise NotImplementedError

    def tracked_bodies(self, sim: SimScene, task: TaskSpec) -> list[int]:
        """Body ids whose world pose the engine logs every frame (besides the free objects)."""
        return []

    def judge(self, sim: SimScene, task: TaskSpec, start: Start, planned: Planned, logs: Logs) -> Outcome:
        raise NotImplementedError

    def check(self, sim: SimScene, task: TaskSpec) -> None:
        """Raise ValueError when `task` is not one this family can simulate in `sim`."""
        if task.type not in self.task_types:
            raise ValueError(f"task {task.task_id}: a {task.type} task; this family runs {', '.join(self.task_types)}")


def plan_episode(family: Family, sim: SimScene, task: TaskSpec, st: Start, beat: Beat = _no_beat) -> Planned:
    """The family's plan from the episode's start. When there is none and the arm's start was
    drawn away from the nominal one (`Start.arm_offset`), the family plans from the nominal start,
    which its feasibility probe found a plan from, and the plan is preceded by a joint move from
    the drawn start to it (planner.from_start), checked with the whole arm like the rest
    (`Planned.extra["start_return"]`). On the corpus, 3 UR10 episodes without a plan from their
    drawn start succeed this way (a microwave's door, an office drawer, a push into a pantry
    shelf; 5 before shelf approaches were planned again out of the furniture's front); where the
    target's drawn pose is what leaves no grasp, the first reason stands."""
    planned = family.plan(sim, task, st, beat)
    if planned.plan is not None or not np.any(st.arm_offset):
        return planned
    nominal = replace(st, q_home=st.q_home - st.arm_offset, arm_offset=np.zeros_like(st.arm_offset))
    retry = family.plan(sim, task, nominal, beat)
    if retry.plan is None:
        return planned
    full = from_start(retry.plan, st.q_home, sim.robot, 1.0 / FPS)
    support = task.goal.support_object_id if task.goal is not None else None
    why = SceneCheck(sim, st.data, _indices(sim), task.target_object_id, support).plan(full)
    if why is not None:
        return planned
    return replace(retry, plan=full, extra={**retry.extra, "start_return": True})


# A start from which no plan exists (the drawn target pose leaves the hand no collision-free grasp,
# a drawn goal spot none to the place) is drawn again, up to START_DRAWS draws in all: planning
# retries, never recorded ones (nothing of a refused draw is simulated or written). The draw used is
# in the episode's metrics (`start_draw`, 0 the first) and counted in summary.json
# (`start_redrawn`). When no draw plans, the first is the episode's, as before, and it fails.
# 5 draws: with 3, a laundry shelf's push into the shelf (the hand meets the unit from many drawn
# object poses) failed 3 of 10 episodes, with 5 or 6 1 of 10.
START_DRAWS = 5


def begin_and_plan(family: Family, sim: SimScene, task: TaskSpec, episode_index: int, seed: int,
                   options: EpisodeOptions, beat: Beat = _no_beat) -> tuple[Start, Planned, int]:
    """The episode's start, its plan and which draw of the start it is: the first draw that has a
    plan (START_DRAWS), else the first (begun again, so the model holds its randomisation; its
    planning, a function of the start, is not repeated)."""
    first: Planned | None = None
    for draw in range(START_DRAWS):
        st = family.begin(sim, task, seed, episode_index, replace(options, start_draw=draw), beat)
        planned = plan_episode(family, sim, task, st, beat)
        if planned.plan is not None:
            return st, planned, draw
        if first is None:
            first = planned
    return family.begin(sim, task, seed, episode_index, replace(options, start_draw=0), beat), first, 0


def run(family: Family, sim: SimScene, task: TaskSpec, episode_index: int, seed: int,
        options: EpisodeOptions = EpisodeOptions(),  # noqa: B008 (frozen)
        heartbeat: Beat | None = None) -> EpisodeRecord:
    """Simulate episode `episode_index` of `task` with `family`; reproducible from (scene, task, seed, index)."""
    family.check(sim, task)
    wall0 = time.perf_counter()
    beat = heartbeat or _no_beat
    st, planned, draw = begin_and_plan(family, sim, task, episode_index, seed, options, beat)
    plan = planned.plan
    substeps = family.substeps(sim, task)
    start = mujoco.MjData(sim.model)
    mujoco.mj_copyData(start, sim.model, st.data)  # the state at frame 0, for a second run
    logs = _simulate(family, sim, task, st, plan, options, beat, substeps)
    if plan is not None and substeps < UNSTABLE_RETRY_SUBSTEPS and health.unstable_reason(
            FPS, logs.state, logs.obj_poses, health.new_warnings(st.data, st.warnings0)) is not None:
        st, substeps = replace(st, data=start), UNSTABLE_RETRY_SUBSTEPS
        logs = _simulate(family, sim, task, st, plan, options, beat, substeps)
    out = family.judge(sim, task, st, planned, logs)
    ix = _indices(sim)
    contact_tick = plan.phase_ticks.get(family.contact_phase, (None, None))[1] if plan is not None else None
    frames = {"start": logs.qpos[0]}
    if plan is not None:
        frames |= ({"grasp": logs.qpos[contact_tick]} if contact_tick is not None else {}) | {"final": logs.qpos[-1]}
    metrics = {
        **out.metrics,
        "grasp_kind": plan.grasp.kind if plan else None,
        "grasp_frame": int(contact_tick) if contact_tick is not None else None,  # Family.contact_phase's end
        "plan_error": planned.error,  # why planning found no plan (ik_failure, no_clear_grasp)
        "start_arm_offset_rad": [float(v) for v in st.arm_offset],
        "start_arm_fallback": st.arm_fallback,
        "start_return": bool(planned.extra.get("start_return", False)),  # planned from the nominal start (plan_episode)
        "start_draw": draw,  # which draw of the start was planned and simulated (START_DRAWS)
        **run_metrics(logs.n_ticks, st.settle_steps, wall0, logs.q64, logs.velocity, ix, substeps),
        "physics_substeps": substeps,
        "resimulated": substeps != family.substeps(sim, task),  # unstable at first: again at UNSTABLE_RETRY_SUBSTEPS
        # what the scene camera saw, when one was chosen for the task (the stage chooses none for
        # a run without images: sim/stage.prepare_tasks)
        **(frame_visibility(sim, task, frames) if getattr(sim, "scene_camera", None) is not None else {}),
    }
    return episode_record(sim, task, episode_index, seed, out.success, out.reason, options.instruction_slot,
                          warnings=health.new_warnings(st.data, st.warnings0), phrasings=options.phrasings,
                          state=logs.state,
                          velocity=logs.velocity, ee_pose=logs.ee64.astype(np.float32), object_poses=logs.obj_poses,
                          action=logs.action, contact=logs.contact, reward=out.reward,
                          success_flags=out.success_flags, images=logs.images, cameras=logs.cameras,
                          metrics=metrics, task_state=out.task_state)


# An episode whose physics went unstable (health.unstable_reason: a light object flung at the
# release, MuJoCo resetting its state) is simulated once more from the same frame 0 with the same
# plan, each tick at a third of the time step (the frames stay at FPS); the finer run's frames are
# the episode's, and its health is judged as any other's. Measured on the example warehouse with
# the Franka, whose scanner was flung in 2 of 4 episodes at 1/480 s: 4/4 (docs/known-issues.md).
UNSTABLE_RETRY_SUBSTEPS = 3


def _simulate(family: Family, sim: SimScene, task: TaskSpec, st: Start, plan: Plan | None,
              options: EpisodeOptions, beat: Beat, substeps: int) -> Logs:
    """`execute` the plan from `st` and derive the logs' recorded arrays."""
    logs = execute(sim, st.data, plan, options, beat, family.tracked_bodies(sim, task), substeps)
    _derive(sim, logs, plan, family.contact_masks(sim, task, st))
    return logs


def execute(sim: SimScene, d: mujoco.MjData, plan: Plan | None, options: EpisodeOptions, beat: Beat,
            tracked: Sequence[int] = (), substeps: int = 1) -> Logs:
    """Run `plan` from `d` tick by tick and record every frame (the state at t = k / FPS); with no
    plan, record the start frame only. `substeps` > 1 runs each tick at the time step divided by
    it (episode.advance_tick)."""
    m, ix = sim.model, _indices(sim)
    n_ticks = plan.n_ticks if plan else 0
    T = n_ticks + 1
    tracked = np.asarray(tracked, dtype=int)
    logs = Logs(n_ticks=n_ticks, qpos=np.zeros((T, m.nq)), qvel=np.zeros((T, m.nv)), tcp_pos=np.zeros((T, 3)),
                tcp_mat=np.zeros((T, 9)), contact_log=[], body_pos=np.zeros((T, len(tracked), 3)),
                body_quat=np.zeros((T, len(tracked), 4)), images={}, cameras={})
    renderer, views = None, [m.camera("scene_cam").id, m.camera(sim.names.wrist_camera).id]
    if options.render:
        renderer = FrameRenderer.shared(m, options.image_size)  # kept for the next episode
        linkage = drawn_linkage(m, sim.robot.name, sim.names, sim.robot_visuals)
        logs.images = {c: np.zeros((T, options.image_size, options.image_size, 3), np.uint8) for c in CAMERAS}
    cam_ids = dict(zip(CAMERAS, views))
    if plan is not None:
        set_points, set_velocity, gripper_target = set_point_schedule(plan, ix, sim.robot.gripper.stroke_per_finger_m)
    # views of the data's arrays (MjData's properties make a new one at every access), and every
    # body's pose recorded whole, the tracked ones picked out once at the end: a tick's recording
    # cost 3-4 us less
    qpos, qvel, tcp_pos, tcp_mat, xpos, xquat = d.qpos, d.qvel, d.site_xpos[ix.tcp], d.site_xmat[ix.tcp], d.xpos, d.xquat
    body_pos, body_quat = np.zeros((T, m.nbody, 3)), np.zeros((T, m.nbody, 4))
    for k in range(T):
        # --- record frame k (state at t = k / FPS) ---
        mujoco.mj_kinematics(m, d)
        logs.qpos[k] = qpos
        logs.qvel[k] = qvel
        logs.tcp_pos[k] = tcp_pos
        logs.tcp_mat[k] = tcp_mat
        body_pos[k] = xpos
        body_quat[k] = xquat
        if d.ncon:
            logs.contact_log.append((k, d.contact.geom.copy()))
        if renderer is not None:
            mujoco.mj_comPos(m, d)
            mujoco.mj_camlight(m, d)
            place_scene_camera(m, d)  # the chosen and jittered pose (sleeping skips world cameras)
            pose_linkage(d, linkage)  # a drawn gripper linkage where the fingers are
            for cam, frame in zip(CAMERAS, renderer.render_views(d, views)):
                logs.images[cam][k] = frame
            if k == 0:
                logs.cameras = episode_cameras(m, d, cam_ids, ix.tcp)
        if plan is None or k == n_ticks:
            break
        # --- advance to tick k + 1 ---
        advance_tick(m, d, ix, set_points[k], set_velocity[k], gripper_target[k], substeps)
        beat()  # a store into shared memory: cheap enough for every tick
    mujoco.mj_kinematics(m, d)
    logs.body_pos[:], logs.body_quat[:] = body_pos[:, tracked], body_quat[:, tracked]
    return logs


def _derive(sim: SimScene, logs: Logs, plan: Plan | None,
            masks: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    """Fill the derived fields of `logs`: joints, state and velocity (arm, then the fingers'
    opening), the TCP pose, the free objects' poses, the contact flags and the actions."""
    m, ix = sim.model, _indices(sim)
    T, dof, K = logs.T, len(ix.arm_qadr), len(sim.dynamic_ids)
    q64 = logs.qpos[:, ix.arm_qadr]
    logs.q64 = q64
    logs.state = np.zeros((T, dof + 1), np.float32)
    logs.velocity = np.zeros((T, dof + 1), np.float32)
    logs.state[:, :dof] = q64
    logs.state[:, dof] = logs.qpos[:, ix.finger_qadr].sum(axis=1)
    logs.velocity[:, :dof] = logs.qvel[:, ix.arm_vadr]
    logs.velocity[:, dof] = logs.qvel[:, ix.finger_vadr].sum(axis=1)
    logs.ee64 = np.zeros((T, 7))
    logs.ee64[:, :3] = logs.tcp_pos
    for k in range(T):
        mujoco.mju_mat2Quat(logs.ee64[k, 3:], logs.tcp_mat[k])
    # a free body's pose is its joint's qpos (mj_kinematics copies it, normalising the quaternion)
    logs.obj_pos = logs.qpos[:, ix.dynamic_qadr[:, None] + np.arange(3)]
    obj_quat = logs.qpos[:, ix.dynamic_qadr[:, None] + np.arange(3, 7)]
    if K:
        obj_quat /= np.linalg.norm(obj_quat, axis=2, keepdims=True)
    logs.obj_quat = obj_quat
    logs.obj_poses = np.concatenate([logs.obj_pos, obj_quat], axis=2).reshape(T, K * 7).astype(np.float32)
    # contact flag i of a geom pair (a, b) is bit i of pair_bits[a, b]: one table look-up per
    # contact and one OR-reduction per frame instead of six mask tests
    pair_bits = np.zeros((m.ngeom, m.ngeom), np.uint8)
    for bit, (mask_a, mask_b) in enumerate(masks):
        hit = np.outer(mask_a, mask_b)
        pair_bits |= ((hit | hit.T) * (1 << bit)).astype(np.uint8)
    flag_bits = 1 << np.arange(len(CONTACT_NAMES))
    contact_bits = np.zeros(T, np.uint8)
    if logs.contact_log:
        ticks = np.array([k for k, _ in logs.contact_log])
        pairs = np.concatenate([g for _, g in logs.contact_log])
        starts = np.cumsum([0] + [len(g) for _, g in logs.contact_log[:-1]])
        contact_bits[ticks] = np.bitwise_or.reduceat(pair_bits[pairs[:, 0], pairs[:, 1]], starts)
    logs.contact = ((contact_bits[:, None] & flag_bits) != 0).astype(np.uint8)
    logs.action = np.zeros((T, dof + 1), np.float32)
    if plan is None:
        logs.action[:, :dof] = q64
    else:
        logs.action[:, :dof] = plan.q[np.minimum(np.arange(1, T + 1), logs.n_ticks)]
        logs.action[:, dof] = plan.gripper[:T]


def geom_mask(sim: SimScene, geoms) -> np.ndarray:
    """A boolean mask over the model's geoms, set at `geoms`."""
    mask = np.zeros(sim.model.ngeom, bool)
    mask[np.asarray(list(geoms), dtype=int)] = True
    return mask


def run_metrics(n_ticks: int, settle_steps: int, wall0: float, q: np.ndarray, velocity: np.ndarray,
                ix: _Indices, substeps: int = 1) -> dict[str, object]:
    """The metrics every family reports the same way: time, physics steps (16 x `substeps` a
    tick, the settle's besides), and the arm's motion."""
    dof = q.shape[1]
    return {
        "sim_time_s": n_ticks / FPS,
        "physics_steps": n_ticks * STEPS_PER_FRAME * substeps + settle_steps,
        "wall_time_s": time.perf_counter() - wall0,
        **motion_metrics(q, velocity[:, :dof].astype(float), FPS, ix.lower, ix.upper),
    }


def episode_record(sim: SimScene, task: TaskSpec, episode_index: int, seed: int, success: bool, reason: str | None,
                   slot: int | None, reward: np.ndarray, warnings: dict[str, int] | None = None,
                   phrasings: tuple[str, ...] = (), **arrays) -> EpisodeRecord:
    """The EpisodeRecord of a simulated episode: the physics health check
    (`health.unstable_reason` on the recorded arrays and the MuJoCo `warnings` raised during the
    episode) overrides the judge with `sim_unstable`; every episode is done at its last frame,
    which earns the shaped `reward` (changed in place) a bonus of 1 when the episode succeeded.
    Its instruction is drawn per episode (`language.instruction`, with the episode's `slot` and
    the LLM's `phrasings` of its family, if any)."""
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
        task_description=language.instruction(sim, task, episode_index, seed, slot, phrasings),
        robot=sim.robot.name, seed=seed, fps=FPS, success=success, failure_reason=reason,
        joint_names=list(sim.names.joints) + ["gripper_width"], object_ids=list(sim.dynamic_ids),
        contact_names=list(CONTACT_NAMES), reward=reward, done=done, **arrays)
