"""One manifest value -> its validated, normalised record, with every problem it has.

`ObjectChecker` holds no state across objects (that is `ingest.py`'s job: ids, relationship
targets, counts), so the same code runs in the ingest's own process or in a worker process
that checks a span of the objects array (`scene/shards.py`).
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from blueprint_pipeline.scene import asset_size, build, plausibility, sanitise
from blueprint_pipeline.scene.manifest import REFERENCE_ONLY_KEYS, ArticulationIn, ManifestObject, ManifestRole
from blueprint_pipeline.scene.normalise import FrameConversion, snap
from blueprint_pipeline.scene.problems import ProblemCollector, loc_to_path, located
from blueprint_pipeline.scene.records import SimRole

# What the cross-object checks need of one object: (id, sim_role as written, category,
# relationship targets as (relationship index, field, target id), its box for the plausibility
# checks, or the JSON form of its `ExcludedObject` when it is kept out of simulation). sim_role is
# None when the object failed validation (its id, if it had a string one, still counts for
# duplicates and relationships).
ObjectFacts = tuple[str | None, str | None, str | None, tuple[tuple[int, str, str], ...],
                    plausibility.BoxFacts | None, dict[str, Any] | None]

FULL_TURN_RAD = 2 * math.pi
_SKIPPED_ROLES = (SimRole.SCENE_SHELL, SimRole.BACKGROUND)


def record_line(record: dict[str, Any]) -> str:
    """The normalised record as one JSON Lines line (without the newline). orjson: the stdlib
    encoder cost as much per object as validating it; both write the shortest float repr that
    reads back to the same value, and records hold no NaN (the ingest refuses them)."""
    return orjson.dumps(record).decode()


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (to suggest its keys)."""
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        f = fields.get(part)
        if f is None:
            return None
        found = _find_model(f.annotation)
        if found is None:
            return None
        model = found
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            m = _find_model(arg)
            if m is not None:
                return m
    return None


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _pop_path(raw: Any, loc: tuple[Any, ...]) -> Any:
    target = raw
    for part in loc[:-1]:
        target = target[part]
    return target.pop(loc[-1])


def _star(path: str) -> str:
    """objects[17].relationships[2].x -> objects[*].relationships[*].x (to group warnings)."""
    return re.sub(r"\[\d+\]", "[*]", path)


class ObjectChecker:
    """Validates values against the manifest models and builds object records; problems and
    warnings go to `problems`. `frame` is None when the header itself was invalid (objects are
    still validated, but no records are built)."""

    def __init__(self, problems: ProblemCollector, frame: FrameConversion | None, strict: bool,
                 asset_root: str | None = None) -> None:
        self.problems = problems
        self.frame = frame
        self.strict = strict
        self.asset_root = asset_root  # objects without dimensions_est are sized from files under it

    def validate(self, model_cls: type[BaseModel], raw: Any, prefix: str) -> tuple[Any, dict[str, Any]]:
        """Validate `raw`; unknown keys become errors (strict) or extras + a warning. Returns
        (model or None, extras)."""
        extras: dict[str, Any] = {}
        for _ in range(2):
            try:
                # The compiled validator directly: model_validate() adds a Python call per object.
                return model_cls.__pydantic_validator__.validate_python(raw), extras
            except ValidationError as exc:
                errors = exc.errors(include_url=False)
                unknown = [tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
                if not unknown or self.strict or len(unknown) != len({*unknown}) or extras:
                    self._report(model_cls, exc, prefix)
                    return None, extras
                for loc in unknown:
                    rel = loc_to_path("", loc)
                    extras[rel] = _pop_path(raw, loc)
                    hint = self._did_you_mean(model_cls, loc)
                    self.problems.warn(_star(loc_to_path(prefix, loc)),
                                       "unknown key kept under extras" + (f" (did you mean {hint!r}?)" if hint else ""))
                if len(unknown) == len(errors):
                    continue
                # Other errors too: report them (revalidation would repeat them).
                self._report(model_cls, exc, prefix, skip=set(unknown))
                return None, extras
        return None, extras

    def _did_you_mean(self, model_cls: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
        owner = _model_at(model_cls, loc[:-1])
        if owner is None or not isinstance(loc[-1], str):
            return None
        close = difflib.get_close_matches(loc[-1], _known_keys(owner), n=1, cutoff=0.7)
        return close[0] if close else None

    def _report(self, model_cls: type[BaseModel], exc: ValidationError, prefix: str,
                skip: set[tuple[Any, ...]] | None = None) -> None:
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            if skip and loc in skip:
                continue
            if err["type"] == "extra_forbidden":
                hint = self._did_you_mean(model_cls, loc)
                msg = "unknown key" + (f"; did you mean {hint!r}?" if hint else " (strict mode)")
                self.problems.add(loc_to_path(prefix, loc), msg)
            else:
                self.problems.add(*located(prefix, err))

    def check(self, index: int, raw: Any, dup_keys: list[str]) -> tuple[dict[str, Any] | None, ObjectFacts | None]:
        """(record or None, facts or None) for `objects[index]`; a record only if this object
        has no problem."""
        prefix = f"objects[{index}]"
        add = self.problems.add
        before = self.problems.total
        for k in dup_keys:
            add(prefix, f"duplicate key {k!r} in one JSON object")
        if not isinstance(raw, dict):
            add(prefix, f"must be an object, got {type(raw).__name__}")
            return None, None
        obj, extras = self.validate(ManifestObject, raw, prefix)
        if obj is None:
            oid = raw.get("id")
            return None, (oid if isinstance(oid, str) else None, None, None, (), None, None)
        refs = []
        for j, rel in enumerate(obj.relationships):
            refs.append((j, "object_id", rel.object_id))
            if rel.subject_id is not None:
                refs.append((j, "subject_id", rel.subject_id))
        role = self._role(obj)
        if role.value != obj.sim_role.value:
            extras["declared_sim_role"] = obj.sim_role.value
        art = obj.articulation
        joint = art if art is not None and art.is_joint else None
        if joint is not None and not role.is_articulated:
            self.problems.warn("objects[*].articulation", f"given for sim_role {role.value!r} (kept)")
        if joint is None and role.is_articulated:
            self.problems.warn("objects[*]", "articulated sim_role without a joint (not articulated)"
                               if art is None else "articulated sim_role with articulation hints only "
                               "(not articulated; hints kept under extras)", repr(obj.id))
        for key in REFERENCE_ONLY_KEYS:
            value = getattr(obj, key)
            if value is not None:
                extras[key] = value
        if obj.semantics is not None:
            if obj.semantics.instance_id is not None:
                extras["semantics.instance_id"] = obj.semantics.instance_id
            if obj.semantics.custom_labels is not None:
                extras["semantics.custom_labels"] = obj.semantics.custom_labels
        if art is not None and joint is None and (art.axis is not None or art.limits is not None):
            self.problems.warn("objects[*].articulation", "has an axis or limits but no joint type (revolute or "
                               "prismatic): not articulated, kept under extras", repr(obj.id))
        if art is not None:
            self._articulation_extras(art, extras)
            if joint is not None:
                self._check_revolute_limits(obj, prefix)
        physics = build.physics_record(obj, prefix, add)
        affordances = build.affordance_records(obj, prefix, add)
        asset = build.asset_record(obj, prefix, add)
        placement = obj.placement_region if isinstance(obj.placement_region, str) else None
        if obj.placement_region is not None and placement is None:
            extras["placement_region"] = obj.placement_region
        elif placement is not None:
            try:
                sanitise.check_name(placement)
            except ValueError as exc:
                add(f"{prefix}.placement_region", str(exc))
        if extras:
            for path, msg in sanitise.free_form_problems(extras, f"{prefix}.extras"):
                add(path, msg)
        if self.problems.total != before or self.frame is None:
            return None, (obj.id, obj.sim_role.value, obj.category, tuple(refs), None, None)
        dims = None
        if obj.dimensions_est is None:
            dims, reason = asset_size.asset_dimensions(
                self.asset_root, obj.asset.path if obj.asset else None, obj.asset.format if obj.asset else None,
                self.frame.y_up, self.frame.m_per_unit)
            if dims is None:
                return None, (obj.id, obj.sim_role.value, obj.category, tuple(refs), None,
                              self._excluded(obj, reason))
            extras["dimensions_from_asset"] = [float(v) for v in dims]
        record = build.object_record(obj, self.frame, prefix, add, affordances, physics, asset, placement, extras,
                                     role, dims)
        box = None
        if record is not None:
            flags = plausibility.object_flags(record, role.is_dynamic, role in _SKIPPED_ROLES,
                                              role.is_articulated or joint is not None)
            box = plausibility.box_facts(record, flags)
        return record, (obj.id, obj.sim_role.value, obj.category, tuple(refs), box, None)

    def _role(self, obj: ManifestObject) -> SimRole:
        """The normalised role; `deformable_object` is static scenery until deformables are simulated."""
        if obj.sim_role is ManifestRole.DEFORMABLE_OBJECT:
            self.problems.warn("objects[*].sim_role", "'deformable_object' is not simulated as a deformable "
                               "yet: kept as static scenery (sim_role 'static')", repr(obj.id))
            return SimRole.STATIC
        return SimRole(obj.sim_role.value)

    @staticmethod
    def _articulation_extras(art: ArticulationIn, extras: dict[str, Any]) -> None:
        """Hints are kept under extras: every key of a hint-only articulation, and the keys beyond
        type/axis/limits/damping of a joint."""
        if art.is_joint:
            kept = dict(art.model_extra or {})
        else:
            kept = art.model_dump(mode="json", exclude_unset=True)
        for key, value in kept.items():
            extras[f"articulation.{key}"] = value

    def _check_revolute_limits(self, obj: ManifestObject, prefix: str) -> None:
        """Revolute limits beyond a full turn in a manifest that does not state its angle unit are
        degrees written as radians (the reference's sample writes 0-90): an error with the fix."""
        art = obj.articulation
        if self.frame is None or self.frame.euler_units_given or art is None or art.type != "revolute" \
                or art.limits is None:
            return
        for name in ("lower", "upper"):
            value = getattr(art.limits, name)
            if abs(value) > FULL_TURN_RAD + 1e-9:
                self.problems.add(
                    f"{prefix}.articulation.limits.{name}",
                    f"{value:g} rad is more than a full turn (2*pi): degrees written as radians? Set "
                    f"scene.euler_units to \"degrees\" (the default is radians; {value:g} degrees = "
                    f"{math.radians(value):.4g} rad), or give the limits in radians")

    def _excluded(self, obj: ManifestObject, reason: str) -> dict[str, Any]:
        """An object without sizes: kept out of simulation (listed in the header), with a warning."""
        assert self.frame is not None
        self.problems.warn("objects[*]", "no dimensions_est and no asset file to measure: kept out of "
                           "simulation (listed in the normalised scene's excluded_objects)",
                           f"{obj.id!r} ({reason})")
        p = obj.transform.position
        return {"id": obj.id, "name": obj.name if obj.name is not None else obj.id, "category": obj.category,
                "sim_role": obj.sim_role.value, "position_m": snap(self.frame.point_m((p.x, p.y, p.z))),
                "asset_path": obj.asset.path if obj.asset else None, "reason": reason}
