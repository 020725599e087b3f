"""Synthetic manifests of any size: furniture in a grid of cells, small objects resting on top.

Each 3 m x 3 m cell holds one support (table, desk, counter or low shelf) and up to a dozen
objects on its top, one per slot of a grid whose pitch exceeds every object's footprint diagonal,
so objects never overlap at any yaw; every object's bottom face lies exactly on its support's top
face. Each cell draws from its own numpy Generator seeded from (scene id, stage, cell index,
seed), so a cell is reproducible alone and the file is identical for a seed. The manifest is
written object by object (memory does not grow with N).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.seeding import item_rng

STAGE = "synth"
CELL_M = 3.0
SLOT_M = 0.3  # > the largest footprint diagonal below (plate: 0.283 m), so any yaw fits

# category, (width, depth, height) metres, sim_role, material, affordances
SMALL_OBJECTS: list[tuple[str, tuple[float, float, float], str, str, list[str]]] = [
    ("mug", (0.08, 0.08, 0.10), "manipulable_object", "ceramic", ["Graspable", "Fillable"]),
    ("bowl", (0.16, 0.16, 0.07), "manipulable_object", "ceramic", ["Graspable", "Fillable", "Stackable"]),
    ("bottle", (0.07, 0.07, 0.25), "manipulable_object", "pet", ["Graspable", "Pourable"]),
    ("can", (0.066, 0.066, 0.12), "manipulable_object", "aluminium", ["Graspable", "Stackable"]),
    ("box", (0.12, 0.06, 0.08), "manipulable_object", "cardboard", ["Graspable", "Stackable"]),
    ("book", (0.15, 0.22, 0.03), "manipulable_object", "paper", ["Graspable", "Stackable"]),
    ("apple", (0.08, 0.08, 0.08), "manipulable_object", "fruit", ["Graspable"]),
    ("plate", (0.2, 0.2, 0.02), "clutter", "ceramic", ["Supportable", "Stackable"]),  # side plate
]

# category, width range, depth range, height range, material
SUPPORTS: list[tuple[str, tuple[float, float], tuple[float, float], tuple[float, float], str]] = [
    ("table", (1.2, 1.8), (0.7, 0.9), (0.72, 0.76), "wood"),
    ("desk", (1.2, 1.6), (0.6, 0.8), (0.72, 0.76), "wood"),
    ("counter", (1.5, 2.4), (0.6, 0.65), (0.88, 0.92), "wood_panel"),
    ("low shelf", (0.9, 1.2), (0.35, 0.45), (0.8, 1.0), "wood_panel"),
]


def cell_rng(scene_id: str, index: int, seed: int) -> np.random.Generator:
    return item_rng(scene_id, STAGE, index, seed)


def _r(x: float) -> float:
    return round(float(x), 6)


def _yaw_quat(yaw: float, y_up: bool) -> dict[str, float]:
    c, s = math.cos(yaw / 2), math.sin(yaw / 2)
    # A turn about the vertical: z in z-up data, y in y-up data.
    return {"w": _r(c), "x": 0.0, "y": _r(s) if y_up else 0.0, "z": 0.0 if y_up else _r(s)}


def _pos(x: float, y: float, z: float, y_up: bool) -> dict[str, float]:
    """z-up (x, y, z) -> the manifest's frame; y-up is the inverse of (x, y, z) -> (x, -z, y)."""
    return {"x": _r(x), "y": _r(z), "z": _r(-y)} if y_up else {"x": _r(x), "y": _r(y), "z": _r(z)}


def _cell_objects(scene_id: str, index: int, seed: int, origin: tuple[float, float], budget: int,
                  y_up: bool) -> Iterator[dict[str, Any]]:
    rng = cell_rng(scene_id, index, seed)
    cat, wr, dr, hr, material = SUPPORTS[int(rng.integers(len(SUPPORTS)))]
    # Sizes in whole tenths of a millimetre, so centres and stacked heights are exact to 1e-6 m.
    w, d, h = (round(float(rng.uniform(*r)), 4) for r in (wr, dr, hr))
    cx, cy = origin[0] + CELL_M / 2, origin[1] + CELL_M / 2
    support_id = f"c{index}_{cat.replace(' ', '_')}"
    yield {
        "id": support_id, "sim_role": "static", "name": f"{cat.title()} {index}", "category": cat,
        "transform": {"position": _pos(cx, cy, h / 2, y_up), "rotation_quaternion": _yaw_quat(0.0, y_up),
                      "scale": {"x": 1.0, "y": 1.0, "z": 1.0}},
        "dimensions_est": {"width": _r(w), "depth": _r(d), "height": _r(h)},
        "semantics": {"class": cat, "affordances": ["Supportable"]},
        "physics_hints": {"material_type": material},
    }
    nx, ny = int(w // SLOT_M), int(d // SLOT_M)
    slots = [(i, j) for i in range(nx) for j in range(ny)]
    order = rng.permutation(len(slots))
    count = min(budget - 1, len(slots), int(rng.integers(max(1, len(slots) // 2), len(slots) + 1)))
    x0, y0 = cx - nx * SLOT_M / 2, cy - ny * SLOT_M / 2
    for k in range(max(0, count)):
        i, j = slots[int(order[k])]
        ocat, (ow, od, oh), role, omat, affs = SMALL_OBJECTS[int(rng.integers(len(SMALL_OBJECTS)))]
        yaw = float(rng.uniform(-math.pi, math.pi))
        x, y = x0 + (i + 0.5) * SLOT_M, y0 + (j + 0.5) * SLOT_M
        oid = f"c{index}_o{k}_{ocat}"
        yield {
            "id": oid, "sim_role": role, "name": f"{ocat.title()} {index}.{k}", "category": ocat,
            "transform": {"position": _pos(x, y, h + oh / 2, y_up), "rotation_quaternion": _yaw_quat(yaw, y_up),
                          "scale": {"x": 1.0, "y": 1.0, "z": 1.0}},
            "dimensions_est": {"width": ow, "depth": od, "height": oh},
            "semantics": {"class": ocat, "affordances": affs},
            "physics_hints": {"material_type": omat},
            "relationships": [{"type": "on", "subject_id": oid, "object_id": support_id}],
        }


def synthetic_objects(n: int, seed: int, scene_id: str, y_up: bool = False) -> Iterator[dict[str, Any]]:
    """Exactly `n` object dicts in manifest form."""
    cells = max(1, math.ceil(n / 6))  # about 7 objects per cell on average; a few spare cells
    cols = max(1, math.ceil(math.sqrt(cells)))
    produced, index = 0, 0
    while produced < n:
        origin = ((index % cols) * CELL_M, (index // cols) * CELL_M)
        for obj in _cell_objects(scene_id, index, seed, origin, n - produced, y_up):
            yield obj
            produced += 1
        index += 1


def synthetic_header(n: int, seed: int, frame: str = "z_up") -> dict[str, Any]:
    cells = max(1, math.ceil(n / 6))
    cols = max(1, math.ceil(math.sqrt(cells)))
    side = cols * CELL_M
    rows = math.ceil(cells / cols) + 1  # the loop may use a few cells beyond the estimate
    y_up = frame == "y_up"
    gravity = {"x": 0.0, "y": -9.81, "z": 0.0} if y_up else {"x": 0.0, "y": 0.0, "z": -9.81}
    return {
        "version": "1.0.0",
        "scene_id": f"synthetic_{n}_{seed}",
        "scene": {
            "coordinate_frame": frame, "meters_per_unit": 1.0, "environment_type": "synthetic",
            "room": {"bounds": {"width": side, "depth": rows * CELL_M, "height": 3.0}, "origin": [0.0, 0.0, 0.0]},
            "physics_defaults": {"gravity": gravity, "time_steps_per_second": 240},
        },
        "metadata": {"generator": "blueprint synth", "seed": seed, "objects": n},
    }


def write_synthetic_manifest(url: str, n: int, seed: int, frame: str = "z_up") -> int:
    """Write a manifest with exactly `n` objects; returns n."""
    header = synthetic_header(n, seed, frame)
    head = json.dumps(header, separators=(",", ":"))[:-1]  # drop the closing brace
    written = 0
    with storage.atomic_writer(url, "w") as f:
        f.write(head + ',"objects":[\n')
        for obj in synthetic_objects(n, seed, header["scene_id"], y_up=frame == "y_up"):
            f.write(("," if written else "") + json.dumps(obj, separators=(",", ":")) + "\n")
            written += 1
        f.write("]}\n")
    return written
