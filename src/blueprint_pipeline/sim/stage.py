"""The `episodes` stage: simulate every task family's episodes in isolated worker processes.

Inputs (contract): SCENE_NORMALIZED, SIMREADY_PHYSICS, GENIESIM_TASK_CONFIG.
Outputs under episodes/ (contract: EPISODES_DATA, EPISODES_RESULTS, EPISODES_SUMMARY, EPISODES_CERTIFICATE):
- data/episode_XXXXXX.npz: one file per kept episode (successes; failures too, labelled, with
  the keep_failed_episodes option, except `sim_unstable` ones and any shorter than 1 s:
  `health.keepable`), written atomically by the worker that simulated it;
- results/episode_XXXXXX.json: every episode's outcome and quality metrics (also the resume
  journal: a rerun simulates only the episodes without a result; episode i is reproducible from
  (scene, task, seed, i), so regenerated episodes are identical). Each result is keyed by the
  stage's input digest (`StageContext.input_digest`: the inputs' sha256, the options, the package
  version) besides robot, task, index and seed; results of other inputs are deleted at the start,
  never reused. Failures of the machine (disk full, permission denied, a killed worker) are not
  results: they are not recorded, the stage fails (category environment, not marked complete) and
  the next run simulates them again. `--force` also reruns the recorded failures;
- summary.json: counts, success rate overall and per task, failure reasons, timings, start poses,
  the scene camera chosen per task and how much of the work it sees (sim/camera.py);
- quality_certificate.json: what was checked and how (engine, version, time step, thresholds).

Episodes run in `resilience.pool.ProcessPool`: a per-episode deadline (the setting
BP_EPISODE_DEADLINE_FACTOR, default 10, times the nominal episode duration) and a heartbeat from
the simulation loop; a hung or crashed episode is killed, recorded with its reason (timeout / crashed / error) and the others continue. The stage fails when the
success rate is below BP_MIN_SUCCESS_RATE (`EpisodesConfig.min_success_rate`, 0.5 by default).

Each episode runs in the episode engine (sim/engine.py) with its task's family (sim/families/:
pick_place and stack; open_close, drawers and hinged doors opened and closed again). Before any
episode, every task is probed by its family (`families.plan_at_rest`): planned from the nominal
start without randomisation, with the whole-arm scene check; a task with no collision-free plan
is not simulated and is listed in summary.json's tasks_infeasible with the planner's reason (a
book packed on a shelf, an object whose every grasp meets the board above). When no task is
left, NoFeasibleTaskError lists them.

Default count: 2 episodes per simulated task, at most 20 (option `episodes` overrides). Episodes
are dealt by sim/dealing.py: every task once, then balanced across the task families;
summary.json's per_family sums per_task by family.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass

import mujoco
import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.config import Settings
from blueprint_pipeline.contract import (
    EPISODES_CERTIFICATE,
    EPISODES_DATA,
    EPISODES_PHRASINGS,
    EPISODES_RESULTS,
    EPISODES_SCENES,
    EPISODES_SUMMARY,
    StageContext,
    StageResult,
)
from blueprint_pipeline.errors import (
    BlueprintError,
    ErrorCategory,
    InvalidInputError,
    Problem,
    is_environment_failure,
)
from blueprint_pipeline.geniesim.records import TaskConfig, TaskSpec
from blueprint_pipeline.geniesim.tasks import families_of
from blueprint_pipeline.resilience.partial import ItemResult, run_items
from blueprint_pipeline.resilience.pool import preload_in_workers
from blueprint_pipeline.robots import robot_by_name
from blueprint_pipeline.robots.visuals import NOT_RENDERED, PRIMITIVES_SOURCE, rendered_model, robot_visuals, source_of
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.sim import health, judge, language, phrasings
from blueprint_pipeline.sim.camera import CameraChoice, choose_scene_camera, summarize_cameras
from blueprint_pipeline.sim.dealing import deal
from blueprint_pipeline.sim.engine import UNSTABLE_RETRY_SUBSTEPS
from blueprint_pipeline.sim.episode import EpisodeOptions
from blueprint_pipeline.sim.episode_io import episode_filename, save_episode
from blueprint_pipeline.sim.families import FAMILIES, plan_at_rest, run_episode, simulable
from blueprint_pipeline.sim.opening import smaller_openings
from blueprint_pipeline.sim.scenes import (
    compiled,
    default_mount,
    from_snapshot,
    inputs_of,
    load_task_config,
    sim_for,
    write_snapshot,
)
from blueprint_pipeline.sim.render import ANTIALIASING, supersampled
from blueprint_pipeline.sim.scene_builder import (
    FPS,
    TIMESTEP_S,
)
from blueprint_pipeline.simready.io import load_physics

STAGE = "episodes"
log = logging.getLogger(__name__)
preload_in_workers(__name__)  # episode workers fork with the simulation stack imported (resilience/pool.py)
DEFAULT_PER_TASK = 2
SNAPSHOT_BUDGET_BYTES = 256 * 2**20  # at most this much of the probed scenes is written for the workers (prepare_tasks)
DEFAULT_MAX = 20
NOMINAL_EPISODE_S = 8.0  # simulated length of a typical pick_place episode
HEARTBEAT_TIMEOUT_S = 20.0
RESULT_SCHEMA = "blueprint.episode_result/1"


@dataclass(frozen=True)
class EpisodesConfig:
    """What the episodes stage takes from the settings."""

    deadline_factor: float  # BP_EPISODE_DEADLINE_FACTOR: per-episode deadline / nominal duration
    min_success_rate: float  # BP_MIN_SUCCESS_RATE: below this share of successes the stage fails

    @classmethod
    def from_settings(cls, settings: Settings) -> EpisodesConfig:
        return cls(deadline_factor=settings.episode_deadline_factor, min_success_rate=settings.min_success_rate)

    @property
    def deadline_s(self) -> float:
        return self.deadline_factor * NOMINAL_EPISODE_S


class NoFeasibleTaskError(InvalidInputError):
    """The scene offers nothing the episodes stage can simulate for this robot: every candidate
    object is listed with the reason (from task_config.json's `skipped`, tasks of a type or
    robot the stage does not run, and tasks the feasibility probe found no plan for)."""

    def __init__(self, scene_id: str, robot: str, config: TaskConfig, scene,
                 infeasible: dict[str, str] | None = None) -> None:
        problems = [Problem(s.object_id, f"{s.family}: {s.reason}") for s in config.skipped]
        infeasible = infeasible or {}
        for t in config.tasks:
            if t.task_id in infeasible:
                why = f"no collision-free plan at rest ({infeasible[t.task_id][:300]})"
            elif robot not in t.robot_placements:
                why = f"no base pose for the {robot} (other robots have one)"
            else:
                why = "not simulated"
            problems.append(Problem(t.target_object_id, f"{t.type}: {why}"))
        shown = problems[:30]
        super().__init__(f"episodes: scene {scene_id!r} has no task the {robot} can simulate; why each "
                         "candidate object has none:", shown, max(0, len(problems) - len(shown)))


class EpisodesFailedError(BlueprintError):
    """Too few episodes succeeded."""

    category = ErrorCategory.BELOW_THRESHOLD


@dataclass(frozen=True)
class EpisodeItem:
    """Everything a worker needs to simulate one episode (picklable, small)."""

    out_url: str
    robot: str
    task_id: str
    episode_index: int
    seed: int
    instruction_slot: int | None = None  # rank among the task's episodes (dealing.Deal.slot)
    phrasings: tuple[str, ...] = ()  # an LLM's phrasings of the task's template family (sim/phrasings.py)
    render: bool = False
    image_size: int = 128
    visual_randomization: bool = True
    shadows: bool = False
    # what the images draw the robot with (robots/visuals.rendered_model): part of the key
    robot_model: str = NOT_RENDERED
    keep_failed: bool = False
    inputs_digest: str = ""  # StageContext.input_digest: results of other inputs are never reused
    # the task's scene camera as the stage chose it (prepare_tasks); a function of the inputs, so
    # not part of the result's key (_item_key)
    scene_camera: CameraChoice | None = None
    # the arm's mount when the stage fell back from the placement's (prepare_tasks); as the camera
    mount_z_m: float | None = None
    # the base pose when the stage fell back to one of the task's placement_alternatives (k: the
    # k-th, 1-based; 0: the placement); as the camera
    placement_index: int = 0
    # the drawer's or door's joint fraction when the stage fell back to opening it less
    # (opening.smaller_openings: the opening's target, its closing's start); as the camera
    joint_fraction: float | None = None
    # the task's scene as the stage compiled, probed and settled it (scenes.write_snapshot), in
    # the stage's temporary folder; a worker that cannot read it compiles the scene itself
    snapshot: str | None = None

    @property
    def affinity(self) -> tuple[str, float | None, int, float | None]:
        """The compiled and settled scene a worker keeps for this item (`compiled`): the pool gives
        a task's episodes to the worker that ran its last one (resilience.pool, Affinity)."""
        return self.task_id, self.mount_z_m, self.placement_index, self.joint_fraction


def runnable_tasks(config: TaskConfig, robot: str, scene=None) -> list[TaskSpec]:
    """The tasks a task family simulates (sim/families/: pick_place and stack with a goal, and,
    given the scene, open_close of an articulated object), with a base placement for `robot`, in
    file order."""
    by_id = scene.by_id() if scene is not None else {}
    return [t for t in config.tasks if simulable(t, by_id) and robot in t.robot_placements]


@dataclass(frozen=True)
class Prepared:
    """What the stage's process works out per task before any episode (`prepare_tasks`)."""

    infeasible: dict[str, str]  # task id -> why its family's probe found no plan
    scene_files: list[str]  # written MJCF and textures, relative to the output folder
    cameras: dict[str, CameraChoice]  # the scene camera chosen per simulated task (sim/camera.py)
    mounts: dict[str, float]  # task id -> the arm's mount, where the placement's found no plan
    placements: dict[str, int]  # task id -> its placement_alternatives' (1-based), where the placement's found no plan
    openings: dict[str, float]  # task id -> the joint fraction opened to (or closed from), where the task's found no plan
    template_families: dict[str, str]  # simulated task id -> its instructions' family (language.family)
    snapshots: dict[str, str]  # simulated task id -> its scene's snapshot (scenes.write_snapshot), with `snapshot_dir`


def prepare_tasks(out_url: str, robot: str, tasks: list[TaskSpec], cameras: bool = True,
                  snapshot_dir: str | None = None) -> Prepared:
    """Per task, one compiled scene in this process, one task after the other (a fraction of a
    second each):
    - the feasibility probe: tasks (pick_place, and open_close of a drawer or door) the planner
      finds no collision-free plan for at the nominal start (the family's probe,
      families.plan_at_rest), with the reason; they are not simulated and summary.json lists them
      under tasks_infeasible. A task whose placement has no plan is probed from its other base
      poses in turn (`TaskSpec.placement_alternatives`); the first that plans is used for its
      episodes (summary.json's `placement_fallbacks`). A drawer or door no base pose opens as
      far as the task says is then opened less (`opening.smaller_openings`), from each base pose
      in turn, and its closing starts from there (summary.json's `opening_fallbacks`: the joint
      fraction). The probe needs the simulator, so it runs here, not in the geniesim
      stage, and task_config.json stays the export's file;
    - the other tasks' scenes written as MJCF, `episodes/scenes/<task_id>.xml` (the robot at its
      base as its collision primitives, a `home` keyframe; meshed objects' vertices inline, so no
      mesh files; the robot's meshes are compiled only where images are rendered; the textures it names as
      `episodes/scenes/textures/<kind>.png`, sim/appearance.py), loadable with
      `mujoco.MjModel.from_xml_path`, at full precision (sim/mjcf.py): it steps as the episodes
      did. The scene camera is at its default pose there (episodes move it per task; the pose
      used is in each result's metrics). Files of tasks not simulated now are removed;
    - with `cameras` (a run that renders), their scene camera (`camera.choose_scene_camera`),
      chosen here once and handed to the workers with each episode, instead of by every worker
      for every task it runs (35 ms a task on the corpus, against 12 ms for compiling the scene).
      A run without images chooses none (4% of the corpus's CPU);
    - with `snapshot_dir`, each simulated task's scene as the probe left it, compiled and settled
      (`scenes.write_snapshot`), for the workers to load instead of compiling and settling it
      again; once SNAPSHOT_BUDGET_BYTES are written, the workers compile the other tasks' scenes
      (the temporary folder may be in memory: the meshed kitchen's are 5.5 MB a task, two copies
      of its model with meshes)."""
    infeasible: dict[str, str] = {}
    files: list[str] = []
    chosen: dict[str, CameraChoice] = {}
    mounts: dict[str, float] = {}
    placements: dict[str, int] = {}
    openings: dict[str, float] = {}
    opened: dict[str, float] = {}  # a drawer's or door's id -> the fraction its opening fell back to
    template_families: dict[str, str] = {}
    snapshots: dict[str, str] = {}
    snapshot_bytes = 0
    # openings before closings, so that a closing starts where its opening's probe ended
    for t in sorted(tasks, key=lambda t: t.type == "open_close" and t.joint_start_fraction is not None):
        fraction = opened.get(t.target_object_id) if t.joint_start_fraction is not None else None
        if fraction is not None:
            openings[t.task_id] = fraction
        sim, task = compiled(out_url, robot, t.task_id, joint_fraction=fraction)
        why = plan_at_rest(sim, task)
        fallback = default_mount(task, robot)
        if why is not None and fallback is not None:  # in open furniture: the pedestal at the board
            sim_b, task_b = compiled(out_url, robot, t.task_id, fallback)
            if plan_at_rest(sim_b, task_b) is None:
                sim, task, why, mounts[t.task_id] = sim_b, task_b, None, fallback
        # then its other base poses, then (a drawer or door) opened less from each base pose
        poses = range(len(task.placement_alternatives.get(robot, [])) + 1)
        tries = [(k, fraction) for k in poses[1:]] + [(k, less) for less in smaller_openings(sim, task) for k in poses]
        for k, f in tries:
            if why is None:
                break
            sim_b, task_b = compiled(out_url, robot, t.task_id, placement_index=k, joint_fraction=f)
            if plan_at_rest(sim_b, task_b) is None:
                sim, task, why = sim_b, task_b, None
                if k:
                    placements[t.task_id] = k
                if f != fraction:
                    openings[t.task_id] = opened[t.target_object_id] = f
        if why is not None:
            infeasible[t.task_id] = why
            continue
        template_families[t.task_id] = language.family(sim, task)
        rel = f"{EPISODES_SCENES.rel}/{t.task_id}.xml"
        storage.atomic_write_text(storage.join(out_url, rel), sim.mjcf)
        files.append(rel)
        for name, data in (dict(sim.spec.assets) if sim.spec is not None else {}).items():
            tex = f"{EPISODES_SCENES.rel}/{name}"  # textures: procedural (appearance.TEXTURES) and meshes' images
            if f'file="{name}"' in sim.mjcf and tex not in files:
                storage.atomic_write_bytes(storage.join(out_url, tex), bytes(data))
                files.append(tex)
        if snapshot_dir is not None and snapshot_bytes < SNAPSHOT_BUDGET_BYTES:
            try:
                snapshots[t.task_id] = write_snapshot(snapshot_dir, sim, task)
                snapshot_bytes += os.path.getsize(snapshots[t.task_id])
            except OSError as exc:  # a full temporary disk: the workers compile this task's scene
                log.warning("episodes: task %s: its scene is compiled again in the workers (%s)", t.task_id, exc)
        if cameras:
            chosen[t.task_id] = choose_scene_camera(sim, task)
    folder = EPISODES_SCENES.url(out_url)
    for name in storage.listdir(folder):
        if name.endswith(".xml") and f"{EPISODES_SCENES.rel}/{name}" not in files:
            storage.remove(storage.join(folder, name))
    return Prepared(infeasible, files, chosen, mounts, placements, openings, template_families, snapshots)


def plan_items(ctx: StageContext, families: dict[str, str],
               cameras: dict[str, CameraChoice] | None = None,
               mounts: dict[str, float] | None = None,
               task_phrasings: dict[str, tuple[str, ...]] | None = None,
               placements: dict[str, int] | None = None,
               openings: dict[str, float] | None = None,
               snapshots: dict[str, str] | None = None) -> list[EpisodeItem]:
    """The run's episodes, dealt over the tasks (task id -> family) by `dealing.deal`, each with
    its task's scene camera when `cameras` has it (else the worker chooses it), its arm's
    mount when `mounts` has one (else the placement's), its base pose when `placements` names one
    of its alternatives, its drawer's or door's joint fraction when `openings` names one, its
    scene's snapshot when `snapshots` has one, and its LLM phrasings (`task_phrasings`: task id ->
    them)."""
    cameras, mounts, task_phrasings, placements = cameras or {}, mounts or {}, task_phrasings or {}, placements or {}
    openings, snapshots = openings or {}, snapshots or {}
    opts = ctx.options
    count = opts.episodes if opts.episodes is not None else min(DEFAULT_MAX, DEFAULT_PER_TASK * len(families))
    digest = ctx.input_digest or inputs_digest(ctx.out_url)
    model = rendered_model(opts.robot, opts.render, ctx.settings.robot_meshes)
    return [EpisodeItem(out_url=ctx.out_url, robot=opts.robot, task_id=d.task_id, instruction_slot=d.slot,
                        scene_camera=cameras.get(d.task_id), mount_z_m=mounts.get(d.task_id),
                        placement_index=placements.get(d.task_id, 0), joint_fraction=openings.get(d.task_id),
                        snapshot=snapshots.get(d.task_id),
                        phrasings=task_phrasings.get(d.task_id, ()),
                        episode_index=i, seed=opts.seed, render=opts.render, image_size=opts.image_size,
                        visual_randomization=opts.visual_randomization, shadows=opts.shadows,
                        robot_model=model, keep_failed=opts.keep_failed_episodes, inputs_digest=digest)
            for i, d in enumerate(deal(families, count))]


def per_family(per_task: dict[str, dict], families: dict[str, str]) -> dict[str, dict]:
    """summary.json's per_task counts summed per task family."""
    out: dict[str, dict] = {}
    for task_id, row in per_task.items():
        f = out.setdefault(families[task_id], {"tasks": 0, "episodes": 0, "succeeded": 0})
        f["tasks"] += 1
        f["episodes"] += row["episodes"]
        f["succeeded"] += row["succeeded"]
    return {k: v | {"success_rate": v["succeeded"] / v["episodes"]} for k, v in out.items()}


def inputs_digest(out_url: str) -> str:
    """The inputs' own sha256s, for a stage run without the runner (which sets input_digest)."""
    return ",".join(storage.sha256_file(u) for u in inputs_of(out_url))


# --- worker side -------------------------------------------------------------------------------

def stage_base(out_url: str, robot_name: str, task_id: str) -> dict:
    """The arm's mount, base pose and part's joint fraction the episodes stage used for the task
    (`sim_for`'s `mount_z_m`, `placement_index` and `joint_fraction`, from summary.json's
    mount_fallbacks, placement_fallbacks and opening_fallbacks), so that the evaluation
    environment works the task as its data was made; the task's when the stage has not run with
    this robot."""
    url = EPISODES_SUMMARY.url(out_url)
    summary = storage.read_json(url) if storage.exists(url) else {}
    if summary.get("robot") != robot_name:
        return {}
    return {"mount_z_m": summary.get("mount_fallbacks", {}).get(task_id),
            "placement_index": int(summary.get("placement_fallbacks", {}).get(task_id, 0)),
            "joint_fraction": summary.get("opening_fallbacks", {}).get(task_id)}


def result_url(out_url: str, episode_index: int) -> str:
    return storage.join(EPISODES_RESULTS.url(out_url), episode_filename(episode_index).replace(".npz", ".json"))


def simulate_item(item: EpisodeItem, heartbeat) -> dict:
    """Pool task: simulate, write the episode file (if kept) and its result; return the result."""
    meshes = item.robot_model not in (NOT_RENDERED, PRIMITIVES_SOURCE)
    robot = robot_by_name(item.robot)
    # a worker set up otherwise, or a package whose meshes do not load (logged): never images
    # of another look under this key
    if meshes and (source_of(robot) != item.robot_model or robot_visuals(robot) is None):
        raise RuntimeError(f"this worker cannot draw the robot as the run asks ({item.robot_model}); "
                           f"install the same robot-meshes extra on every worker")
    loaded = from_snapshot(item.snapshot) if item.snapshot is not None else None  # (none with images)
    sim, task = loaded if loaded is not None else sim_for(
        item.out_url, item.robot, item.task_id, item.scene_camera, item.mount_z_m, choose_camera=item.render,
        robot_meshes=meshes, placement_index=item.placement_index, joint_fraction=item.joint_fraction)
    heartbeat()
    rec = run_episode(sim, task, item.episode_index, item.seed,
                  EpisodeOptions(render=item.render, image_size=item.image_size,
                                 visual_randomization=item.visual_randomization, shadows=item.shadows,
                                 instruction_slot=item.instruction_slot, phrasings=item.phrasings), heartbeat)
    kept = health.keepable(rec.success, rec.failure_reason, rec.length, FPS, item.keep_failed)
    if kept:
        save_episode(storage.join(EPISODES_DATA.url(item.out_url), episode_filename(item.episode_index)), rec)
    result = {"schema": RESULT_SCHEMA, "item": _item_key(item), "episode_index": item.episode_index,
              "task_id": item.task_id, "success": rec.success, "failure_reason": rec.failure_reason,
              "kept": kept, "frames": rec.length, "metrics": rec.metrics}
    storage.atomic_write_json(result_url(item.out_url, item.episode_index), result)
    return result


# --- stage side --------------------------------------------------------------------------------

def _item_key(item: EpisodeItem) -> dict:
    return asdict(item) | {"out_url": None, "scene_camera": None, "mount_z_m": None, "placement_index": None,
                           "joint_fraction": None, "snapshot": None,
                           "phrasings": list(item.phrasings)}  # as JSON holds it


def _done_results(items: list[EpisodeItem], rerun_failed: bool = False) -> dict[int, dict]:
    """The recorded results that still hold for `items` (same key, inputs digest included);
    every other file in results/ (other inputs or options, an index past the count, unreadable)
    is deleted. With `rerun_failed`, recorded failures are deleted too."""
    done = {}
    if not items:
        return done
    wanted = {result_url(it.out_url, it.episode_index): it for it in items}
    results_dir = EPISODES_RESULTS.url(items[0].out_url)
    for name in storage.listdir(results_dir):
        url = storage.join(results_dir, name)
        it = wanted.get(url)
        res = None
        if it is not None:
            try:
                res = storage.read_json(url)
            except (json.JSONDecodeError, OSError):
                res = None
        if (isinstance(res, dict) and res.get("schema") == RESULT_SCHEMA and res.get("item") == _item_key(it)
                and (res.get("success") or not rerun_failed)):
            done[it.episode_index] = res
        else:
            storage.remove(url)
    return done


def _failed_result(item: EpisodeItem, status: str, error_type: str | None, message: str,
                   seconds: float) -> dict:
    """The result of an episode whose worker failed; recorded unless the machine was at fault
    (then `environment` is set and nothing is written, so the next run simulates it again)."""
    reason = "timeout" if status == "timeout" else ("crashed" if status == "crashed" else "error")
    res = {"schema": RESULT_SCHEMA, "item": _item_key(item), "episode_index": item.episode_index,
           "task_id": item.task_id, "success": False, "failure_reason": reason, "kept": False, "frames": 0,
           "message": message[:500], "metrics": {"wall_time_s": seconds}}
    if is_environment_failure(error_type=error_type, message=message):
        return res | {"environment": True}
    storage.atomic_write_json(result_url(item.out_url, item.episode_index), res)
    return res


def simulate_items(items: list[EpisodeItem], workers: int, deadline_s: float, heartbeat_timeout_s: float,
                   progress=None, fn=simulate_item, executor: str = "local",
                   rerun_failed: bool = False) -> list[dict]:
    """Simulate the items without a recorded result (`resilience.partial.run_items` in the
    worker pool of `executor`: "local" worker processes or "ray" tasks); every result in input
    order. A worker that failed gets a failed result, recorded unless the machine was at fault."""
    done = _done_results(items, rerun_failed)
    fresh: dict[int, dict] = {}

    def record(r: ItemResult) -> None:
        if not r.ok:
            item = items[r.index]
            fresh[r.index] = _failed_result(item, r.status or "error", r.error_type, r.message, r.seconds)

    report = run_items(items, fn, workers=workers, executor="process" if executor == "local" else executor,
                       min_success_rate=0.0, deadline_s=deadline_s, heartbeat_timeout_s=heartbeat_timeout_s,
                       progress=progress, stage=STAGE, on_result=record,
                       resumed={i: done[it.episode_index] for i, it in enumerate(items) if it.episode_index in done})
    return [r.value if r.ok else fresh[r.index] for r in report.results]


def summarize(results: list[dict], wall_s: float, resumed: int) -> dict:
    by_task: dict[str, list[bool]] = {}
    for r in results:
        by_task.setdefault(r["task_id"], []).append(bool(r["success"]))
    n_ok = sum(r["success"] for r in results)
    ok_metrics = [r["metrics"] for r in results if r["success"]]

    def stat(key: str) -> dict | None:
        vals = [m[key] for m in ok_metrics if isinstance(m.get(key), (int, float))]
        if not vals:
            return None
        a = np.asarray(vals, dtype=float)
        return {"median": float(np.median(a)), "max": float(a.max()), "min": float(a.min())}

    offsets = np.array([r["metrics"].get("start_offset_m", [0, 0]) for r in results if "start_offset_m" in r["metrics"]])
    yaws = np.array([r["metrics"].get("start_yaw_rad", 0.0) for r in results if "start_yaw_rad" in r["metrics"]])
    arm = np.array([o for r in results for o in r["metrics"].get("start_arm_offset_rad", [])])
    goals = np.array([r["metrics"]["goal_offset_m"] for r in results if "goal_offset_m" in r["metrics"]])
    sim_s = sum(r["metrics"].get("sim_time_s", 0.0) for r in results)
    return {
        "episodes": len(results),
        "succeeded": n_ok,
        "failed": len(results) - n_ok,
        "kept": sum(bool(r.get("kept")) for r in results),
        "resumed_from_journal": resumed,
        "success_rate": n_ok / len(results) if results else 0.0,
        "per_task": {t: {"episodes": len(v), "succeeded": sum(v), "success_rate": sum(v) / len(v)} for t, v in by_task.items()},
        "failure_reasons": dict(Counter(r["failure_reason"] for r in results if not r["success"])),
        "timings": {"wall_s": wall_s, "simulated_s": sim_s,
                    "episode_wall_s": stat("wall_time_s")},
        "quality": {k: stat(k) for k in ("placement_error_m", "min_clearance_to_others_m", "unexpected_contact_frames",
                                         "joint_limit_margin_rad", "peak_joint_velocity_rad_s",
                                         "peak_joint_acceleration_rad_s2", "peak_joint_jerk_rad_s3", "grasp_slip_m",
                                         "settle_penetration_m")},
        "start_poses": {"count": len(yaws),
                        "offset_x_m": [float(offsets[:, 0].min()), float(offsets[:, 0].max())] if len(offsets) else None,
                        "offset_y_m": [float(offsets[:, 1].min()), float(offsets[:, 1].max())] if len(offsets) else None,
                        "yaw_rad": [float(yaws.min()), float(yaws.max())] if len(yaws) else None,
                        "arm_joint_offset_rad": [float(arm.min()), float(arm.max())] if len(arm) else None,
                        "arm_fallbacks": sum(bool(r["metrics"].get("start_arm_fallback")) for r in results),
                        # planned from the nominal start, the drawn one having no plan (engine.plan_episode)
                        "start_returns": sum(bool(r["metrics"].get("start_return")) for r in results),
                        # started from a later draw, the first having no plan (engine.START_DRAWS)
                        "start_redrawn": sum(bool(r["metrics"].get("start_draw")) for r in results),
                        "goal_offset_m": [float(np.abs(goals).max()), int(np.count_nonzero(np.abs(goals).sum(axis=1)))]
                        if len(goals) else None},
        "scene_camera": summarize_cameras(results),
        # simulated again at a finer step after going unstable (engine.UNSTABLE_RETRY_SUBSTEPS)
        "episodes_resimulated": sum(bool(r["metrics"].get("resimulated")) for r in results),
    }


def certificate(scene_id: str, robot: str, summary: dict) -> dict:
    return {
        "scene_id": scene_id,
        "robot": robot,
        "engine": {"name": "MuJoCo", "version": mujoco.__version__, "timestep_s": TIMESTEP_S,
                   "integrator": "implicitfast", "cone": "elliptic", "impratio": 10,
                   "record_fps": FPS, "steps_per_frame": round(1 / (FPS * TIMESTEP_S)),
                   # families whose plans run at a finer step (sim/families/: engine.Family.physics_substeps)
                   "substeps_by_family": {t: f.physics_substeps for t, f in FAMILIES.items() if f.physics_substeps > 1},
                   # an unstable episode is simulated again at this many substeps (engine.run)
                   "unstable_retry_substeps": UNSTABLE_RETRY_SUBSTEPS},
        "checks": {
            "success": "judged from the physics state after release and a 0.5 s still phase: object left its start "
                       f"(> {judge.LEFT_START_M} m), was lifted >= {judge.LIFT_MIN_M} m with both pads touching, "
                       "touches the goal support, centre inside the goal rectangle, upright within "
                       f"{np.rad2deg(judge.UPRIGHT_LIMIT_RAD):.0f} deg, |v| < {judge.REST_SPEED_M_S} m/s, "
                       f"|w| < {judge.REST_ANGULAR_RAD_S} rad/s, other objects moved <= {judge.DISTURB_LIMIT_M} m",
            "success_open_close": "drawer or door joint (signed so that the task's motion, opening or closing, increases it) past the task's target "
                                  f"fraction of its range less {judge.JOINT_TOLERANCE_FRACTION} x range at the end "
                                  "and on every frame after release through a 0.5 s still phase, joint speed < "
                                  f"{judge.JOINT_REST_SPEED}, both pads on the handle after closing and during the "
                                  f"pull, other objects (except those riding on the part) moved <= {judge.DISTURB_LIMIT_M} m",
            "success_push": "judged from the physics state after the hand backed off and a 0.5 s still phase: object "
                            f"left its start (> {judge.LEFT_START_M} m), touched by a robot geom, never rose more than "
                            f"{judge.PUSH_MAX_RISE_M} m, touches its support, centre inside the goal square, upright "
                            f"within {np.rad2deg(judge.UPRIGHT_LIMIT_RAD):.0f} deg, at rest, other objects moved <= "
                            f"{judge.DISTURB_LIMIT_M} m",
            "settling": "0.3 s of physics at t=0 with the arm holding home (resting objects may fall asleep); "
                        "penetration = deepest overlap of a free object with its support or the floor, by "
                        "mj_geomDistance, after it; shift = largest displacement during it",
            "ee_pose": "TCP site pose from mj_kinematics on the recorded joint positions",
            "motion": "joint velocity from the simulator; acceleration and jerk by finite differences at 30 Hz",
            "clearance": "mj_geomDistance between the target and other free objects when within 5 cm",
            "randomization": "target xy +-0.08 m, yaw +-45 deg (push: +-0.03 m, +-10 deg), mass and friction within "
                             "the physics DR ranges, distractors standing alone on furniture xy +-0.015 m and yaw "
                             "+-10 deg, 1 cm apart (pick_place, place_in, stack)",
        },
        "results": {"episodes": summary["episodes"], "success_rate": summary["success_rate"],
                    "per_task": summary["per_task"], "failure_reasons": summary["failure_reasons"],
                    "quality": summary["quality"], "start_poses": summary["start_poses"]},
        "rendering": summary.get("rendering"),
    }


def rendering_summary(options, settings) -> dict | None:
    """How the run's images were made (None without cameras): what the robot is drawn as, the
    look's switches and the cameras (sim/appearance.py, docs/cameras.md)."""
    if not options.render:
        return None
    return {"robot_model": rendered_model(options.robot, True, settings.robot_meshes), "image_size": options.image_size,
            "antialiasing": ANTIALIASING[supersampled(options.image_size)],
            "visual_randomization": options.visual_randomization, "shadows": options.shadows,
            "materials": "physics material and colour words of the manifest, procedural textures",
            "lights": "ceiling spotlights from the room's size and the headlight"}


def run(ctx: StageContext) -> StageResult:
    t0 = time.perf_counter()
    cfg = EpisodesConfig.from_settings(ctx.settings)
    scene_url, physics_url, tasks_url = inputs_of(ctx.out_url)
    robot_by_name(ctx.options.robot)  # unknown robot -> invalid input before any work
    config = load_task_config(tasks_url)
    scene = load_scene(scene_url)
    physics = load_physics(physics_url)  # fail early on a bad physics file
    phrasings.require_key(ctx.settings)  # and on a missing key the phrasings setting needs
    tasks = runnable_tasks(config, ctx.options.robot, scene)
    with contextlib.ExitStack() as stack:
        # a run without images hands its workers the scenes it probed (scenes.write_snapshot), in a
        # private temporary folder removed once they are done
        snapshot_dir = None if ctx.options.render else stack.enter_context(
            tempfile.TemporaryDirectory(prefix="blueprint-scenes-"))
        prepared = prepare_tasks(ctx.out_url, ctx.options.robot, tasks, cameras=ctx.options.render,
                                 snapshot_dir=snapshot_dir)
        infeasible, scene_files = prepared.infeasible, prepared.scene_files
        tasks = [t for t in tasks if t.task_id not in infeasible]
        if not tasks and (ctx.options.episodes is None or ctx.options.episodes > 0):
            raise NoFeasibleTaskError(scene.header.scene_id, ctx.options.robot, config, scene, infeasible)
        families = families_of(tasks, scene.by_id(), physics.objects)
        by_family, instructions = phrasings.for_run(ctx.out_url, prepared.template_families.values(), ctx.settings,
                                                    force=ctx.force)
        items = plan_items(ctx, families, prepared.cameras, prepared.mounts,
                           {t: by_family.get(f, ()) for t, f in prepared.template_families.items()}, prepared.placements,
                           prepared.openings, prepared.snapshots)
        resumed = len(_done_results(items, rerun_failed=ctx.force))
        results = simulate_items(items, ctx.options.workers, deadline_s=cfg.deadline_s,
                                 heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S, progress=ctx.progress,
                                 fn=simulate_item, executor=ctx.options.executor, rerun_failed=ctx.force)
    summary = summarize(results, time.perf_counter() - t0, resumed)
    summary["robot"] = ctx.options.robot
    summary["per_family"] = per_family(summary["per_task"], families)
    summary["rendering"] = rendering_summary(ctx.options, ctx.settings)
    if not ctx.options.render:
        summary["scene_camera"] = None  # no images, no camera chosen (prepare_tasks)
    summary["tasks_skipped"] = [t.task_id for t in config.tasks if t not in tasks and t.task_id not in infeasible]
    summary["tasks_infeasible"] = [{"task_id": k, "reason": v} for k, v in sorted(infeasible.items())]
    summary["mount_fallbacks"] = dict(sorted(prepared.mounts.items()))
    summary["placement_fallbacks"] = dict(sorted(prepared.placements.items()))
    summary["opening_fallbacks"] = dict(sorted(prepared.openings.items()))
    summary["instructions"] = instructions
    storage.atomic_write_json(ctx.url(EPISODES_CERTIFICATE),
                              certificate(scene.header.scene_id, ctx.options.robot, summary))
    storage.atomic_write_json(ctx.url(EPISODES_SUMMARY), summary)
    kept = {episode_filename(r["episode_index"]) for r in results if r.get("kept")}
    data_dir = ctx.url(EPISODES_DATA)
    for name in storage.listdir(data_dir):  # files of an earlier run with other options
        if name.endswith(".npz") and name not in kept:
            storage.remove(storage.join(data_dir, name))
    outputs = [EPISODES_SUMMARY.rel, EPISODES_CERTIFICATE.rel, *scene_files]
    outputs += [EPISODES_PHRASINGS.rel] if instructions["source"] != "templates" else []
    outputs += [f"{EPISODES_DATA.rel}/{name}" for name in sorted(kept)]
    if results and summary["success_rate"] < cfg.min_success_rate:
        raise EpisodesFailedError(f"episodes: success rate {summary['success_rate']:.2f} is below "
                                  f"{cfg.min_success_rate:.2f} (BP_MIN_SUCCESS_RATE) ({summary['failure_reasons']})")
    return StageResult(outputs=outputs, summary={k: summary[k] for k in ("episodes", "succeeded", "success_rate",
                                                                        "failure_reasons")},
                       items_ok=summary["succeeded"], items_failed=summary["failed"])
