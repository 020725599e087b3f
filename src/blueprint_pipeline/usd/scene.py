"""The scene file `usd/scene.usda`: physics scene, object references with poses, joints."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, Vt

from blueprint_pipeline.scene.doors import door
from blueprint_pipeline.scene.floor import floor_height_m
from blueprint_pipeline.scene.records import SceneHeader, SceneObject
from blueprint_pipeline.usd.names import JOINTS_ROOT, OBJECTS_ROOT, PHYSICS_SCENE, WORLD, object_file


def _rotation_x_to(axis: tuple[float, float, float]) -> Gf.Quatf:
    """Rotation taking +X onto `axis` (UsdPhysics joints move about/along a principal axis)."""
    rot = Gf.Rotation(Gf.Vec3d(1, 0, 0), Gf.Vec3d(*axis))
    q = rot.GetQuat()
    return Gf.Quatf(q.GetReal(), Gf.Vec3f(q.GetImaginary()))


def joint_anchor_local(obj: SceneObject, objects: Sequence[SceneObject]) -> tuple[float, float, float]:
    """Where the joint sits in the object's frame: a door's hinge as scene/doors.py infers it
    (the MuJoCo scene uses the same), the object's origin for a drawer."""
    art = obj.articulation
    if art is None or art.type != "revolute":
        return (0.0, 0.0, 0.0)
    hinge = door(obj, objects, floor_height_m(objects)).hinge_local
    return (float(hinge[0]), float(hinge[1]), float(hinge[2]))


def author_joint(stage: Usd.Stage, obj: SceneObject, name: str, objects: Sequence[SceneObject]) -> None:
    """A revolute or prismatic joint between the world and the object, about/along the
    articulation axis through `joint_anchor_local` (a door's inferred hinge; the normalised scene
    carries no hinge position). UsdPhysics revolute limits are in DEGREES: the scene's radians
    are converted."""
    art = obj.articulation
    assert art is not None
    path = f"{JOINTS_ROOT}/{name}"
    if art.type == "revolute":
        joint = UsdPhysics.RevoluteJoint.Define(stage, path)
        lower, upper = math.degrees(art.lower), math.degrees(art.upper)
    else:
        joint = UsdPhysics.PrismaticJoint.Define(stage, path)
        lower, upper = art.lower, art.upper
    joint.CreateAxisAttr(UsdPhysics.Tokens.x)
    joint.CreateLowerLimitAttr(lower)
    joint.CreateUpperLimitAttr(upper)
    joint.CreateBody1Rel().SetTargets([Sdf.Path(f"{OBJECTS_ROOT}/{name}")])
    to_axis = _rotation_x_to(art.axis_local)
    w, x, y, z = obj.orientation_wxyz
    world_rot = Gf.Quatf(w, x, y, z) * to_axis
    anchor = joint_anchor_local(obj, objects)
    anchor_world = Gf.Vec3d(*obj.position_m) + Gf.Rotation(Gf.Quatd(w, x, y, z)).TransformDir(Gf.Vec3d(*anchor))
    joint.CreateLocalPos0Attr(Gf.Vec3f(anchor_world))
    joint.CreateLocalRot0Attr(world_rot)
    joint.CreateLocalPos1Attr(Gf.Vec3f(*anchor))
    joint.CreateLocalRot1Attr(to_axis)
    prim = joint.GetPrim()
    if art.damping is not None:
        prim.CreateAttribute("blueprint:jointDamping", Sdf.ValueTypeNames.Float, custom=True).Set(art.damping)


def add_object_prims(layer: Sdf.Layer, objects: list[SceneObject], names: dict[str, str]) -> None:
    """One Xform per object referencing its file, with translate and orient. Authored as Sdf
    specs on the layer after the stage is gone: through the Usd API every new prim recomposed
    the stage (quadratic: 8.5 s for 10,000 objects) and opened its object file."""
    T = Sdf.ValueTypeNames
    scope = layer.GetPrimAtPath(Sdf.Path(OBJECTS_ROOT))
    order = Vt.TokenArray(["xformOp:translate", "xformOp:orient"])
    for obj in objects:
        name = names[obj.id]
        spec = Sdf.PrimSpec(scope, name, Sdf.SpecifierDef, "Xform")
        spec.referenceList.Prepend(Sdf.Reference(f"./{object_file(name)}"))
        Sdf.AttributeSpec(spec, "xformOp:translate", T.Double3).default = Gf.Vec3d(*obj.position_m)
        w, x, y, z = obj.orientation_wxyz
        Sdf.AttributeSpec(spec, "xformOp:orient", T.Quatf).default = Gf.Quatf(w, x, y, z)
        Sdf.AttributeSpec(spec, "xformOpOrder", T.TokenArray, Sdf.VariabilityUniform).default = order
        # The manifest scale is baked into the object file (its extents include it); kept here
        # for reference only.
        Sdf.AttributeSpec(spec, "blueprint:manifestScale", T.Float3, Sdf.VariabilityVarying, True).default = \
            Gf.Vec3f(*obj.scale)


def author_scene(stage: Usd.Stage, header: SceneHeader, objects: list[SceneObject], names: dict[str, str]) -> None:
    """Everything but the object prims (see `add_object_prims`)."""
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    world = UsdGeom.Xform.Define(stage, WORLD).GetPrim()
    stage.SetDefaultPrim(world)
    world.CreateAttribute("blueprint:sceneId", Sdf.ValueTypeNames.String, custom=True).Set(header.scene_id)

    g = Gf.Vec3f(*header.gravity_m_s2)
    physics_scene = UsdPhysics.Scene.Define(stage, PHYSICS_SCENE)
    magnitude = g.GetLength()
    physics_scene.CreateGravityDirectionAttr(g / magnitude if magnitude > 0 else Gf.Vec3f(0, 0, -1))
    physics_scene.CreateGravityMagnitudeAttr(magnitude)

    UsdGeom.Scope.Define(stage, OBJECTS_ROOT)
    articulated = [o for o in objects if o.articulation is not None]
    if articulated:
        UsdGeom.Scope.Define(stage, JOINTS_ROOT)
        for obj in articulated:
            author_joint(stage, obj, names[obj.id], objects)
