"""Physics per object: the record every later stage reads (through `load_physics`).

Units: kg, m, kg*m^2, dimensionless coefficients. Centre of mass and inertia are in the
object's own frame (the frame of `SceneObject.extents_m`); inertia is diagonal in that frame.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

PHYSICS_SCHEMA = "blueprint.physics/1"

Vec3 = tuple[float, float, float]
Range = tuple[float, float]


class ValueSource(StrEnum):
    MANIFEST = "manifest"
    TABLE = "table"
    LLM = "llm"
    DERIVED = "derived"  # computed from other values (inertia from mass and shape, ...)


class ColliderShape(StrEnum):
    BOX = "box"
    SPHERE = "sphere"
    CAPSULE = "capsule"
    CYLINDER = "cylinder"
    CONVEX_HULL = "convex_hull"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RandomizationRanges(_Record):
    """Domain-randomisation ranges (absolute values, [low, high])."""

    mass_kg: Range
    static_friction: Range
    dynamic_friction: Range
    restitution: Range
    com_noise_m: Vec3  # +- noise on the centre of mass along the object's axes


class ObjectPhysics(_Record):
    object_id: str
    is_dynamic: bool  # free rigid body (False: fixed collider or articulated furniture)
    material: str
    mass_kg: float
    density_kg_m3: float  # bulk density: mass / bounding-box volume
    static_friction: float
    dynamic_friction: float  # <= static_friction
    restitution: float
    collider: ColliderShape
    collider_size_m: Vec3  # full extents of the collider's bounding box, object frame
    center_of_mass_m: Vec3
    inertia_diag_kg_m2: Vec3
    contact_offset_m: float
    rest_offset_m: float
    graspable: bool
    graspable_reason: str
    surface_roughness_um: float  # arithmetic mean roughness Ra, micrometres
    randomization: RandomizationRanges
    sources: dict[str, ValueSource] = Field(default_factory=dict)  # field name -> source
    notes: tuple[str, ...] = ()  # e.g. why the LLM estimate fell back to the table


class PhysicsFile(_Record):
    schema_: str = Field(default=PHYSICS_SCHEMA, alias="schema")
    scene_id: str
    estimator: str
    objects: dict[str, ObjectPhysics]

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
