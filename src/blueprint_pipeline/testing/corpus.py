"""A corpus of varied, realistic scene manifests that the project was not tuned on.

`corpus()` returns (name, manifest) pairs, the same every call (fixed per-scene seeds). The scenes
are written as a user's scanner or authoring tool would write them, not as the pipeline would like
them:
- rooms of many kinds (kitchen, living room, office, pantry, lab, bedroom, bathroom, garage, ...);
- empty containers with things around them to put in (a supply basket on a craft table);
- furniture at arbitrary yaw, with what stands on it turned with it;
- shelving units, bookshelves and cabinets given as ONE bounding box, with their contents inside
  it standing on implicit shelf boards;
- containers (bowls, baskets, bins, trays) holding things;
- clutter 4-8 cm apart; thin objects (pens, phones, remotes, closed laptops); objects 7-10 cm wide
  (mugs, cans, jars);
- drawers and hinged doors: as separate parts inside their furniture's box, and as whole
  articulated boxes (appliances);
- every axis and unit convention: z-up and y-up, metres, centimetres and millimetres (gravity,
  sizes, positions and prismatic limits in the manifest's units, as such files state them).

Scenes are built in a z-up metric frame (`Room`) and converted on output (`Room.manifest`). The
corpus bench (`bench/corpus.py`) runs the pipeline on every scene; do not tune the pipeline to
these scenes' particulars, and do not drop a hard scene to meet a target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
Vec3 = tuple[float, float, float]


@dataclass
class Part:
    """One object in the builder's z-up metric frame; `center` is its bounding-box centre."""

    id: str
    category: str
    name: str
    size: Vec3
    center: Vec3
    yaw: float
    role: str
    material: str
    affordances: list[Any]
    description: str = ""
    articulation: dict[str, Any] | None = None  # axis in the part's frame, prismatic limits in m
    relationships: list[dict[str, str]] = field(default_factory=list)

    @property
    def top(self) -> float:
        return self.center[2] + self.size[2] / 2

    @property
    def bottom(self) -> float:
        return self.center[2] - self.size[2] / 2

    def to_world(self, local_xy: tuple[float, float]) -> tuple[float, float]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return (self.center[0] + c * local_xy[0] - s * local_xy[1],
                self.center[1] + s * local_xy[0] + c * local_xy[1])


class Room:
    """Builds one scene. Furniture faces -y of its own frame, so drawers pull and doors open
    towards -y locally; furniture with drawers or doors is turned so that this side faces the room
    (yaw 0 against the far wall, 180 against the near one), not a wall."""

    def __init__(self, scene_id: str, kind: str, size: Vec3, seed: int):
        self.scene_id, self.kind, self.size = scene_id, kind, size
        self.rng = np.random.default_rng(seed)
        self.parts: list[Part] = []

    def jitter(self, scale: float) -> float:
        return float(self.rng.uniform(-scale, scale))

    def add(self, part: Part) -> Part:
        self.parts.append(part)
        return part

    def furniture(self, id: str, category: str, size: Vec3, xy: tuple[float, float], yaw_deg: float = 0.0, *,
                  name: str | None = None, material: str = "wood", role: str = "static",
                  affordances: list[Any] | None = None, description: str = "", z0: float = 0.0) -> Part:
        return self.add(Part(id, category, name or category.title(), size, (xy[0], xy[1], z0 + size[2] / 2),
                             math.radians(yaw_deg), role, material,
                             ["Supportable"] if affordances is None else affordances, description))

    def on(self, support: Part, id: str, category: str, size: Vec3, local_xy: tuple[float, float] = (0.0, 0.0),
           yaw_deg: float = 0.0, *, base_z: float | None = None, name: str | None = None,
           material: str = "plastic", role: str = "manipulable_object", affordances: list[Any] | None = None,
           description: str = "", relation: str | None = "on") -> Part:
        """A part standing on `support`'s top (or at `base_z` above its bottom: a shelf board or a
        container's floor), turned with it."""
        x, y = support.to_world(local_xy)
        z = (support.top if base_z is None else support.bottom + base_z) + size[2] / 2
        rel = [{"type": relation, "subject_id": id, "object_id": support.id}] if relation else []
        return self.add(Part(id, category, name or category.title(), size, (x, y, z),
                             support.yaw + math.radians(yaw_deg), role, material,
                             ["Graspable"] if affordances is None else affordances, description, None, rel))

    def row(self, support: Part, prefix: str, items: list[tuple[str, Vec3, str]], start_xy: tuple[float, float],
            gap_range: tuple[float, float] = (0.04, 0.08), base_z: float | None = None,
            relation: str | None = "on") -> list[Part]:
        """Items side by side along the support's x, 4-8 cm apart (clutter)."""
        out, x = [], start_xy[0]
        for n, (category, size, material) in enumerate(items):
            x += size[0] / 2
            out.append(self.on(support, f"{prefix}_{n}", category, size, (x, start_xy[1]), self.jitter(20),
                               base_z=base_z, material=material, relation=relation))
            x += size[0] / 2 + float(self.rng.uniform(*gap_range))
        return out

    def drawer_in(self, carcass: Part, id: str, height: float, top_from_top: float, travel: float,
                  name: str = "Drawer") -> Part:
        """A drawer whose box lies inside its carcass's box, at the front, sliding out to -y."""
        w, d, _ = carcass.size
        size = (w - 0.04, d - 0.03, height)
        z = carcass.top - top_from_top - height / 2
        x, y = carcass.to_world((0.0, 0.015))
        return self.add(Part(id, "drawer", name, size, (x, y, z), carcass.yaw, "articulated_furniture", "wood",
                             ["Openable"], "", {"type": "prismatic", "axis": [0.0, -1.0, 0.0],
                                                "limits": {"lower": 0.0, "upper": travel}}))

    def door_in(self, carcass: Part, id: str, hinge_side: str = "left", name: str = "Cabinet door",
                category: str = "cabinet door", role: str = "articulated_furniture",
                material: str = "wood") -> Part:
        """A hinged door panel at the front of its carcass, inside the carcass's box: the whole
        front, or on a carcass wider than 90 cm the half on its hinge side. `hinge_side` is the
        furniture's own left or right (it faces -y locally, so its left is +x), as in the example
        kitchen's cabinet "hinged on its left edge"."""
        w, d, h = carcass.size
        half = w > 0.9
        size = (w / 2 - 0.01 if half else w - 0.01, 0.02, h - 0.02)
        x_local = (w / 4 if hinge_side == "left" else -w / 4) if half else 0.0
        x, y = carcass.to_world((x_local, -d / 2 + 0.01))
        lower, upper = (0.0, 1.9) if hinge_side == "left" else (-1.9, 0.0)
        return self.add(Part(id, category, name, size, (x, y, carcass.center[2]), carcass.yaw, role, material,
                             [{"type": "Openable", "handle_side": "right" if hinge_side == "left" else "left"}],
                             "", {"type": "revolute", "axis": [0.0, 0.0, 1.0],
                                  "limits": {"lower": lower, "upper": upper}}))

    # -- output -------------------------------------------------------------------------------------
    def manifest(self, units: str = "m", up: str = "z") -> dict[str, Any]:
        s = 1.0 / UNITS[units]
        y_up = up == "y"

        def point(v: Vec3) -> dict[str, float]:
            x, y, z = v
            p = (x, z, -y) if y_up else (x, y, z)
            return {"x": round(p[0] * s, 6), "y": round(p[1] * s, 6), "z": round(p[2] * s, 6)}

        def quat(yaw: float) -> dict[str, float]:
            c, sn = round(math.cos(yaw / 2), 9), round(math.sin(yaw / 2), 9)
            return {"w": c, "x": 0.0, "y": sn, "z": 0.0} if y_up else {"w": c, "x": 0.0, "y": 0.0, "z": sn}

        def axis(a: list[float]) -> list[float]:
            return [a[0], a[2], -a[1]] if y_up else list(a)

        objects = []
        for p in self.parts:
            obj: dict[str, Any] = {
                "id": p.id, "sim_role": p.role, "name": p.name, "category": p.category,
                "description": p.description,
                "transform": {"position": point(p.center), "rotation_quaternion": quat(p.yaw),
                              "scale": {"x": 1.0, "y": 1.0, "z": 1.0}},
                "dimensions_est": {"width": round(p.size[0] * s, 6), "depth": round(p.size[1] * s, 6),
                                   "height": round(p.size[2] * s, 6)},
                "semantics": {"class": p.category, "affordances": p.affordances},
                "physics_hints": {"material_type": p.material},
                "asset": {"path": f"objects/{p.id}.glb", "format": "glb", "source": "corpus"},
            }
            if p.relationships:
                obj["relationships"] = p.relationships
            if p.articulation:
                art = dict(p.articulation)
                art["axis"] = axis(art["axis"])
                if art["type"] == "prismatic":
                    art["limits"] = {k: round(v * s, 6) for k, v in art["limits"].items()}
                objects.append(obj | {"articulation": art})
            else:
                objects.append(obj)
        w, d, h = self.size
        g = -9.81 * s
        return {
            "version": "1.0.0", "scene_id": self.scene_id,
            "scene": {"coordinate_frame": "y_up" if y_up else "z_up", "meters_per_unit": UNITS[units],
                      "environment_type": self.kind,
                      "room": {"bounds": {"width": w * s, "depth": d * s, "height": h * s}, "origin": [0.0, 0.0, 0.0]},
                      "physics_defaults": {"gravity": {"x": 0.0, "y": g, "z": 0.0} if y_up else {"x": 0.0, "y": 0.0, "z": g}}},
            "metadata": {"source": "blueprint-pipeline scene corpus", "units": units, "up": up},
            "objects": objects,
        }


# --- object catalogue: category, (width, depth, height) m, material ----------------------------------
MUG = ("mug", (0.085, 0.085, 0.095), "ceramic")
CAN = ("soup can", (0.074, 0.074, 0.11), "aluminium")
SODA = ("soda can", (0.066, 0.066, 0.122), "aluminium")
JAR = ("jar", (0.08, 0.08, 0.12), "glass")
SPICE = ("spice jar", (0.045, 0.045, 0.10), "glass")
BOTTLE = ("water bottle", (0.068, 0.068, 0.22), "pet")
CEREAL = ("cereal box", (0.19, 0.07, 0.28), "cardboard")
PASTA = ("pasta box", (0.15, 0.06, 0.20), "cardboard")
BOOK = ("book", (0.15, 0.23, 0.03), "paper")
PEN = ("pen", (0.014, 0.145, 0.014), "plastic")
PHONE = ("phone", (0.075, 0.155, 0.008), "glass")
REMOTE = ("remote control", (0.05, 0.18, 0.025), "plastic")
LAPTOP = ("laptop", (0.32, 0.22, 0.02), "aluminium")
APPLE = ("apple", (0.075, 0.075, 0.075), "fruit")
ORANGE = ("orange", (0.07, 0.07, 0.07), "fruit")
CANDLE = ("candle", (0.075, 0.075, 0.09), "wax")
BEAKER = ("beaker", (0.07, 0.07, 0.095), "glass")
TOY = ("toy block", (0.05, 0.05, 0.05), "wood")
SOAP = ("soap bottle", (0.07, 0.05, 0.18), "plastic")


def _kitchen_counter(seed: int, units: str, up: str, yaw: float) -> dict:
    r = Room(f"corpus_kitchen_counter_{units}_{up}", "kitchen", (4.0, 3.5, 2.6), seed)
    counter = r.furniture("counter", "counter", (2.0, 0.62, 0.9), (2.0, 3.0), yaw, material="granite",
                          name="Kitchen counter")
    r.row(counter, "clutter", [SPICE, SPICE, CAN, JAR, MUG, SODA, SPICE], (-0.85, 0.05))
    r.on(counter, "cutting_board", "cutting board", (0.4, 0.28, 0.02), (0.55, -0.05), material="wood",
         affordances=["Graspable", "Supportable"])
    r.on(counter, "toaster", "toaster", (0.28, 0.18, 0.2), (0.75, 0.15), material="steel", role="static",
         affordances=[])
    base = r.furniture("base_cabinet", "base cabinet", (0.6, 0.58, 0.85), (0.6, 3.0), yaw, material="wood")
    r.door_in(base, "base_cabinet_door", "left")
    table = r.furniture("table", "dining table", (1.2, 0.8, 0.75), (2.0, 1.4), yaw + 15)
    bowl = r.on(table, "fruit_bowl", "bowl", (0.22, 0.22, 0.09), (0.1, 0.05), material="ceramic",
                affordances=["Graspable", "Container"])
    r.on(bowl, "apple_1", *APPLE[:2], (-0.04, 0.0), base_z=0.01, material="fruit", relation="in")
    r.on(bowl, "orange_1", *ORANGE[:2], (0.045, 0.01), base_z=0.01, material="fruit", relation="in")
    r.on(table, "mug_on_table", *MUG[:2], (-0.35, -0.1), material=MUG[2])
    return r.manifest(units, up)


def _living_room(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_living_room_{units}_{up}", "living_room", (5.0, 4.0, 2.7), seed)
    r.furniture("sofa", "sofa", (2.0, 0.9, 0.85), (2.5, 3.4), 180, material="fabric", role="static", affordances=[])
    coffee = r.furniture("coffee_table", "coffee table", (1.1, 0.6, 0.42), (2.4, 2.2), 23, material="wood")
    r.on(coffee, "remote", *REMOTE[:2], (-0.3, 0.05), 80, material=REMOTE[2])
    r.on(coffee, "mug", *MUG[:2], (0.1, 0.12), material=MUG[2])
    r.on(coffee, "magazine_stack", "book", (0.22, 0.29, 0.02), (0.32, -0.05), 10, material="paper")
    r.on(coffee, "candle", *CANDLE[:2], (-0.05, -0.15), material=CANDLE[2])
    shelf = r.furniture("bookshelf", "bookshelf", (0.8, 0.3, 1.8), (0.6, 0.4), 90, material="wood",
                        description="Open bookshelf with four shelves")
    for level, z in enumerate((0.02, 0.46, 0.9, 1.34)):
        x = -0.33
        for n in range(3):
            r.on(shelf, f"book_{level}_{n}", "book", (0.035, 0.2, 0.24), (x, 0.02), base_z=z, material="paper",
                 relation="in")
            x += 0.035 + float(r.rng.uniform(0.04, 0.08))
        r.on(shelf, f"shelf_box_{level}", "box", (0.16, 0.2, 0.12), (0.22, 0.0), base_z=z, material="cardboard",
             relation="in")
    tv = r.furniture("tv_stand", "tv stand", (1.4, 0.45, 0.5), (2.5, 0.4), 180, material="wood")
    r.door_in(tv, "tv_stand_door", "left")
    return r.manifest(units, up)


def _office(seed: int, units: str, up: str, yaw: float) -> dict:
    r = Room(f"corpus_office_{units}_{up}", "office", (4.0, 3.5, 2.7), seed)
    desk = r.furniture("desk", "desk", (1.4, 0.7, 0.75), (2.0, 2.6), yaw)
    r.on(desk, "laptop", *LAPTOP[:2], (-0.2, 0.0), 5, material=LAPTOP[2])
    r.on(desk, "pen_1", *PEN[:2], (0.25, -0.15), 70, material=PEN[2])
    r.on(desk, "pen_2", *PEN[:2], (0.3, -0.2), 40, material=PEN[2])
    r.on(desk, "phone", *PHONE[:2], (0.4, 0.05), -20, material=PHONE[2])
    r.on(desk, "mug", *MUG[:2], (0.55, 0.2), material=MUG[2])
    r.on(desk, "stapler", "stapler", (0.04, 0.15, 0.05), (0.1, 0.22), 90, material="steel")
    ped = r.furniture("pedestal", "filing cabinet", (0.42, 0.55, 0.7), (0.6, 2.6), yaw, material="steel",
                      name="Drawer pedestal")
    r.drawer_in(ped, "pedestal_drawer_top", 0.14, 0.03, 0.4, name="Top drawer")
    r.drawer_in(ped, "pedestal_drawer_bottom", 0.3, 0.35, 0.45, name="File drawer")
    cab = r.furniture("cabinet", "storage cabinet", (0.8, 0.4, 1.0), (3.3, 0.5), -90, material="wood")
    r.door_in(cab, "cabinet_door", "right")
    r.on(cab, "binder", "binder", (0.06, 0.29, 0.32), (0.2, 0.0), material="cardboard")
    return r.manifest(units, up)


def _pantry(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_pantry_{units}_{up}", "pantry", (2.5, 2.0, 2.4), seed)
    unit = r.furniture("shelving_unit", "shelving unit", (1.2, 0.4, 1.8), (1.2, 1.7), 180, material="steel",
                       description="Wire shelving unit, four shelves")
    goods = [CAN, PASTA, JAR, CEREAL, SODA, CAN]
    for level, z in enumerate((0.45, 0.9, 1.35)):
        items = [goods[(level + i) % len(goods)] for i in range(4)]
        r.row(unit, f"shelf{level}", items, (-0.5, 0.0), base_z=z, relation="in")
    step = r.furniture("step_stool", "step stool", (0.45, 0.35, 0.5), (0.5, 0.6), 30, material="plastic")
    r.on(step, "basket", "basket", (0.3, 0.22, 0.14), (0.0, 0.0), material="wicker",
         affordances=["Graspable", "Container"])
    return r.manifest(units, up)


def _lab_bench(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_lab_{units}_{up}", "lab", (6.0, 4.0, 3.0), seed)
    bench = r.furniture("lab_bench", "lab bench", (1.8, 0.75, 0.9), (3.0, 3.2), 0, material="epoxy resin")
    r.row(bench, "beaker", [BEAKER, BEAKER, ("flask", (0.09, 0.09, 0.15), "glass"), BEAKER], (-0.7, 0.0))
    r.on(bench, "tube_rack", "test tube rack", (0.2, 0.08, 0.07), (0.35, 0.1), material="plastic")
    r.on(bench, "tip_box", "pipette tip box", (0.12, 0.08, 0.06), (0.6, -0.1), material="plastic")
    r.on(bench, "sample_bottle", "bottle", (0.06, 0.06, 0.14), (0.75, 0.15), material="glass")
    cab = r.furniture("under_bench_cabinet", "cabinet", (0.6, 0.6, 0.8), (1.5, 3.2), 0, material="steel")
    r.drawer_in(cab, "lab_drawer", 0.15, 0.03, 0.45)
    r.furniture("fume_hood", "fume hood", (1.5, 0.8, 2.3), (5.0, 3.4), 0, material="steel", affordances=[])
    return r.manifest(units, up)


def _bedroom(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_bedroom_{units}_{up}", "bedroom", (4.0, 4.0, 2.6), seed)
    r.furniture("bed", "bed", (1.6, 2.1, 0.55), (2.0, 2.6), 0, material="fabric", affordances=["Supportable"])
    night = r.furniture("nightstand", "nightstand", (0.5, 0.4, 0.55), (0.85, 3.4), -8, material="wood")
    r.drawer_in(night, "nightstand_drawer", 0.14, 0.03, 0.3)
    r.on(night, "phone", *PHONE[:2], (0.1, -0.05), 15, material=PHONE[2])
    r.on(night, "glasses_case", "glasses case", (0.16, 0.065, 0.04), (-0.1, 0.1), -10, material="plastic")
    r.on(night, "book", *BOOK[:2], (-0.08, -0.05), 5, material=BOOK[2])
    dresser = r.furniture("dresser", "dresser", (1.0, 0.5, 0.8), (3.2, 0.4), 180, material="wood")
    r.drawer_in(dresser, "dresser_drawer", 0.18, 0.04, 0.4)
    r.on(dresser, "jewellery_box", "box", (0.18, 0.12, 0.08), (0.25, 0.05), material="wood")
    r.on(dresser, "perfume", "bottle", (0.06, 0.04, 0.12), (-0.3, 0.0), material="glass")
    return r.manifest(units, up)


def _bathroom(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_bathroom_{units}_{up}", "bathroom", (2.5, 2.2, 2.5), seed)
    vanity = r.furniture("vanity", "vanity cabinet", (0.8, 0.5, 0.85), (1.2, 1.9), 0, material="marble")
    r.door_in(vanity, "vanity_door", "left")
    r.on(vanity, "soap", *SOAP[:2], (0.3, 0.1), material=SOAP[2])
    r.on(vanity, "toothbrush_cup", "cup", (0.075, 0.075, 0.1), (0.22, 0.15), material="ceramic")
    r.on(vanity, "towel", "towel", (0.3, 0.2, 0.05), (-0.25, 0.05), material="fabric")
    r.furniture("laundry_basket", "basket", (0.45, 0.35, 0.55), (0.4, 0.4), 20, material="wicker",
                role="static", affordances=["Container"])
    return r.manifest(units, up)


def _garage(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_garage_{units}_{up}", "garage", (6.0, 5.0, 2.8), seed)
    bench = r.furniture("workbench", "workbench", (1.8, 0.7, 0.92), (3.0, 4.4), 0, material="wood")
    r.on(bench, "screwdriver", "screwdriver", (0.03, 0.2, 0.03), (-0.6, 0.0), 60, material="steel")
    r.on(bench, "tape_measure", "tape measure", (0.075, 0.075, 0.04), (-0.35, 0.1), material="plastic")
    r.on(bench, "spray_can", "spray can", (0.066, 0.066, 0.2), (-0.15, 0.15), material="steel")
    r.on(bench, "toolbox", "toolbox", (0.45, 0.22, 0.2), (0.4, 0.1), material="steel")
    r.on(bench, "hammer", "hammer", (0.1, 0.32, 0.035), (0.1, -0.15), 100, material="iron")
    rack = r.furniture("steel_rack", "storage rack", (1.5, 0.5, 1.8), (5.2, 2.5), 90, material="steel")
    r.row(rack, "rack_item", [("paint can", (0.17, 0.17, 0.19), "steel"), ("box", (0.3, 0.3, 0.25), "cardboard"),
                              ("oil bottle", (0.1, 0.06, 0.25), "plastic")], (-0.6, 0.0), base_z=0.6,
          relation="in")
    return r.manifest(units, up)


def _dining(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_dining_{units}_{up}", "dining_room", (5.0, 4.0, 2.7), seed)
    table = r.furniture("dining_table", "dining table", (1.8, 0.9, 0.76), (2.5, 2.0), 37)
    for n, x in enumerate((-0.6, 0.0, 0.6)):
        r.on(table, f"plate_{n}", "plate", (0.26, 0.26, 0.025), (x, -0.22), material="ceramic", role="clutter",
             affordances=["Supportable"])
        r.on(table, f"glass_{n}", "drinking glass", (0.075, 0.075, 0.12), (x + 0.2, -0.05), material="glass")
    bowl = r.on(table, "salad_bowl", "bowl", (0.26, 0.26, 0.1), (0.0, 0.2), material="wood",
                affordances=["Graspable", "Container"])
    for n in range(3):
        r.on(bowl, f"lemon_{n}", "lemon", (0.06, 0.06, 0.06), (-0.06 + 0.06 * n, 0.0), base_z=0.012,
             material="fruit", relation="in")
    side = r.furniture("sideboard", "sideboard", (1.6, 0.45, 0.85), (2.5, 3.7), 0, material="wood")
    r.door_in(side, "sideboard_door_l", "left")
    r.on(side, "vase", "vase", (0.12, 0.12, 0.3), (0.5, 0.0), material="ceramic")
    return r.manifest(units, up)


def _kids_room(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_kids_room_{units}_{up}", "bedroom", (4.0, 3.5, 2.6), seed)
    table = r.furniture("play_table", "table", (0.9, 0.6, 0.5), (2.0, 1.8), -30, material="plastic")
    r.row(table, "block", [TOY, TOY, TOY, TOY], (-0.3, 0.0))
    r.on(table, "crayon_box", "box", (0.12, 0.09, 0.025), (0.25, 0.15), material="cardboard")
    bin_ = r.furniture("toy_bin", "bin", (0.4, 0.3, 0.3), (0.5, 3.0), 0, material="plastic", role="static",
                       affordances=["Container"])
    r.on(bin_, "teddy", "teddy bear", (0.18, 0.14, 0.22), (0.0, 0.0), base_z=0.01, material="fabric",
         relation="in")
    r.on(bin_, "ball", "ball", (0.1, 0.1, 0.1), (0.12, 0.06), base_z=0.01, material="rubber", relation="in")
    shelf = r.furniture("cubby_shelf", "shelf", (1.0, 0.35, 1.0), (3.3, 3.2), 180, material="wood")
    r.row(shelf, "cubby", [TOY, ("book", (0.03, 0.2, 0.25), "paper"), TOY], (-0.4, 0.0), base_z=0.5, relation="in")
    return r.manifest(units, up)


def _cafe(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_cafe_{units}_{up}", "cafe", (6.0, 4.0, 3.0), seed)
    counter = r.furniture("bar_counter", "counter", (2.4, 0.6, 1.05), (3.0, 3.3), 0, material="marble")
    r.row(counter, "cup", [("paper cup", (0.08, 0.08, 0.11), "paper")] * 4, (-1.0, 0.1))
    tray = r.on(counter, "tray", "tray", (0.45, 0.32, 0.025), (0.4, -0.05), material="plastic",
                affordances=["Graspable", "Supportable"])
    r.on(tray, "espresso_cup", "cup", (0.07, 0.07, 0.06), (-0.1, 0.0), material="ceramic")
    r.on(tray, "sugar_jar", *SPICE[:2], (0.1, 0.05), material="glass")
    r.on(counter, "napkin_box", "napkin dispenser", (0.15, 0.1, 0.13), (0.95, 0.1), material="steel")
    r.furniture("espresso_machine", "espresso machine", (0.5, 0.45, 0.45), (4.8, 3.3), 0, material="steel",
                affordances=[], z0=0.0)
    return r.manifest(units, up)


def _retail(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_retail_{units}_{up}", "retail", (6.0, 5.0, 3.0), seed)
    gondola = r.furniture("gondola", "store shelf", (1.2, 0.5, 1.6), (3.0, 2.5), 90, material="steel")
    for level, z in enumerate((0.3, 0.75, 1.2)):
        r.row(gondola, f"goods{level}", [SODA, SODA, SODA, CAN, CAN, JAR][level:level + 4], (-0.5, -0.05),
              base_z=z, relation="in")
    cooler = r.furniture("drinks_cooler", "refrigerator", (0.7, 0.7, 1.9), (0.5, 4.5), 0, material="steel",
                         role="static")
    r.door_in(cooler, "cooler_door", "left", name="Cooler door", category="refrigerator door",
              role="articulated_appliance", material="glass")
    return r.manifest(units, up)


def _warehouse(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_warehouse_{units}_{up}", "warehouse", (10.0, 8.0, 5.0), seed)
    table = r.furniture("packing_table", "table", (1.6, 0.8, 0.85), (4.0, 4.0), 12, material="steel")
    r.on(table, "scanner", "barcode scanner", (0.07, 0.18, 0.1), (-0.5, 0.1), 30, material="plastic")
    r.on(table, "tape_gun", "tape dispenser", (0.1, 0.22, 0.18), (-0.2, 0.2), material="plastic")
    r.on(table, "small_parcel", "box", (0.2, 0.15, 0.1), (0.2, 0.0), material="cardboard")
    r.on(table, "tote", "tote bin", (0.6, 0.4, 0.25), (0.45, -0.05), material="plastic",
         affordances=["Container"], role="static")
    rack = r.furniture("pallet_rack", "shelving unit", (2.4, 1.0, 2.4), (8.0, 7.0), 180, material="steel")
    r.row(rack, "carton", [("box", (0.4, 0.3, 0.3), "cardboard")] * 3, (-0.9, 0.0), base_z=1.2, relation="in")
    return r.manifest(units, up)


def _kitchen_appliances(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_kitchen_appliances_{units}_{up}", "kitchen", (4.5, 3.5, 2.7), seed)
    counter = r.furniture("counter", "counter", (2.4, 0.62, 0.9), (2.2, 3.1), 0, material="stone")
    r.on(counter, "microwave", "microwave", (0.5, 0.38, 0.3), (0.8, 0.05), role="articulated_appliance",
         material="steel", affordances=[{"type": "Openable", "handle_side": "right"}])
    r.parts[-1].articulation = {"type": "revolute", "axis": [0.0, 0.0, 1.0], "limits": {"lower": -1.9, "upper": 0.0}}
    r.on(counter, "kettle", "kettle", (0.2, 0.15, 0.24), (0.2, 0.05), material="steel")
    r.row(counter, "jar", [JAR, SPICE, SPICE, MUG], (-1.1, 0.1))
    drawers = r.furniture("drawer_base", "base cabinet", (0.6, 0.58, 0.85), (0.6, 3.1), 0, material="wood")
    r.drawer_in(drawers, "utensil_drawer", 0.15, 0.03, 0.45, name="Utensil drawer")
    fridge = r.furniture("fridge", "refrigerator", (0.7, 0.68, 1.8), (4.0, 3.1), 0, material="steel")
    r.door_in(fridge, "fridge_door", "right", name="Fridge door", category="refrigerator door",
              role="articulated_appliance", material="steel")
    island = r.furniture("island", "kitchen island", (1.4, 0.8, 0.92), (2.2, 1.5), 8, material="granite")
    bowl = r.on(island, "bowl", "bowl", (0.18, 0.18, 0.08), (0.3, 0.0), material="ceramic",
                affordances=["Graspable", "Container"])
    r.on(bowl, "egg", "egg", (0.045, 0.045, 0.06), (0.0, 0.0), base_z=0.01, material="organic", relation="in")
    r.on(island, "mug", *MUG[:2], (-0.3, 0.1), material=MUG[2])
    r.on(island, "bottle", *BOTTLE[:2], (-0.5, -0.15), material=BOTTLE[2])
    return r.manifest(units, up)


def _classroom(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_classroom_{units}_{up}", "classroom", (7.0, 6.0, 3.0), seed)
    for n, (x, yaw) in enumerate(((2.0, 0.0), (4.0, 5.0))):
        desk = r.furniture(f"desk_{n}", "desk", (1.2, 0.6, 0.72), (x, 3.0), yaw)
        r.on(desk, f"notebook_{n}", "notebook", (0.21, 0.3, 0.012), (-0.3, 0.0), 5, material="paper")
        r.on(desk, f"pencil_case_{n}", "pencil case", (0.2, 0.07, 0.05), (0.15, 0.1), material="fabric")
        r.on(desk, f"calculator_{n}", "calculator", (0.08, 0.16, 0.02), (0.4, -0.1), 20, material="plastic")
        r.on(desk, f"bottle_{n}", *BOTTLE[:2], (0.5, 0.18), material=BOTTLE[2])
    return r.manifest(units, up)


def _hospital(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_hospital_{units}_{up}", "hospital", (4.0, 4.0, 2.8), seed)
    cart = r.furniture("med_cart", "cart", (0.6, 0.45, 0.9), (1.5, 1.0), 62, material="steel")
    r.drawer_in(cart, "med_cart_drawer", 0.12, 0.04, 0.35)
    r.on(cart, "pill_bottle", "pill bottle", (0.045, 0.045, 0.08), (-0.15, 0.05), material="plastic")
    r.on(cart, "kidney_tray", "tray", (0.25, 0.12, 0.04), (0.1, 0.0), material="steel",
         affordances=["Graspable", "Container"])
    r.on(cart, "sanitizer", "bottle", (0.07, 0.05, 0.19), (0.22, 0.12), material="plastic")
    table = r.furniture("overbed_table", "table", (0.8, 0.4, 0.9), (2.8, 2.5), -12, material="plastic")
    r.on(table, "water_cup", "cup", (0.08, 0.08, 0.1), (0.2, 0.0), material="plastic")
    r.on(table, "tissue_box", "box", (0.24, 0.12, 0.09), (-0.2, 0.0), material="cardboard")
    return r.manifest(units, up)


def _laundry(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_laundry_{units}_{up}", "laundry", (3.0, 2.5, 2.5), seed)
    washer = r.furniture("washer", "washing machine", (0.6, 0.6, 0.85), (0.5, 2.1), 180, material="steel")
    r.on(washer, "detergent", "detergent bottle", (0.16, 0.1, 0.26), (-0.15, 0.0), material="plastic")
    r.on(washer, "softener", "bottle", (0.09, 0.07, 0.22), (0.12, 0.1), material="plastic")
    shelf = r.furniture("wall_shelf_unit", "shelving unit", (0.9, 0.35, 1.6), (2.2, 2.2), 180, material="wood")
    r.row(shelf, "supply", [("spray bottle", (0.1, 0.07, 0.25), "plastic"), ("box", (0.2, 0.15, 0.18), "cardboard"),
                            SOAP], (-0.35, 0.0), base_z=0.8, relation="in")
    basket = r.furniture("laundry_table", "table", (1.0, 0.5, 0.8), (1.5, 0.6), 0, material="wood")
    r.on(basket, "folded_towel", "towel", (0.3, 0.25, 0.06), (-0.2, 0.0), material="fabric")
    r.on(basket, "clothes_basket", "basket", (0.5, 0.35, 0.25), (0.22, 0.0), material="wicker",
         affordances=["Graspable", "Container"], role="static")
    return r.manifest(units, up)


def _study(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_study_{units}_{up}", "study", (3.5, 3.5, 2.6), seed)
    desk = r.furniture("writing_desk", "desk", (1.2, 0.6, 0.76), (1.8, 3.0), 180 + 17, material="wood")
    r.on(desk, "laptop", *LAPTOP[:2], (0.0, 0.05), material=LAPTOP[2])
    r.on(desk, "pen", *PEN[:2], (0.35, 0.1), 15, material=PEN[2])
    r.on(desk, "lamp", "desk lamp", (0.15, 0.15, 0.45), (-0.45, 0.15), material="metal", role="static", affordances=[])
    r.on(desk, "coaster_mug", *MUG[:2], (0.45, -0.1), material=MUG[2])
    r.on(desk, "remote", *REMOTE[:2], (-0.25, -0.15), 90, material=REMOTE[2])
    case = r.furniture("bookcase", "bookcase", (0.9, 0.32, 2.0), (0.3, 1.5), 90, material="wood",
                       description="Bookcase with glass doors")
    for level, z in enumerate((0.05, 0.55, 1.05, 1.55)):
        r.row(case, f"volume{level}", [("book", (0.04, 0.22, 0.28), "paper")] * 3, (-0.35, 0.0), base_z=z,
              relation="in")
    return r.manifest(units, up)


def _craft_room(seed: int, units: str, up: str) -> dict:
    r = Room(f"corpus_craft_room_{units}_{up}", "craft_room", (3.5, 3.0, 2.6), seed)
    table = r.furniture("craft_table", "work table", (1.3, 0.7, 0.78), (1.7, 1.6), 25, material="wood")
    r.on(table, "supply_basket", "basket", (0.28, 0.2, 0.11), (0.3, 0.1), -10, material="wicker",
         affordances=["Graspable", "Container"], description="Empty wicker basket for supplies")
    r.on(table, "glue_stick", "glue stick", (0.025, 0.025, 0.1), (0.0, 0.15), material="plastic")
    r.on(table, "thread_spool", "spool", (0.045, 0.045, 0.05), (-0.05, -0.1), material="wood")
    r.on(table, "scissors", "scissors", (0.07, 0.19, 0.015), (-0.25, 0.05), 35, material="steel")
    r.on(table, "paint_tube", "paint tube", (0.03, 0.12, 0.025), (0.05, -0.2), 70, material="aluminium")
    r.on(table, "craft_knife", "utility knife", (0.02, 0.15, 0.02), (-0.4, -0.15), -20, material="plastic")
    r.furniture("stool", "stool", (0.35, 0.35, 0.45), (1.2, 0.9), 0, material="wood", affordances=[])
    return r.manifest(units, up)


def corpus() -> list[tuple[str, dict]]:
    """The corpus: (name, manifest) for every scene, deterministic."""
    scenes = [
        _kitchen_counter(1, "m", "z", 0.0), _kitchen_counter(2, "cm", "y", 35.0),
        _living_room(3, "m", "z"), _living_room(4, "mm", "z"),
        _office(5, "cm", "z", 0.0), _office(6, "m", "y", -40.0),
        _pantry(7, "m", "z"), _pantry(8, "cm", "y"),
        _lab_bench(9, "mm", "y"), _bedroom(10, "m", "z"), _bathroom(11, "cm", "z"),
        _garage(12, "m", "y"), _dining(13, "m", "z"), _kids_room(14, "mm", "z"), _cafe(15, "m", "z"),
        _retail(16, "cm", "z"), _warehouse(17, "m", "z"), _kitchen_appliances(18, "m", "z"),
        _kitchen_appliances(19, "mm", "y"), _classroom(20, "m", "z"), _hospital(21, "cm", "y"),
        _laundry(22, "m", "z"), _study(23, "m", "z"), _craft_room(24, "mm", "y"),
    ]
    return [(m["scene_id"].removeprefix("corpus_"), m) for m in scenes]
