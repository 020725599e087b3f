"""Category -> material, collider shape and mass model.

Categories and names are matched by whole words (`match_profile`, rules in
`blueprint_pipeline.simready.words`): "barcode scanner" is not a can, "cutting board" not a tin.

Hollow and thin-walled things are modelled as shells of a wall thickness typical for the
category (a ceramic mug's wall ~5 mm, sheet steel of a toolbox ~0.8 mm = 22 gauge, an 18 mm
furniture panel), tables and chairs as slabs and legs, so a 0.4 m cardboard box weighs under a
kilogram instead of the 45 kg of a solid block of board (see `mass_models`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from blueprint_pipeline.simready.records import ColliderShape
from blueprint_pipeline.simready.words import Matcher

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


# Each phrase belongs to one profile; which one matches is decided by position in the category,
# not by order here (see `words`): "trash can" is a trash bin, "tin can" a can, "tool box" a toolbox.
PROFILES: tuple[Profile, ...] = (
    Profile("trash_bin", ("trash can", "trash bin", "garbage can", "garbage bin", "waste bin", "rubbish bin",
                          "recycling bin", "bin", "wastebasket", "dustbin"),
            "plastic", CYL, "cylinder_shell", wall_m=0.003, open_faces=("+z",)),
    # Rectangular storage totes: ~2 mm polypropylene walls (a 60 l tote weighs ~1.5-2.5 kg).
    Profile("storage_bin", ("storage bin", "tote", "tote bin", "storage tote", "storage tub", "plastic bin",
                            "storage container"), "plastic", BOX, "box_shell", wall_m=0.002, open_faces=("+z",)),
    Profile("toolbox", ("toolbox", "tool box", "tool chest", "tool case"), "steel", BOX, "box_shell", wall_m=0.0008),
    Profile("mug", ("mug",), "ceramic", CYL, "cylinder_shell", wall_m=0.005, open_faces=("+z",)),
    Profile("cup", ("cup", "teacup"), "ceramic", CYL, "cylinder_shell", wall_m=0.004, open_faces=("+z",)),
    Profile("drinking_glass", ("drinking glass", "glass", "tumbler", "wine glass"), "glass", CYL,
            "cylinder_shell", wall_m=0.003, open_faces=("+z",)),
    Profile("bowl", ("bowl",), "ceramic", CYL, "cylinder_shell", wall_m=0.004, open_faces=("+z",)),
    Profile("plate", ("plate", "dish", "saucer"), "ceramic", CYL, "cylinder_shell", wall_m=0.004, open_faces=("+z",)),
    Profile("vase", ("vase", "flower pot", "flowerpot", "plant pot", "planter"), "ceramic", CYL, "cylinder_shell",
            wall_m=0.006, open_faces=("+z",)),
    # A closed ceramic vessel; the spout and handle are inside the bounding cylinder's mass budget.
    Profile("teapot", ("teapot",), "ceramic", CYL, "cylinder_shell", wall_m=0.004),
    Profile("wine_bottle", ("wine bottle", "glass bottle", "beer bottle"), "glass", CYL, "cylinder_shell",
            wall_m=0.004, contents="water", contents_fraction=0.9),
    # PET bottles: walls ~0.3-0.4 mm; a 0.75 l bottle of water weighs ~0.78 kg.
    Profile("bottle", ("bottle",), "pet", CYL, "cylinder_shell", wall_m=0.0004, contents="water", contents_fraction=0.9),
    # Beverage can: ~0.1 mm aluminium wall; a full 355 ml can weighs ~0.37-0.39 kg.
    Profile("can", ("can", "soda", "tin can", "soup can", "soda can", "beer can", "tin"), "aluminium", CYL,
            "cylinder_shell", wall_m=0.0001, contents="water", contents_fraction=0.92),
    Profile("jar", ("jar", "canister"), "glass", CYL, "cylinder_shell", wall_m=0.004),
    Profile("cookware", ("pot", "pan", "saucepan", "frying pan", "skillet", "stockpot", "kettle", "wok"), "steel",
            CYL, "cylinder_shell", wall_m=0.0015, open_faces=("+z",)),
    # Solid wax: a 7 x 10 cm pillar candle weighs ~0.35 kg.
    Profile("candle", ("candle", "tealight", "tea light"), "wax", CYL),
    # Cutlery is mostly air in its bounding box: a 22 cm table knife of ~60 g fills ~15 % of it.
    Profile("utensil", ("knife", "fork", "spoon", "spatula", "ladle", "whisk", "tongs", "cutlery", "utensil"),
            "steel", BOX, fill=0.12),
    Profile("book", ("book", "notebook", "magazine", "binder", "textbook"), "paper", BOX),
    # Corrugated board 4 mm; top and bottom carry two flap layers -> 4/3 layers on average.
    Profile("cardboard_box", ("box", "carton", "package", "parcel", "cardboard"), "cardboard", BOX, "box_shell",
            wall_m=0.0053),
    # Woven wicker/rattan walls ~6 mm, open top (a 40 x 30 x 25 cm basket weighs ~1 kg).
    Profile("basket", ("basket", "hamper"), "wicker", BOX, "box_shell", wall_m=0.006, open_faces=("+z",)),
    # Folded cloth: layers with air between them fill about a third of the bounding box
    # (a folded 70 x 140 cm bath towel of ~0.5 kg).
    Profile("textile", ("towel", "cloth", "napkin", "blanket", "tablecloth", "dishcloth", "rag", "clothes",
                        "clothing", "shirt", "t shirt", "sweater"), "fabric", BOX, fill=0.35),
    # Flat floor and table coverings: a 2 x 1.4 m rug of ~1 cm weighs ~6-9 kg.
    Profile("rug", ("rug", "carpet", "mat", "doormat", "placemat", "bath mat", "yoga mat"), "fabric", BOX),
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
                                "food processor", "mixer", "air fryer", "hot plate", "hotplate"), "steel", BOX,
            "box_shell", wall_m=0.0008),
    Profile("board", ("cutting board", "chopping board", "tray", "board"), "wood", BOX),
    Profile("table", ("table", "desk", "workbench"), "wood", BOX, "table", wall_m=0.03),
    # Upholstery bulk: a ~60 kg three-seat sofa; a 45 x 45 x 15 cm cushion comes out ~1.5 kg
    # (a feather-filled one weighs ~1 kg).
    Profile("sofa", ("sofa", "couch", "armchair", "ottoman", "pouf", "cushion", "pillow"), "upholstery", BOX,
            fill=0.5),
    Profile("chair", ("chair", "stool"), "wood", BOX, "chair", wall_m=0.025),
    Profile("round_fruit", ("apple", "orange", "lemon", "lime", "peach", "pear", "tomato", "onion", "potato",
                            "fruit", "plum", "grapefruit", "mango", "melon", "cantaloupe", "watermelon"),
            "fruit", SPHERE),
    Profile("long_fruit", ("banana", "cucumber", "carrot", "zucchini", "eggplant"), "fruit", CAPSULE),
    Profile("laptop", ("laptop", "notebook computer"), "electronics", BOX),
    Profile("keyboard", ("keyboard",), "electronics", BOX, fill=0.35),
    Profile("monitor", ("monitor", "tv", "television", "screen", "display"), "display", BOX, "panel", wall_m=0.04),
)

# Head nouns that name a different thing from the noun before them: "bottle opener" is not a
# bottle, "table lamp" not a table, "cup holder" not a cup. Such a category matches no profile
# (unless a phrase ends on the word) and gets a generic one by size.
ACCESSORY_HEADS: tuple[str, ...] = (
    "opener", "holder", "rack", "stand", "lid", "cap", "cover", "sleeve", "handle", "knob", "brush", "glove",
    "mitt", "charger", "cleaner", "cutter", "stopper", "lamp", "light", "bag", "case", "coaster", "warmer",
    "remote", "cable", "label", "sticker", "bracket", "hook", "hanger", "block", "rest", "foil", "roll", "wrap",
    "liner", "scanner", "printer", "speaker", "clock",
)

GENERIC_SMALL = Profile("generic_small", (), "plastic", BOX, fill=0.3)
GENERIC_LARGE = Profile("generic_large", (), "wood_panel", BOX, "box_shell", wall_m=0.018)
GENERIC_LARGE_MIN_EXTENT_M = 0.6

PROFILES_BY_NAME: dict[str, Profile] = {p.name: p for p in PROFILES + (GENERIC_SMALL, GENERIC_LARGE)}

_MATCHER: Matcher[Profile] = Matcher(((k, p) for p in PROFILES for k in p.keywords), stop=ACCESSORY_HEADS)


@lru_cache(maxsize=4096)
def match_profile(category: str, name: str = "") -> Profile | None:
    """The profile of the category's head noun, else of the name's; None when neither has one.
    Whole words only, by the rules of `blueprint_pipeline.simready.words`: "coffee table" is a
    table, "trash can" a trash bin (the longest phrase ending nearest the end), "barcode scanner"
    nothing (no word is a category word), "bottle opener" nothing (an accessory head)."""
    for text in (category, name):
        profile = _MATCHER.head(text)
        if profile is not None:
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
