"""One object file `usd/objects/<name>.usda`: visual, collider, physics material, mass, label.

Layout (default prim `Object`, z-up, metres, kilograms):

    /Object                Xform  [RigidBodyAPI if it moves] MassAPI SemanticsLabelsAPI:class
        Visual             the asset fitted to the extents, or a primitive
        Collider           Cube/Cylinder/Sphere/Capsule, or a hull Mesh; CollisionAPI,
                           MeshCollisionAPI, physics material bound (purpose "physics")
        PhysicsMaterial    Material + PhysicsMaterialAPI (static/dynamic friction, restitution)

The object is authored at its final size (manifest scale already in the extents), so mass,
centre of mass and inertia are exactly those of physics.json, in this prim's frame.
"""

from __future__ import annotations

import numpy as np
from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, UsdShade, Vt

from blueprint_pipeline.scene.records import SceneObject
from blueprint_pipeline.simready.records import ColliderShape, ObjectPhysics
from blueprint_pipeline.usd.names import OBJECT_PRIM
from blueprint_pipeline.usd.visual import author_mesh, author_primitive, author_visual

# Collider shape -> MeshCollisionAPI approximation. Implicit gprims are exact colliders in
# UsdPhysics; the approximation records the intended fit for engines that mesh everything.
APPROXIMATION = {
    ColliderShape.BOX: UsdPhysics.Tokens.boundingCube,
    ColliderShape.SPHERE: UsdPhysics.Tokens.boundingSphere,
    ColliderShape.CYLINDER: UsdPhysics.Tokens.convexHull,
    ColliderShape.CAPSULE: UsdPhysics.Tokens.convexHull,
    ColliderShape.CONVEX_HULL: UsdPhysics.Tokens.convexHull,
}
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


def _hull_faces(points: np.ndarray) -> np.ndarray:
    import trimesh

    return np.asarray(trimesh.Trimesh(points, process=False).convex_hull.faces) if len(points) > 8 else \
        np.asarray(trimesh.convex.convex_hull(points).faces)


def author_object(stage: Usd.Stage, obj: SceneObject, phys: ObjectPhysics, asset_url: str | None,
                  asset_fmt: str | None, layer_dir: str) -> list[str]:
    """Author the object into `stage` (an empty in-memory stage); returns notes."""
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

    notes: list[str] = []
    shape = phys.collider.value
    primitive_shape = "box" if phys.collider is ColliderShape.CONVEX_HULL else shape
    visual = author_visual(stage, f"{root_path}/Visual", primitive_shape, obj.extents_m, asset_url, asset_fmt,
                           layer_dir, want_hull=phys.collider is ColliderShape.CONVEX_HULL)
    notes += visual.notes
    if asset_url is None:
        notes += missing_asset_note(obj)

    collider_path = f"{root_path}/Collider"
    if phys.collider is ColliderShape.CONVEX_HULL:
        points = visual.hull_points
        if points is None:
            h = np.asarray(obj.extents_m) / 2
            points = np.array([[sx * h[0], sy * h[1], sz * h[2]] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
            notes.append("no mesh for the convex hull; the collider hull is the object's box")
        collider = author_mesh(stage, collider_path, points, _hull_faces(points)).GetPrim()
    else:
        collider = author_primitive(stage, collider_path, shape, phys.collider_size_m)
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
    UsdShade.MaterialBindingAPI.Apply(collider).Bind(
        material, UsdShade.Tokens.weakerThanDescendants, materialPurpose="physics")
    return notes
