"""Reopen the written scene and check it against physics.json; run usd-core's validators.

usd-core 26 replaced `UsdUtils.ComplianceChecker` with the `UsdValidation` framework; we run
every registered validator (core, geometry, physics, shading...) and report its errors. Where
neither exists (old usd-core), only our own checks run and the report says so.

Colliders: one prim (`Collider`) of the type physics.json's collider names, or, for an object
with a stored mesh, an Xform `Collider` holding exactly the record's number of convex pieces
(hull Meshes), its Visual the record's triangles; each collision prim is checked for its APIs,
approximation and bound physics material.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pxr import Gf, Usd, UsdGeom, UsdPhysics, UsdShade

from blueprint_pipeline.scene.records import SceneHeader, SceneObject
from blueprint_pipeline.simready.records import ColliderShape, ObjectPhysics, PhysicsFile
from blueprint_pipeline.usd.names import JOINTS_ROOT, OBJECTS_ROOT, PHYSICS_SCENE
from blueprint_pipeline.usd.objects import APPROXIMATION, SEMANTIC_ATTR, has_rigid_body

REL_TOL = 1e-5  # USD stores these as 32-bit floats
ABS_TOL = 1e-9
COLLIDER_TYPES = {
    ColliderShape.BOX: "Cube", ColliderShape.SPHERE: "Sphere", ColliderShape.CYLINDER: "Cylinder",
    ColliderShape.CAPSULE: "Capsule", ColliderShape.CONVEX_HULL: "Mesh",
}
MAX_REPORTED = 30


@dataclass
class ValidationReport:
    problems: list[str] = field(default_factory=list)
    validator_errors: list[str] = field(default_factory=list)
    validators_run: int = 0
    prims_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.validator_errors

    def text(self) -> str:
        head = (f"USD validation failed: {len(self.problems)} mismatches with physics.json, "
                f"{len(self.validator_errors)} usd-core validator errors")
        lines = [head]
        for p in (self.problems + self.validator_errors)[:MAX_REPORTED]:
            lines.append(f"  {p}")
        extra = len(self.problems) + len(self.validator_errors) - MAX_REPORTED
        if extra > 0:
            lines.append(f"  ... and {extra} more")
        return "\n".join(lines)


def _g(v: object) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _close3(a: Iterable[float], b: Iterable[float]) -> bool:
    return all(_close(float(x), float(y)) for x, y in zip(a, b, strict=True))


def check_object(stage: Usd.Stage, obj: SceneObject, phys: ObjectPhysics, name: str) -> list[str]:
    path = f"{OBJECTS_ROOT}/{name}"
    prim = stage.GetPrimAtPath(path)
    if not prim.IsValid():
        return [f"{path}: prim missing"]
    out: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            out.append(f"{path} ({obj.id}): {what}")

    expect(prim.HasAPI(UsdPhysics.MassAPI), "no MassAPI")
    mass = UsdPhysics.MassAPI(prim)
    m = mass.GetMassAttr().Get()
    expect(m is not None and _close(m, phys.mass_kg), f"mass {_g(m)} != physics.json {_g(phys.mass_kg)}")
    com = mass.GetCenterOfMassAttr().Get()
    expect(com is not None and _close3(com, phys.center_of_mass_m), f"centre of mass {com} != {phys.center_of_mass_m}")
    inertia = mass.GetDiagonalInertiaAttr().Get()
    expect(inertia is not None and _close3(inertia, phys.inertia_diag_kg_m2),
           f"diagonal inertia {inertia} != {phys.inertia_diag_kg_m2}")
    rigid = prim.HasAPI(UsdPhysics.RigidBodyAPI)
    expect(rigid == has_rigid_body(obj, phys), f"RigidBodyAPI {'present' if rigid else 'missing'} "
                                                f"(is_dynamic={phys.is_dynamic})")
    labels = prim.GetAttribute(SEMANTIC_ATTR).Get() or []
    expect(list(labels) == [obj.semantic_class or obj.category], f"semantic label {list(labels)}")
    translate = prim.GetAttribute("xformOp:translate").Get()
    expect(translate is not None and _close3(translate, obj.position_m), f"position {translate} != {obj.position_m}")

    collider = stage.GetPrimAtPath(f"{path}/Collider")
    if not collider.IsValid():
        out.append(f"{path} ({obj.id}): no Collider prim")
        return out
    if phys.mesh is None:
        pieces = [collider]
    else:  # the stored mesh: its visual, and its convex pieces under an Xform Collider
        visual = stage.GetPrimAtPath(f"{path}/Visual")
        counts = UsdGeom.Mesh(visual).GetFaceVertexCountsAttr().Get() if visual.IsA(UsdGeom.Mesh) else None
        expect(counts is not None and len(counts) == phys.mesh.triangles,
               f"visual is not the stored mesh's {phys.mesh.triangles} triangles")
        expect(collider.GetTypeName() == "Xform", f"collider type {collider.GetTypeName()} for the stored mesh's pieces")
        pieces = list(collider.GetChildren())
        expect(len(pieces) == phys.mesh.hulls, f"{len(pieces)} collider pieces != physics.json's {phys.mesh.hulls}")
    for piece in pieces:
        _check_collider(piece, phys, expect)
    return out


def _check_collider(collider: Usd.Prim, phys: ObjectPhysics, expect: Callable[[bool, str], None]) -> None:
    """One collision prim: its type, collision APIs, approximation and physics material."""
    where = "" if collider.GetName() == "Collider" else f" (piece {collider.GetName()})"
    expect(collider.GetTypeName() == COLLIDER_TYPES[phys.collider],
           f"collider type {collider.GetTypeName()} for {phys.collider.value}{where}")
    expect(collider.HasAPI(UsdPhysics.CollisionAPI), f"collider without CollisionAPI{where}")
    expect(collider.HasAPI(UsdPhysics.MeshCollisionAPI), f"collider without MeshCollisionAPI{where}")
    approx = UsdPhysics.MeshCollisionAPI(collider).GetApproximationAttr().Get()
    expect(approx == APPROXIMATION[phys.collider], f"approximation {approx} for {phys.collider.value}{where}")
    material, _ = UsdShade.MaterialBindingAPI(collider).ComputeBoundMaterial("physics")
    if not material or not material.GetPrim().HasAPI(UsdPhysics.MaterialAPI):
        expect(False, f"no physics material bound to the collider{where}")
        return
    pm = UsdPhysics.MaterialAPI(material.GetPrim())
    for what, attr, want in (("static friction", pm.GetStaticFrictionAttr(), phys.static_friction),
                             ("dynamic friction", pm.GetDynamicFrictionAttr(), phys.dynamic_friction),
                             ("restitution", pm.GetRestitutionAttr(), phys.restitution)):
        got = attr.Get()
        expect(got is not None and _close(got, want), f"{what} {_g(got)} != physics.json {_g(want)}{where}")


def check_joint(stage: Usd.Stage, obj: SceneObject, name: str) -> list[str]:
    art = obj.articulation
    assert art is not None
    path = f"{JOINTS_ROOT}/{name}"
    prim = stage.GetPrimAtPath(path)
    schema = UsdPhysics.RevoluteJoint if art.type == "revolute" else UsdPhysics.PrismaticJoint
    if not prim.IsValid() or not prim.IsA(schema):
        return [f"{path} ({obj.id}): no {art.type} joint"]
    joint = schema(prim)
    scale = math.degrees if art.type == "revolute" else float
    lo, hi = joint.GetLowerLimitAttr().Get(), joint.GetUpperLimitAttr().Get()
    if not (_close(lo, scale(art.lower)) and _close(hi, scale(art.upper))):
        return [f"{path} ({obj.id}): limits [{lo}, {hi}] != [{scale(art.lower)}, {scale(art.upper)}]"]
    # at rest the joint's two frames coincide: the world anchor is the object's anchor placed by its pose
    w, x, y, z = obj.orientation_wxyz
    pos0, pos1 = joint.GetLocalPos0Attr().Get(), joint.GetLocalPos1Attr().Get()
    placed = Gf.Vec3d(*obj.position_m) + Gf.Rotation(Gf.Quatd(w, x, y, z)).TransformDir(Gf.Vec3d(pos1))
    if pos0 is None or (Gf.Vec3d(pos0) - placed).GetLength() > 1e-4:
        return [f"{path} ({obj.id}): localPos0 {pos0} is not localPos1 {pos1} placed by the object's pose ({placed})"]
    return []


def run_usd_validators(stage: Usd.Stage) -> tuple[int, list[str]]:
    """(validators run, error messages) from usd-core's validation framework, if present."""
    try:
        from pxr import UsdValidation
    except ImportError:
        return 0, []
    registry = UsdValidation.ValidationRegistry()
    validators = registry.GetOrLoadAllValidators()
    context = UsdValidation.ValidationContext(validators)
    errors = []
    for err in context.Validate(stage):
        if err.GetType() == UsdValidation.ValidationErrorType.Error:
            sites = ", ".join(str(s.GetPrim().GetPath()) for s in err.GetSites() if s.IsPrim()) or "stage"
            errors.append(f"[{err.GetName()}] {sites}: {err.GetMessage()}")
    return len(validators), errors


def validate_scene(scene_path: str, header: SceneHeader, objects: list[SceneObject], physics: PhysicsFile,
                   names: dict[str, str]) -> ValidationReport:
    stage = Usd.Stage.Open(scene_path)  # keep the reference while its prims are in use
    report = ValidationReport()
    if UsdGeom.GetStageUpAxis(stage) != UsdGeom.Tokens.z:
        report.problems.append(f"upAxis is {UsdGeom.GetStageUpAxis(stage)}, expected Z")
    if UsdGeom.GetStageMetersPerUnit(stage) != 1.0:
        report.problems.append(f"metersPerUnit is {UsdGeom.GetStageMetersPerUnit(stage)}, expected 1")
    if UsdPhysics.GetStageKilogramsPerUnit(stage) != 1.0:
        report.problems.append(f"kilogramsPerUnit is {UsdPhysics.GetStageKilogramsPerUnit(stage)}, expected 1")
    ps = stage.GetPrimAtPath(PHYSICS_SCENE)
    if not ps.IsValid() or not ps.IsA(UsdPhysics.Scene):
        report.problems.append(f"{PHYSICS_SCENE}: no PhysicsScene")
    else:
        scene = UsdPhysics.Scene(ps)
        g = scene.GetGravityDirectionAttr().Get() * scene.GetGravityMagnitudeAttr().Get()
        if not _close3(g, header.gravity_m_s2):
            report.problems.append(f"gravity {tuple(g)} != {header.gravity_m_s2}")
    for obj in objects:
        report.problems += check_object(stage, obj, physics.objects[obj.id], names[obj.id])
        if obj.articulation is not None:
            report.problems += check_joint(stage, obj, names[obj.id])
        report.prims_checked += 1
    report.validators_run, report.validator_errors = run_usd_validators(stage)
    del stage
    return report
