"""Compiled scenes of a task, per process: the episodes stage's probes, its workers and the
evaluation environment build a task's MuJoCo scene from the outputs' three input files
(SCENE_NORMALIZED, SIMREADY_PHYSICS, GENIESIM_TASK_CONFIG) through `compiled`, which keeps a few
(`_SIM_CACHE_SIZE`), and parses those files once per process while they are unchanged
(`loaded_inputs`). A compiled scene is keyed by the inputs' stat keys too, so a folder whose
inputs were written again in the same process is compiled anew.

A task is compiled at its placement's base pose, or at one of its other base poses
(`placement_index`), on another pedestal (`mount_z_m`, `default_mount`), or with its drawer or
door opened to another fraction (`joint_fraction`): the stage's fallbacks (sim/stage.py
`prepare_tasks`).

Snapshots: the stage's process compiles, probes and settles every task's scene before any episode
(`prepare_tasks`); `write_snapshot` hands that scene to the worker processes as a pickle in a
private temporary folder, and `from_snapshot` loads it there instead of compiling and settling it
again (see `write_snapshot` for what it holds and why the episodes stay the same).
"""

from __future__ import annotations

import json
import os
import pickle
import posixpath
import tempfile

import mujoco
from pydantic import ValidationError

from blueprint_pipeline import storage
from blueprint_pipeline.contract import GENIESIM_TASK_CONFIG, SCENE_NORMALIZED, SIMREADY_PHYSICS
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.geniesim.records import TASK_CONFIG_SCHEMA, TaskConfig, TaskSpec
from blueprint_pipeline.robots import robot_by_name
from blueprint_pipeline.robots.visuals import robot_visuals
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.sim.camera import CameraChoice, choose_scene_camera
from blueprint_pipeline.sim.scene_builder import SimScene, build_sim_scene
from blueprint_pipeline.simready.io import load_physics
from blueprint_pipeline.simready.meshes import load_meshes


def inputs_of(out_url: str) -> tuple[str, str, str]:
    return SCENE_NORMALIZED.url(out_url), SIMREADY_PHYSICS.url(out_url), GENIESIM_TASK_CONFIG.url(out_url)


def load_task_config(url: str) -> TaskConfig:
    if not storage.exists(url):
        raise InvalidInputError(f"{url}: task config not found (run the geniesim stage first)")
    try:
        raw = storage.read_json(url)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{url}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(raw, dict) or raw.get("schema") != TASK_CONFIG_SCHEMA:
        got = raw.get("schema") if isinstance(raw, dict) else None
        raise InvalidInputError(f"{url}: unsupported task config schema {got!r} (expected {TASK_CONFIG_SCHEMA})")
    try:
        return TaskConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()[:20]]
        raise InvalidInputError(f"{url}: invalid task config", problems) from None


_SIM_CACHE: dict[tuple, tuple[SimScene, TaskSpec]] = {}  # insertion-ordered: oldest first
_SIM_CACHE_SIZE = 8
_INPUTS: dict[str, tuple[tuple, tuple]] = {}  # out_url -> (the files' stat keys, their parsed records)


def _stat(url: str) -> tuple | None:
    try:
        key = storage.stat_key(url)
    except OSError:  # missing: the loader says so
        return None
    return None if key is None else tuple(key)


def input_keys(out_url: str) -> tuple:
    """The stat keys of the outputs' three input files (None each on an object store or missing)."""
    return tuple(_stat(u) for u in inputs_of(out_url))


def loaded_inputs(out_url: str, keys: tuple | None = None) -> tuple:
    """(scene, physics, task config) of the outputs at `out_url`, parsed once per process while
    their files are unchanged (`input_keys`, or `keys` when the caller has them; read again on
    object stores): every compiled scene (a task, each of its other base poses) read and validated
    the three files anew, a quarter of the compiling's CPU on the corpus. The records are frozen
    pydantic models."""
    urls = inputs_of(out_url)
    keys = input_keys(out_url) if keys is None else keys
    cached = _INPUTS.get(out_url)
    if cached is not None and cached[0] == keys and None not in keys:
        return cached[1]
    scene_url, physics_url, tasks_url = urls
    records = (load_scene(scene_url), load_physics(physics_url), load_task_config(tasks_url))
    if len(_INPUTS) >= _SIM_CACHE_SIZE:
        _INPUTS.pop(next(iter(_INPUTS)))
    _INPUTS[out_url] = (keys, records)
    return records


def sim_for(out_url: str, robot_name: str, task_id: str, camera: CameraChoice | None = None,
            mount_z_m: float | None = None, choose_camera: bool = True,
            robot_meshes: bool = False, placement_index: int = 0,
            joint_fraction: float | None = None) -> tuple[SimScene, TaskSpec]:
    """The compiled scene for (outputs, robot, task) with its scene camera: `camera` when given
    (the stage's choice), else chosen here once (sim/camera.py) unless `choose_camera` is off (a
    run without images); `mount_z_m`, `robot_meshes`, `placement_index` and `joint_fraction` as
    for `compiled`."""
    sim, task = compiled(out_url, robot_name, task_id, mount_z_m, robot_meshes, placement_index, joint_fraction)
    if camera is not None:
        if getattr(sim, "scene_camera", None) != camera:
            camera.apply(sim)
    elif choose_camera and getattr(sim, "scene_camera", None) is None:
        choose_scene_camera(sim, task)  # the scene camera of this task sees its work
    return sim, task


def surface_mount(task: TaskSpec, robot_name: str) -> float:
    """The arm's pedestal top for a task with a goal: the goal surface plus the robot's
    `mount_above_surface_m` (robots/description.py)."""
    assert task.goal is not None
    return task.goal.surface_z_m + robot_by_name(robot_name).mount_above_surface_m


def default_mount(task: TaskSpec, robot_name: str) -> float | None:
    """The arm's mount when the task's placement names another (the shoulder at a shelf's board,
    geniesim/tasks._shoulder_at_board): `surface_mount`. None when the placement names none, or
    no other."""
    placement = task.robot_placements[robot_name]
    if placement.mount_z_m is None or task.goal is None:
        return None
    mount = surface_mount(task, robot_name)
    return None if abs(mount - placement.mount_z_m) < 1e-6 else mount


def compiled(out_url: str, robot_name: str, task_id: str, mount_z_m: float | None = None,
             robot_meshes: bool = False, placement_index: int = 0,
             joint_fraction: float | None = None) -> tuple[SimScene, TaskSpec]:
    """The compiled scene for (outputs, robot, task), built once per process (a few kept);
    `mount_z_m`: the arm's pedestal top instead of the placement's (`default_mount`);
    `robot_meshes`: the robot drawn with its meshes when they are installed (robots/visuals.py;
    for renders only: probes and runs without images compile without them); `placement_index`:
    the base pose of the task's `placement_alternatives` (1-based; 0: its placement);
    `joint_fraction`: an open_close task's drawer or door opened to it (its
    `joint_target_fraction`), or a closing's started from it (`joint_start_fraction`). The task
    returned has that pose as its placement, and that fraction."""
    # keyed by the inputs' stat keys too: a scene compiled before its inputs were written again
    # in this process (a rerun of the same folder) is not reused
    keys = input_keys(out_url)
    key = (out_url, robot_name, task_id, mount_z_m, robot_meshes, placement_index, joint_fraction, keys)
    if key not in _SIM_CACHE:
        physics_url = inputs_of(out_url)[1]
        scene, physics, config = loaded_inputs(out_url, keys)
        task = next(t for t in config.tasks if t.task_id == task_id)
        if placement_index:
            task = task.model_copy(update={"robot_placements": task.robot_placements | {
                robot_name: task.placement_alternatives[robot_name][placement_index - 1]}})
        if joint_fraction is not None:
            field = "joint_start_fraction" if task.joint_start_fraction is not None else "joint_target_fraction"
            task = task.model_copy(update={field: joint_fraction})
        placement = task.robot_placements[robot_name]
        by_id = scene.by_id()
        support = by_id.get(task.goal.support_object_id) if task.goal else None
        robot = robot_by_name(robot_name)
        # the arm stands on a pedestal at the height of the surface it works on (a shelf's board),
        # or where the placement says (a microwave's door on a counter, the Franka's shoulder at a
        # shelf's board: geniesim/tasks.py), or where the stage fell back to (`default_mount`)
        mount = surface_mount(task, robot_name) if support is not None else None
        if placement.mount_z_m is not None:
            mount = placement.mount_z_m
        if mount_z_m is not None:
            mount = mount_z_m
        sim = build_sim_scene(scene, physics, robot, placement.base_position_m,
                              placement.base_orientation_wxyz, mount_top_z_m=mount,
                              meshes=load_meshes(posixpath.dirname(physics_url), physics),
                              robot_visuals=robot_visuals(robot) if robot_meshes else None)
        if len(_SIM_CACHE) >= _SIM_CACHE_SIZE:  # a few compiled scenes per worker keep memory bounded
            _SIM_CACHE.pop(next(iter(_SIM_CACHE)))
        _SIM_CACHE[key] = (sim, task)
    return _SIM_CACHE[key]


# --- snapshots: the stage's compiled, probed and settled scene, for its workers -----------------

# SimScene fields a snapshot leaves out: the MjSpec (not picklable; only the stage's process
# writes MJCF and textures from it, and runs with images compile their own scene with the robot's
# meshes), its MJCF text, and the per-scene working buffers (made again on first use)
_SNAPSHOT_SKIP = frozenset({"spec", "mjcf", "_episode_data", "_scratch_data"})
_SNAPSHOTS: dict[str, tuple[SimScene, TaskSpec]] = {}  # path -> scene, a few per worker (as _SIM_CACHE)


def write_snapshot(folder: str, sim: SimScene, task: TaskSpec) -> str:
    """Pickle the scene as the stage's process holds it after the task's feasibility probe: the
    compiled model, the settled start (episode.settled_start), the task's start state (a closing's:
    where its opening's plan leaves the arm) and the arm's IK model, all cached on `sim`. Written to
    a new file in `folder` (the stage's private temporary folder, never the outputs: a pickle is
    code to whoever loads it); its path is returned once the file is complete.

    Why: a worker compiled and settled every task's scene again, and a closing planned its opening
    again (4.2 of the Franka corpus's 56 CPU seconds in the workers; loading costs a few
    milliseconds a scene). The episodes do not change: an episode is a function of (scene, task,
    seed, index), and every user of the scene restores what an episode or a probe changes on it
    (SimScene.restore_nominal, scene_builder.prepare_for_target) - the corpus run in one process,
    where the episodes use the very scenes the probes used, gives the same episode files as worker
    processes that compile their own (tests/test_episodes_stage.py)."""
    state = {k: v for k, v in sim.__dict__.items() if k not in _SNAPSHOT_SKIP}
    fd, path = tempfile.mkstemp(prefix=f"{task.task_id[:60]}-", suffix=".pickle", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        _Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump((state, task))
    return path


# MjData's own pickling (mujoco 4.0) leaves out how many bodies, trees and degrees of freedom
# are awake: a settled start with sleeping clutter came back with all of them counted awake, and
# its first step failed in mj_sleep ("found sleeping tree 0 in island 0"). They are carried along.
_AWAKE_COUNTS = ("nbody_awake", "ntree_awake", "nv_awake")


def _data_with_counts(data: bytes, counts: tuple[int, ...]) -> mujoco.MjData:
    d = pickle.loads(data)  # noqa: S301 - as from_snapshot
    for name, n in zip(_AWAKE_COUNTS, counts, strict=True):
        setattr(d, name, n)
    return d


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, mujoco.MjData):
            return _data_with_counts, (pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL),
                                       tuple(int(getattr(obj, n)) for n in _AWAKE_COUNTS))
        return NotImplemented


def from_snapshot(path: str) -> tuple[SimScene, TaskSpec] | None:
    """The scene and task `write_snapshot` wrote at `path`, loaded once per process (a few kept);
    None when the file cannot be read (a worker on another machine, a file cut short: the caller
    compiles)."""
    if path not in _SNAPSHOTS:
        try:
            with open(path, "rb") as fh:
                state, task = pickle.load(fh)  # noqa: S301 - written by this run's own process (write_snapshot)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None
        sim = object.__new__(SimScene)
        sim.__dict__.update(state)
        sim.spec = None
        if len(_SNAPSHOTS) >= _SIM_CACHE_SIZE:
            _SNAPSHOTS.pop(next(iter(_SNAPSHOTS)))
        _SNAPSHOTS[path] = (sim, task)
    return _SNAPSHOTS[path]
