"""Normalisation to z-up SI with numbers a person can check by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from blueprint_pipeline.errors import InvalidInputError

from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.scene.io import load_scene, write_normalized_streaming
from blueprint_pipeline.rotations import quat_from_euler, quat_to_matrix
from blueprint_pipeline.scene.normalise import y_up_to_z_up, y_up_to_z_up_quat
from blueprint_pipeline.scene.records import SceneObject

S = math.sqrt(0.5)


def ingest(tmp_path: Path, scene: dict, objects: list[dict], name: str = "m.json") -> tuple[dict, list[SceneObject]]:
    manifest = {"version": "1.0.0", "scene_id": "t", "scene": scene, "objects": objects}
    path = tmp_path / name
    path.write_text(json.dumps(manifest))
    ing = ManifestIngest(str(path))
    objs = list(ing.objects())
    return ing.header_record().model_dump(), objs


def table(frame: str, **transform_extra: object) -> dict:
    # 1.2 wide, 0.75 high, 0.8 deep, its centre half its height above the floor.
    pos = {"x": 1.0, "y": 0.375, "z": -2.0} if frame == "y_up" else {"x": 1.0, "y": 2.0, "z": 0.375}
    return {"id": "table", "sim_role": "static", "category": "table",
            "transform": {"position": pos, **transform_extra},
            "dimensions_est": {"width": 1.2, "depth": 0.8, "height": 0.75}}


def approx(v: object, expected: object, tol: float = 1e-9) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(v, expected, strict=True))  # type: ignore[arg-type]


def test_y_up_table_top_is_at_z_0_75(tmp_path: Path) -> None:
    header, (t,) = ingest(tmp_path, {"coordinate_frame": "y_up"}, [table("y_up")])
    # (x, y, z) -> (x, -z, y): centre (1, 0.375, -2) -> (1, 2, 0.375)
    assert approx(t.position_m, (1.0, 2.0, 0.375))
    assert approx(t.extents_m, (1.2, 0.8, 0.75))  # (width, depth, height) along local x, y, z
    assert approx(t.aabb_max_m, (1.6, 2.4, 0.75))  # the top at z = 0.75
    assert approx(t.aabb_min_m, (0.4, 1.6, 0.0))  # the feet on the floor
    assert approx(t.orientation_wxyz, (1.0, 0.0, 0.0, 0.0))
    assert header["source_frame"] == "y_up"
    assert approx(header["gravity_m_s2"], (0.0, 0.0, -9.81))


def test_y_up_and_z_up_descriptions_of_the_same_table_agree(tmp_path: Path) -> None:
    _, (a,) = ingest(tmp_path, {"coordinate_frame": "y_up"}, [table("y_up")], "a.json")
    _, (b,) = ingest(tmp_path, {"coordinate_frame": "z_up"}, [table("z_up")], "b.json")
    for field in ("position_m", "extents_m", "aabb_min_m", "aabb_max_m", "orientation_wxyz"):
        assert approx(getattr(a, field), getattr(b, field)), field


def test_conversion_is_a_rotation_not_a_mirror() -> None:
    assert y_up_to_z_up((1.0, 2.0, 3.0)) == (1.0, -3.0, 2.0)
    # Right-handedness survives: x cross y = z before and after.
    ex, ey, ez = (y_up_to_z_up(v) for v in ((1, 0, 0), (0, 1, 0), (0, 0, 1)))
    cross = (ex[1] * ey[2] - ex[2] * ey[1], ex[2] * ey[0] - ex[0] * ey[2], ex[0] * ey[1] - ex[1] * ey[0])
    assert approx(cross, ez)
    # A y-up quarter turn about the vertical (y) is a z-up quarter turn about z.
    q_yup = (S, 0.0, S, 0.0)
    assert approx(y_up_to_z_up_quat(q_yup), (S, 0.0, 0.0, S))


def test_scale_multiplies_dimensions_and_meters_per_unit_scales_lengths(tmp_path: Path) -> None:
    obj = table("z_up", scale={"x": 2.0, "y": 1.0, "z": 0.5})
    obj["transform"]["position"] = {"x": 100.0, "y": 200.0, "z": 18.75}
    obj["dimensions_est"] = {"width": 120.0, "depth": 80.0, "height": 75.0}  # centimetres
    _, (t,) = ingest(tmp_path, {"coordinate_frame": "z_up", "meters_per_unit": 0.01}, [obj])
    assert approx(t.extents_m, (2.4, 0.8, 0.375))
    assert approx(t.position_m, (1.0, 2.0, 0.1875))
    assert t.scale == (2.0, 1.0, 0.5)
    assert approx(t.aabb_max_m, (2.2, 2.4, 0.375))


def test_y_up_scale_follows_its_axis(tmp_path: Path) -> None:
    # In y-up, scale.y stretches the height; after conversion height is local z.
    _, (t,) = ingest(tmp_path, {"coordinate_frame": "y_up"}, [table("y_up", scale={"x": 1.0, "y": 2.0, "z": 1.0})])
    assert approx(t.extents_m, (1.2, 0.8, 1.5))
    assert t.scale == (1.0, 1.0, 2.0)


def test_euler_radians_by_default_and_degrees_when_declared(tmp_path: Path) -> None:
    rad = table("z_up", rotation_euler={"roll": 0.0, "pitch": 0.0, "yaw": math.pi / 2})
    deg = table("z_up", rotation_euler={"roll": 0.0, "pitch": 0.0, "yaw": 90.0})
    _, (a,) = ingest(tmp_path, {"coordinate_frame": "z_up"}, [rad], "a.json")
    _, (b,) = ingest(tmp_path, {"coordinate_frame": "z_up", "euler_units": "degrees"}, [deg], "b.json")
    assert approx(a.orientation_wxyz, (S, 0.0, 0.0, S))
    assert approx(b.orientation_wxyz, (S, 0.0, 0.0, S))
    # Turned a quarter about z, the 1.2 x 0.8 table covers 0.8 x 1.2 of floor.
    assert approx(a.aabb_min_m, (0.6, 1.4, 0.0)) and approx(a.aabb_max_m, (1.4, 2.6, 0.75))


def test_euler_order_is_z_then_y_then_x() -> None:
    # R = Rz(yaw) Ry(pitch) Rx(roll): the x axis after roll=90, yaw=90 points along +y.
    r = quat_to_matrix(quat_from_euler(math.pi / 2, 0.0, math.pi / 2))
    x_axis = (r[0][0], r[1][0], r[2][0])
    z_axis = (r[0][2], r[1][2], r[2][2])
    assert approx(x_axis, (0.0, 1.0, 0.0))
    assert approx(z_axis, (1.0, 0.0, 0.0))  # local z: rolled to -y, then yawed to +x


def test_rotated_box_aabb(tmp_path: Path) -> None:
    cube = {"id": "c", "category": "box", "transform": {"position": {"x": 0, "y": 0, "z": 0.5},
            "rotation_quaternion": {"w": math.cos(math.pi / 8), "x": 0, "y": 0, "z": math.sin(math.pi / 8)}},
            "dimensions_est": {"width": 1.0, "depth": 1.0, "height": 1.0}}
    _, (c,) = ingest(tmp_path, {"coordinate_frame": "z_up"}, [cube])
    half = math.sqrt(2) / 2  # a unit cube turned 45 degrees
    assert approx(c.aabb_min_m, (-half, -half, 0.0)) and approx(c.aabb_max_m, (half, half, 1.0))


def test_quaternions_are_normalised_with_w_non_negative(tmp_path: Path) -> None:
    obj = table("z_up", rotation_quaternion={"w": -2.0, "x": 0.0, "y": 0.0, "z": 0.0})
    _, (t,) = ingest(tmp_path, {"coordinate_frame": "z_up"}, [obj])
    assert t.orientation_wxyz == (1.0, 0.0, 0.0, 0.0)


def test_articulation_axes_and_limits(tmp_path: Path) -> None:
    door = table("y_up")
    door["sim_role"] = "articulated_furniture"
    door["articulation"] = {"type": "revolute", "axis": "y", "limits": {"lower": 0, "upper": 90}}
    drawer = table("y_up")
    drawer.update(id="drawer", sim_role="articulated_furniture")
    drawer["articulation"] = {"type": "prismatic", "axis": [0, 0, 1], "limits": {"lower": 0, "upper": 40}}
    _, (d, w) = ingest(tmp_path, {"coordinate_frame": "y_up", "euler_units": "degrees", "meters_per_unit": 0.01},
                       [door, drawer])
    assert d.articulation is not None and w.articulation is not None
    assert approx(d.articulation.axis_local, (0.0, 0.0, 1.0))  # y-up vertical -> z
    assert approx((d.articulation.lower, d.articulation.upper), (0.0, math.pi / 2))
    assert approx(w.articulation.axis_local, (0.0, -1.0, 0.0))  # y-up +z -> z-up -y
    assert approx((w.articulation.lower, w.articulation.upper), (0.0, 0.4))


def test_room_and_gravity_are_converted(tmp_path: Path) -> None:
    scene = {"coordinate_frame": "y_up", "meters_per_unit": 0.01,
             "room": {"bounds": {"width": 500, "depth": 400, "height": 270}, "origin": [100, 0, -50]},
             "physics_defaults": {"gravity": {"x": 0, "y": -981, "z": 0}, "time_steps_per_second": 240}}
    header, _ = ingest(tmp_path, scene, [table("y_up")])
    assert approx(header["room_size_m"], (5.0, 4.0, 2.7))
    assert approx(header["room_origin_m"], (1.0, 0.5, 0.0))
    assert approx(header["gravity_m_s2"], (0.0, 0.0, -9.81))  # cm/s^2 in the manifest, m/s^2 here
    assert header["time_steps_per_second"] == 240


def test_gravity_of_metres_in_a_centimetre_scene_is_refused_with_the_fix(tmp_path: Path) -> None:
    scene = {"coordinate_frame": "y_up", "meters_per_unit": 0.01,
             "physics_defaults": {"gravity": {"x": 0, "y": -9.81, "z": 0}}}
    with pytest.raises(InvalidInputError) as info:
        ingest(tmp_path, scene, [table("y_up")])
    assert "physics_defaults.gravity" in str(info.value) and "981 units/s^2" in str(info.value)


def test_physics_affordances_assets_and_extras(tmp_path: Path) -> None:
    mug = table("z_up")
    mug.update(id="mug", category="mug", name="A red mug, ceramic", description="Café au lait <b>mug</b>",
               physics={"mass": 0.3}, physics_hints={"material_type": "ceramic", "mass_kg": 9.0, "glaze": "matte"},
               semantics={"class": "mug", "affordances": ["graspable", {"type": "pourable", "spout": "rim"}],
                          "affordance_params": {"Graspable": {"grip_width_m": 0.08}}, "tags": ["red"]},
               asset={"path": "objects/mug.glb", "format": "glb", "licence": "CC0-1.0", "sha": "abc"},
               colour="red")
    _, (m,) = ingest(tmp_path, {"coordinate_frame": "z_up"}, [mug])
    assert m.name == "A red mug, ceramic" and m.description == "Café au lait <b>mug</b>"  # kept, not mangled
    assert m.physics is not None
    assert m.physics.mass_kg == 0.3  # `physics` wins over `physics_hints`
    assert m.physics.material_type == "ceramic" and m.physics.hints == {"glaze": "matte"}
    assert [a.type for a in m.affordances] == ["Graspable", "Pourable"]
    assert m.affordances[0].params == {"grip_width_m": 0.08} and m.affordances[1].params == {"spout": "rim"}
    assert m.asset is not None and m.asset.license == "CC0-1.0" and m.asset.extras == {"sha": "abc"}
    assert m.extras == {"colour": "red"}


def test_normalised_file_round_trip(tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent / "examples"
    for name in ("kitchen", "office", "warehouse"):
        ing = ManifestIngest(str(examples / f"{name}.json"))
        records = list(ing.records())
        out = tmp_path / f"{name}.jsonl"
        write_normalized_streaming(str(out), records, ing.header_record)
        scene = load_scene(str(out))
        assert scene.header.object_count == len(records) == len(scene.objects)
        for rec, obj in zip(records, scene.objects, strict=True):
            # the ingest's dicts are exactly the records' JSON form
            assert obj.model_dump(mode="json") == json.loads(json.dumps(rec))
        # Writing the typed records again gives the same file.
        again = tmp_path / f"{name}.again.jsonl"
        write_normalized_streaming(str(again), scene.objects, lambda s=scene: s.header)
        assert again.read_text() == out.read_text()


@pytest.mark.parametrize("seed", [0, 7])
def test_synthetic_y_up_and_z_up_normalise_to_the_same_scene(tmp_path: Path, seed: int) -> None:
    from blueprint_pipeline.scene.synth import write_synthetic_manifest

    scenes = {}
    for frame in ("z_up", "y_up"):
        path = tmp_path / f"{frame}.json"
        write_synthetic_manifest(str(path), 300, seed, frame=frame)
        scenes[frame] = list(ManifestIngest(str(path)).objects())
    for a, b in zip(scenes["z_up"], scenes["y_up"], strict=True):
        assert a.id == b.id
        for field in ("position_m", "extents_m", "aabb_min_m", "aabb_max_m", "orientation_wxyz"):
            assert approx(getattr(a, field), getattr(b, field), 1e-6), (a.id, field)
