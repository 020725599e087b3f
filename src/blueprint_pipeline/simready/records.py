"""Physics per object: the record every later stage reads (through `load_physics`).

Units: kg, m, kg*m^2, dimensionless coefficients. Centre of mass and inertia are in the
object's own frame (the frame of `SceneObject.extents_m`); inertia is diagonal in that frame.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

PHYSICS_SCHEMA = "blueprint.physics/1"

# Ranges every record must hold, checked again whenever a later stage loads the file, so an
# edited or damaged physics file is refused naming the field instead of reaching the simulator.
# Friction: no real material pair exceeds ~2 (rubber on clean rubber); 10 leaves room for
# deliberate grippy settings.
MAX_FRICTION = 10.0
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Friction = Annotated[float, Field(ge=0, le=MAX_FRICTION, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]

Vec3 = tuple[Finite, Finite, Finite]
Range = tuple[Finite, Finite]


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

    mass_kg: tuple[Positive, Positive]
    static_friction: tuple[Friction, Friction]
    dynamic_friction: tuple[Friction, Friction]
    restitution: tuple[Fraction, Fraction]
    com_noise_m: tuple[NonNegative, NonNegative, NonNegative]  # +- noise on the centre of mass along the object's axes

    @model_validator(mode="after")
    def _ordered(self) -> RandomizationRanges:
        for name in ("mass_kg", "static_friction", "dynamic_friction", "restitution"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: low {low} is above high {high}")
        return self


class ObjectPhysics(_Record):
    object_id: str
    is_dynamic: bool  # free rigid body (False: fixed collider or articulated furniture)
    material: str
    mass_kg: Positive
    density_kg_m3: Positive  # bulk density: mass / bounding-box volume
    static_friction: Friction
    dynamic_friction: Friction  # <= static_friction
    restitution: Fraction
    collider: ColliderShape
    collider_size_m: tuple[Positive, Positive, Positive]  # full extents of the collider's bounding box, object frame
    center_of_mass_m: Vec3
    inertia_diag_kg_m2: tuple[NonNegative, NonNegative, NonNegative]
    contact_offset_m: NonNegative
    rest_offset_m: Finite
    graspable: bool
    graspable_reason: str
    surface_roughness_um: NonNegative  # arithmetic mean roughness Ra, micrometres
    randomization: RandomizationRanges
    sources: dict[str, ValueSource] = Field(default_factory=dict)  # field name -> source
    notes: tuple[str, ...] = ()  # e.g. why the LLM estimate fell back to the table


class PhysicsFile(_Record):
    schema_: str = Field(default=PHYSICS_SCHEMA, alias="schema")
    scene_id: str
    estimator: str
    objects: dict[str, ObjectPhysics]

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
