"""The default estimator: offline and deterministic (material table + category profiles)."""

from __future__ import annotations

from blueprint_pipeline.errors import Problem
from blueprint_pipeline.scene.records import SceneObject
from blueprint_pipeline.simready.bounds import CheckedValues, check_values
from blueprint_pipeline.simready.categories import profile_for
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.simready.derive import Chosen, derive_physics
from blueprint_pipeline.simready.meshes import MeshProps
from blueprint_pipeline.simready.materials import (
    MATERIALS,
    UPHOLSTERY_SURFACES,
    Material,
    lookup_material,
    upholstered,
)
from blueprint_pipeline.simready.records import ObjectPhysics, ValueSource


def manifest_values(obj: SceneObject, index: int, strict: bool) -> CheckedValues:
    """The manifest's physics values for one object, checked against the bounds.
    Problems are located as `objects[<index>].physics.<field>` and name the object's id."""
    if obj.physics is None:
        return CheckedValues()
    raw = obj.physics.model_dump(include={"mass_kg", "density_kg_m3", "static_friction",
                                          "dynamic_friction", "restitution"})
    checked = check_values(raw, f"objects[{index}].physics", strict)
    checked.problems = [Problem(p.path, f"{p.message} (object {obj.id!r})") for p in checked.problems]
    return checked


def _resolve(word: str, profile_material: Material, notes: list[str], exact: bool = False) -> Material | None:
    """The table's material for a manifest's material phrase (whole words: "granite countertop" is
    granite) or, `exact`, for the LLM's answer, which was asked to be one of the table's names (an
    alias or a different spelling is accepted, extra words are not). On an upholstered body a
    soft-furnishing word names the cover, so the upholstery's bulk density is kept."""
    found = lookup_material(word, exact=exact)
    if found is not None and profile_material.name == "upholstery" and found.name in UPHOLSTERY_SURFACES:
        notes.append(f"material {found.name!r} covers an upholstered body: {profile_material.name!r} density kept")
        return upholstered(profile_material, found)
    return found


def choose(obj: SceneObject, manifest: CheckedValues, llm: dict[str, float] | None = None,
           llm_material: str | None = None) -> Chosen:
    """Manifest values first, then the LLM's, then the table's (filled in by derive)."""
    profile_material = MATERIALS[profile_for(obj.category, obj.name, obj.extents_m)[0].material]
    notes: list[str] = list(manifest.notes)
    material, source = profile_material, ValueSource.TABLE
    manifest_material = obj.physics.material_type if obj.physics else None
    if manifest_material:
        found = _resolve(manifest_material, profile_material, notes)
        if found is not None:
            material, source = found, ValueSource.MANIFEST
        else:
            notes.append(f"material {manifest_material!r} is not in the table; using {profile_material.name!r}")
    if source is ValueSource.TABLE and llm_material:
        found = _resolve(llm_material, profile_material, notes, exact=True)
        if found is not None:
            material, source = found, ValueSource.LLM
        else:
            notes.append(f"LLM material {llm_material!r} is not in the table; using {profile_material.name!r}")
    chosen = Chosen(material=material, material_source=source, notes=notes)
    for name, v in (llm or {}).items():
        chosen.values[name] = (v, ValueSource.LLM)
    for name, v in manifest.values.items():
        chosen.values[name] = (v, ValueSource.MANIFEST)
    # A given mass wins over a given density (the density would only be used to derive a mass).
    if "mass_kg" in chosen.values:
        chosen.values.pop("density_kg_m3", None)
    return chosen


class TableEstimator:
    name = "table"

    def __init__(self, config: SimreadyConfig | None = None):
        self.config = config or SimreadyConfig()

    def estimate(self, obj: SceneObject, manifest: CheckedValues | None = None, mesh: MeshProps | None = None) -> ObjectPhysics:
        profile, matched = profile_for(obj.category, obj.name, obj.extents_m)
        chosen = choose(obj, manifest or CheckedValues())
        if not matched:
            chosen.notes.append(f"category {obj.category!r} is not in the table; generic profile {profile.name!r}")
        return derive_physics(obj, profile, chosen, self.config, mesh)
