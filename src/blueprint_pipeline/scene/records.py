"""The normalised scene: the ONE representation every stage after `scene` reads.

Conventions (whatever the manifest used):
- frame: right-handed, z-up, gravity along -z;
- units: metres, kilograms, seconds, radians;
- orientations: unit quaternions w-x-y-z, object frame -> world frame;
- `position_m` is the centre of the object's oriented bounding box in the world frame;
- `extents_m` are the box's full extents along the object's own x, y, z axes (scale applied);
- `aabb_min_m` / `aabb_max_m` is the world-frame axis-aligned box that contains the oriented box.

The file `scene/normalized.jsonl` holds one `SceneHeader` record on its first line and one
`SceneObject` per following line, so it can be read and written as a stream.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NORMALIZED_SCHEMA = "blueprint.normalized_scene/1"

Vec3 = tuple[float, float, float]
QuatWXYZ = tuple[float, float, float, float]


class SimRole(StrEnum):
    STATIC = "static"
    INTERACTIVE = "interactive"
    MANIPULABLE_OBJECT = "manipulable_object"
    ARTICULATED_FURNITURE = "articulated_furniture"
    ARTICULATED_APPLIANCE = "articulated_appliance"
    CLUTTER = "clutter"
    BACKGROUND = "background"
    SCENE_SHELL = "scene_shell"
    UNKNOWN = "unknown"

    @property
    def is_dynamic(self) -> bool:
        """Free rigid bodies in simulation (the rest are fixed colliders or joints)."""
        return self in (SimRole.MANIPULABLE_OBJECT, SimRole.CLUTTER, SimRole.INTERACTIVE)

    @property
    def is_articulated(self) -> bool:
        return self in (SimRole.ARTICULATED_FURNITURE, SimRole.ARTICULATED_APPLIANCE)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Affordance(_Record):
    """An affordance with its parameters; the type is normalised to CamelCase (`Graspable`)."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)


class AssetRef(_Record):
    """A visual/collision asset. `path` is relative to the asset root and already checked."""

    path: str | None = None
    format: str | None = None
    source: str | None = None
    asset_id: str | None = None
    license: str | None = None
    commercial_ok: bool | None = None
    extras: dict[str, Any] = Field(default_factory=dict)


class ManifestPhysics(_Record):
    """Physics values the manifest gave explicitly (validated, SI units); None where absent."""

    mass_kg: float | None = None
    density_kg_m3: float | None = None
    static_friction: float | None = None
    dynamic_friction: float | None = None
    restitution: float | None = None
    material_type: str | None = None
    hints: dict[str, Any] = Field(default_factory=dict)


class Articulation(_Record):
    """One joint. `axis_local` is a unit vector in the object's frame (z-up);
    limits are radians (revolute) or metres (prismatic); damping in N*m*s/rad or N*s/m."""

    type: Literal["revolute", "prismatic"]
    axis_local: Vec3
    lower: float
    upper: float
    damping: float | None = None


class Relationship(_Record):
    type: str
    subject_id: str
    object_id: str


class SceneObject(_Record):
    id: str
    name: str
    category: str
    description: str = ""
    sim_role: SimRole
    semantic_class: str | None = None
    affordances: tuple[Affordance, ...] = ()
    tags: tuple[str, ...] = ()
    position_m: Vec3
    orientation_wxyz: QuatWXYZ
    scale: Vec3 = (1.0, 1.0, 1.0)
    extents_m: Vec3
    aabb_min_m: Vec3
    aabb_max_m: Vec3
    asset: AssetRef | None = None
    physics: ManifestPhysics | None = None
    articulation: Articulation | None = None
    relationships: tuple[Relationship, ...] = ()
    placement_region: str | None = None
    extras: dict[str, Any] = Field(default_factory=dict)

    def has_affordance(self, name: str) -> bool:
        return any(a.type.lower() == name.lower() for a in self.affordances)


class ExcludedObject(_Record):
    """An object of the manifest that is kept out of simulation: it has no `dimensions_est` and no
    asset file its size could be measured from, so no stage can give it a collider or a body.
    It is listed in the header (never as an object line), with what is known of it and why."""

    id: str
    name: str
    category: str
    sim_role: str  # as the manifest wrote it
    position_m: Vec3
    asset_path: str | None = None
    reason: str


class SceneHeader(_Record):
    schema_: str = Field(default=NORMALIZED_SCHEMA, alias="schema")
    scene_id: str
    manifest_version: str
    environment_type: str | None = None
    source_frame: Literal["y_up", "z_up"]
    source_meters_per_unit: float
    room_size_m: Vec3 | None = None
    room_origin_m: Vec3 | None = None
    gravity_m_s2: Vec3 = (0.0, 0.0, -9.81)
    physics_solver: str | None = None
    time_steps_per_second: float | None = None
    object_count: int  # object lines that follow (excluded objects are not among them)
    excluded_objects: tuple[ExcludedObject, ...] = ()
    manifest_sha256: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Scene(_Record):
    """A whole normalised scene in memory (fine up to tens of thousands of objects)."""

    header: SceneHeader
    objects: tuple[SceneObject, ...]

    def by_id(self) -> dict[str, SceneObject]:
        return {o.id: o for o in self.objects}
