"""The task families the episode engine (sim/engine.py) runs, by task type.

Adding a family: a module here with a `engine.Family` subclass (its start, plan, contact masks,
judge and probe), and one entry in FAMILIES below. docs/episodes.md ("Task families") walks
through one.
"""

from __future__ import annotations

from blueprint_pipeline.geniesim.records import TaskSpec
from blueprint_pipeline.sim import engine
from blueprint_pipeline.sim.engine import Beat, Family
from blueprint_pipeline.sim.episode import EpisodeOptions
from blueprint_pipeline.sim.families.open_close import OpenClose
from blueprint_pipeline.sim.families.pick_place import PickPlace
from blueprint_pipeline.sim.families.push import Push
from blueprint_pipeline.sim.records import EpisodeRecord
from blueprint_pipeline.sim.scene_builder import SimScene

FAMILIES: dict[str, Family] = {t: f for f in (
    PickPlace(),
    OpenClose(),
    Push(),
) for t in f.task_types}


def family_of(task: TaskSpec) -> Family:
    """The family that runs `task` (ValueError for a type no family runs)."""
    try:
        return FAMILIES[task.type]
    except KeyError:
        raise ValueError(f"task {task.task_id}: no task family runs {task.type!r} tasks "
                         f"(families: {', '.join(sorted(FAMILIES))})") from None


def simulable(task: TaskSpec, scene_objects: dict) -> bool:
    """Whether the episodes stage can simulate `task` (a family runs its type, and it has what
    that family needs: a goal, an articulated part)."""
    return task.type in FAMILIES and FAMILIES[task.type].simulable(task, scene_objects)


def run_episode(sim: SimScene, task: TaskSpec, episode_index: int, seed: int,
                options: EpisodeOptions = EpisodeOptions(),  # noqa: B008 (frozen)
                heartbeat: Beat | None = None) -> EpisodeRecord:
    """Simulate episode `episode_index` of `task` with its family; reproducible from (scene, task, seed, index)."""
    return engine.run(family_of(task), sim, task, episode_index, seed, options, heartbeat)


def plan_at_rest(sim: SimScene, task: TaskSpec) -> str | None:
    """The task's feasibility probe (its family's): why no collision-free plan exists from the
    nominal start, or None."""
    return family_of(task).probe(sim, task)
