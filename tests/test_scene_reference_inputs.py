"""What the reference system's own manifests contain and the scene stage now accepts:
`dimensions_est` optional (sizes from the asset file), `deformable_object`, articulation `fixed`
and hint-only articulations; and revolute limits in degrees written as radians, refused with the fix."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.scene import asset_size
from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.scene.io import iter_normalized
from blueprint_pipeline.scene.records import SimRole

_ID = {"w": 1.0, "x": 0.0, "y": 0.0, "z": 0.0}


def _manifest(objects: list[dict], frame: str = "y_up", **scene: object) -> dict:
    return {"version": "1.0.0", "scene_id": "ref_inputs",
            "scene": {"coordinate_frame": frame, "meters_per_unit": 1.0, **scene}, "objects": objects}


def _obj(oid: str, position: tuple[float, float, float], *, dims: tuple[float, float, float] | None = None,
         asset: str | None = None, scale: tuple[float, float, float] = (1.0, 1.0, 1.0), **extra: object) -> dict:
    o: dict = {"id": oid, "sim_role": extra.pop("sim_role", "static"), "category": extra.pop("category", "box"),
               "transform": {"position": dict(zip("xyz", position, strict=True)), "rotation_quaternion": _ID,
                             "scale": dict(zip("xyz", scale, strict=True))}}
    if dims is not None:  # (width, depth, height)
        o["dimensions_est"] = dict(zip(("width", "depth", "height"), dims, strict=True))
    if asset is not None:
        o["asset"] = {"path": asset}
    o.update(extra)
    return o


def _ingest(tmp_path: Path, manifest: dict, name: str = "scene_manifest.json", **kw: object) -> tuple[ManifestIngest, dict]:
    path = tmp_path / name
    path.write_text(json.dumps(manifest))
    ing = ManifestIngest(str(path), **kw)
    records = {r["id"]: r for r in ing.records()}
    return ing, records


def _close(a, b, tol: float = 1e-6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _usda(path: Path, size: tuple[float, float, float], up: str | None = None, mpu: float | None = None) -> None:
    """A box mesh of `size` (file units, file axes) centred off the origin, as USDA text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x, y, z = size
    pts = [(a, b, c) for a in (1.0, 1.0 + x) for b in (2.0, 2.0 + y) for c in (0.5, 0.5 + z)]
    meta = ['defaultPrim = "A"'] + ([f'upAxis = "{up}"'] if up else []) + ([f"metersPerUnit = {mpu}"] if mpu else [])
    path.write_text("#usda 1.0\n(\n" + "\n".join(meta) + "\n)\n"
                    'def Xform "A"\n{\n def Mesh "M"\n {\n'
                    "  int[] faceVertexCounts = [4, 4]\n  int[] faceVertexIndices = [0, 1, 3, 2, 4, 5, 7, 6]\n"
                    "  point3f[] points = [" + ", ".join(f"({a}, {b}, {c})" for a, b, c in pts) + "]\n }\n}\n")


# -- 1. sizes from the asset ---------------------------------------------------------------------

def test_sizes_come_from_a_glb_asset_times_scale_in_the_manifest_frame(tmp_path: Path) -> None:
    """glTF is y-up metres; in a y-up manifest its x, y, z sizes are width, height, depth."""
    (tmp_path / "assets").mkdir()
    trimesh.creation.box(extents=(0.3, 0.5, 0.2)).export(tmp_path / "assets" / "crate.glb")
    m = _manifest([_obj("crate", (0.0, 0.25, 0.0), asset="assets/crate.glb", scale=(2.0, 1.0, 1.5))])
    ing, recs = _ingest(tmp_path, m)
    rec = recs["crate"]
    # z-up extents: width x scale.x, depth (file z) x scale.z, height (file y) x scale.y
    assert _close(rec["extents_m"], (0.6, 0.3, 0.5))
    assert _close(rec["aabb_min_m"], (-0.3, -0.15, 0.0))
    assert rec["extras"]["dimensions_from_asset"] == [0.3, 0.2, 0.5]
    assert ing.excluded == [] and ing.problems.warnings == []


def test_sizes_from_obj_stl_and_ply_are_in_manifest_units_and_axes(tmp_path: Path) -> None:
    """Formats without units or axes are read in the manifest's: here z-up centimetres."""
    mesh = trimesh.creation.box(extents=(30.0, 20.0, 10.0))
    mesh.export(tmp_path / "a.obj")
    mesh.export(tmp_path / "b.stl")
    mesh.export(tmp_path / "c.ply")
    m = _manifest([_obj("a", (0, 0, 5), asset="a.obj"), _obj("b", (100, 0, 5), asset="b.stl"),
                   _obj("c", (200, 0, 5), asset="c.ply")], frame="z_up", meters_per_unit=0.01)
    _, recs = _ingest(tmp_path, m)
    for oid in "abc":
        assert _close(recs[oid]["extents_m"], (0.3, 0.2, 0.1)), oid


@pytest.mark.parametrize(("frame", "expected"), [("y_up", (0.4, 0.3, 0.2)), ("z_up", (0.4, 0.3, 0.2))])
def test_usd_sizes_honour_the_files_own_units_and_up_axis(tmp_path: Path, frame: str, expected) -> None:
    """A centimetre z-up USD file (40 x 30 wide, 20 high) is 0.4 x 0.3 x 0.2 m in either frame."""
    _usda(tmp_path / "assets" / "bin.usda", (40.0, 30.0, 20.0), up="Z", mpu=0.01)
    pos = (0.0, 0.1, 0.0) if frame == "y_up" else (0.0, 0.0, 0.1)
    _, recs = _ingest(tmp_path, _manifest([_obj("bin", pos, asset="assets/bin.usda")], frame=frame))
    assert _close(recs["bin"]["extents_m"], expected)


def test_usd_without_units_metadata_is_in_manifest_units(tmp_path: Path) -> None:
    _usda(tmp_path / "lamp.usda", (10.0, 40.0, 10.0))  # y-up data in centimetres, nothing authored
    m = _manifest([_obj("lamp", (0, 20, 0), asset="lamp.usda")], meters_per_unit=0.01)
    _, recs = _ingest(tmp_path, m)
    assert _close(recs["lamp"]["extents_m"], (0.1, 0.1, 0.4))


def test_dimensions_est_wins_over_the_asset(tmp_path: Path) -> None:
    trimesh.creation.box(extents=(1.0, 1.0, 1.0)).export(tmp_path / "big.glb")
    _, recs = _ingest(tmp_path, _manifest([_obj("b", (0, 0.05, 0), dims=(0.1, 0.1, 0.1), asset="big.glb")]))
    assert _close(recs["b"]["extents_m"], (0.1, 0.1, 0.1))
    assert "dimensions_from_asset" not in recs["b"]["extras"]


def test_assets_resolve_against_the_given_asset_root(tmp_path: Path) -> None:
    root = tmp_path / "bucket"
    root.mkdir()
    trimesh.creation.box(extents=(0.2, 0.2, 0.2)).export(root / "cube.glb")
    _, recs = _ingest(tmp_path, _manifest([_obj("c", (0, 0.1, 0), asset="cube.glb")]), asset_root=str(root))
    assert _close(recs["c"]["extents_m"], (0.2, 0.2, 0.2))


def test_no_sizes_anywhere_keeps_the_object_out_of_simulation_with_a_warning(tmp_path: Path) -> None:
    m = _manifest([
        _obj("table", (0, 0.4, 0), dims=(1.0, 0.6, 0.8), sim_role="static"),
        _obj("ghost_lamp", (0.2, 0.9, 0), asset="assets/lamp/model.usd", sim_role="static",
             relationships=[{"type": "on", "object_id": "table"}]),
        _obj("no_asset", (0.0, 1.0, 0)),
        _obj("cup", (0, 0.85, 0), dims=(0.08, 0.08, 0.1), sim_role="manipulable_object",
             relationships=[{"type": "next_to", "object_id": "ghost_lamp"}]),
    ])
    path = tmp_path / "scene_manifest.json"
    path.write_text(json.dumps(m))
    out = tmp_path / "normalized.jsonl"
    from blueprint_pipeline.scene.io import write_normalized_streaming

    ing = ManifestIngest(str(path))
    assert write_normalized_streaming(str(out), ing.record_lines(), ing.header_record) == 2
    header, objects = iter_normalized(str(out))
    assert [o.id for o in objects] == ["table", "cup"]
    assert header.object_count == 2
    excluded = {e.id: e for e in header.excluded_objects}
    assert set(excluded) == {"ghost_lamp", "no_asset"}
    assert excluded["ghost_lamp"].reason == "asset file assets/lamp/model.usd not found"
    assert excluded["ghost_lamp"].asset_path == "assets/lamp/model.usd"
    assert _close(excluded["ghost_lamp"].position_m, (0.2, 0.0, 0.9))  # y-up -> z-up
    assert excluded["no_asset"].reason == "no asset path"
    (warning,) = [w for w in ing.problems.warnings if "kept out of simulation" in w]
    assert "'ghost_lamp' (asset file assets/lamp/model.usd not found)" in warning
    assert "'no_asset' (no asset path)" in warning


def test_unreadable_flat_and_unsupported_assets_are_reasons_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "broken.glb").write_bytes(b"glTF not really")
    (tmp_path / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 1 0 1\nf 1 2 3\n")  # no height in y-up
    (tmp_path / "model.fbx").write_bytes(b"\0")
    m = _manifest([_obj("broken", (0, 1, 0), asset="broken.glb"), _obj("flat", (0, 1, 0), asset="flat.obj"),
                   _obj("fbx", (0, 1, 0), asset="model.fbx")])
    ing, recs = _ingest(tmp_path, m)
    assert recs == {}
    reasons = {e["id"]: e["reason"] for e in ing.excluded}
    assert reasons["broken"].startswith("asset file broken.glb unreadable (")
    assert reasons["flat"] == "asset file flat.obj has no height (flat or empty bounding box)"
    assert reasons["fbx"].startswith("asset format 'fbx' is not read for sizes")


def test_a_symlink_out_of_the_asset_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    trimesh.creation.box(extents=(0.2, 0.2, 0.2)).export(outside / "secret.glb")
    root = tmp_path / "scene"
    root.mkdir()
    os.symlink(outside / "secret.glb", root / "linked.glb")
    ing, recs = _ingest(root, _manifest([_obj("x", (0, 0.1, 0), asset="linked.glb")]))
    assert recs == {}
    assert "leaves the asset root" in ing.excluded[0]["reason"]
    with pytest.raises(ValueError, match="leaves the asset root"):
        asset_size.resolve(str(root), "linked.glb")


def test_workers_size_and_exclude_objects_like_one_process(tmp_path: Path) -> None:
    """The streamed path with worker processes gives the same records, exclusions and warnings."""
    trimesh.creation.box(extents=(0.1, 0.2, 0.1)).export(tmp_path / "box.glb")
    objects = []
    for i in range(600):
        x = (i % 30) * 0.5
        z = (i // 30) * 0.5
        if i % 3 == 0:
            objects.append(_obj(f"g{i}", (x, 0.1, z), asset="box.glb"))
        elif i % 3 == 1:
            objects.append(_obj(f"d{i}", (x, 0.1, z), dims=(0.1, 0.1, 0.2)))
        else:
            objects.append(_obj(f"m{i}", (x, 0.1, z), asset=f"missing/{i}.glb"))
    objects[1]["transform"]["position"]["y"] = 0.05  # 5 cm into the floor: a plausibility warning too
    m = _manifest(objects)
    one, recs_one = _ingest(tmp_path, m, name="a.json", workers=1)
    many, recs_many = _ingest(tmp_path, m, name="b.json", workers=2, stream_threshold_bytes=0, chunk_bytes=4096)
    assert many.uses_workers()
    assert recs_one == recs_many and len(recs_one) == 400
    assert one.excluded == many.excluded and len(one.excluded) == 200
    assert one.problems.warnings == many.problems.warnings
    assert "objects[*]: sunk more than 1 cm into the floor: 'd1' by 5.0 cm" in many.problems.warnings


# -- 2. articulation: fixed and hints only -------------------------------------------------------

def test_fixed_and_hint_only_articulations_mean_not_articulated_with_hints_kept(tmp_path: Path) -> None:
    m = _manifest([
        _obj("counter", (0, 0.45, 0), dims=(2.0, 0.6, 0.9), articulation={"type": "fixed"}),
        _obj("cabinet", (3, 0.4, 0), dims=(0.6, 0.4, 0.8), sim_role="articulated_furniture",
             articulation={"candidate": True, "required": False, "backend_hint": "later"}),
        _obj("null_type", (5, 0.4, 0), dims=(0.6, 0.4, 0.8), articulation={"type": None, "joint_count": 0}),
        _obj("door", (7, 0.4, 0), dims=(0.6, 0.4, 0.8), sim_role="articulated_furniture",
             articulation={"type": "revolute", "axis": "y", "limits": {"lower": 0, "upper": 1.5},
                           "physx_endpoint": "door_hinge"}),
    ])
    for strict in (False, True):  # the reference's schema allows these keys: accepted under --strict too
        ing, recs = _ingest(tmp_path, m, strict=strict)
        assert recs["counter"]["articulation"] is None
        assert recs["counter"]["extras"] == {"articulation.type": "fixed"}
        assert recs["cabinet"]["articulation"] is None
        assert recs["cabinet"]["extras"] == {"articulation.candidate": True, "articulation.required": False,
                                             "articulation.backend_hint": "later"}
        assert recs["null_type"]["articulation"] is None
        assert recs["null_type"]["extras"] == {"articulation.type": None, "articulation.joint_count": 0}
        door = recs["door"]["articulation"]
        assert door["type"] == "revolute" and _close(door["axis_local"], (0, 0, 1)) and door["upper"] == 1.5
        assert recs["door"]["extras"] == {"articulation.physx_endpoint": "door_hinge"}
        assert any("articulation hints only" in w and "'cabinet'" in w for w in ing.problems.warnings)


@pytest.mark.parametrize(("articulation", "path", "typo"), [
    ({"type": "revolute", "limits": {"lower": 0, "upper": 1}}, "objects[0].articulation.axis", ""),
    ({"type": "prismatic", "axis": "x"}, "objects[0].articulation.limits", ""),
    ({"type": "prismatic", "axis": "x", "limts": {"lower": 0, "upper": 1}}, "objects[0].articulation.limits",
     " ('limts' is no key of a joint)"),
])
def test_a_joint_type_without_its_data_is_an_error_naming_the_field(tmp_path: Path, articulation, path,
                                                                    typo) -> None:
    with pytest.raises(InvalidInputError) as info:
        _ingest(tmp_path, _manifest([_obj("d", (0, 0.4, 0), dims=(0.6, 0.4, 0.8), articulation=articulation)]))
    (problem,) = info.value.problems
    assert problem.path == path
    assert problem.message.startswith(f"is required for a {articulation['type']} joint{typo} (or drop `type`")


def test_joint_data_without_a_joint_type_is_named_in_a_warning(tmp_path: Path) -> None:
    art = {"tpye": "revolute", "axis": "y", "limits": {"lower": 0, "upper": 1.5}}
    ing, recs = _ingest(tmp_path, _manifest([_obj("door", (0, 0.4, 0), dims=(0.6, 0.4, 0.8), articulation=art)]))
    assert recs["door"]["articulation"] is None and recs["door"]["extras"]["articulation.tpye"] == "revolute"
    assert ing.problems.warnings == ["objects[*].articulation: has an axis or limits but no joint type (revolute "
                                     "or prismatic): not articulated, kept under extras: 'door'"]


# -- 3. deformable_object ------------------------------------------------------------------------

def test_deformable_object_is_static_scenery_with_a_warning(tmp_path: Path) -> None:
    m = _manifest([_obj("towel", (0, 0.005, 0), dims=(0.5, 0.3, 0.01), sim_role="deformable_object",
                        physics={"is_deformable": True, "soft_body_type": "cloth", "mass_kg": 0.4})])
    ing, recs = _ingest(tmp_path, m)
    rec = recs["towel"]
    assert rec["sim_role"] == SimRole.STATIC.value
    assert rec["extras"]["declared_sim_role"] == "deformable_object"
    assert rec["physics"]["mass_kg"] == 0.4 and rec["physics"]["hints"]["soft_body_type"] == "cloth"
    assert ing.by_role["deformable_object"] == 1
    assert any("'deformable_object' is not simulated as a deformable yet" in w and "'towel'" in w
               for w in ing.problems.warnings)


# -- 4. revolute limits in degrees written as radians --------------------------------------------

def _door(limits: dict) -> dict:
    return _obj("fridge", (0, 0.9, 0), dims=(0.8, 0.7, 1.8), sim_role="articulated_appliance",
                articulation={"type": "revolute", "axis": "y", "limits": limits})


def test_revolute_limits_beyond_a_full_turn_without_euler_units_are_an_error_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        _ingest(tmp_path, _manifest([_door({"lower": 0, "upper": 90})]))
    (problem,) = info.value.problems
    assert problem.path == "objects[0].articulation.limits.upper"
    assert "90 rad is more than a full turn" in problem.message
    assert 'Set scene.euler_units to "degrees"' in problem.message and "1.571 rad" in problem.message


def test_revolute_limits_in_declared_units_are_taken_as_written(tmp_path: Path) -> None:
    _, recs = _ingest(tmp_path, _manifest([_door({"lower": 0, "upper": 90})], euler_units="degrees"))
    assert recs["fridge"]["articulation"]["upper"] == pytest.approx(math.pi / 2)
    # a declared radian unit allows a multi-turn joint (a knob)
    _, recs = _ingest(tmp_path, _manifest([_door({"lower": 0, "upper": 12.0})], euler_units="radians"))
    assert recs["fridge"]["articulation"]["upper"] == 12.0
    # within a turn, undeclared radians are fine
    _, recs = _ingest(tmp_path, _manifest([_door({"lower": -1.0, "upper": 2.0})]))
    assert recs["fridge"]["articulation"]["upper"] == 2.0


def test_degrees_as_radians_through_the_cli_exit_2_one_screen_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "scene_manifest.json"
    path.write_text(json.dumps(_manifest([_door({"lower": -400, "upper": 90})])))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    proc = subprocess.run([sys.executable, "-m", "blueprint_pipeline.cli", "validate", str(path)],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "objects[0].articulation.limits.lower: -400 rad is more than a full turn" in proc.stderr
    assert "objects[0].articulation.limits.upper: 90 rad is more than a full turn" in proc.stderr
    assert len(proc.stderr.splitlines()) < 25
