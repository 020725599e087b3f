"""place_in into an opened drawer (scene/drawers.py, geniesim/tasks.py `_into_drawer`): a drawer
inside its carcass is a tray, the task starts it open, and the object ends on its floor."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.geniesim.placement import drawer_pull
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.scene.drawers import exposed_inside, tray_of
from blueprint_pipeline.scene.floor import floor_height_m
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.sim import language
from blueprint_pipeline.sim.families.pick_place import begin_pick_place
from blueprint_pipeline.sim.opening import PartJoint
from blueprint_pipeline.sim.scenes import sim_for
from blueprint_pipeline.testing.corpus import corpus
from blueprint_pipeline.testing.runs import episode_results, run_to_episodes

TASK = "pick_place_perfume_into_dresser_drawer"


@pytest.fixture(scope="module")
def bedroom(tmp_path_factory):
    return run_to_episodes("bedroom", dict(corpus())["bedroom_m_z"], tmp_path_factory.mktemp("drawer"))


def _scene_of(manifest_path, out):
    """The scene stage's normalised scene of a manifest."""
    run_pipeline(StageContext(manifest_url=str(manifest_path), out_url=str(out), options=RunOptions()), only="scene")
    return load_scene(str(out / "scene" / "normalized.jsonl"))


def test_a_drawer_inside_its_carcass_is_a_tray_and_a_drawer_unit_is_not(bedroom, kitchen, tmp_path):
    scene = load_scene(str(bedroom / "scene" / "normalized.jsonl"))
    drawer = scene.by_id()["dresser_drawer"]
    tray = tray_of(drawer, scene.objects)
    assert tray is not None and tray.carcass_id == "dresser"
    sim, _ = sim_for(str(bedroom), "franka", TASK)
    walls = [g for g in sim.object_geom_ids("dresser_drawer") if sim.model.geom(g).name.startswith("obj:dresser_drawer:wall")]
    assert len(walls) == 4 and sim.is_container("dresser_drawer")
    # the example kitchen's drawer unit has things on its top and no carcass: one solid box
    kitchen_scene = _scene_of(kitchen, tmp_path)
    assert tray_of(kitchen_scene.by_id()["drawer_unit"], kitchen_scene.objects) is None


def test_the_task_starts_the_drawer_open_and_its_goal_is_the_part_out_of_the_carcass(bedroom):
    config = json.loads((bedroom / "geniesim" / "task_config.json").read_text())
    task = next(t for t in config["tasks"] if t["task_id"] == TASK)
    opening = next(t for t in config["tasks"] if t["task_id"] == "open_close_dresser_drawer")
    assert task["type"] == "pick_place" and task["goal"]["support_object_id"] == "dresser_drawer"
    assert task["joint_start_fraction"] == opening["joint_target_fraction"]
    scene = load_scene(str(bedroom / "scene" / "normalized.jsonl"))
    by_id = scene.by_id()
    drawer, dresser = by_id["dresser_drawer"], by_id["dresser"]
    # the goal lies in front of the dresser's face, inside the opened tray
    _, pull, travel = drawer_pull(drawer, opening["joint_target_fraction"], floor_height_m(scene.objects), scene.objects)
    inside = exposed_inside(drawer, dresser, pull, travel)
    centre = np.array(task["goal"]["center_m"])
    assert np.allclose(centre[:2], inside.centre_m[:2]) and centre[2] == pytest.approx(inside.floor_z_m)
    face = max(float(np.asarray(c)[:2] @ pull[:2]) for c in (dresser.aabb_min_m, dresser.aabb_max_m))
    assert float(centre[:2] @ pull[:2]) - 0.5 * task["goal"]["size_m"][0] > face
    # in the compiled scene the episode starts with the drawer at that fraction
    sim, spec = sim_for(str(bedroom), "franka", TASK)
    st = begin_pick_place(sim, spec, 0, 0)
    joint = PartJoint.of(sim, "dresser_drawer")
    assert st.data.qpos[joint.qpos_adr] == pytest.approx(joint.at(task["joint_start_fraction"]), abs=2e-3)


def test_the_object_ends_on_the_drawers_floor(bedroom):
    results = [r for r in episode_results(bedroom) if r["task_id"] == TASK]
    assert results and all(r["success"] for r in results), [r["metrics"]["checks"] for r in results]
    sim, _ = sim_for(str(bedroom), "franka", TASK)
    for r in results:
        checks = r["metrics"]["checks"]
        assert checks["touches_goal_support"] and checks["inside_goal_region"] and checks["at_rest"]
    # the language family is place_in ("put the perfume into the dresser drawer")
    assert language.family(sim, sim_for(str(bedroom), "franka", TASK)[1]) == "place_in"
