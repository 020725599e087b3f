"""Dealing a run's episodes over its tasks (sim/dealing.py) and the instructions that follow."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pyarrow.parquet as pq

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.geniesim.records import TaskConfig
from blueprint_pipeline.geniesim.tasks import families_of
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.sim import language
from blueprint_pipeline.sim.dealing import deal
from blueprint_pipeline.simready.io import load_physics

FAMILIES = {"p1": "pick_place", "p2": "pick_place", "p3": "pick_place", "p4": "pick_place", "p5": "pick_place",
            "i1": "place_in", "i2": "place_in", "s": "stack", "u": "push", "od": "open_drawer",
            "cd": "close_drawer", "oo": "open_door", "co": "close_door"}


def test_every_task_first_then_families_balanced():
    dealt = deal(FAMILIES, 40)
    assert len(dealt) == 40
    assert {d.task_id for d in dealt[:13]} == set(FAMILIES)  # every task once before any repeats
    per_family = Counter(FAMILIES[d.task_id] for d in dealt)
    assert set(per_family.values()) == {5}, per_family  # 40 episodes over 8 families
    per_task = Counter(d.task_id for d in dealt)
    assert per_task["i1"] - per_task["i2"] in (0, 1)  # within a family, its tasks in turn
    for task_id in FAMILIES:  # slots count each task's episodes from 0
        assert [d.slot for d in dealt if d.task_id == task_id] == list(range(per_task[task_id]))
    assert deal(FAMILIES, 40) == dealt  # a function of the task list and the count only


def test_a_short_run_covers_the_families_before_repeating_one():
    dealt = deal(FAMILIES, 8)
    assert len({FAMILIES[d.task_id] for d in dealt}) == 8
    assert deal(FAMILIES, 0) == [] and deal({}, 5) == []


def test_a_tasks_first_episodes_read_different_templates():
    from blueprint_pipeline.testing.tabletop import drawer_scene
    from blueprint_pipeline.robots.description import FRANKA
    from blueprint_pipeline.sim.scene_builder import build_sim_scene

    scene, physics, config = drawer_scene()
    task = config.tasks[0]
    p = task.robot_placements[FRANKA.name]
    sim = build_sim_scene(scene, physics, FRANKA, p.base_position_m, p.base_orientation_wxyz)
    n = len(language.TEMPLATES[language.family(sim, task)])
    dealt = [language.instruction(sim, task, i, seed=3, slot=i) for i in range(n)]
    assert len(set(dealt)) == n  # the drawer's name is fixed: only the template varies
    assert [language.instruction(sim, task, 40 + i, seed=3, slot=n + i) for i in range(n)] == dealt  # cycles
    assert dealt != [language.instruction(sim, task, i, seed=4, slot=i) for i in range(n)]  # order from the seed


def test_a_40_episode_kitchen_dataset_has_five_instructions_per_family(kitchen, tmp_path):
    """The language issue's target on the example kitchen, read back from the written dataset."""
    ctx = StageContext(manifest_url=str(kitchen), out_url=str(tmp_path),
                       options=RunOptions.create(episodes=40, workers=2))
    run_pipeline(ctx)
    summary = json.loads((tmp_path / "episodes" / "summary.json").read_text())
    assert {f: v["episodes"] for f, v in summary["per_family"].items()} == {
        f: 5 for f in ("pick_place", "place_in", "stack", "push", "open_drawer", "close_drawer", "open_door",
                       "close_door")}
    assert sum(v["tasks"] for v in summary["per_family"].values()) == len(summary["per_task"])
    config = TaskConfig.model_validate_json((tmp_path / "geniesim" / "task_config.json").read_text())
    scene = load_scene(str(tmp_path / "scene" / "normalized.jsonl"))
    physics = load_physics(str(tmp_path / "simready" / "physics.json")).objects
    family_of_task = families_of(config.tasks, scene.by_id(), physics)
    task_of = {r["episode_index"]: r["task_id"]
               for r in pq.read_table(tmp_path / "dataset" / "meta" / "blueprint_episodes.parquet").to_pylist()}
    said: dict[str, set[str]] = defaultdict(set)
    for m in pq.read_table(tmp_path / "dataset" / "meta" / "episodes").to_pylist():
        said[family_of_task[task_of[m["episode_index"]]]].update(m["tasks"])
    assert set(said) == set(summary["per_family"])
    for fam, texts in said.items():
        assert len(texts) >= 5, (fam, texts)
