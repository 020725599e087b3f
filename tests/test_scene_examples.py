"""The bundled example scenes: valid in strict mode, realistic, nothing floating or overlapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scene_stream import assert_no_interpenetration

from blueprint_pipeline.scene.ingest import ManifestIngest

EXAMPLES = Path(__file__).parent.parent / "examples"


def load(name: str) -> tuple[ManifestIngest, list[dict]]:
    ing = ManifestIngest(str(EXAMPLES / f"{name}.json"), strict=True)
    return ing, list(ing.records())


@pytest.mark.parametrize("name", ["kitchen", "office", "warehouse"])
def test_example_is_valid_strict_and_plausible(name: str) -> None:
    ing, objs = load(name)
    assert 10 <= len(objs) <= 40
    assert ing.problems.warnings == []
    by_id = {o["id"]: o for o in objs}
    on_something = 0
    for o in objs:
        for rel in o["relationships"]:
            if rel["type"] != "on":
                continue
            support = by_id[rel["object_id"]]
            assert abs(o["aabb_min_m"][2] - support["aabb_max_m"][2]) < 1e-6, (o["id"], support["id"])
            on_something += 1
        if o["sim_role"] == "manipulable_object":
            assert any(r["type"] == "on" for r in o["relationships"]), f"{o['id']} rests on nothing named"
        elif o["sim_role"] != "scene_shell" and abs(o["aabb_min_m"][2]) > 1e-9:
            assert o["relationships"], f"{o['id']} is off the floor and held by nothing named"
    assert on_something >= 8
    assert_no_interpenetration(objs)
    if name != "warehouse":
        assert any(o["articulation"] for o in objs)


def test_frames_and_units_cover_the_contract() -> None:
    frames = {n: load(n)[0].header.scene for n in ("kitchen", "office", "warehouse")}  # type: ignore[union-attr]
    assert frames["kitchen"].coordinate_frame == "z_up"
    assert frames["office"].coordinate_frame == "y_up" and frames["office"].euler_units == "degrees"
    assert frames["office"].meters_per_unit == 0.01


def test_kitchen_has_graspable_objects_within_franka_reach_on_the_table() -> None:
    _, objs = load("kitchen")
    by_id = {o["id"]: o for o in objs}
    table = by_id["dining_table"]
    assert abs(table["aabb_max_m"][2] - 0.75) < 1e-9
    on_table = [o for o in objs if any(r["object_id"] == "dining_table" for r in o["relationships"])]
    graspable = [o for o in on_table if any(a["type"] == "Graspable" for a in o["affordances"])]
    assert len(graspable) >= 5
    for o in graspable:
        if o["category"] != "bowl":  # bowls are held by the rim
            assert min(o["extents_m"][:2]) <= 0.08, o["id"]  # fits the 8 cm gripper stroke
    kinds = {o["category"] for o in graspable}
    assert {"mug", "bowl", "bottle", "box"} <= kinds
    cabinet, drawer = by_id["base_cabinet"], by_id["drawer_unit"]
    assert cabinet["articulation"]["type"] == "revolute" and drawer["articulation"]["type"] == "prismatic"
    assert cabinet["sim_role"] == drawer["sim_role"] == "articulated_furniture"
    assert all(o["physics"] and o["physics"]["material_type"] for o in graspable)
