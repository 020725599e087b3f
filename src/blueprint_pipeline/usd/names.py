"""USD prim names and object file names from object ids (ids may hold any characters).

`prim_names` is the one mapping from ids to prim names; the usd and geniesim stages both use it."""

from __future__ import annotations

import re

from blueprint_pipeline.contract import USD_OBJECTS, USD_SCENE

OBJECTS_DIR = USD_OBJECTS.name
SCENE_FILE = USD_SCENE.name
WORLD = "/World"
OBJECTS_ROOT = "/World/Objects"
JOINTS_ROOT = "/World/Joints"
PHYSICS_SCENE = "/World/PhysicsScene"
OBJECT_PRIM = "Object"  # default prim of every object file

_INVALID = re.compile(r"[^A-Za-z0-9_]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names no object may take: Genie Sim's task files use "gripper" as the robot's own object id.
RESERVED_NAMES = frozenset({"gripper"})


def _base_name(oid: str) -> str:
    base = _INVALID.sub("_", oid) or "obj"
    return "o_" + base if base[0].isdigit() else base


def prim_names(ids: list[str], reserved: frozenset[str] | set[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """THE mapping from object ids to USD prim names (also object file stems and Genie Sim object
    ids); every stage that names an object's prim calls this with the scene's ids.

    - An id that is already a valid identifier keeps its exact name ("mug_1" -> "mug_1").
    - Other ids are sanitised: each character outside [A-Za-z0-9_] becomes "_" ("chair-1" ->
      "chair_1", "Café" -> "Caf_"), an empty id becomes "obj", a leading digit gets "o_"
      ("1chair" -> "o_1chair").
    - Collision-free: names are unique ignoring case (they are file names on case-insensitive
      file systems too) and never one of RESERVED_NAMES or `reserved`. Valid ids claim their names
      first; the rest take theirs in sorted id order, adding "_2", "_3", ... on a clash.
    So the result depends on the set of ids only, never on their order, and a valid id's name
    never depends on the other ids. Duplicate ids map to one name."""
    out: dict[str, str] = {}
    used = {n.lower() for n in RESERVED_NAMES} | {n.lower() for n in reserved}
    unique = sorted(set(ids))
    keep = [oid for oid in unique if _IDENTIFIER.fullmatch(oid) and oid.lower() not in used]
    taken: set[str] = set()
    for oid in keep:  # valid identifiers; two differing only in case: the first in sorted order keeps its name
        if oid.lower() not in taken:
            taken.add(oid.lower())
            out[oid] = oid
    used |= taken
    for oid in unique:
        if oid in out:
            continue
        base = _base_name(oid)
        name, n = base, 1
        while name.lower() in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name.lower())
        out[oid] = name
    return {oid: out[oid] for oid in ids}


def object_file(name: str) -> str:
    return f"{OBJECTS_DIR}/{name}.usda"


TEXTURES_DIR = "textures"  # meshes' images, next to the object files that use them


def texture_file(name: str) -> str:
    """Where an object file's texture `name` is, relative to the object file (and below
    OBJECTS_DIR relative to the usd folder)."""
    return f"{TEXTURES_DIR}/{name}"
