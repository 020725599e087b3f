"""Pydantic models of the scene manifest as written (the reference's format, accepted as-is).

These models check one JSON value each: the top-level header (`ManifestHeader`, everything but
`objects`) and one object (`ManifestObject`). Cross-object rules (unique ids, relationship
targets) live in `ingest.py`; conversion to the z-up SI records lives in `normalise.py`.

Units are the manifest's own: lengths in `scene.meters_per_unit`, angles in `scene.euler_units`
(radians unless declared "degrees"), masses in kg. `transform.position` is the centre of the
object's bounding box; `dimensions_est` are the box's full extents (width, depth, height), which
`transform.scale` multiplies per local axis.

The reference's own schema requires of an object only id, sim_role, asset and transform; here
`dimensions_est` is optional too, because sizes can come from the asset file
(`scene/asset_size.py`); `sim_role` may be `deformable_object`; an articulation may be a joint
(`revolute`/`prismatic` with axis and limits) or only hints (`type: fixed`, no type, flags such
as `candidate`/`required`), which mean "not articulated" and are kept in the record's extras.
docs/manifest.md has the rules and a table of every quantity's unit.
"""

from __future__ import annotations

import difflib
import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from blueprint_pipeline.scene import sanitise

MAX_ABS_COORD = 1e6  # manifest units; larger values are data errors, not rooms
MAX_EXTENT = 1e6
# Quaternion and axis components: only their direction counts, but no honest manifest writes
# one above this, and the bound keeps every square and product far from float overflow.
MAX_ABS_COMPONENT = 1e6
MIN_QUAT_NORM = 1e-9

# Checked natively by pydantic-core (patterns and lengths); problems.phrase() words the errors.
Id = Annotated[str, Field(pattern=sanitise.ID_PATTERN)]
Name = Annotated[str, Field(max_length=sanitise.NAME_MAX_CHARS, pattern=sanitise.TEXT_PATTERN)]
Category = Annotated[str, Field(max_length=sanitise.CATEGORY_MAX_CHARS, pattern=sanitise.TEXT_PATTERN)]
Description = Annotated[str, Field(max_length=sanitise.DESCRIPTION_MAX_CHARS, pattern=sanitise.DESCRIPTION_PATTERN)]
Tag = Annotated[str, Field(max_length=sanitise.TAG_MAX_CHARS, pattern=sanitise.TEXT_PATTERN)]
AssetPath = Annotated[str, AfterValidator(sanitise.check_asset_path)]
# Numbers must be JSON numbers: strict refuses "1.5" strings and booleans (ints are fine).
Num = Annotated[float, Strict()]
Coord = Annotated[float, Strict(), Field(ge=-MAX_ABS_COORD, le=MAX_ABS_COORD)]
Extent = Annotated[float, Strict(), Field(gt=0, le=MAX_EXTENT)]
Component = Annotated[float, Strict(), Field(ge=-MAX_ABS_COMPONENT, le=MAX_ABS_COMPONENT)]


class ManifestRole(StrEnum):
    """`sim_role` as a manifest may write it: the normalised scene's roles (`records.SimRole`) plus
    `deformable_object`, which the reference's schema has and which is normalised to `static`
    (with a warning) until deformables are simulated."""

    STATIC = "static"
    INTERACTIVE = "interactive"
    MANIPULABLE_OBJECT = "manipulable_object"
    DEFORMABLE_OBJECT = "deformable_object"
    ARTICULATED_FURNITURE = "articulated_furniture"
    ARTICULATED_APPLIANCE = "articulated_appliance"
    CLUTTER = "clutter"
    BACKGROUND = "background"
    SCENE_SHELL = "scene_shell"
    UNKNOWN = "unknown"


class _In(BaseModel):
    # Unknown keys are reported by pydantic as `extra_forbidden`; ingest turns them into strict-mode
    # errors or `extras` with a warning. Nothing is dropped silently.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=False, populate_by_name=True)


class Vec3In(_In):
    x: Coord
    y: Coord
    z: Coord


class ScaleIn(_In):
    x: Extent = 1.0
    y: Extent = 1.0
    z: Extent = 1.0


class QuaternionIn(_In):
    """w-x-y-z; normalised during normalisation, so only a zero norm (or an absurd component)
    is an error."""

    w: Component
    x: Component
    y: Component
    z: Component

    @model_validator(mode="after")
    def _nonzero(self) -> QuaternionIn:
        # hypot scales internally: no overflow or underflow in the squares.
        if math.hypot(self.w, self.x, self.y, self.z) < MIN_QUAT_NORM:
            raise ValueError("quaternion has zero norm")
        return self


class EulerIn(_In):
    """R = Rz(yaw) Ry(pitch) Rx(roll) about the manifest's own x, y, z axes, in scene.euler_units."""

    roll: Coord = 0.0
    pitch: Coord = 0.0
    yaw: Coord = 0.0


class TransformIn(_In):
    position: Vec3In
    scale: ScaleIn = ScaleIn()
    rotation_quaternion: QuaternionIn | None = None
    rotation_euler: EulerIn | None = None

    @model_validator(mode="after")
    def _one_rotation(self) -> TransformIn:
        if self.rotation_quaternion is not None and self.rotation_euler is not None:
            raise ValueError("give rotation_quaternion or rotation_euler, not both")
        return self


class DimensionsIn(_In):
    """Full extents of the bounding box in manifest units (y-up: width=x, height=y, depth=z)."""

    width: Extent
    depth: Extent
    height: Extent


class AssetIn(BaseModel):
    """Asset reference; keys beyond the known ones are kept in `extras` (the format allows them)."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=True)

    path: AssetPath | None = None
    format: Category | None = None
    source: Category | None = None
    asset_id: Name | None = None
    license: Name | None = Field(default=None, validation_alias=AliasChoices("license", "licence"))
    commercial_ok: bool | None = None


class SemanticsIn(_In):
    class_: Category | None = Field(default=None, alias="class")
    affordances: list[Any] = Field(default_factory=list, max_length=64)
    affordance_params: dict[str, Any] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=64)
    # The reference's schema defines these too; kept in the record's extras (`semantics.<key>`).
    instance_id: Name | None = None
    custom_labels: dict[str, Any] | None = None

    @field_validator("affordances")
    @classmethod
    def _affordances(cls, items: list[Any]) -> list[Any]:
        out = []
        for i, a in enumerate(items):
            if isinstance(a, str):
                out.append({"type": sanitise.normalise_affordance_type(a)})
            elif isinstance(a, dict) and isinstance(a.get("type"), str):
                out.append({**a, "type": sanitise.normalise_affordance_type(a["type"])})
            else:
                raise ValueError(f"affordances[{i}] must be a string or an object with a string 'type'")  # noqa: TRY004 (pydantic reports ValueError)
        return out


class LimitsIn(_In):
    lower: Coord
    upper: Coord

    @model_validator(mode="after")
    def _ordered(self) -> LimitsIn:
        if self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be < upper ({self.upper})")
        return self


_AXIS_NAMES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


JOINT_TYPES = ("revolute", "prismatic")


class ArticulationIn(BaseModel):
    """One joint, or only hints about one.

    A joint: `type` revolute or prismatic, with `axis` in the object's own (manifest) frame
    ([x, y, z], {x, y, z} or "x"/"y"/"z") and `limits`; revolute limits are in scene.euler_units,
    prismatic limits and damping lengths in manifest units.

    Hints: `type: fixed`, no `type` (or null), e.g. the reference's `{"candidate": true,
    "required": false}`: the object is not articulated; everything given is kept in the record's
    extras under `articulation.<key>`. Keys beyond the known ones are allowed either way (the
    reference's schema allows them) and kept the same way."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=True)

    type: Literal["revolute", "prismatic", "fixed"] | None = None
    axis: tuple[Component, Component, Component] | None = None
    limits: LimitsIn | None = None
    damping: Annotated[float, Strict(), Field(ge=0, le=1e6)] | None = None

    @property
    def is_joint(self) -> bool:
        return self.type in JOINT_TYPES

    @model_validator(mode="after")
    def _joint_complete(self) -> ArticulationIn:
        if self.is_joint:
            for name in ("axis", "limits"):
                if getattr(self, name) is None:
                    close = difflib.get_close_matches(name, list(self.model_extra or {}), n=1, cutoff=0.7)
                    typo = f" ({close[0]!r} is no key of a joint)" if close else ""
                    raise ValueError(f"@{name}: is required for a {self.type} joint{typo} (or drop `type` "
                                     "to keep the articulation as hints only)")
        return self

    @field_validator("axis", mode="before")
    @classmethod
    def _axis(cls, v: Any) -> Any:
        if isinstance(v, str) and v.lower().lstrip("+-") in _AXIS_NAMES:
            sign = -1.0 if v.startswith("-") else 1.0
            return tuple(sign * c for c in _AXIS_NAMES[v.lower().lstrip("+-")])
        if isinstance(v, dict) and set(v) == {"x", "y", "z"}:
            return (v["x"], v["y"], v["z"])
        return v

    @field_validator("axis")
    @classmethod
    def _axis_norm(cls, v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if v is None:
            return v
        n = math.hypot(v[0], v[1], v[2])  # no overflow or underflow in the squares
        if not math.isfinite(n) or n < 1e-9:
            raise ValueError("axis must be a finite non-zero vector")
        return (v[0] / n, v[1] / n, v[2] / n)


class RelationshipIn(_In):
    type: Category
    subject_id: Id | None = None  # defaults to the object the relationship is listed on
    object_id: Id


class ManifestObject(_In):
    id: Id
    sim_role: ManifestRole = ManifestRole.UNKNOWN
    name: Name | None = None  # defaults to the id
    category: Category = "unknown"
    description: Description = ""
    transform: TransformIn
    dimensions_est: DimensionsIn | None = None  # None: sized from the asset (scene/asset_size.py)
    asset: AssetIn | None = None
    semantics: SemanticsIn | None = None
    physics: dict[str, Any] | None = None
    physics_hints: dict[str, Any] | None = None
    articulation: ArticulationIn | None = None
    relationships: list[RelationshipIn] = Field(default_factory=list, max_length=256)
    placement_region: Any = None
    # Optional keys of the reference's schema that no stage reads: accepted (also with --strict)
    # and kept in the record's extras under their names.
    must_be_separate_asset: bool | None = None
    dimensions_source: Category | None = None
    variation_candidate: bool | None = None
    placement: dict[str, Any] | None = None
    asset_generation: dict[str, Any] | None = None
    source: dict[str, Any] | None = None


REFERENCE_ONLY_KEYS = ("must_be_separate_asset", "dimensions_source", "variation_candidate", "placement",
                       "asset_generation", "source")


class RoomBoundsIn(_In):
    width: Extent
    depth: Extent
    height: Extent


class RoomIn(_In):
    bounds: RoomBoundsIn | None = None
    origin: tuple[Coord, Coord, Coord] | None = None


class GravityIn(_In):
    """Manifest units per s^2 in the manifest's axes, like every other length (USD states gravity
    in stage units too): a centimetre scene writes -981. Its magnitude in m/s^2 is checked by
    `SceneIn` once meters_per_unit is known."""

    x: Component = 0.0
    y: Component = 0.0
    z: Component = 0.0


class PhysicsDefaultsIn(_In):
    gravity: GravityIn | None = None
    solver: Category | None = None
    time_steps_per_second: Annotated[float, Strict(), Field(gt=0, le=1e6)] | None = None


MAX_GRAVITY_M_S2 = 100.0  # ten times Earth's: beyond it a unit mistake is far likelier than a design
MIN_GRAVITY_M_S2 = 0.5  # below it (other than exactly 0) likewise: 9.81 written in a centimetre scene


class SceneIn(_In):
    coordinate_frame: Literal["y_up", "z_up"]
    meters_per_unit: Annotated[float, Strict(), Field(gt=0, le=1000)] = 1.0
    euler_units: Literal["radians", "degrees"] = "radians"
    environment_type: Category | None = None
    room: RoomIn | None = None
    physics_defaults: PhysicsDefaultsIn | None = None

    @model_validator(mode="after")
    def _gravity_in_scene_units(self) -> SceneIn:
        g = self.physics_defaults.gravity if self.physics_defaults else None
        if g is None:
            return self
        units = math.hypot(g.x, g.y, g.z)
        m_s2 = units * self.meters_per_unit
        if m_s2 > MAX_GRAVITY_M_S2 or 0 < m_s2 < MIN_GRAVITY_M_S2:
            raise ValueError(
                f"@physics_defaults.gravity: {units:g} units/s^2 at meters_per_unit {self.meters_per_unit:g} is "
                f"{m_s2:g} m/s^2; gravity is in manifest units (Earth: {9.81 / self.meters_per_unit:g} "
                f"units/s^2 here), within {MIN_GRAVITY_M_S2:g}-{MAX_GRAVITY_M_S2:g} m/s^2")
        return self


class ManifestHeader(_In):
    """Everything at the top level except `objects`."""

    version: Annotated[str, Field(pattern=sanitise.VERSION_RE.pattern)]
    scene_id: Id
    scene: SceneIn
    assets: dict[str, Any] | None = None
    background: Any = None
    metadata: dict[str, Any] | None = None


class Manifest(ManifestHeader):
    """The whole manifest in one model: used by the in-memory baseline of the benchmark and by
    small tools; the pipeline itself validates header and objects separately while streaming."""

    objects: list[ManifestObject]
