"""Whole-word matching of categories and materials; the material table and its sources."""

from __future__ import annotations

import pytest

from blueprint_pipeline.geniesim.native.mesh import is_round
from blueprint_pipeline.scene.floor import floor_height_m
from blueprint_pipeline.scene.records import ManifestPhysics, SceneObject, SimRole
from blueprint_pipeline.simready.categories import ACCESSORY_HEADS, PROFILES, match_profile, profile_for
from blueprint_pipeline.simready.materials import (
    MATERIAL_ALIASES,
    MATERIALS,
    PROPERTIES,
    REFERENCES,
    lookup_material,
)
from blueprint_pipeline.simready.table import TableEstimator, manifest_values
from blueprint_pipeline.simready.words import Matcher, raw_words, singular


def make_obj(category: str, extents: tuple[float, float, float], name: str | None = None,
             role: SimRole = SimRole.MANIPULABLE_OBJECT, **kw) -> SceneObject:
    half = [e / 2 for e in extents]
    return SceneObject(id="obj", name=name or category, category=category, sim_role=role,
                       position_m=(0.0, 0.0, half[2]), orientation_wxyz=(1.0, 0.0, 0.0, 0.0), extents_m=extents,
                       aabb_min_m=(-half[0], -half[1], 0.0), aabb_max_m=(half[0], half[1], extents[2]), **kw)


def estimate(obj: SceneObject):
    return TableEstimator().estimate(obj, manifest_values(obj, 0, False))


# --- categories --------------------------------------------------------------------------------

# (category, expected profile name or None for "no profile: generic by size")
TRICKY_NAMES = [
    ("barcode scanner", None),            # not a can
    ("scanner", None),
    ("cutting board", "board"),           # not a tin
    ("tote bin", "storage_bin"),          # not a tin, not a trash bin
    ("storage bin", "storage_bin"),
    ("bin", "trash_bin"),
    ("trash_can", "trash_bin"),           # the longer phrase wins over "can"
    ("canister", "jar"),                  # a lidded round container, not a can
    ("cantaloupe", "round_fruit"),        # not a can
    ("candle", "candle"),                 # not a can
    ("cane", None),
    ("walking canes", None),              # "canes" is not the plural of "can"
    ("tinfoil roll", None),               # not a tin
    ("tin foil roll", None),              # "roll" and "foil" are accessory heads
    ("tin", "can"),
    ("tin can", "can"),
    ("soup can", "can"),
    ("can opener", None),                 # the head noun is "opener"
    ("pan", "cookware"),
    ("panel", None),
    ("pantry", None),
    ("cup", "cup"),
    ("cupboard", "cabinet"),
    ("cup board", "cabinet"),             # written apart, the compound is still found
    ("cup holder", None),
    ("cabinet", "cabinet"),
    ("kitchen cabinet door", "cabinet"),  # unknown head words are passed over
    ("cabinet with glass doors", "cabinet"),  # "X with Y" is an X, not a drinking glass
    ("chest of drawers", "cabinet"),      # a phrase across "of"
    ("box", "cardboard_box"),
    ("boxes", "cardboard_box"),
    ("boxing glove", None),
    ("coffee table", "table"),
    ("coffee mug", "mug"),
    ("CoffeeMugs_02", "mug"),             # camelCase, digits, plural
    ("table lamp", None),                 # a lamp, not a table
    ("TVStand", None),                    # a stand, not a television
    ("wine bottle", "wine_bottle"),
    ("glass bottle", "wine_bottle"),
    ("bottle opener", None),
    ("bottle", "bottle"),
    ("book", "book"),
    ("bookshelf", "shelf"),
    ("book case", "shelf"),
    ("plate", "plate"),
    ("template", None),
    ("plateau", None),
    ("mat", "rug"),
    ("material", None),
    ("mates", None),                      # not the plural of "mat"
    ("pot", "cookware"),
    ("potato", "round_fruit"),
    ("potatoes", "round_fruit"),
    ("teapot", "teapot"),
    ("tea pot", "teapot"),
    ("red tea pots", "teapot"),
    ("flower pot", "vase"),
    ("knives", "utensil"),
    ("glasses", "drinking_glass"),
    ("bowl of fruit", "bowl"),
    ("built-in oven", "appliance"),       # "in" here is part of a compound, not "X in Y"
    ("chair cushion", "sofa"),
    ("keyboard", "keyboard"),             # not a board
    ("notebook", "book"),
]


@pytest.mark.parametrize("category, expected", TRICKY_NAMES)
def test_categories_match_whole_words(category, expected):
    p = match_profile(category)
    assert (p.name if p else None) == expected


def test_tricky_list_is_long_enough():
    assert len(TRICKY_NAMES) >= 25


def test_name_is_used_when_the_category_has_no_profile():
    assert match_profile("kitchenware", "blue_mug_3").name == "mug"
    assert match_profile("bottle opener", "opener_1") is None


def test_unmatched_category_gets_a_generic_profile_by_size():
    assert profile_for("barcode scanner", "scanner", (0.1, 0.07, 0.18))[0].name == "generic_small"
    assert profile_for("pantry", "pantry", (1.0, 0.6, 2.1))[0].name == "generic_large"


def test_every_phrase_belongs_to_one_profile():
    seen: dict[tuple[str, ...], str] = {}
    for p in PROFILES:
        for k in p.keywords:
            key = raw_words(k)
            assert seen.setdefault(key, p.name) == p.name, (k, seen[key], p.name)
    # An accessory head may end a phrase ("tool case", "tea light") but is never a category on its own.
    assert not {(h,) for h in ACCESSORY_HEADS} & set(seen)


def test_every_keyword_matches_its_own_profile():
    for p in PROFILES:
        for k in p.keywords:
            assert match_profile(k) is p, k


@pytest.mark.parametrize("word, expected", [
    ("mugs", "mug"), ("boxes", "box"), ("knives", "knife"), ("shelves", "shelf"), ("glasses", "glass"),
    ("dishes", "dish"), ("potatoes", "potato"), ("berries", "berry"), ("vases", "vase"),
    ("canes", "canes"), ("tines", "tines"), ("mates", "mates"), ("glass", "glass"), ("unknowns", "unknowns"),
])
def test_plural_rules_only_lead_to_known_words(word, expected):
    known = {"mug", "box", "knife", "shelf", "glass", "dish", "potato", "berry", "vase", "can", "tin", "mat"}
    assert singular(word, known) == expected


def test_words_split_camel_case_and_non_letters():
    assert raw_words("TVStand_2") == ("tv", "stand")
    assert raw_words("CoffeeMug-01 (white)") == ("coffee", "mug", "white")
    assert raw_words("") == ()


def test_matcher_refuses_a_phrase_with_two_meanings():
    with pytest.raises(ValueError, match="two values"):
        Matcher([("tin can", 1), ("Tin-Can", 2)])


def test_tricky_names_get_sensible_physics():
    scanner = estimate(make_obj("barcode scanner", (0.07, 0.1, 0.18)))
    assert scanner.material == "plastic" and scanner.collider.value == "box"
    candle = estimate(make_obj("candle", (0.07, 0.07, 0.10)))
    assert candle.material == "wax" and candle.collider.value == "cylinder"
    assert 0.25 <= candle.mass_kg <= 0.45  # a 7 x 10 cm pillar candle ~0.35 kg
    tote = estimate(make_obj("tote bin", (0.6, 0.4, 0.3)))
    assert tote.collider.value == "box" and 1.0 <= tote.mass_kg <= 3.0  # a 60 l tote ~1.5-2.5 kg
    knife = estimate(make_obj("knife", (0.22, 0.02, 0.01)))
    assert 0.02 <= knife.mass_kg <= 0.1


# --- GenieSim mesh shape and the floor ---------------------------------------------------------

@pytest.mark.parametrize("category, round_", [
    ("mug", True), ("tin can", True), ("candle", True), ("Tumbler", True), ("cooking pot", True),
    ("barcode scanner", False), ("cutting board", False), ("tote bin", False), ("scanner", False),
    ("cantaloupe", True), ("template", False), ("potato", True), ("bottle opener", False), ("teapot", True),
])
def test_aligned_mesh_shape_uses_whole_words(category, round_):
    assert is_round(category, None) is round_
    assert is_round(category, "box") is round_  # a box collider from a manifest still asks the table
    assert is_round(category, "cylinder") is True


def test_floor_is_found_by_whole_word():
    floor = make_obj("floor", (5.0, 5.0, 0.05), name="KitchenFloor", role=SimRole.SCENE_SHELL)
    assert floor_height_m([floor]) == pytest.approx(0.05)
    board = make_obj("floorboard", (1.0, 0.1, 0.02), name="floorboard_1", role=SimRole.STATIC)
    assert floor_height_m([board]) == 0.0
    plane = make_obj("ground", (5.0, 5.0, 0.02), name="FloorPlane", role=SimRole.SCENE_SHELL)
    assert floor_height_m([plane]) == pytest.approx(0.02)


# --- materials ---------------------------------------------------------------------------------

NEW_MATERIALS = ("stone", "granite", "marble", "concrete", "tile", "wax", "wicker", "epoxy_resin", "foam",
                 "fabric", "leather", "cork", "brass", "copper", "iron", "cast_iron")

SYNONYMS = [
    ("stone", "stone"), ("Stone", "stone"), ("rock", "stone"), ("slate", "stone"), ("limestone", "stone"),
    ("granite", "granite"), ("granite countertop", "granite"), ("Granite_Countertop", "granite"),
    ("marble", "marble"), ("polished marble", "marble"),
    ("concrete", "concrete"), ("cement", "concrete"),
    ("tile", "tile"), ("tiles", "tile"), ("ceramic tile", "tile"), ("porcelain tile", "tile"),
    ("wax", "wax"), ("candle wax", "wax"), ("paraffin", "wax"), ("beeswax", "wax"),
    ("wicker", "wicker"), ("rattan", "wicker"), ("woven rattan", "wicker"),
    ("epoxy", "epoxy_resin"), ("resin", "epoxy_resin"), ("epoxy resin", "epoxy_resin"), ("epoxy_resin", "epoxy_resin"),
    ("foam", "foam"), ("sponge", "foam"), ("foam rubber", "foam"), ("memory foam", "foam"),
    ("fabric", "fabric"), ("cloth", "fabric"), ("textile", "fabric"), ("cotton", "fabric"), ("linen", "fabric"),
    ("leather", "leather"), ("faux leather", "leather"), ("suede", "leather"),
    ("cork", "cork"), ("cork board", "cork"),
    ("brass", "brass"), ("copper", "copper"),
    ("iron", "iron"), ("wrought iron", "iron"), ("cast iron", "cast_iron"), ("cast-iron skillet", "cast_iron"),
    ("steel", "steel"), ("stainless steel", "steel"), ("metal", "steel"),
    ("Porcelain", "ceramic"), ("marble-look laminate", "wood_panel"), ("aluminum", "aluminium"),
    ("pet bottle", "pet"), ("steel with a wooden handle", "steel"),
]


@pytest.mark.parametrize("word, expected", SYNONYMS)
def test_material_words_resolve_by_whole_words(word, expected):
    m = lookup_material(word)
    assert m is not None and m.name == expected


@pytest.mark.parametrize("word", ["zorblax", "stonewashed", "ironic", "corkscrew", "brassica", "marbled",
                                  "tiled", "", None])
def test_no_material_inside_another_word(word):
    found = lookup_material(word)
    assert found is None or (word == "tiled" and found.name == "tile")  # "tiled" is an alias of tile


def test_an_llm_answer_must_be_a_whole_table_name():
    assert lookup_material("Cast Iron", exact=True).name == "cast_iron"
    assert lookup_material("aluminum", exact=True).name == "aluminium"
    assert lookup_material("plastic sk-123", exact=True) is None
    assert lookup_material("plastic ***", exact=True) is None  # a redacted echo is not a name
    assert lookup_material("wood_panel", exact=True).name == "wood_panel"
    assert lookup_material("granite countertop", exact=True) is None


def test_every_new_material_and_alias_resolves():
    for name in NEW_MATERIALS:
        assert name in MATERIALS
    for name in MATERIALS:
        assert lookup_material(name).name == name
        assert lookup_material(name.replace("_", " ").upper()).name == name
    for alias, name in MATERIAL_ALIASES.items():
        assert lookup_material(alias).name == name, alias


def test_every_property_of_every_row_cites_a_reference():
    for m in MATERIALS.values():
        for prop in PROPERTIES:
            cited = m.citations(prop)
            assert cited, (m.name, prop)
            assert set(cited) <= set(REFERENCES), (m.name, prop, cited)
            assert getattr(m, prop) >= 0


@pytest.mark.parametrize("name, lo, hi", [
    ("stone", 2300, 2800), ("granite", 2600, 2800), ("marble", 2550, 2750), ("concrete", 2200, 2600),
    ("tile", 1800, 2500), ("wax", 850, 970), ("wicker", 150, 600), ("epoxy_resin", 1100, 1400),
    ("foam", 15, 60), ("fabric", 100, 600), ("leather", 800, 1050), ("cork", 120, 300),
    ("brass", 8400, 8750), ("copper", 8900, 8970), ("iron", 7850, 7880), ("cast_iron", 6800, 7800),
])
def test_new_material_densities_are_physical(name, lo, hi):
    m = MATERIALS[name]
    assert lo <= m.density_kg_m3 <= hi
    assert 0 < m.dynamic_friction <= m.static_friction <= 1.2
    assert 0 <= m.restitution <= 1


def test_stone_is_no_longer_wood_panel():
    obj = make_obj("kitchen island", (1.2, 0.8, 0.9), role=SimRole.STATIC,
                   physics=ManifestPhysics(material_type="stone"))
    p = estimate(obj)
    assert p.material == "stone" and not any("material" in n for n in p.notes)
    top = estimate(make_obj("countertop", (2.0, 0.6, 0.04), role=SimRole.STATIC,
                            physics=ManifestPhysics(material_type="granite countertop")))
    assert top.material == "granite"
    panel = estimate(make_obj("countertop", (2.0, 0.6, 0.04), role=SimRole.STATIC))
    assert top.mass_kg == pytest.approx(panel.mass_kg * 2700.0 / 680.0)  # same shell, granite's density


def test_fabric_on_a_sofa_names_the_cover_and_keeps_the_bulk():
    plain = estimate(make_obj("sofa", (2.0, 0.9, 0.85), role=SimRole.STATIC))
    leather = estimate(make_obj("sofa", (2.0, 0.9, 0.85), role=SimRole.STATIC,
                                physics=ManifestPhysics(material_type="leather")))
    assert leather.material == "leather" and leather.mass_kg == pytest.approx(plain.mass_kg)
    assert leather.static_friction == MATERIALS["leather"].static_friction
    assert any("upholstered" in n for n in leather.notes)
    towel = estimate(make_obj("towel", (0.3, 0.2, 0.05)))
    assert towel.material == "fabric" and 0.2 <= towel.mass_kg <= 0.8  # a folded bath towel ~0.5 kg
