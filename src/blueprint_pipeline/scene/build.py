"""One validated `ManifestObject` -> the JSON form of its `records.SceneObject`.

The ingest builds plain dicts in exactly the shape `SceneObject.model_dump(mode="json")` gives
(tests check `SceneObject.model_validate(d).model_dump(mode="json") == d`): constructing pydantic
records per object cost more than parsing and validating it, and the records are only written
out here. Readers get typed records back through `scene.io`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from blueprint_pipeline.scene import sanitise
from blueprint_pipeline.scene.manifest import ManifestObject
from blueprint_pipeline.rotations import box_aabb
from blueprint_pipeline.scene.normalise import FrameConversion, snap
from blueprint_pipeline.scene.records import SimRole

AddProblem = Callable[[str, str], None]

MAX_ABS_METRES = 1e6

# manifest key -> (record field, low, high, low inclusive)
_PHYSICS_NUMBERS: dict[str, tuple[str, float, float, bool]] = {
    "mass_kg": ("mass_kg", 0.0, 1e5, False),
    "mass": ("mass_kg", 0.0, 1e5, False),
    "density_kg_m3": ("density_kg_m3", 0.0, 1e5, False),
    "density": ("density_kg_m3", 0.0, 1e5, False),
    "static_friction": ("static_friction", 0.0, 10.0, True),
    "friction": ("static_friction", 0.0, 10.0, True),
    "dynamic_friction": ("dynamic_friction", 0.0, 10.0, True),
    "restitution": ("restitution", 0.0, 1.0, True),
}
_MATERIAL_KEYS = ("material_type", "material")
_PHYSICS_FIELDS = ("mass_kg", "density_kg_m3", "static_friction", "dynamic_friction", "restitution", "material_type")


def physics_record(obj: ManifestObject, prefix: str, add: AddProblem) -> dict[str, Any] | None:
    """Known values from `physics` then `physics_hints` (first one given wins, in SI units: the
    manifest's masses are kg); everything else is kept in `hints`."""
    out: dict[str, Any] = dict.fromkeys(_PHYSICS_FIELDS)
    hints: dict[str, Any] = {}
    seen = False
    for src, d in (("physics", obj.physics), ("physics_hints", obj.physics_hints)):
        if not d:
            continue
        seen = True
        for key, v in d.items():
            path = f"{prefix}.{src}.{key}"
            spec = _PHYSICS_NUMBERS.get(key)
            if spec is not None:
                field, lo, hi, inclusive = spec
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    add(path, "must be a number")
                elif not (lo <= v <= hi if inclusive else lo < v <= hi):
                    add(path, f"must be in {'[' if inclusive else '('}{lo:g}, {hi:g}]")
                elif out[field] is None:
                    out[field] = float(v)
            elif key in _MATERIAL_KEYS:
                if not isinstance(v, str):
                    add(path, "must be a string")
                    continue
                try:
                    sanitise.check_category(v)
                except ValueError as exc:
                    add(path, str(exc))
                    continue
                if out["material_type"] is None:
                    out["material_type"] = v
            else:
                for p, msg in sanitise.free_form_problems(v, path):
                    add(p, msg)
                hints.setdefault(key, v)
    if not seen:
        return None
    out["hints"] = hints
    return out


def affordance_records(obj: ManifestObject, prefix: str, add: AddProblem) -> list[dict[str, Any]]:
    if obj.semantics is None:
        return []
    params_by_type = obj.semantics.affordance_params
    if params_by_type:
        for p, msg in sanitise.free_form_problems(params_by_type, f"{prefix}.semantics.affordance_params"):
            add(p, msg)
    out = []
    for i, a in enumerate(obj.semantics.affordances):
        params = {k: v for k, v in a.items() if k != "type"}
        if params_by_type:
            extra = params_by_type.get(a["type"]) or params_by_type.get(a["type"].lower())
            if isinstance(extra, dict):
                params = {**extra, **params}
        if params:
            for p, msg in sanitise.free_form_problems(params, f"{prefix}.semantics.affordances[{i}]"):
                add(p, msg)
        out.append({"type": a["type"], "params": params})
    return out


def asset_record(obj: ManifestObject, prefix: str, add: AddProblem) -> dict[str, Any] | None:
    a = obj.asset
    if a is None:
        return None
    extras = dict(a.model_extra or {})
    if extras:
        for p, msg in sanitise.free_form_problems(extras, f"{prefix}.asset"):
            add(p, msg)
    return {"path": a.path, "format": a.format, "source": a.source, "asset_id": a.asset_id,
            "license": a.license, "commercial_ok": a.commercial_ok, "extras": extras}


def object_record(obj: ManifestObject, fc: FrameConversion, prefix: str, add: AddProblem,
                  affordances: list[dict[str, Any]], physics: dict[str, Any] | None,
                  asset: dict[str, Any] | None, placement: str | None,
                  extras: dict[str, Any], sim_role: SimRole | None = None,
                  dims: Sequence[float] | None = None) -> dict[str, Any] | None:
    """The normalised object, or None (with a problem added) if it is absurdly large or far.
    `sim_role`: the normalised role (default: the manifest's); `dims` (width, depth, height in
    manifest units): sizes measured on the asset, for an object without `dimensions_est`."""
    p = obj.transform.position
    position = fc.point_m((p.x, p.y, p.z))
    if max(abs(position[0]), abs(position[1]), abs(position[2])) > MAX_ABS_METRES:
        add(f"{prefix}.transform.position", f"is more than {MAX_ABS_METRES:g} m from the origin")
        return None
    orientation = fc.orientation(obj)
    extents, scale = fc.extents_m(obj, dims)
    if max(extents) > MAX_ABS_METRES:
        where = f"{prefix}.dimensions_est" if dims is None else f"{prefix}.asset.path"
        add(where, f"scaled extents exceed {MAX_ABS_METRES:g} m" + ("" if dims is None else " (sizes from the asset file)"))
        return None
    lo, hi = box_aabb(position, orientation, extents)
    articulation = None
    a = obj.articulation
    if a is not None and a.is_joint:  # hint-only articulations are kept in extras, not as a joint
        assert a.axis is not None and a.limits is not None  # ArticulationIn requires them of a joint
        if a.type == "revolute":
            lower, upper = fc.angle_rad(a.limits.lower), fc.angle_rad(a.limits.upper)
        else:
            lower, upper = a.limits.lower * fc.m_per_unit, a.limits.upper * fc.m_per_unit
        articulation = {"type": a.type, "axis_local": snap(fc.direction(a.axis)), "lower": float(lower),
                        "upper": float(upper), "damping": a.damping}
    converted = fc.y_up or fc.m_per_unit != 1.0
    sem = obj.semantics
    return {
        "id": obj.id,
        "name": obj.name if obj.name is not None else obj.id,
        "category": obj.category,
        "description": obj.description,
        "sim_role": (sim_role or SimRole(obj.sim_role.value)).value,
        "semantic_class": sem.class_ if sem else None,
        "affordances": affordances,
        "tags": list(sem.tags) if sem else [],
        # Rounding to 1e-12 m only where a conversion can leave float dust (0.30000000000000004).
        "position_m": snap(position) if converted else list(position),
        "orientation_wxyz": snap(orientation, 15),
        "scale": list(scale),
        "extents_m": snap(extents) if converted else list(extents),
        "aabb_min_m": snap(lo),
        "aabb_max_m": snap(hi),
        "asset": asset,
        "physics": physics,
        "articulation": articulation,
        "relationships": [{"type": r.type, "subject_id": r.subject_id or obj.id, "object_id": r.object_id}
                          for r in obj.relationships],
        "placement_region": placement,
        "extras": extras,
    }
