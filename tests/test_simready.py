"""Physics estimation: everyday masses, closed-form inertia, manifest precedence, hostile values."""

from __future__ import annotations

import json
import math

import pytest

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.scene.records import AssetRef, ManifestPhysics, Scene, SceneHeader, SceneObject, SimRole
from blueprint_pipeline.simready import inertia, mass_models
from blueprint_pipeline.simready.categories import match_profile
from blueprint_pipeline.simready.config import SimreadyConfig
from blueprint_pipeline.simready.io import load_physics, write_physics
from blueprint_pipeline.simready.records import ColliderShape, ValueSource
from blueprint_pipeline.simready.stage import estimate_scene
from blueprint_pipeline.simready.table import TableEstimator, manifest_values

DYN = SimRole.MANIPULABLE_OBJECT


def make_obj(category: str, extents: tuple[float, float, float], role: SimRole = DYN, oid: str | None = None,
             **kw) -> SceneObject:
    half = [e / 2 for e in extents]
    return SceneObject(id=oid or category.replace(" ", "_"), name=category, category=category, sim_role=role,
                       position_m=(0.0, 0.0, half[2]), orientation_wxyz=(1.0, 0.0, 0.0, 0.0), extents_m=extents,
                       aabb_min_m=(-half[0], -half[1], 0.0), aabb_max_m=(half[0], half[1], extents[2]), **kw)


def make_scene(objects: list[SceneObject]) -> Scene:
    header = SceneHeader(scene_id="test_scene", manifest_version="1.0.0", source_frame="z_up",
                         source_meters_per_unit=1.0, object_count=len(objects))
    return Scene(header=header, objects=tuple(objects))


def estimate(obj: SceneObject, cfg: SimreadyConfig | None = None):
    cfg = cfg or SimreadyConfig()
    return TableEstimator(cfg).estimate(obj, manifest_values(obj, 0, cfg.strict))


# Masses a person can check on a kitchen scale or a shop listing.
@pytest.mark.parametrize(
    "category, extents, lo_kg, hi_kg, material",
    [
        ("mug", (0.08, 0.08, 0.10), 0.25, 0.40, "ceramic"),            # ceramic mug ~0.3 kg
        ("bottle", (0.07, 0.07, 0.22), 0.65, 0.90, "pet"),             # 0.75 l of water in PET ~0.78 kg
        ("book", (0.16, 0.24, 0.03), 0.5, 1.2, "paper"),               # hardcover ~0.8 kg
        ("chair", (0.45, 0.50, 0.90), 3.0, 12.0, "wood"),              # wooden dining chair 4-8 kg
        ("cardboard box", (0.4, 0.4, 0.4), 0.5, 1.5, "cardboard"),     # empty 40 cm box ~0.7-1 kg, not 45 kg
        ("steel toolbox", (0.5, 0.22, 0.22), 2.0, 5.0, "steel"),      # 20-inch empty steel box 3-4 kg
        ("cabinet", (0.8, 0.5, 2.0), 30.0, 120.0, "wood_panel"),       # 2 m wardrobe: tens of kg
        ("soda can", (0.066, 0.066, 0.122), 0.33, 0.42, "aluminium"),  # full 355 ml can ~0.37 kg
    ],
)
def test_everyday_masses(category, extents, lo_kg, hi_kg, material):
    p = estimate(make_obj(category, extents))
    assert lo_kg <= p.mass_kg <= hi_kg, (category, p.mass_kg)
    assert p.material == material
    assert p.sources["mass_kg"] is ValueSource.TABLE
    assert 0 <= p.dynamic_friction <= p.static_friction <= 2
    assert 0 <= p.restitution <= 1


def test_hollow_is_far_lighter_than_solid():
    box = estimate(make_obj("cardboard box", (0.4, 0.4, 0.4)))
    solid_board_kg = 0.4 ** 3 * 150.0  # 9.6 kg even at the board's low effective density
    assert box.mass_kg < solid_board_kg / 8
    mug = estimate(make_obj("mug", (0.08, 0.08, 0.10)))
    assert mug.mass_kg < 0.3 * (math.pi * 0.04 ** 2 * 0.10 * 2400)  # a solid ceramic cylinder: 1.2 kg


def test_friction_of_everyday_materials():
    mug = estimate(make_obj("mug", (0.08, 0.08, 0.10)))
    toolbox = estimate(make_obj("toolbox", (0.5, 0.22, 0.22)))
    box = estimate(make_obj("box", (0.3, 0.3, 0.3)))
    assert (mug.static_friction, mug.dynamic_friction) == (0.60, 0.45)
    assert (toolbox.static_friction, toolbox.dynamic_friction) == (0.60, 0.45)
    assert box.static_friction == 0.50 and box.restitution == 0.20


def test_box_inertia_closed_form():
    m, a, b, c = 2.0, 0.3, 0.2, 0.1
    ixx, iyy, izz = inertia.box_inertia(m, (a, b, c))
    assert ixx == pytest.approx(m / 12 * (b * b + c * c))
    assert iyy == pytest.approx(m / 12 * (a * a + c * c))
    assert izz == pytest.approx(m / 12 * (a * a + b * b))
    # A solid object (a book) gets exactly the solid-box inertia for its mass.
    p = estimate(make_obj("book", (0.16, 0.24, 0.03)))
    expect = inertia.box_inertia(p.mass_kg, (0.16, 0.24, 0.03))
    assert p.inertia_diag_kg_m2 == pytest.approx(expect, rel=1e-12)
    assert p.center_of_mass_m == pytest.approx((0.0, 0.0, 0.0))


def test_cylinder_inertia_closed_form():
    m, r, h = 1.5, 0.05, 0.2
    ixx, iyy, izz = inertia.cylinder_inertia(m, (2 * r, 2 * r, h))
    assert izz == pytest.approx(m * r * r / 2)
    assert ixx == pytest.approx(m * (3 * r * r + h * h) / 12) and iyy == pytest.approx(ixx)
    # Tube with zero inner radius is the solid cylinder; sphere 2/5 m r^2.
    assert inertia.tube_inertia(m, r, 0.0, h) == pytest.approx((ixx, iyy, izz))
    assert inertia.ellipsoid_inertia(m, (0.1, 0.1, 0.1))[0] == pytest.approx(0.4 * m * 0.05 ** 2)


def test_thin_box_shell_matches_outer_minus_inner():
    # A closed shell of uniform density = solid outer box minus solid inner box (exactly).
    size, t, rho = (0.5, 0.22, 0.22), 0.01, 7850.0
    shell = inertia.combine(mass_models.box_shell(size, t, rho))
    inner = (size[0] - 2 * t, size[1] - 2 * t, size[2] - 2 * t)
    m_out, m_in = rho * inertia.box_volume(size), rho * inertia.box_volume(inner)
    i_out, i_in = inertia.box_inertia(m_out, size), inertia.box_inertia(m_in, inner)
    assert shell.mass_kg == pytest.approx(m_out - m_in)
    assert shell.inertia_kg_m2 == pytest.approx(tuple(o - i for o, i in zip(i_out, i_in)), rel=1e-9)


def test_capsule_inertia_limits_to_sphere():
    m = 1.0
    # A capsule with no straight part is a sphere.
    assert inertia.capsule_inertia(m, (0.1, 0.1, 0.1)) == pytest.approx((0.4 * m * 0.0025,) * 3)


def test_inertia_is_physical_for_every_profile():
    for category, ext in [("chair", (0.45, 0.5, 0.9)), ("table", (1.2, 0.8, 0.75)), ("bottle", (0.07, 0.07, 0.22)),
                          ("shelf", (0.8, 0.3, 1.8)), ("monitor", (0.54, 0.2, 0.45)), ("banana", (0.2, 0.04, 0.04))]:
        p = estimate(make_obj(category, ext))
        i = p.inertia_diag_kg_m2
        assert all(v > 0 for v in i)
        # Triangle inequality of principal moments (what a physics engine checks).
        assert i[0] + i[1] >= i[2] and i[0] + i[2] >= i[1] and i[1] + i[2] >= i[0], category
        assert all(abs(c) <= e / 2 for c, e in zip(p.center_of_mass_m, ext))


def test_collider_choice():
    assert estimate(make_obj("apple", (0.08, 0.08, 0.08))).collider is ColliderShape.SPHERE
    assert estimate(make_obj("banana", (0.2, 0.04, 0.04))).collider is ColliderShape.CAPSULE
    assert estimate(make_obj("mug", (0.08, 0.08, 0.1))).collider is ColliderShape.CYLINDER
    assert estimate(make_obj("book", (0.16, 0.24, 0.03))).collider is ColliderShape.BOX


def test_category_matching_uses_the_head_noun():
    assert match_profile("glass bottle").name == "wine_bottle"
    assert match_profile("trash_can").name == "trash_bin"
    assert match_profile("coffee_table").name == "table"
    assert match_profile("Coffee Mugs").name == "mug"
    assert match_profile("tool_box").name == "toolbox"
    assert match_profile("kitchen cabinet door").name == "cabinet"
    assert match_profile("zorblax") is None


def test_graspable_rule():
    mug = estimate(make_obj("mug", (0.08, 0.08, 0.10)))
    assert mug.graspable and "gripper" in mug.graspable_reason
    wide = estimate(make_obj("cardboard box", (0.4, 0.4, 0.4)))
    assert not wide.graspable and "0.08 m gripper" in wide.graspable_reason
    heavy = estimate(make_obj("book", (0.5, 0.5, 0.07), physics=ManifestPhysics(mass_kg=30.0)))
    assert not heavy.graspable and "25 kg" in heavy.graspable_reason
    fixed = estimate(make_obj("mug", (0.08, 0.08, 0.10), role=SimRole.STATIC))
    assert not fixed.graspable and not fixed.is_dynamic


def test_randomization_ranges_default_and_configurable():
    p = estimate(make_obj("mug", (0.08, 0.08, 0.10)))
    r = p.randomization
    assert r.mass_kg == pytest.approx((0.8 * p.mass_kg, 1.2 * p.mass_kg))
    assert r.static_friction == pytest.approx((0.85 * 0.6, 1.15 * 0.6))
    assert r.restitution == pytest.approx((0.7 * 0.4, 1.3 * 0.4))
    assert r.com_noise_m == pytest.approx((0.004, 0.004, 0.005))
    from blueprint_pipeline.simready.config import RandomizationConfig

    cfg = SimreadyConfig(randomization=RandomizationConfig(mass_rel=0.5))
    assert estimate(make_obj("mug", (0.08, 0.08, 0.10)), cfg).randomization.mass_kg[0] == pytest.approx(0.5 * p.mass_kg)


def test_manifest_values_take_precedence():
    obj = make_obj("mug", (0.08, 0.08, 0.10), physics=ManifestPhysics(
        mass_kg=0.45, static_friction=0.9, restitution=0.1, material_type="Porcelain"))
    p = estimate(obj)
    assert p.mass_kg == 0.45 and p.sources["mass_kg"] is ValueSource.MANIFEST
    assert p.static_friction == 0.9 and p.sources["static_friction"] is ValueSource.MANIFEST
    assert p.dynamic_friction == 0.45 and p.sources["dynamic_friction"] is ValueSource.TABLE
    assert p.material == "ceramic" and p.sources["material"] is ValueSource.MANIFEST
    # Inertia scales with the given mass, distribution kept.
    base = estimate(make_obj("mug", (0.08, 0.08, 0.10)))
    assert p.inertia_diag_kg_m2[2] == pytest.approx(base.inertia_diag_kg_m2[2] * 0.45 / base.mass_kg)


def test_manifest_material_changes_density():
    steel_mug = estimate(make_obj("mug", (0.08, 0.08, 0.10), physics=ManifestPhysics(material_type="steel")))
    assert steel_mug.material == "steel"
    assert steel_mug.mass_kg == pytest.approx(estimate(make_obj("mug", (0.08, 0.08, 0.10))).mass_kg * 7850 / 2400)


def test_manifest_density_derives_mass():
    p = estimate(make_obj("book", (0.1, 0.1, 0.1), physics=ManifestPhysics(density_kg_m3=1000.0)))
    assert p.mass_kg == pytest.approx(1.0) and p.sources["mass_kg"] is ValueSource.DERIVED


def test_hostile_values_out_of_range_are_clamped_with_a_note():
    obj = make_obj("mug", (0.08, 0.08, 0.10), physics=ManifestPhysics(
        static_friction=50.0, dynamic_friction=3.0, restitution=7.0, mass_kg=5000.0))
    p = estimate(obj)
    assert p.static_friction == 2.0 and p.dynamic_friction == 2.0 and p.restitution == 1.0
    assert p.mass_kg == 1000.0
    notes = "\n".join(p.notes)
    assert "objects[0].physics.static_friction: 50 is outside [0, 2]; clamped to 2" in notes
    assert "objects[0].physics.mass_kg: 5000" in notes


def test_dynamic_above_static_is_lowered():
    p = estimate(make_obj("mug", (0.08, 0.08, 0.10), physics=ManifestPhysics(static_friction=0.3, dynamic_friction=0.8)))
    assert p.dynamic_friction == 0.3 and any("dynamic friction" in n for n in p.notes)


@pytest.mark.parametrize("field, value, message", [
    ("mass_kg", -2.0, "must be positive, got -2"),
    ("mass_kg", 0.0, "must be positive"),
    ("static_friction", float("nan"), "must be a finite number, got nan"),
    ("restitution", float("inf"), "must be a finite number"),
    ("dynamic_friction", -0.1, "must be non-negative"),
])
def test_hostile_values_without_meaning_are_rejected_with_the_field_path(field, value, message):
    objs = [make_obj("book", (0.16, 0.24, 0.03), oid="ok"),
            make_obj("mug", (0.08, 0.08, 0.10), oid="bad_mug", physics=ManifestPhysics(**{field: value}))]
    with pytest.raises(InvalidInputError) as info:
        estimate_scene(make_scene(objs), SimreadyConfig())
    text = str(info.value)
    assert f"objects[1].physics.{field}: {message}" in text and "'bad_mug'" in text
    assert info.value.exit_code == 2


def test_strict_mode_rejects_out_of_range():
    objs = [make_obj("mug", (0.08, 0.08, 0.10), physics=ManifestPhysics(static_friction=50.0))]
    with pytest.raises(InvalidInputError, match=r"objects\[0\].physics.static_friction: 50 is outside"):
        estimate_scene(make_scene(objs), SimreadyConfig(strict=True))


def test_unknown_category_uses_generic_profile_with_note():
    p = estimate(make_obj("zorblax", (0.1, 0.1, 0.1)))
    assert p.material == "plastic" and any("not in the table" in n for n in p.notes)
    big = estimate(make_obj("zorblax", (1.0, 0.5, 1.0), role=SimRole.STATIC))
    assert big.material == "wood_panel"


def test_deterministic():
    o = make_obj("chair", (0.45, 0.5, 0.9))
    assert estimate(o) == estimate(o)


def test_physics_file_roundtrip_json_and_jsonl(tmp_path):
    objs = [make_obj("mug", (0.08, 0.08, 0.10), oid="m1"), make_obj("book", (0.16, 0.24, 0.03), oid="b1")]
    physics, summary = estimate_scene(make_scene(objs), SimreadyConfig())
    assert summary["objects"] == 2
    for name in ("physics.json", "physics.jsonl"):
        url = str(tmp_path / name)
        write_physics(url, physics)
        back = load_physics(url)
        assert back == physics
        assert list(back.objects) == ["m1", "b1"]


def test_load_physics_rejects_unknown_schema(tmp_path):
    url = tmp_path / "physics.json"
    url.write_text(json.dumps({"schema": "blueprint.physics/99", "scene_id": "s", "estimator": "t", "objects": {}}))
    with pytest.raises(InvalidInputError, match=r"unsupported physics schema 'blueprint.physics/99'"):
        load_physics(str(url))
    jl = tmp_path / "physics.jsonl"
    jl.write_text(json.dumps({"schema": "other"}) + "\n")
    with pytest.raises(InvalidInputError, match="unsupported physics schema"):
        load_physics(str(jl))
    with pytest.raises(InvalidInputError, match="not found"):
        load_physics(str(tmp_path / "missing.json"))


def test_convex_hull_only_when_the_mesh_file_exists(tmp_path):
    (tmp_path / "meshes").mkdir()
    import trimesh

    trimesh.creation.cylinder(radius=0.04, height=0.1).export(tmp_path / "meshes" / "mug.obj")
    objs = [make_obj("mug", (0.08, 0.08, 0.1), oid="with_mesh", asset=AssetRef(path="meshes/mug.obj")),
            make_obj("mug", (0.08, 0.08, 0.1), oid="missing", asset=AssetRef(path="meshes/none.obj")),
            make_obj("mug", (0.08, 0.08, 0.1), oid="escape", asset=AssetRef(path="../outside.obj"))]
    physics, _ = estimate_scene(make_scene(objs), SimreadyConfig(), asset_root=str(tmp_path),
                                simready_url=str(tmp_path / "simready"))
    assert physics.objects["with_mesh"].collider is ColliderShape.CONVEX_HULL
    assert physics.objects["missing"].collider is ColliderShape.CYLINDER
    assert physics.objects["escape"].collider is ColliderShape.CYLINDER
    assert any("must not contain" in n for n in physics.objects["escape"].notes)


def test_zero_thickness_is_raised_to_a_millimetre_with_a_note():
    p = estimate(make_obj("poster", (0.5, 0.0, 0.7)))
    assert p.collider_size_m == (0.5, 0.001, 0.7) and p.mass_kg > 0 and p.density_kg_m3 > 0
    assert any("raised" in n for n in p.notes)
