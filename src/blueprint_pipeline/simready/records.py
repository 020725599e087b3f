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
    MESH = "mesh"  # from the object's mesh asset (simready/meshes.py): its shape, volume or surface


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


class RimRecord(_Record):
    """The rim of an open-top hollow mesh (simready/rims.py), object frame: a gripper takes it
    with one finger inside the wall and one outside, at `grip_depth_m` below the top."""

    centre_m: tuple[Finite, Finite]  # the rim's centre, x and y
    top_z_m: Finite
    depth_m: Positive  # of the cavity below the top, at the centre
    grip_depth_m: Positive
    wall_m: Positive  # thickness at the grip depth (median over the clear directions)
    radius_m: Positive  # of the wall's middle
    angles_rad: tuple[Finite, ...]  # directions from the centre where the wall is clear (no handle)
    # how far the wall's inner face leans in below the top, from vertical (a bowl's curves in;
    # a mug's is 0): grasps lean the hand by it (rims.py). 0 in physics files written before it.
    lean_rad: Finite = 0.0


class AntipodalGrasp(_Record):
    """Two surface points of a mesh a parallel gripper can squeeze (simready/antipodal.py),
    object frame: the pads close along `axis` on either side of `centre_m`."""

    centre_m: Vec3
    axis: Vec3  # unit
    width_m: Positive  # between the two points
    angle_rad: NonNegative  # how far the surfaces are from facing each other exactly


class MeshRecord(_Record):
    """The object's mesh from its asset file (simready/meshes.py), fitted to the object's box.

    `file` is relative to the simready folder (`meshes/<key>.npz`, content-addressed, shared by
    objects with the same fitted mesh); `sha256` is that file's, checked when a later stage
    reads it, so physics.json pins the mesh's exact bytes."""

    asset: str  # the manifest's asset path
    asset_sha256: str  # of the asset file's bytes
    file: str
    sha256: str
    scale: tuple[Positive, Positive, Positive]  # applied per axis (file units -> metres, fitted to the box)
    triangles: int = Field(ge=1)  # of the visual mesh (after decimation)
    hulls: int = Field(ge=1)  # convex pieces of the collider
    watertight: bool  # closed surface: mass and inertia from its volume (else from a thin shell)
    rim: RimRecord | None = None  # open-top hollow (a mug, a bowl): where it can be taken by its rim
    textured: bool = False  # the stored mesh carries the asset's base colour texture (mesh_files.py)
    antipodal: tuple[AntipodalGrasp, ...] = ()  # grasps of its surface, best first


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
    mesh: MeshRecord | None = None  # collider CONVEX_HULL with a mesh: the hulls and visual in `file`


class PhysicsFile(_Record):
    schema_: str = Field(default=PHYSICS_SCHEMA, alias="schema")
    scene_id: str
    estimator: str
    objects: dict[str, ObjectPhysics]

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
