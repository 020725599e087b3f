"""The same geometry in usd/objects/*.usda and in the Genie Sim bundle's Aligned.usd: objects with
a stored mesh (simready/meshes.py) are authored from it, objects without one as before.

Runs examples/meshed_kitchen through the scene, simready, usd and geniesim stages once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pxr import Usd, UsdGeom, UsdPhysics, UsdShade

from blueprint_pipeline.config import load_settings
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.geniesim.native.check import check_bundle
from blueprint_pipeline.geniesim.native.mesh import CYLINDER_SEGMENTS
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.simready.io import load_physics
from blueprint_pipeline.simready.meshes import load_meshes
from blueprint_pipeline.usd.fast_objects import author_object_layer
from blueprint_pipeline.usd.names import prim_names
from blueprint_pipeline.usd.validate import validate_scene
from blueprint_pipeline.usd.writer import write_usd

MANIFEST = Path(__file__).resolve().parents[1] / "examples" / "meshed_kitchen" / "meshed_kitchen.json"
MESHED = ("mug_left", "mug_right", "bottle", "bowl", "box")
TOL = 1e-4


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("meshed_kitchen")
    ctx = StageContext(manifest_url=str(MANIFEST), out_url=str(out),
                       options=RunOptions.create(robot="franka", workers=1),
                       settings=load_settings({"BP_MESH_CACHE_DIR": "off"}))
    for stage in ("scene", "simready", "usd", "geniesim"):
        run_pipeline(ctx, only=stage)
    return out


@pytest.fixture(scope="module")
def inputs(out):
    scene = load_scene(str(out / "scene" / "normalized.jsonl"))
    physics = load_physics(str(out / "simready" / "physics.json"))
    return scene, physics, load_meshes(str(out / "simready"), physics)


def _object_stage(usd: Path, oid: str) -> Usd.Stage:
    return Usd.Stage.Open(str(usd / "objects" / f"{oid}.usda"))


def _points(prim: Usd.Prim) -> np.ndarray:
    return np.array(UsdGeom.Mesh(prim).GetPointsAttr().Get(), dtype=float)


def _aligned_points(native: Path, oid: str) -> np.ndarray:
    (aligned,) = native.glob(f"objects/*/*-{oid}/Aligned.usd")
    stage = Usd.Stage.Open(str(aligned))
    return _points(stage.GetPrimAtPath("/Object/mesh"))


def test_the_example_has_meshed_objects_and_an_apple_without_a_mesh(inputs):
    _, physics, meshes = inputs
    assert set(meshes) == set(MESHED)
    assert physics.objects["apple"].mesh is None


def test_the_visual_is_the_stored_mesh_fitted_to_the_box(out, inputs):
    scene, _, meshes = inputs
    mug, stored = scene.by_id()["mug_left"], meshes["mug_left"]
    stage = _object_stage(out / "usd", "mug_left")
    visual = stage.GetPrimAtPath("/Object/Visual")
    assert visual.GetTypeName() == "Mesh"
    pts = _points(visual)
    assert len(pts) == len(stored.vertices)
    assert np.allclose(pts, stored.vertices, atol=1e-6)
    assert len(UsdGeom.Mesh(visual).GetFaceVertexCountsAttr().Get()) == len(stored.faces)
    assert np.allclose(pts.max(axis=0) - pts.min(axis=0), mug.extents_m, atol=TOL)
    assert np.allclose((pts.max(axis=0) + pts.min(axis=0)) / 2, 0.0, atol=TOL)
    colour = UsdGeom.Mesh(visual).GetDisplayColorAttr().Get()
    assert stored.rgba is not None and np.allclose(colour[0], stored.rgba[:3], atol=1e-6)


def test_the_collider_is_one_hull_mesh_per_stored_piece(out, inputs):
    _, physics, meshes = inputs
    stored, phys = meshes["mug_left"], physics.objects["mug_left"]
    assert len(stored.hulls) == phys.mesh.hulls > 1
    stage = _object_stage(out / "usd", "mug_left")
    collider = stage.GetPrimAtPath("/Object/Collider")
    assert collider.GetTypeName() == "Xform" and not collider.HasAPI(UsdPhysics.CollisionAPI)
    pieces = collider.GetChildren()
    assert [p.GetName() for p in pieces] == [f"Piece{i}" for i in range(len(stored.hulls))]
    for piece, hull in zip(pieces, stored.hulls, strict=True):
        assert piece.GetTypeName() == "Mesh"
        assert piece.HasAPI(UsdPhysics.CollisionAPI) and piece.HasAPI(UsdPhysics.MeshCollisionAPI)
        assert UsdPhysics.MeshCollisionAPI(piece).GetApproximationAttr().Get() == UsdPhysics.Tokens.convexHull
        assert UsdGeom.Imageable(piece).ComputePurpose() == UsdGeom.Tokens.guide
        material, _ = UsdShade.MaterialBindingAPI(piece).ComputeBoundMaterial("physics")
        assert material.GetPath() == "/Object/PhysicsMaterial"
        pts = _points(piece)
        assert np.allclose(pts.min(axis=0), hull.min(axis=0), atol=1e-6)
        assert np.allclose(pts.max(axis=0), hull.max(axis=0), atol=1e-6)


def test_the_aligned_usd_holds_the_stored_mesh(out, inputs):
    scene, _, meshes = inputs
    native = out / "geniesim" / "native"
    for oid in ("mug_left", "bottle"):
        stored = meshes[oid]
        pts = _aligned_points(native, oid)
        assert len(pts) == len(stored.vertices)
        assert np.allclose(pts, stored.vertices, atol=1e-6)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        assert np.allclose(hi - lo, scene.by_id()[oid].extents_m, atol=TOL)
        assert np.allclose((lo + hi) / 2, 0.0, atol=1e-6)  # Genie Sim's loader needs the centre at the origin
    check_bundle(native)


def test_an_object_without_a_mesh_is_authored_as_before(out, inputs):
    scene, physics, _ = inputs
    apple, phys = scene.by_id()["apple"], physics.objects["apple"]
    stage = _object_stage(out / "usd", "apple")
    assert stage.GetPrimAtPath("/Object/Visual").GetTypeName() == "Sphere"
    assert stage.GetPrimAtPath("/Object/Collider").GetTypeName() == "Sphere"
    # exactly the primitive layout of objects without assets (fast_objects writes that one)
    assert (out / "usd" / "objects" / "apple.usda").read_text() == author_object_layer(apple, phys).ExportToString()
    pts = _aligned_points(out / "geniesim" / "native", "apple")
    assert len(pts) == 2 * CYLINDER_SEGMENTS  # the generated cylinder of a round object, as before
    assert np.allclose(pts.max(axis=0) - pts.min(axis=0), apple.extents_m, atol=TOL)
    sources = json.loads((out / "geniesim" / "native" / "bundle.json").read_text())["mesh_sources"]
    assert sources["mesh"] == len(MESHED)


def test_validation_counts_the_pieces(out, inputs, tmp_path):
    scene, physics, _ = inputs
    names = prim_names([o.id for o in scene.objects])
    usd = shutil.copytree(out / "usd", tmp_path / "usd")
    scene_file = usd / "scene.usda"
    assert validate_scene(str(scene_file), scene.header, list(scene.objects), physics, names).ok
    edited = _object_stage(usd, "mug_left")
    edited.RemovePrim("/Object/Collider/Piece1")
    edited.GetRootLayer().Save()
    report = validate_scene(str(scene_file), scene.header, list(scene.objects), physics, names)
    assert any("collider pieces" in p and "mug_left" in p for p in report.problems), report.problems


def test_the_writer_refuses_physics_naming_meshes_it_was_not_given(tmp_path, inputs):
    scene, physics, _ = inputs
    with pytest.raises(InvalidInputError, match="stored meshes"):
        write_usd(str(tmp_path / "usd"), scene.header, list(scene.objects), physics)
