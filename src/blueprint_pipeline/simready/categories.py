"""Category -> material, collider shape and mass model.

Hollow and thin-walled things are modelled as shells of a wall thickness typical for the
category (a ceramic mug's wall ~5 mm, sheet steel of a toolbox ~0.8 mm = 22 gauge, an 18 mm
furniture panel), tables and chairs as slabs and legs, so a 0.4 m cardboard box weighs under a
kilogram instead of the 45 kg of a solid block of board (see `mass_models`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from blueprint_pipeline.simready.records import ColliderShape

BOX, CYL, SPHERE, CAPSULE = ColliderShape.BOX, ColliderShape.CYLINDER, ColliderShape.SPHERE, ColliderShape.CAPSULE


@dataclass(frozen=True)
class Profile:
    """How a category is built. `model` is one of: solid, box_shell, cylinder_shell, table,
    chair, panel. `open_faces` name the missing faces of a shell ("+z": open top, "-y": open
    front). `fill` scales a solid's mass (a keyboard is mostly air). `contents` fills a closed
    shell to `contents_fraction` of its inner height (a bottle of water)."""

    name: str
    keywords: tuple[str, ...]
    material: str
    collider: ColliderShape
    model: str = "solid"
    wall_m: float = 0.0
    open_faces: tuple[str, ...] = ()
    shelf_spacing_m: float = 0.0
    fill: float = 1.0
    contents: str | None = None
    contents_fraction: float = 0.0


# Order matters: the first profile with a matching keyword wins, so specific words come
# before generic ones ("trash can" before "can", "tool box" before "box", "armchair" before "chair").
PROFILES: tuple[Profile, ...] = (
    Profile("trash_bin", ("trash can", "trash bin", "garbage can", "waste bin", "bin", "wastebasket"),
            "plastic", CYL, "cylinder_shell", wall_m=0.003, open_faces=("+z",)),
    Profile("toolbox", ("toolbox", "tool box", "tool chest", "tool case"), "steel", BOX, "box_shell", wall_m=0.0008),
    Profile("mug", ("mug",), "ceramic", CYL, "cylinder_shell", wall_m=0.005, open_faces=("+z",)),
    Profile("cup", ("cup", "teacup"), "ceramic", CYL, "cylinder_shell", wall_m=0.004, open_faces=("+z",)),
    Profile("drinking_glass", ("drinking glass", "glass", "tumbler", "wine glass"), "glass", CYL,
            "cylinder_shell", wall_m=0.003, open_faces=("+z",)),
    Profile("bowl", ("bowl",), "ceramic", CYL, "cylinder_shell", wall_m=0.004, open_faces=("+z",)),
    Profile("plate", ("plate", "dish", "saucer"), "ceramic", CYL, "cylinder_shell", wall_m=0.004, open_faces=("+z",)),
    Profile("vase", ("vase", "flower pot", "planter"), "ceramic", CYL, "cylinder_shell", wall_m=0.006, open_faces=("+z",)),
    Profile("wine_bottle", ("wine bottle", "glass bottle", "beer bottle"), "glass", CYL, "cylinder_shell",
            wall_m=0.004, contents="water", contents_fraction=0.9),
    # PET bottles: walls ~0.3-0.4 mm; a 0.75 l bottle of water weighs ~0.78 kg.
    Profile("bottle", ("bottle",), "pet", CYL, "cylinder_shell", wall_m=0.0004, contents="water", contents_fraction=0.9),
    # Beverage can: ~0.1 mm aluminium wall; a full 355 ml can weighs ~0.37-0.39 kg.
    Profile("can", ("can", "soda", "tin can", "soup can"), "aluminium", CYL, "cylinder_shell", wall_m=0.0001,
            contents="water", contents_fraction=0.92),
    Profile("jar", ("jar",), "glass", CYL, "cylinder_shell", wall_m=0.004),
    Profile("cookware", ("pot", "pan", "saucepan", "kettle", "wok"), "steel", CYL, "cylinder_shell",
            wall_m=0.0015, open_faces=("+z",)),
    Profile("book", ("book", "notebook", "magazine", "binder", "textbook"), "paper", BOX),
    # Corrugated board 4 mm; top and bottom carry two flap layers -> 4/3 layers on average.
    Profile("cardboard_box", ("box", "carton", "package", "parcel", "cardboard"), "cardboard", BOX, "box_shell",
            wall_m=0.0053),
    Profile("drawer", ("drawer",), "wood_panel", BOX, "box_shell", wall_m=0.012, open_faces=("+z",)),
    Profile("shelf", ("shelf", "shelves", "bookcase", "bookshelf", "shelving"), "wood_panel", BOX, "box_shell",
            wall_m=0.018, open_faces=("-y",), shelf_spacing_m=0.35),
    Profile("cabinet", ("cabinet", "cupboard", "wardrobe", "dresser", "nightstand", "sideboard", "counter",
                        "countertop", "chest of drawers", "closet"),
            "wood_panel", BOX, "box_shell", wall_m=0.018, shelf_spacing_m=0.4),
    Profile("appliance", ("refrigerator", "fridge", "oven", "microwave", "dishwasher", "washing machine",
                          "washer", "dryer", "freezer"), "steel", BOX, "box_shell", wall_m=0.0015),
    # Countertop appliances: a 0.8 mm sheet-steel case (a two-slot toaster weighs ~1.5-2 kg).
    Profile("small_appliance", ("toaster", "blender", "coffee maker", "coffee machine", "rice cooker",
                                "food processor", "mixer", "air fryer"), "steel", BOX, "box_shell", wall_m=0.0008),
    Profile("board", ("cutting board", "chopping board", "tray", "board"), "wood", BOX),
    Profile("table", ("table", "desk", "workbench"), "wood", BOX, "table", wall_m=0.03),
    Profile("sofa", ("sofa", "couch", "armchair", "ottoman"), "upholstery", BOX, fill=0.5),
    Profile("chair", ("chair", "stool"), "wood", BOX, "chair", wall_m=0.025),
    Profile("round_fruit", ("apple", "orange", "lemon", "lime", "peach", "pear", "tomato", "onion", "potato",
                            "fruit", "plum", "grapefruit", "mango"), "fruit", SPHERE),
    Profile("long_fruit", ("banana", "cucumber", "carrot", "zucchini", "eggplant"), "fruit", CAPSULE),
    Profile("laptop", ("laptop", "notebook computer"), "electronics", BOX),
    Profile("keyboard", ("keyboard",), "electronics", BOX, fill=0.35),
    Profile("monitor", ("monitor", "tv", "television", "screen", "display"), "display", BOX, "panel", wall_m=0.04),
)

GENERIC_SMALL = Profile("generic_small", (), "plastic", BOX, fill=0.3)
GENERIC_LARGE = Profile("generic_large", (), "wood_panel", BOX, "box_shell", wall_m=0.018)
GENERIC_LARGE_MIN_EXTENT_M = 0.6

PROFILES_BY_NAME: dict[str, Profile] = {p.name: p for p in PROFILES + (GENERIC_SMALL, GENERIC_LARGE)}

_SPLIT = re.compile(r"[^a-z0-9]+")


def _tokens(text: str) -> tuple[str, ...]:
    out = []
    for t in _SPLIT.split(text.lower()):
        if not t:
            continue
        # Crude singular: "mugs" -> "mug", "boxes" -> "box", "shelves" stays (listed as keyword).
        if t.endswith("es") and t[:-2] in _KEYWORD_WORDS:
            t = t[:-2]
        elif t.endswith("s") and t[:-1] in _KEYWORD_WORDS:
            t = t[:-1]
        out.append(t)
    return tuple(out)


_KEYWORD_WORDS = {w for p in PROFILES for k in p.keywords for w in k.split()}
_KEYWORDS: tuple[tuple[tuple[str, ...], Profile], ...] = tuple(
    (_tokens(k), p) for p in PROFILES for k in p.keywords
)


@lru_cache(maxsize=4096)
def match_profile(category: str, name: str = "") -> Profile | None:
    """The profile of the head noun: English compounds end in it ("glass bottle" is a bottle,
    "coffee table" a table), so phrases ending nearest the end of the category win, the longest
    first ("trash can" over "can"); then the same on the name."""
    for text in (category, name):
        tokens = _tokens(text)
        joined = "".join(tokens)  # "tool_box" and "toolbox" both match "toolbox"
        for end in range(len(tokens), 0, -1):
            best: tuple[int, Profile] | None = None
            for phrase, profile in _KEYWORDS:
                n = len(phrase)
                if n <= end and tokens[end - n:end] == phrase and (best is None or n > best[0]):
                    best = (n, profile)
            if best is not None:
                return best[1]
        for phrase, profile in _KEYWORDS:
            if len(phrase) == 1 and phrase[0] == joined:
                return profile
    return None


def profile_for(category: str, name: str, extents_m: tuple[float, float, float]) -> tuple[Profile, bool]:
    """(profile, matched): a generic profile by size when the category is not in the table."""
    p = match_profile(category, name)
    if p is not None:
        return p, True
    if max(extents_m) >= GENERIC_LARGE_MIN_EXTENT_M:
        return GENERIC_LARGE, False
    return GENERIC_SMALL, False
