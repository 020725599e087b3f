"""Turn chosen values (manifest > llm > table) into one complete `ObjectPhysics`.

Both estimators end here, so the rules for inertia, colliders, grasping and randomisation
are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from blueprint_pipeline.scene.records import SceneObject
from blueprint_pipeline.simready.bounds import BOUNDS
from blueprint_pipeline.simready.categories import Profile
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.simready.inertia import Part, combine
from blueprint_pipeline.simready.mass_models import build_parts, mesh_body
from blueprint_pipeline.simready.materials import MATERIALS, Material
from blueprint_pipeline.simready.meshes import MeshProps
from blueprint_pipeline.simready.records import (
    ColliderShape,
    ObjectPhysics,
    RandomizationRanges,
    ValueSource,
)

# PhysX-style offsets: contact generation starts 5 % of the smallest extent away (1-20 mm),
# bodies rest touching (rest offset 0).
CONTACT_OFFSET_REL = 0.05
CONTACT_OFFSET_MIN_M = 0.001
CONTACT_OFFSET_MAX_M = 0.02
MIN_EXTENT_M = 0.001


@dataclass
class Chosen:
    """Values chosen so far with their source; `notes` explain fallbacks and clamps."""

    material: Material
    material_source: ValueSource
    values: dict[str, tuple[float, ValueSource]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _clamp(v: float, name: str) -> float:
    lo, hi = BOUNDS[name]
    return min(max(v, lo), hi)


def graspable_rule(obj: SceneObject, mass_kg: float, cfg: SimreadyConfig,
                   size: tuple[float, float, float], rim_wall_m: float | None = None) -> tuple[bool, str]:
    if not obj.sim_role.is_dynamic:
        return False, f"not a free body (sim_role {obj.sim_role.value})"
    if mass_kg > cfg.max_graspable_mass_kg:
        return False, f"{mass_kg:.1f} kg is above the {cfg.max_graspable_mass_kg:g} kg limit"
    if rim_wall_m is not None and rim_wall_m < cfg.gripper_stroke_m:
        return True, f"its rim's {rim_wall_m * 1000:.1f} mm wall fits the {cfg.gripper_stroke_m:g} m gripper"
    fits = [a for a, e in zip("xyz", size) if e <= cfg.gripper_stroke_m]
    if not fits:
        smallest = min(size)
        return False, f"no face pair fits the {cfg.gripper_stroke_m:g} m gripper (smallest extent {smallest:.3f} m)"
    return True, f"fits the {cfg.gripper_stroke_m:g} m gripper across {'/'.join(fits)}"


def derive_physics(obj: SceneObject, profile: Profile, chosen: Chosen, cfg: SimreadyConfig,
                   mesh: MeshProps | None = None) -> ObjectPhysics:
    """With `mesh` (simready/meshes.py) the collider is its convex pieces and mass, centre and
    inertia come from its shape where the category's model allows (mass_models.mesh_body)."""
    size = obj.extents_m
    notes = list(chosen.notes)
    if min(size) < MIN_EXTENT_M:  # a floor or a poster may come with zero thickness
        notes.append(f"extents {size} below {MIN_EXTENT_M * 1000:g} mm raised to it for mass and collider")
        size = (max(size[0], MIN_EXTENT_M), max(size[1], MIN_EXTENT_M), max(size[2], MIN_EXTENT_M))
    mat = chosen.material
    contents = MATERIALS[profile.contents].density_kg_m3 if profile.contents else 0.0
    sources: dict[str, ValueSource] = {"material": chosen.material_source}

    material_density = chosen.values.get("density_kg_m3", (mat.density_kg_m3, ValueSource.TABLE))[0]
    body: Part = combine(build_parts(profile, size, material_density, contents))
    shape_source = ValueSource.DERIVED
    if mesh is not None:
        notes.extend(mesh.notes)
        from_mesh, how = mesh_body(profile, mesh.solid, mesh.surface, material_density, contents)
        if from_mesh is not None and from_mesh.mass_kg > 0:
            body, shape_source = from_mesh, ValueSource.MESH
        notes.append(how)
    if "mass_kg" in chosen.values:
        mass, sources["mass_kg"] = chosen.values["mass_kg"]
    else:
        mass = body.mass_kg
        # From the table's density and the mass model (or the mesh); derived when the density was given.
        sources["mass_kg"] = (ValueSource.DERIVED if "density_kg_m3" in chosen.values
                              else ValueSource.MESH if shape_source is ValueSource.MESH else ValueSource.TABLE)
        if not BOUNDS["mass_kg"][0] <= mass <= BOUNDS["mass_kg"][1]:
            notes.append(f"estimated mass {mass:.4g} kg clamped to the bounds {BOUNDS['mass_kg']}")
            mass = _clamp(mass, "mass_kg")
    # Inertia keeps the model's mass distribution, scaled to the chosen mass.
    k = mass / body.mass_kg
    inertia = (body.inertia_kg_m2[0] * k, body.inertia_kg_m2[1] * k, body.inertia_kg_m2[2] * k)
    sources["center_of_mass_m"] = shape_source
    sources["inertia_diag_kg_m2"] = shape_source
    bbox_volume = size[0] * size[1] * size[2]
    bulk_density = mass / bbox_volume
    sources["density_kg_m3"] = ValueSource.DERIVED

    def pick(name: str, table_value: float) -> float:
        if name in chosen.values:
            v, sources[name] = chosen.values[name]
            return v
        sources[name] = ValueSource.TABLE
        return table_value

    static = pick("static_friction", mat.static_friction)
    dynamic = pick("dynamic_friction", mat.dynamic_friction)
    if dynamic > static:
        notes.append(f"dynamic friction {dynamic:g} > static {static:g}; set to {static:g}")
        dynamic = static
    restitution = pick("restitution", mat.restitution)

    collider = ColliderShape.CONVEX_HULL if mesh is not None else profile.collider
    sources["collider"] = ValueSource.MESH if mesh is not None else ValueSource.TABLE
    contact = min(max(CONTACT_OFFSET_REL * min(size), CONTACT_OFFSET_MIN_M), CONTACT_OFFSET_MAX_M)
    rim = mesh.record.rim if mesh is not None else None
    graspable, reason = graspable_rule(obj, mass, cfg, size, rim.wall_m if rim is not None else None)
    for name in ("contact_offset_m", "rest_offset_m", "graspable"):
        sources[name] = ValueSource.DERIVED
    sources["surface_roughness_um"] = ValueSource.TABLE

    r = cfg.randomization
    ranges = RandomizationRanges(
        mass_kg=(_clamp(mass * (1 - r.mass_rel), "mass_kg"), _clamp(mass * (1 + r.mass_rel), "mass_kg")),
        static_friction=(_clamp(static * (1 - r.friction_rel), "static_friction"),
                         _clamp(static * (1 + r.friction_rel), "static_friction")),
        dynamic_friction=(_clamp(dynamic * (1 - r.friction_rel), "dynamic_friction"),
                          _clamp(dynamic * (1 + r.friction_rel), "dynamic_friction")),
        restitution=(_clamp(restitution * (1 - r.restitution_rel), "restitution"),
                     _clamp(restitution * (1 + r.restitution_rel), "restitution")),
        com_noise_m=(size[0] * r.com_noise_rel, size[1] * r.com_noise_rel, size[2] * r.com_noise_rel),
    )
    sources["randomization"] = ValueSource.DERIVED
    return ObjectPhysics(
        object_id=obj.id,
        is_dynamic=obj.sim_role.is_dynamic,
        material=mat.name,
        mass_kg=mass,
        density_kg_m3=bulk_density,
        static_friction=static,
        dynamic_friction=dynamic,
        restitution=restitution,
        collider=collider,
        collider_size_m=size,
        center_of_mass_m=body.com_m,
        inertia_diag_kg_m2=inertia,
        contact_offset_m=contact,
        rest_offset_m=0.0,
        graspable=graspable,
        graspable_reason=reason,
        surface_roughness_um=mat.roughness_ra_um,
        randomization=ranges,
        sources=sources,
        notes=tuple(notes),
        mesh=mesh.record if mesh is not None else None,
    )
