"""USD stage: files reopened with usd-core and compared with physics.json; joints; assets."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, UsdSemantics, UsdShade
from test_simready import make_obj, make_scene

from blueprint_pipeline.rotations import matrix_np
from blueprint_pipeline.scene.records import Articulation, AssetRef, SceneHeader, SimRole
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.simready.meshes import load_meshes
from blueprint_pipeline.simready.io import load_physics, write_physics
from blueprint_pipeline.simready.records import ColliderShape
from blueprint_pipeline.simready.stage import estimate_scene
from blueprint_pipeline.usd.stage import UsdValidationError, write_and_validate
from blueprint_pipeline.usd.validate import validate_scene


def kitchen_objects():
    return [
        make_obj("mug", (0.08, 0.08, 0.10), oid="mug-1"),
        make_obj("apple", (0.08, 0.08, 0.08), oid="apple"),
        make_obj("banana", (0.2, 0.04, 0.04), oid="banana"),
        make_obj("book", (0.16, 0.24, 0.03), oid="book", semantic_class="novel"),
        make_obj("table", (1.2, 0.8, 0.75), role=SimRole.STATIC, oid="table"),
        make_obj("cabinet", (0.8, 0.5, 2.0), role=SimRole.STATIC, oid="cabinet"),
        make_obj("drawer", (0.5, 0.4, 0.15), role=SimRole.ARTICULATED_FURNITURE, oid="drawer",
                 articulation=Articulation(type="prismatic", axis_local=(0.0, -1.0, 0.0), lower=0.0, upper=0.35)),
        make_obj("cabinet door", (0.6, 0.02, 1.8), role=SimRole.ARTICULATED_FURNITURE, oid="9door",
                 articulation=Articulation(type="revolute", axis_local=(0.0, 0.0, 1.0), lower=0.0, upper=math.pi / 2)),
    ]


@pytest.fixture
def written(tmp_path):
    scene = make_scene(kitchen_objects())
    physics, _ = estimate_scene(scene, SimreadyConfig())
    write_physics(str(tmp_path / "physics.json"), physics)
    usd = tmp_path / "usd"
    _, summary = write_and_validate(str(usd), scene, physics, None)
    return scene, usd, summary, tmp_path


def test_reopened_usd_matches_physics_json(written):
    scene, usd, summary, tmp = written
    physics = load_physics(str(tmp / "physics.json"))
    stage = Usd.Stage.Open(str(usd / "scene.usda"))
    assert UsdGeom.GetStageUpAxis(stage) == "Z"
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert UsdPhysics.GetStageKilogramsPerUnit(stage) == 1.0
    names = {"mug-1": "mug_1", "9door": "o_9door"}
    for obj in scene.objects:
        p = physics.objects[obj.id]
        prim = stage.GetPrimAtPath(f"/World/Objects/{names.get(obj.id, obj.id)}")
        assert prim.IsValid(), obj.id
        mass = UsdPhysics.MassAPI(prim)
        assert mass.GetMassAttr().Get() == pytest.approx(p.mass_kg, rel=1e-6)
        assert tuple(mass.GetDiagonalInertiaAttr().Get()) == pytest.approx(p.inertia_diag_kg_m2, rel=1e-6)
        assert tuple(mass.GetCenterOfMassAttr().Get()) == pytest.approx(p.center_of_mass_m, abs=1e-7)
        assert prim.HasAPI(UsdPhysics.RigidBodyAPI) == (p.is_dynamic or obj.articulation is not None)
        collider = stage.GetPrimAtPath(prim.GetPath().AppendChild("Collider"))
        assert collider.HasAPI(UsdPhysics.CollisionAPI) and collider.HasAPI(UsdPhysics.MeshCollisionAPI)
        material, _ = UsdShade.MaterialBindingAPI(collider).ComputeBoundMaterial("physics")
        pm = UsdPhysics.MaterialAPI(material.GetPrim())
        assert pm.GetStaticFrictionAttr().Get() == pytest.approx(p.static_friction, rel=1e-6)
        assert pm.GetDynamicFrictionAttr().Get() == pytest.approx(p.dynamic_friction, rel=1e-6)
        assert pm.GetRestitutionAttr().Get() == pytest.approx(p.restitution, rel=1e-6)
        labels = UsdSemantics.LabelsAPI(prim, "class").GetLabelsAttr().Get()
        assert list(labels) == [obj.semantic_class or obj.category]
        assert tuple(prim.GetAttribute("xformOp:translate").Get()) == pytest.approx(obj.position_m)
    # Static furniture: collider, no rigid body.
    table = stage.GetPrimAtPath("/World/Objects/table")
    assert not table.HasAPI(UsdPhysics.RigidBodyAPI)
    assert stage.GetPrimAtPath("/World/Objects/table/Collider").GetTypeName() == "Cube"
    assert stage.GetPrimAtPath("/World/Objects/mug_1/Collider").GetTypeName() == "Cylinder"
    assert stage.GetPrimAtPath("/World/Objects/apple/Collider").GetTypeName() == "Sphere"
    assert stage.GetPrimAtPath("/World/Objects/banana/Collider").GetTypeName() == "Capsule"
    assert summary["validators_run"] > 0 and summary["prims_checked"] == len(scene.objects)


def test_gravity_from_header(tmp_path):
    objs = [make_obj("mug", (0.08, 0.08, 0.1))]
    header = SceneHeader(scene_id="moon", manifest_version="1.0.0", source_frame="z_up", source_meters_per_unit=1.0,
                         object_count=1, gravity_m_s2=(0.0, 0.0, -1.62))
    from blueprint_pipeline.scene.records import Scene

    scene = Scene(header=header, objects=tuple(objs))
    physics, _ = estimate_scene(scene, SimreadyConfig())
    write_and_validate(str(tmp_path), scene, physics, None)
    stage = Usd.Stage.Open(str(tmp_path / "scene.usda"))  # keep the stage alive while using its prims
    ps = UsdPhysics.Scene(stage.GetPrimAtPath("/World/PhysicsScene"))
    assert ps.GetGravityMagnitudeAttr().Get() == pytest.approx(1.62)
    assert tuple(ps.GetGravityDirectionAttr().Get()) == pytest.approx((0, 0, -1))


def test_joints_with_limits_in_degrees(written):
    _, usd, _, _ = written
    stage = Usd.Stage.Open(str(usd / "scene.usda"))
    door = UsdPhysics.RevoluteJoint(stage.GetPrimAtPath("/World/Joints/o_9door"))
    assert door.GetUpperLimitAttr().Get() == pytest.approx(90.0)  # pi/2 rad -> degrees
    assert door.GetLowerLimitAttr().Get() == pytest.approx(0.0)
    assert [str(t) for t in door.GetBody1Rel().GetTargets()] == ["/World/Objects/o_9door"]
    drawer = UsdPhysics.PrismaticJoint(stage.GetPrimAtPath("/World/Joints/drawer"))
    assert drawer.GetUpperLimitAttr().Get() == pytest.approx(0.35)  # metres, unchanged
    # The joint's X axis, rotated by localRot1, is the articulation axis in the object frame.
    q = drawer.GetLocalRot1Attr().Get()
    axis = np.array(q.Transform((1.0, 0.0, 0.0)) if hasattr(q, "Transform") else _rotate(q, (1.0, 0.0, 0.0)))
    assert axis == pytest.approx((0.0, -1.0, 0.0), abs=1e-6)


def test_a_door_joint_sits_on_its_inferred_hinge_and_a_moved_anchor_is_reported(written):
    from blueprint_pipeline.scene.doors import door as door_of

    scene, usd, _, tmp = written
    stage = Usd.Stage.Open(str(usd / "scene.usda"))
    joint = UsdPhysics.RevoluteJoint(stage.GetPrimAtPath("/World/Joints/o_9door"))
    obj = scene.by_id()["9door"]
    hinge = door_of(obj, scene.objects, 0.0).hinge_local
    assert np.asarray(joint.GetLocalPos1Attr().Get()) == pytest.approx(hinge, abs=1e-6)
    assert abs(hinge[0]) == pytest.approx(0.3)  # a width edge of the 0.6 m panel, not its centre
    world = np.asarray(obj.position_m) + matrix_np(obj.orientation_wxyz) @ hinge
    assert np.asarray(joint.GetLocalPos0Attr().Get()) == pytest.approx(world, abs=1e-5)
    physics = load_physics(str(tmp / "physics.json"))
    names = {o.id: {"mug-1": "mug_1", "9door": "o_9door"}.get(o.id, o.id) for o in scene.objects}
    f = usd / "scene.usda"
    layer = Sdf.Layer.FindOrOpen(str(f))
    layer.GetAttributeAtPath("/World/Joints/o_9door.physics:localPos0").default = Gf.Vec3f(*obj.position_m)
    layer.Save()
    report = validate_scene(str(f), scene.header, list(scene.objects), physics, names)
    assert any("/World/Joints/o_9door (9door): localPos0" in p for p in report.problems), report.problems


def _rotate(q, v):
    from pxr import Gf

    return Gf.Rotation(Gf.Quatd(q.GetReal(), Gf.Vec3d(q.GetImaginary()))).TransformDir(Gf.Vec3d(*v))


def test_usd_physics_parser_sees_the_bodies(written):
    """usd-core's own UsdPhysics parser (what an engine loads) finds the bodies and joints."""
    scene, usd, _, _ = written
    stage = Usd.Stage.Open(str(usd / "scene.usda"))
    load = getattr(UsdPhysics, "UsdPhysicsLoadStageFromPrimRange", None) or UsdPhysics.LoadUsdPhysicsFromRange
    parsed = load(stage, ["/World"])
    kinds = {str(k): len(v[0]) for k, v in parsed.items()}
    expect_bodies = sum(1 for o in scene.objects if o.sim_role.is_dynamic or o.articulation is not None)
    assert kinds.get("RigidBody") == expect_bodies, kinds
    assert kinds.get("RevoluteJoint") == 1 and kinds.get("PrismaticJoint") == 1, kinds
    assert kinds.get("RigidBodyMaterial") == len(scene.objects)
    shapes = sum(v for k, v in kinds.items() if k.endswith("Shape"))
    assert shapes == len(scene.objects), kinds


def test_tampered_file_fails_validation_with_a_clear_report(written):
    scene, usd, _, tmp = written
    physics = load_physics(str(tmp / "physics.json"))
    f = usd / "objects" / "mug_1.usda"
    text = f.read_text()
    f.write_text(re.sub(r"float physics:mass = [0-9.e-]+", "float physics:mass = 7.5", text))
    names = {o.id: {"mug-1": "mug_1", "9door": "o_9door"}.get(o.id, o.id) for o in scene.objects}
    report = validate_scene(str(usd / "scene.usda"), scene.header, list(scene.objects), physics, names)
    assert not report.ok
    assert any("/World/Objects/mug_1 (mug-1): mass 7.5 != physics.json" in p for p in report.problems)


def test_stage_raises_when_physics_and_usd_disagree(tmp_path, monkeypatch):
    scene = make_scene([make_obj("mug", (0.08, 0.08, 0.1))])
    physics, _ = estimate_scene(scene, SimreadyConfig())
    import blueprint_pipeline.usd.fast_objects as fast

    real = fast.author_object_layer

    def wrong_friction(obj, phys):
        return real(obj, phys.model_copy(update={"static_friction": 1.9}))

    monkeypatch.setattr("blueprint_pipeline.usd.writer.author_object_layer", wrong_friction)
    with pytest.raises(UsdValidationError, match=r"static friction 1.9 != physics.json 0.6"):
        write_and_validate(str(tmp_path), scene, physics, None)


def test_mesh_assets_become_visuals_and_hull_colliders(tmp_path):
    import trimesh

    assets = tmp_path / "assets"
    assets.mkdir()
    # A real GLB (glTF binary) and OBJ written by trimesh, and a USD asset.
    trimesh.creation.cylinder(radius=4.0, height=10.0).export(str(assets / "mug.glb"))
    trimesh.creation.box(extents=(1.0, 2.0, 3.0)).export(str(assets / "box.obj"))
    src = Usd.Stage.CreateNew(str(assets / "crate.usda"))
    UsdGeom.SetStageUpAxis(src, "Z")
    cube = UsdGeom.Cube.Define(src, "/Crate")
    cube.CreateSizeAttr(2.0)
    src.SetDefaultPrim(cube.GetPrim())
    src.GetRootLayer().Save()
    objs = [make_obj("mug", (0.08, 0.08, 0.1), oid="glb_mug", asset=AssetRef(path="assets/mug.glb", format="glb")),
            make_obj("box", (0.1, 0.2, 0.3), oid="obj_box", asset=AssetRef(path="assets/box.obj")),
            make_obj("box", (0.3, 0.3, 0.3), oid="usd_crate", asset=AssetRef(path="assets/crate.usda")),
            make_obj("mug", (0.08, 0.08, 0.1), oid="missing", asset=AssetRef(path="assets/none.glb"))]
    scene = make_scene(objs)
    physics, _ = estimate_scene(scene, SimreadyConfig(), asset_root=str(tmp_path),
                                simready_url=str(tmp_path / "simready"))
    assert physics.objects["glb_mug"].collider is ColliderShape.CONVEX_HULL
    assert physics.objects["missing"].collider is ColliderShape.CYLINDER
    meshes = load_meshes(str(tmp_path / "simready"), physics)
    written, _ = write_and_validate(str(tmp_path / "usd"), scene, physics, str(tmp_path), meshes=meshes)
    stage = Usd.Stage.Open(str(tmp_path / "usd" / "scene.usda"))
    visual = UsdGeom.Mesh(stage.GetPrimAtPath("/World/Objects/glb_mug/Visual"))
    pts = np.array(visual.GetPointsAttr().Get())
    # Fitted to the object's extents whatever the asset's units (10 units tall -> 0.1 m).
    assert pts.max(axis=0) - pts.min(axis=0) == pytest.approx((0.08, 0.08, 0.1), rel=1e-5)
    pieces = stage.GetPrimAtPath("/World/Objects/glb_mug/Collider").GetChildren()
    assert len(pieces) == physics.objects["glb_mug"].mesh.hulls
    assert all(p.GetTypeName() == "Mesh" for p in pieces)
    assert all(UsdPhysics.MeshCollisionAPI(p).GetApproximationAttr().Get() == "convexHull" for p in pieces)
    crate = stage.GetPrimAtPath("/World/Objects/usd_crate/Visual/Asset")
    assert crate.GetTypeName() == "Cube"  # composed through the reference
    bound = UsdGeom.BBoxCache(Usd.TimeCode.Default(), ["default"]).ComputeWorldBound(
        stage.GetPrimAtPath("/World/Objects/usd_crate/Visual")).ComputeAlignedRange()
    assert np.array(bound.GetSize()) == pytest.approx((0.3, 0.3, 0.3), rel=1e-6)
    assert "missing" in written.notes and "not found" in written.notes["missing"][0]
    assert stage.GetPrimAtPath("/World/Objects/missing/Visual").GetTypeName() == "Cylinder"


def test_rewrite_removes_stale_object_files(tmp_path):
    scene = make_scene([make_obj("mug", (0.08, 0.08, 0.1), oid="a"), make_obj("book", (0.1, 0.2, 0.03), oid="b")])
    physics, _ = estimate_scene(scene, SimreadyConfig())
    write_and_validate(str(tmp_path), scene, physics, None)
    smaller = make_scene([scene.objects[0]])
    write_and_validate(str(tmp_path), smaller, physics, None)
    assert sorted(p.name for p in (tmp_path / "objects").iterdir()) == ["a.usda"]


def test_usd_core_validators_report_a_broken_reference(written):
    from blueprint_pipeline.usd.validate import run_usd_validators

    _, usd, _, _ = written
    (usd / "objects" / "apple.usda").unlink()
    stage = Usd.Stage.Open(str(usd / "scene.usda"))
    count, errors = run_usd_validators(stage)
    assert count > 0
    assert any("apple" in e for e in errors), errors


def test_prim_names_are_valid_and_unique():
    from pxr import Sdf

    from blueprint_pipeline.usd.names import prim_names

    ids = ["a-b", "a_b", "A_B", "9lives", "Café crème", "", "x/../y"]
    names = prim_names(ids)
    assert len({n.lower() for n in names.values()}) == len(ids)
    assert all(Sdf.Path.IsValidIdentifier(n) for n in names.values()), names


def test_usd_on_an_object_store_url():
    import fsspec

    scene = make_scene([make_obj("mug", (0.08, 0.08, 0.1), oid="m1"), make_obj("book", (0.16, 0.24, 0.03), oid="b1")])
    physics, _ = estimate_scene(scene, SimreadyConfig())
    url = f"memory://usd-test-{id(scene)}/usd"
    written, summary = write_and_validate(url, scene, physics, None)
    fs = fsspec.filesystem("memory")
    assert fs.exists(url.removeprefix("memory://") + "/scene.usda")
    assert fs.exists(url.removeprefix("memory://") + "/objects/m1.usda")
    assert summary["prims_checked"] == 2 and "objects/b1.usda" in written.files


def test_fast_sdf_authoring_writes_exactly_what_the_usd_api_writes():
    from blueprint_pipeline.usd.fast_objects import author_object_layer
    from blueprint_pipeline.usd.objects import author_object

    objs = kitchen_objects() + [make_obj("poster", (0.5, 0.0, 0.7), oid="poster")]
    scene = make_scene(objs)
    physics, _ = estimate_scene(scene, SimreadyConfig())
    for obj in scene.objects:
        stage = Usd.Stage.CreateInMemory()
        author_object(stage, obj, physics.objects[obj.id], None, None, ".")
        assert author_object_layer(obj, physics.objects[obj.id]).ExportToString() == \
            stage.GetRootLayer().ExportToString(), obj.id


def test_a_y_up_gltf_asset_of_furniture_is_turned_upright_in_its_visual(tmp_path):
    """Objects without a stored mesh (furniture) still show their asset: read in the object's axes
    as simready reads meshes (glTF is y up), so the file's top is the visual's top."""
    import trimesh

    assets = tmp_path / "assets"
    assets.mkdir()
    body = trimesh.creation.box((0.1, 0.2, 0.1))  # 20 cm along the file's y: its height in glTF
    nub = trimesh.creation.box((0.02, 0.02, 0.02))
    nub.apply_translation((0.04, 0.11, 0.0))  # on top, towards +x
    trimesh.util.concatenate([body, nub]).export(assets / "post.glb")
    scene = make_scene([make_obj("table", (0.1, 0.1, 0.22), role=SimRole.STATIC, oid="post",
                                 asset=AssetRef(path="assets/post.glb"))])
    physics, _ = estimate_scene(scene, SimreadyConfig(), asset_root=str(tmp_path), simready_url=str(tmp_path / "sr"))
    assert physics.objects["post"].mesh is None  # not a free object: no stored mesh
    write_and_validate(str(tmp_path / "usd"), scene, physics, str(tmp_path))
    stage = Usd.Stage.Open(str(tmp_path / "usd" / "scene.usda"))
    pts = np.array(UsdGeom.Mesh(stage.GetPrimAtPath("/World/Objects/post/Visual")).GetPointsAttr().Get())
    top = pts[pts[:, 2] > pts[:, 2].max() - 0.005]
    assert np.allclose(top[:, 0].mean(), 0.04, atol=0.005), top  # the nub is on top, at +x
