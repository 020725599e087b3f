"""Semantic text and task tags generated from a scene object's record (no model involved)."""

from __future__ import annotations

from blueprint_pipeline.scene.records import SceneObject, SimRole
from blueprint_pipeline.simready.records import ObjectPhysics

# affordance (lower case) -> task tag
_AFFORDANCE_TAGS = {
    "graspable": "pick", "supportable": "place_target", "stackable": "stack", "openable": "open_close",
    "fillable": "fill", "pourable": "pour", "pushable": "push", "pressable": "press", "turnable": "turn",
}


def task_tags(obj: SceneObject, physics: ObjectPhysics | None = None) -> list[str]:
    """Tags naming the tasks an object can take part in, from its sim_role and affordances."""
    tags = [f"role:{obj.sim_role.value}"]
    for a in obj.affordances:
        tag = _AFFORDANCE_TAGS.get(a.type.lower())
        if tag and tag not in tags:
            tags.append(tag)
    if (obj.sim_role.is_articulated or obj.articulation is not None) and "open_close" not in tags:
        tags.append("open_close")
    if physics is not None and physics.graspable and "pick" not in tags:
        tags.append("pick")
    if obj.sim_role in (SimRole.STATIC, SimRole.BACKGROUND, SimRole.SCENE_SHELL):
        tags.append("fixed")
    return tags


def semantic_text(obj: SceneObject, physics: ObjectPhysics | None = None) -> str:
    """One sentence describing the object: name, category, material, size, mass, affordances."""
    ex, ey, ez = obj.extents_m
    parts = [f"{obj.name} ({obj.semantic_class or obj.category})"]
    material = (physics.material if physics else None) or (obj.physics.material_type if obj.physics else None)
    if material:
        parts.append(material)
    parts.append(f"{ex:.2f} x {ey:.2f} x {ez:.2f} m")
    if physics is not None:
        parts.append(f"{physics.mass_kg:.2f} kg")
    affs = [a.type.lower() for a in obj.affordances]
    if affs:
        parts.append(", ".join(affs))
    text = "; ".join(parts)
    if obj.description:
        text += f". {obj.description.strip()}"
    return text


def physics_summary(physics: ObjectPhysics | None) -> dict | None:
    if physics is None:
        return None
    return {
        "is_dynamic": physics.is_dynamic, "material": physics.material, "mass_kg": physics.mass_kg,
        "static_friction": physics.static_friction, "dynamic_friction": physics.dynamic_friction,
        "restitution": physics.restitution, "collider": physics.collider.value,
        "collider_size_m": list(physics.collider_size_m), "graspable": physics.graspable,
    }


def usd_object_paths(object_ids: list[str]) -> dict[str, str]:
    """Each object's USD file relative to the run's output root, named as the usd stage names it."""
    from blueprint_pipeline.usd.names import object_file, prim_names

    return {oid: f"usd/{object_file(name)}" for oid, name in prim_names(object_ids).items()}
