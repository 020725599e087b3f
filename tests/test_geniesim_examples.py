"""Genie Sim export of the example scenes, end to end from the manifest (kitchen z-up, office y-up)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from blueprint_pipeline.geniesim.native.check import check_bundle
from blueprint_pipeline.geniesim.placement import within_reach
from blueprint_pipeline.geniesim.records import TaskConfig
from blueprint_pipeline.geniesim.relations import inferred_relations
from blueprint_pipeline.geniesim.robots import ROBOTS
from blueprint_pipeline.contract import StageContext
from blueprint_pipeline.pipeline import stage_by_name
from blueprint_pipeline.scene.io import load_scene

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _export(name: str, out: Path):
    ctx = StageContext(manifest_url=str(EXAMPLES / f"{name}.json"), out_url=str(out))
    for stage in ("scene", "simready", "usd", "geniesim"):
        stage_by_name(stage).run(ctx)
    scene = load_scene(str(out / "scene" / "normalized.jsonl"))
    graph = json.loads((out / "geniesim" / "scene_graph.json").read_text())
    tasks = TaskConfig.model_validate_json((out / "geniesim" / "task_config.json").read_text())
    ids = [o.id for o in scene.objects]
    inferred = {(ids[a], rel, ids[b]) for a, b, rel, _ in inferred_relations(scene.objects)}
    return scene, graph, tasks, inferred, out / "geniesim" / "native"


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory):
    return _export("kitchen", tmp_path_factory.mktemp("kitchen"))


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    return _export("office", tmp_path_factory.mktemp("office"))


def _stated_on(scene):
    return {(r.subject_id, "on", r.object_id) for o in scene.objects for r in o.relationships if r.type == "on"}


def _edges_are_near(scene, graph):
    by_id = scene.by_id()
    for e in graph["edges"]:
        a, b = by_id[e["source"]], by_id[e["target"]]
        gap = np.maximum(np.subtract(a.aabb_min_m, b.aabb_max_m), np.subtract(b.aabb_min_m, a.aabb_max_m))
        assert gap.max() <= 0.15 + 1e-6, e


def test_kitchen_relations(kitchen):
    scene, graph, _, inferred, _ = kitchen
    stated = _stated_on(scene)
    assert stated and stated <= inferred  # inference alone finds every `on` the manifest states
    assert {("mug_red", "on", "dining_table"), ("mug_white", "on", "counter"), ("apple", "on", "cutting_board"),
            ("counter", "on", "floor"), ("counter", "adjacent", "drawer_unit")} <= inferred
    assert ("apple", "on", "counter") not in inferred  # the apple is on the board, not the counter
    pairs = {frozenset((s, t)) for s, _, t in inferred}
    for far in (("mug_red", "counter"), ("fridge", "dining_table"), ("mug_white", "mug_red"), ("trash_bin", "counter")):
        assert frozenset(far) not in pairs
    assert not any(rel == "aligned" for _, rel, _ in inferred)  # nothing is turned: no aligned noise
    _edges_are_near(scene, graph)
    manifest_edges = [e for e in graph["edges"] if e["origin"] == "manifest"]
    assert len(manifest_edges) == len(stated)


def test_office_relations_from_y_up_centimetres(office):
    scene, graph, _, inferred, _ = office
    assert scene.header.source_frame == "y_up"
    stated = _stated_on(scene)
    assert stated and stated <= inferred
    assert {("keyboard", "on", "desk"), ("mug", "on", "desk"), ("storage_box", "on", "bookshelf"),
            ("water_bottle", "on", "filing_cabinet"), ("desk", "on", "floor"), ("desk", "adjacent", "office_chair")} <= inferred
    pairs = {frozenset((s, t)) for s, _, t in inferred}
    for wrong in (("office_chair", "keyboard"), ("door", "desk"), ("plant", "bookshelf"), ("mug", "bookshelf")):
        assert frozenset(wrong) not in pairs
    assert not any(rel == "aligned" for _, rel, _ in inferred)
    _edges_are_near(scene, graph)


@pytest.mark.parametrize("which", ["kitchen", "office"])
def test_example_tasks_within_reach_from_the_floor(which, request):
    scene, _, config, _, _ = request.getfixturevalue(which)
    by_id = scene.by_id()
    tasks = config.tasks
    assert any(t.type == "pick_place" for t in tasks)
    for t in tasks:
        target = by_id[t.target_object_id]
        assert min(target.extents_m[:2]) <= 0.075 or t.type in ("open_close", "push")  # push: what does not fit
        franka = t.robot_placements["franka"]
        assert franka.base_position_m[2] == 0.0
        if t.goal is not None:
            lift = target.extents_m[2] / 2
            points = np.array([target.position_m, (t.goal.center_m[0], t.goal.center_m[1], t.goal.surface_z_m + lift)])
            for name, p in t.robot_placements.items():
                spec = ROBOTS[name]  # the arm on its pedestal at the goal surface, as the episodes stage mounts it
                mount = None if spec.mount_above_surface_m is None else t.goal.surface_z_m + spec.mount_above_surface_m
                assert within_reach(spec, p, points, mount) <= 1.0 + 1e-6, (t.task_id, name)
        for o in scene.objects:
            if o.sim_role.value in ("scene_shell", "background") or o.aabb_max_m[2] <= 0.03:
                continue
            lo, hi = o.aabb_min_m, o.aabb_max_m
            x, y = franka.base_position_m[:2]
            d = np.hypot(max(lo[0] - x, x - hi[0], 0.0), max(lo[1] - y, y - hi[1], 0.0))
            assert d >= ROBOTS["franka"].base_radius_m - 1e-9, (t.task_id, o.id)


@pytest.mark.parametrize("which", ["kitchen", "office"])
def test_example_native_bundle_passes_check(which, request):
    scene, _, config, _, native = request.getfixturevalue(which)
    counts = check_bundle(native)
    assert counts["tasks"] == sum(t.type == "pick_place" and "g2" in t.robot_placements for t in config.tasks) >= 1
    assert counts["objects"] >= len(scene.objects)


def test_scene_graph_points_at_the_usd_stage_files(kitchen):
    _, graph, _, _, native = kitchen
    out = native.parent.parent
    for node in graph["nodes"]:
        assert (out / node["usd_path"]).is_file(), node["usd_path"]
