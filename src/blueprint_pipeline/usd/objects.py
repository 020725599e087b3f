"""One object file `usd/objects/<name>.usda`: visual, collider, physics material, mass, label.

Layout (default prim `Object`, z-up, metres, kilograms):

    /Object                Xform  [RigidBodyAPI if it moves] MassAPI SemanticsLabelsAPI:class
        Visual             simready's stored mesh, or the asset fitted to the extents, or a primitive
        Collider           Cube/Cylinder/Sphere/Capsule, or a hull Mesh; CollisionAPI,
                           MeshCollisionAPI, physics material bound (purpose "physics")
        PhysicsMaterial    Material + PhysicsMaterialAPI (static/dynamic friction, restitution)

An object whose physics record has a `mesh` (simready/meshes.py) is authored from that stored
mesh, not from its asset file: Visual is the stored visual mesh (its colour as displayColor), and
Collider is an Xform holding one Mesh per convex piece of the stored decomposition:

        Collider           Xform
            Piece0 ...     Mesh (the piece's convex hull); CollisionAPI, MeshCollisionAPI
                           convexHull, purpose guide, physics material bound

so the USD collides through the same pieces as the simulator and the Genie Sim bundle.

The object is authored at its final size (manifest scale already in the extents), so mass,
centre of mass and inertia are exactly those of physics.json, in this prim's frame.
"""

from __future__ import annotations

import numpy as np
from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, UsdShade, Vt

from blueprint_pipeline.scene.records import SceneObject
from blueprint_pipeline.simready.meshes import ObjectMesh
from blueprint_pipeline.simready.records import ColliderShape, ObjectPhysics
from blueprint_pipeline.usd.names import OBJECT_PRIM, texture_file
from blueprint_pipeline.usd.visual import author_mesh, author_object_mesh, author_primitive, author_visual, box_corners

# Collider shape -> MeshCollisionAPI approximation. Implicit gprims are exact colliders in
# UsdPhysics; the approximation records the intended fit for engines that mesh everything.
APPROXIMATION = {
    ColliderShape.BOX: UsdPhysics.Tokens.boundingCube,
    ColliderShape.SPHERE: UsdPhysics.Tokens.boundingSphere,
    ColliderShape.CYLINDER: UsdPhysics.Tokens.convexHull,
    ColliderShape.CAPSULE: UsdPhysics.Tokens.convexHull,
    ColliderShape.CONVEX_HULL: UsdPhysics.Tokens.convexHull,
}
PIECE_PRIM = "Piece"  # Collider/Piece0, Piece1, ...: the convex pieces of a stored mesh
SEMANTIC_TAXONOMY = "class"
SEMANTIC_ATTR = f"semantics:labels:{SEMANTIC_TAXONOMY}"


def author_label(prim: Usd.Prim, label: str) -> None:
    """`UsdSemantics.LabelsAPI` (usd-core >= 25); on older usd-core the same attribute by hand."""
    try:
        from pxr import UsdSemantics
    except ImportError:
        prim.CreateAttribute(SEMANTIC_ATTR, Sdf.ValueTypeNames.TokenArray, custom=False).Set(Vt.TokenArray([label]))
        return
    UsdSemantics.LabelsAPI.Apply(prim, SEMANTIC_TAXONOMY).CreateLabelsAttr(Vt.TokenArray([label]))


def missing_asset_note(obj: SceneObject) -> list[str]:
    """The note for an object whose asset file is not there (called when none was resolved)."""
    if obj.asset is not None and obj.asset.path:
        return [f"asset {obj.asset.path!r} not found under the asset root; primitive used"]
    return []


def has_rigid_body(obj: SceneObject, phys: ObjectPhysics) -> bool:
    """Free bodies, and articulated objects (their joint needs a body to move)."""
    return phys.is_dynamic or obj.articulation is not None


def _hull(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and outward triangles of the convex hull of `points`."""
    import trimesh

    hull = trimesh.convex.convex_hull(points)
    return np.asarray(hull.vertices), np.asarray(hull.faces)


def _asset_visual_and_collider(stage: Usd.Stage, root_path: str, obj: SceneObject, phys: ObjectPhysics,
                               asset_url: str | None, asset_fmt: str | None, layer_dir: str,
                               manifest_y_up: bool) -> tuple[Usd.Prim, list[str]]:
    """Visual from the asset (or a primitive) and the one collider prim of an object without a
    stored mesh; returns (collider, notes)."""
    notes: list[str] = []
    shape = phys.collider.value
    primitive_shape = "box" if phys.collider is ColliderShape.CONVEX_HULL else shape
    visual = author_visual(stage, f"{root_path}/Visual", primitive_shape, obj.extents_m, asset_url, asset_fmt,
                           layer_dir, want_hull=phys.collider is ColliderShape.CONVEX_HULL, manifest_y_up=manifest_y_up)
    notes += visual.notes
    if asset_url is None:
        notes += missing_asset_note(obj)

    collider_path = f"{root_path}/Collider"
    if phys.collider is not ColliderShape.CONVEX_HULL:
        return author_primitive(stage, collider_path, shape, phys.collider_size_m), notes
    points = visual.hull_points
    if points is None:
        points = box_corners(obj.extents_m)
        notes.append("no mesh for the convex hull; the collider hull is the object's box")
    return author_mesh(stage, collider_path, *_hull(points)).GetPrim(), notes


def _stored_visual_and_pieces(stage: Usd.Stage, root_path: str, mesh: ObjectMesh) -> list[Usd.Prim]:
    """Visual from the stored mesh (its texture at names.texture_file, which the writer puts
    next to the object file) and, under an Xform Collider, one hull Mesh per convex piece;
    returns the pieces."""
    author_object_mesh(stage, f"{root_path}/Visual", mesh,
                       texture_file(mesh.texture_name) if mesh.texture_name is not None else None)
    collider_path = f"{root_path}/Collider"
    UsdGeom.Xform.Define(stage, collider_path)
    return [author_mesh(stage, f"{collider_path}/{PIECE_PRIM}{i}", *_hull(points)).GetPrim()
            for i, points in enumerate(mesh.hulls)]


def author_object(stage: Usd.Stage, obj: SceneObject, phys: ObjectPhysics, asset_url: str | None,
                  asset_fmt: str | None, layer_dir: str, mesh: ObjectMesh | None = None,
                  manifest_y_up: bool = False) -> list[str]:
    """Author the object into `stage` (an empty in-memory stage); returns notes. `mesh`: the
    object's stored mesh, given when its physics record has one (then the asset is not read)."""
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    root_path = f"/{OBJECT_PRIM}"
    root = UsdGeom.Xform.Define(stage, root_path).GetPrim()
    stage.SetDefaultPrim(root)
    Usd.ModelAPI(root).SetKind("component")
    root.CreateAttribute("blueprint:objectId", Sdf.ValueTypeNames.String, custom=True).Set(obj.id)
    root.CreateAttribute("blueprint:category", Sdf.ValueTypeNames.String, custom=True).Set(obj.category)
    root.CreateAttribute("blueprint:simRole", Sdf.ValueTypeNames.String, custom=True).Set(obj.sim_role.value)
    root.CreateAttribute("blueprint:graspable", Sdf.ValueTypeNames.Bool, custom=True).Set(phys.graspable)
    author_label(root, obj.semantic_class or obj.category)

    if has_rigid_body(obj, phys):
        UsdPhysics.RigidBodyAPI.Apply(root)
    mass = UsdPhysics.MassAPI.Apply(root)
    mass.CreateMassAttr(phys.mass_kg)
    mass.CreateCenterOfMassAttr(Gf.Vec3f(*phys.center_of_mass_m))
    mass.CreateDiagonalInertiaAttr(Gf.Vec3f(*phys.inertia_diag_kg_m2))
    mass.CreatePrincipalAxesAttr(Gf.Quatf(1.0, 0.0, 0.0, 0.0))

    if mesh is not None:
        notes: list[str] = []
        colliders = _stored_visual_and_pieces(stage, root_path, mesh)
    else:
        collider, notes = _asset_visual_and_collider(stage, root_path, obj, phys, asset_url, asset_fmt, layer_dir,
                                                     manifest_y_up)
        colliders = [collider]
    for collider in colliders:
        UsdGeom.Imageable(collider).CreatePurposeAttr(UsdGeom.Tokens.guide)
        coll = UsdPhysics.CollisionAPI.Apply(collider)
        coll.CreateCollisionEnabledAttr(True)
        UsdPhysics.MeshCollisionAPI.Apply(collider).CreateApproximationAttr(APPROXIMATION[phys.collider])
        collider.CreateAttribute("physxCollision:contactOffset", Sdf.ValueTypeNames.Float, custom=True).Set(
            phys.contact_offset_m)
        collider.CreateAttribute("physxCollision:restOffset", Sdf.ValueTypeNames.Float, custom=True).Set(
            phys.rest_offset_m)

    material = UsdShade.Material.Define(stage, f"{root_path}/PhysicsMaterial")
    pm = UsdPhysics.MaterialAPI.Apply(material.GetPrim())
    pm.CreateStaticFrictionAttr(phys.static_friction)
    pm.CreateDynamicFrictionAttr(phys.dynamic_friction)
    pm.CreateRestitutionAttr(phys.restitution)
    for collider in colliders:
        UsdShade.MaterialBindingAPI.Apply(collider).Bind(
            material, UsdShade.Tokens.weakerThanDescendants, materialPurpose="physics")
    return notes
