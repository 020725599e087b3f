"""USD prim names and object file names from object ids (ids may hold any characters)."""

from __future__ import annotations

import re

OBJECTS_DIR = "objects"
SCENE_FILE = "scene.usda"
WORLD = "/World"
OBJECTS_ROOT = "/World/Objects"
JOINTS_ROOT = "/World/Joints"
PHYSICS_SCENE = "/World/PhysicsScene"
OBJECT_PRIM = "Object"  # default prim of every object file

_INVALID = re.compile(r"[^A-Za-z0-9_]")


def prim_names(ids: list[str]) -> dict[str, str]:
    """A valid, unique USD identifier per id (also used as the object file's stem)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for oid in ids:
        base = _INVALID.sub("_", oid) or "obj"
        if base[0].isdigit():
            base = "o_" + base
        name, n = base, 1
        while name.lower() in used:  # case-insensitive: file names on macOS/Windows
            n += 1
            name = f"{base}_{n}"
        used.add(name.lower())
        out[oid] = name
    return out


def object_file(name: str) -> str:
    return f"{OBJECTS_DIR}/{name}.usda"
