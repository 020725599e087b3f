"""The material table: density, friction, restitution and roughness of everyday materials.

Friction coefficients are for dry contact against a common household surface (wood, laminate,
sheet metal), taken from the middle of the cited ranges; they are engineering estimates, not
measurements of a particular object. Restitution is for a low-speed drop onto a hard surface.

References (cited by key in the comments below):
  [CRC]   CRC Handbook of Chemistry and Physics, densities of common solids.
  [ETB-D] The Engineering ToolBox, "Densities of Solids" and "Wood Species - Densities".
  [ETB-F] The Engineering ToolBox, "Friction and Friction Coefficients for various Materials".
  [SJ]    Serway & Jewett, Physics for Scientists and Engineers, table "Coefficients of Friction"
          (wood on wood 0.25-0.5 / 0.2, glass on glass 0.94 / 0.4, steel on steel 0.74 / 0.57,
          aluminium on steel 0.61 / 0.47, rubber on concrete 1.0 / 0.8).
  [PF]    The Physics Factbook, "Coefficients of restitution" (steel ball bearing 0.6, wooden
          ball 0.6, glass marble 0.66, hollow hard plastic ball 0.69, on a hard floor).
  [MH]    Machinery's Handbook, surface roughness produced by common production methods
          (Ra: cold-rolled 0.4-3.2 um, drawn 0.4-3.2, injection moulded 0.2-1.6, sanded 0.8-6.3).
  [FEFCO] FEFCO / TAPPI corrugated board grades: single-wall C-flute about 4 mm thick with
          a combined board weight of about 500-700 g/m^2.
  [MOH]   Mohsenin, Physical Properties of Plant and Animal Materials (1986): fruit flesh
          densities 0.8-1.1 g/cm^3; static friction of apples on plywood about 0.4-0.6.
  [EN622] EN 622-5 / EN 312: MDF about 700-800 kg/m^3, particleboard about 600-700 kg/m^3.
  [PET]   Polymer data sheets: PET 1380 kg/m^3, ABS 1040-1060, PP 900-910.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Material:
    name: str
    density_kg_m3: float
    static_friction: float
    dynamic_friction: float
    restitution: float
    roughness_ra_um: float


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        # Porcelain/stoneware 2300-2500 [ETB-D]; glazed ceramic on wood taken between wood on
        # wood and glass on glass [SJ]; less bouncy than a glass marble [PF]; glaze Ra ~0.1 um.
        Material("ceramic", 2400.0, 0.60, 0.45, 0.40, 0.1),
        # Soda-lime glass 2500 [CRC]; glass on glass 0.94/0.4 [SJ], lower on wood; marble 0.66 [PF];
        # float glass is optically smooth (Ra ~0.02 um).
        Material("glass", 2500.0, 0.60, 0.40, 0.50, 0.02),
        # Oak/beech/maple 600-900 [ETB-D]; wood on wood 0.25-0.5 / 0.2 [SJ]; wooden ball 0.6 [PF]
        # on a hard floor, lower for flat faces; sanded wood Ra 0.8-6.3 [MH].
        Material("wood", 700.0, 0.45, 0.30, 0.40, 3.2),
        # MDF/particleboard panels, laminate-faced [EN622]; laminate on wood ~ wood on wood [SJ].
        Material("wood_panel", 680.0, 0.40, 0.30, 0.30, 1.6),
        # Corrugated board: ~600 g/m^2 over ~4 mm -> ~150 kg/m^3 effective [FEFCO]; paperboard on
        # wood ~0.5/0.4 [ETB-F]; cardboard barely bounces; Ra of kraft liner ~5 um.
        Material("cardboard", 150.0, 0.50, 0.40, 0.20, 5.0),
        # Book/printing paper in a stack 700-1150 [ETB-D]; paper on wood ~0.45/0.35 [ETB-F].
        Material("paper", 800.0, 0.45, 0.35, 0.25, 4.0),
        # Carbon steel 7850 [CRC]; between metal on wood 0.5/0.3 and steel on steel 0.74/0.57
        # [SJ]; steel ball bearing 0.6 [PF]; cold-rolled sheet Ra 0.4-3.2 [MH].
        Material("steel", 7850.0, 0.60, 0.45, 0.50, 1.6),
        # Aluminium 2700 [CRC]; aluminium on steel 0.61/0.47 [SJ]; drawn can Ra 0.4-3.2 [MH].
        Material("aluminium", 2700.0, 0.55, 0.45, 0.50, 0.8),
        # ABS 1040-1060 [PET]; hard plastic on wood ~0.4/0.3 [ETB-F]; hollow hard plastic ball
        # 0.69 [PF], lower for flat faces; injection moulded Ra 0.2-1.6 [MH].
        Material("plastic", 1050.0, 0.40, 0.30, 0.50, 0.8),
        # PET 1380 [PET]; as hard plastic [ETB-F]; blow-moulded bottle walls are smooth.
        Material("pet", 1380.0, 0.40, 0.30, 0.40, 0.2),
        # Natural/synthetic rubber 1100-1200 [ETB-D]; rubber on concrete 1.0/0.8 [SJ].
        Material("rubber", 1150.0, 1.00, 0.80, 0.60, 3.0),
        # Fruit flesh 0.8-1.1 g/cm^3, apple on plywood 0.4-0.6 [MOH]; soft fruit barely bounces.
        Material("fruit", 900.0, 0.50, 0.40, 0.20, 5.0),
        # Water 1000 [CRC]: contents of bottles and cans (friction/restitution unused for contents).
        Material("water", 1000.0, 0.40, 0.30, 0.10, 0.0),
        # Laptop/keyboard assembly: bulk density from published masses and volumes (a 1.3-1.5 kg
        # 13-inch laptop occupies ~1.2-1.3 l -> ~1100 kg/m^3); housing as hard plastic/aluminium.
        Material("electronics", 1100.0, 0.45, 0.35, 0.30, 0.8),
        # Flat-panel display slab: a 24-inch monitor panel of ~3 kg in a ~0.54 x 0.32 x 0.04 m
        # envelope -> ~450 kg/m^3 bulk; housing as hard plastic [ETB-F].
        Material("display", 450.0, 0.40, 0.30, 0.30, 0.8),
        # Upholstered furniture (foam + frame) bulk ~ 100 kg/m^3: a 60 kg three-seat sofa in a
        # ~2.0 x 0.9 x 0.85 m envelope fills about half of it; fabric on wood ~0.5/0.4 [ETB-F].
        Material("upholstery", 100.0, 0.60, 0.50, 0.10, 20.0),
    )
}

# Words a manifest may use for a material -> our table's name.
MATERIAL_ALIASES: dict[str, str] = {
    "porcelain": "ceramic", "stoneware": "ceramic", "earthenware": "ceramic", "clay": "ceramic",
    "wooden": "wood", "hardwood": "wood", "oak": "wood", "pine": "wood", "timber": "wood",
    "mdf": "wood_panel", "particleboard": "wood_panel", "plywood": "wood_panel", "chipboard": "wood_panel",
    "laminate": "wood_panel", "cardboard_box": "cardboard", "corrugated": "cardboard", "carton": "cardboard",
    "paperboard": "cardboard", "metal": "steel", "stainless_steel": "steel", "iron": "steel",
    "aluminum": "aluminium", "alu": "aluminium", "plastics": "plastic", "abs": "plastic", "pp": "plastic",
    "polypropylene": "plastic", "polyethylene": "plastic", "hdpe": "plastic", "pvc": "plastic",
    "polyethylene_terephthalate": "pet", "food": "fruit", "vegetable": "fruit", "fabric": "upholstery",
    "textile": "upholstery", "foam": "upholstery", "leather": "upholstery",
}


def lookup_material(name: str | None) -> Material | None:
    """The table entry for a material word (`"Porcelain"`, `"stainless steel"`), or None."""
    if not name:
        return None
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    key = MATERIAL_ALIASES.get(key, key)
    return MATERIALS.get(key)
