"""Layout plausibility warnings (never errors) naming the objects: floating above the support,
sunk into the floor or the support, boxes overlapping where neither is a container."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from blueprint_pipeline.scene import plausibility
from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.testing.corpus import corpus

EXAMPLES = Path(__file__).parent.parent / "examples"


def _obj(oid: str, centre: tuple[float, float, float], size: tuple[float, float, float], role: str = "static",
         category: str = "thing", yaw_deg: float = 0.0, **extra: object) -> dict:
    """z-up, metres: centre and (width, depth, height)."""
    o = {"id": oid, "sim_role": role, "category": category,
         "transform": {"position": dict(zip("xyz", centre, strict=True)),
                       "rotation_euler": {"roll": 0.0, "pitch": 0.0, "yaw": math.radians(yaw_deg)}},
         "dimensions_est": dict(zip(("width", "depth", "height"), size, strict=True))}
    o.update(extra)
    return o


def _warnings(tmp_path: Path, objects: list[dict], **kw: object) -> list[str]:
    path = tmp_path / "scene_manifest.json"
    path.write_text(json.dumps({"version": "1.0.0", "scene_id": "plaus",
                                "scene": {"coordinate_frame": "z_up"}, "objects": objects}))
    ing = ManifestIngest(str(path), **kw)
    for _ in ing.record_lines():
        pass
    return ing.problems.warnings


TABLE = _obj("table", (0.0, 0.0, 0.375), (1.2, 0.8, 0.75), category="table")


def _mug(z_bottom: float, oid: str = "mug", x: float = 0.0) -> dict:
    return _obj(oid, (x, 0.0, z_bottom + 0.05), (0.08, 0.08, 0.1), role="manipulable_object", category="mug")


def test_a_plausible_scene_has_no_warnings(tmp_path: Path) -> None:
    assert _warnings(tmp_path, [TABLE, _mug(0.75), _mug(0.755, "mug2", x=0.3)]) == []


def test_a_free_object_above_its_support_is_named(tmp_path: Path) -> None:
    (w,) = _warnings(tmp_path, [TABLE, _mug(0.80)])
    assert w == ("objects[*]: free object more than 1 cm above what is under it (it falls at the first step): "
                 "'mug' 5.0 cm above 'table'")


def test_a_free_object_in_the_air_with_nothing_under_it_is_above_the_floor(tmp_path: Path) -> None:
    (w,) = _warnings(tmp_path, [TABLE, _obj("ball", (3.0, 0.0, 0.5), (0.1, 0.1, 0.1), role="clutter")])
    assert w.endswith("'ball' 45.0 cm above the floor")


def test_fixed_objects_may_hang(tmp_path: Path) -> None:
    """A wall cabinet is fixed: it does not fall, so it is not floating."""
    assert _warnings(tmp_path, [TABLE, _obj("wall_shelf", (0.0, 0.0, 1.6), (0.8, 0.3, 0.1))]) == []


def test_sunk_into_the_support(tmp_path: Path) -> None:
    (w,) = _warnings(tmp_path, [TABLE, _mug(0.72)])
    assert w == "objects[*]: sunk more than 1 cm into its support: 'mug' 3.0 cm into 'table'"


def test_sunk_into_the_floor_and_the_floor_object_gives_its_height(tmp_path: Path) -> None:
    (w,) = _warnings(tmp_path, [_obj("crate", (0.0, 0.0, 0.15), (0.4, 0.4, 0.4))])
    assert w == "objects[*]: sunk more than 1 cm into the floor: 'crate' by 5.0 cm"
    floor = _obj("floor_0", (0.0, 0.0, -0.05), (6.0, 6.0, 0.1), role="scene_shell", category="floor")
    raised = _obj("raised_floor", (0.0, 0.0, 0.05), (6.0, 6.0, 0.1), category="floor")  # top at 0.1
    assert _warnings(tmp_path, [floor, _obj("crate", (0.0, 0.0, 0.2), (0.4, 0.4, 0.4))]) == []
    (w,) = _warnings(tmp_path, [raised, _obj("crate", (2.0, 0.0, 0.2), (0.4, 0.4, 0.4))])
    assert w == "objects[*]: sunk more than 1 cm into the floor: 'crate' by 10.0 cm"


def test_overlapping_boxes_are_named_once(tmp_path: Path) -> None:
    a = _obj("chair", (0.0, 0.0, 0.45), (0.5, 0.5, 0.9), category="chair")
    b = _obj("stool", (0.45, 0.0, 0.35), (0.5, 0.5, 0.7), category="stool")
    (w,) = _warnings(tmp_path, [a, b])
    assert w == "objects[*]: boxes overlap by more than 1 cm (neither is a container): 'chair' and 'stool' by 5.0 cm"
    # touching, or overlapping by less than 1 cm, is fine
    b2 = _obj("stool", (0.495, 0.0, 0.35), (0.5, 0.5, 0.7), category="stool")
    assert _warnings(tmp_path, [a, b2]) == []


def test_rotated_boxes_side_by_side_do_not_overlap(tmp_path: Path) -> None:
    """Two boxes turned 45 degrees, 1 mm apart along their own axis: their world-aligned boxes
    overlap by 20 cm, the oriented boxes do not."""
    d = (0.5 + 0.001) / math.sqrt(2)
    a = _obj("crate_a", (0.0, 0.0, 0.25), (0.5, 0.5, 0.5), yaw_deg=45)
    b = _obj("crate_b", (d, d, 0.25), (0.5, 0.5, 0.5), yaw_deg=45)
    assert _warnings(tmp_path, [a, b]) == []
    c = _obj("crate_c", (d - 0.05, d - 0.05, 0.25), (0.5, 0.5, 0.5), yaw_deg=45)  # 7 cm into crate_a
    (w,) = _warnings(tmp_path, [a, c])
    assert "'crate_a' and 'crate_c' by 7.0 cm" in w


@pytest.mark.parametrize("container", [
    {"category": "fruit bowl"},
    {"category": "kitchen cabinet"},
    {"category": "shelving unit"},
    {"category": "storage box", "semantics": {"affordances": ["Container"]}},
    {"category": "thing", "role": "articulated_furniture",
     "articulation": {"type": "prismatic", "axis": "x", "limits": {"lower": 0.0, "upper": 0.3}}},
])
def test_what_is_inside_a_container_is_not_judged(tmp_path: Path, container: dict) -> None:
    spec = dict(container)
    role = spec.pop("role", "static")
    holder = _obj("holder", (0.0, 0.0, 0.5), (0.6, 0.4, 1.0), role=role, **spec)
    inside = _obj("jar", (0.0, 0.0, 0.43), (0.08, 0.08, 0.12), role="manipulable_object", category="jar")
    assert _warnings(tmp_path, [holder, inside]) == []


def test_a_closed_box_is_no_container(tmp_path: Path) -> None:
    holder = _obj("carton", (0.0, 0.0, 0.2), (0.4, 0.4, 0.4), category="cardboard box")
    inside = _obj("jar", (0.0, 0.0, 0.15), (0.08, 0.08, 0.12), role="manipulable_object", category="jar")
    warnings = _warnings(tmp_path, [holder, inside])
    assert any(w.startswith("objects[*]: boxes overlap") and "'carton' and 'jar'" in w for w in warnings)


def test_fruit_resting_in_a_low_tray_is_fine_but_not_above_or_through_it(tmp_path: Path) -> None:
    tray = _obj("tray", (0.0, 0.0, 0.035), (0.4, 0.3, 0.03), category="tray")  # 2 cm feet: 0.02 to 0.05
    apple = _obj("apple", (0.0, 0.0, 0.065), (0.08, 0.08, 0.08), role="manipulable_object", category="apple")
    assert _warnings(tmp_path, [tray, apple]) == []
    above = _obj("apple", (0.0, 0.0, 0.14), (0.08, 0.08, 0.08), role="manipulable_object", category="apple")
    (w,) = _warnings(tmp_path, [tray, above])
    assert w.endswith("'apple' 5.0 cm above 'tray'")
    # a bottle standing in the tray but 2.5 cm below its bottom has gone through it
    through = _obj("bottle", (0.0, 0.0, 0.145), (0.07, 0.07, 0.3), role="manipulable_object", category="bottle")
    (w,) = _warnings(tmp_path, [tray, through])
    assert w == "objects[*]: sunk more than 1 cm into its support: 'bottle' 5.5 cm into 'tray'"


def test_room_shells_are_not_checked(tmp_path: Path) -> None:
    wall = _obj("wall", (0.0, 0.0, 1.0), (5.0, 0.1, 2.2), role="scene_shell", category="wall")
    assert _warnings(tmp_path, [wall, _obj("cabinet_under_wall", (0.0, 0.0, 0.4), (0.6, 0.6, 0.8),
                                            category="desk")]) == []


def test_many_warnings_make_one_line_each_with_the_first_names_and_a_count(tmp_path: Path) -> None:
    mugs = [_mug(0.80, f"mug{i}", x=-0.5 + 0.09 * i) for i in range(12)]
    (w,) = _warnings(tmp_path, [TABLE, *mugs])
    assert w.count("5.0 cm above 'table'") == 10 and w.endswith("and 2 more")


def test_the_repository_examples_are_plausible() -> None:
    for name in ("kitchen.json", "office.json", "warehouse.json"):
        ing = ManifestIngest(str(EXAMPLES / name))
        for _ in ing.record_lines():
            pass
        assert ing.problems.warnings == [], name


def test_the_corpus_containers_hold_their_contents(tmp_path: Path) -> None:
    """The corpus's shelving units, racks and cabinets hold objects on inner shelves: no floating
    or overlap warning may name an object stored in one."""
    for name, manifest in corpus():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(manifest))
        ing = ManifestIngest(str(path))
        for _ in ing.record_lines():
            pass
        assert not any("above what is under it" in w for w in ing.problems.warnings), (name, ing.problems.warnings)


def _random_boxes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, 20, size=(n, 3))
    half = rng.uniform(0.05, 0.6, size=(n, 3))
    half[:3] = (4.0, 4.0, 0.1)  # a few large boxes, as floors and counters are
    return centre - half, centre + half


def test_slabbed_pairs_equal_all_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slabs (each pair found once, boxes spanning slabs included) find exactly the touching
    footprints that comparing all pairs finds."""
    lo, hi = _random_boxes(700, 3)
    idx = np.arange(700)
    monkeypatch.setattr(plausibility, "SLAB_OBJECTS", 64)
    got = plausibility.touching_pairs(lo, hi, idx)
    i, j = np.triu_indices(700, k=1)
    touch = np.all((np.minimum(hi[i, :2], hi[j, :2]) - np.maximum(lo[i, :2], lo[j, :2])) >= 0, axis=1)
    want = {(a, b) for a, b in zip(i[touch], j[touch], strict=True)}
    assert len(got) == len(want)
    assert {(min(a, b), max(a, b)) for a, b in got.tolist()} == want


def test_a_10k_object_scene_finds_the_one_planted_overlap(tmp_path: Path) -> None:
    """10,000 crates on a grid, 1 cm apart except two pushed 3 cm into each other."""
    objects = []
    for k in range(10_000):
        x, y = (k % 100) * 0.31, (k // 100) * 0.31
        objects.append(_obj(f"c{k}", (x, y, 0.15), (0.3, 0.3, 0.3), category="crate_stack"))
    objects[5051]["transform"]["position"]["x"] -= 0.04
    (w,) = _warnings(tmp_path, objects)
    assert w == "objects[*]: boxes overlap by more than 1 cm (neither is a container): 'c5050' and 'c5051' by 3.0 cm"


def test_obb_penetration_matches_the_axis_aligned_case() -> None:
    rng = np.random.default_rng(7)
    m = 200
    ca, cb = rng.uniform(-1, 1, (m, 3)), rng.uniform(-1, 1, (m, 3))
    ea, eb = rng.uniform(0.1, 1.5, (m, 3)), rng.uniform(0.1, 1.5, (m, 3))
    q = np.tile([1.0, 0.0, 0.0, 0.0], (m, 1))
    depth = plausibility.obb_penetration(ca, q, ea, cb, q, eb)
    per_axis = (ea + eb) / 2 - np.abs(cb - ca)
    assert np.allclose(depth, per_axis.min(axis=1))


def test_layout_beyond_its_cap_is_not_checked_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plausibility, "MAX_OBJECTS", 2)
    w = _warnings(tmp_path, [TABLE, _mug(0.9), _mug(0.9, "mug2", x=0.3)])
    assert w == ["objects: layout plausibility not checked (more than 2 objects)"]
