"""The material table: density, friction, restitution and roughness of everyday materials.

Every value carries its source in `Material.sources` (one entry per property in `PROPERTIES`),
citing the references in `REFERENCES` by key ("[ETB-D] granite, solid 2691"). Where no reference
tabulates the value for the material itself, the entry says what it is taken from ("taken as").

Friction coefficients are for dry contact against a common household surface (wood, laminate,
sheet metal), taken from the middle of the cited ranges; they are engineering estimates, not
measurements of a particular object. Where a reference gives only a static value, the dynamic
one is taken at about 3/4 of it, the ratio of the metal pairs in [SJ] (0.57/0.74, 0.47/0.61).
Restitution is for a low-speed drop onto a hard surface; flat faces bounce less than the balls
of [PF].

Density is the density of the stuff that fills the volume a mass model builds (`mass_models`):
the walls of a shell, the slabs of a table, the solid of a fruit. For solids that is the material
density (granite, brass, wax). For porous or soft goods it is the density of the material as the
object is made of it, air included, never the density of the fibres or cell walls: cloth as a
woven sheet (~300 kg/m^3, not the 1540 of a cotton fibre), foam as foam (~30), corrugated board
as board (~150), a woven wicker wall as a wall (~300). Upholstered furniture is a composite
("upholstery", ~100 kg/m^3 of frame, foam and cover over the sofa's bounding box), so a manifest
that calls a sofa "fabric" or "leather" names its cover: the cover's surface values are used with
the upholstery's density (see `upholstered`).

Material words from a manifest (`physics.material_type`, or `physics_hints.material_type`, which
the scene reader moves there) and from the LLM are resolved by whole words with the category
matcher's rules (`blueprint_pipeline.simready.words`): the phrase ending nearest the end wins,
so "granite countertop" is granite, "stainless steel" steel, "foam rubber" foam, "marble-look
laminate" a laminate panel, and no material is found inside another word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from blueprint_pipeline.simready.words import Matcher

PROPERTIES: tuple[str, ...] = ("density_kg_m3", "static_friction", "dynamic_friction", "restitution",
                               "roughness_ra_um")

REFERENCES: dict[str, str] = {
    "CRC": "CRC Handbook of Chemistry and Physics, densities of the elements and of common solids "
           "(Fe 7874, Cu 8960, Al 2700 kg/m^3; soda-lime glass ~2500; calcite 2710).",
    "ETB-D": 'The Engineering ToolBox, "Densities of Solids", "Metals and Alloys - Densities" and "Wood '
             'Species - Densities".',
    "ETB-F": 'The Engineering ToolBox, "Friction and Friction Coefficients for various Materials" (brass on '
             "steel 0.51/0.44, copper on steel 0.53/0.36, cast iron on oak 0.49, cast iron on steel 0.4, "
             "wood on concrete 0.62, polyethylene on steel 0.2, polystyrene on steel 0.3-0.35, cotton on "
             "cotton 0.3).",
    "SJ": "Serway & Jewett, Physics for Scientists and Engineers, table \"Coefficients of Friction\" (wood on "
          "wood 0.25-0.5 / 0.2, glass on glass 0.94 / 0.4, steel on steel 0.74 / 0.57, aluminium on steel "
          "0.61 / 0.47, rubber on concrete 1.0 / 0.8).",
    "PH": 'G. Elert, The Physics Hypertextbook, "Friction", table of coefficients (wood on stone 0.40, iron '
          "on stone 0.3-0.7, wood on concrete 0.62, wood on brick 0.6, wood on felt 0.29 / 0.22, leather on "
          "metals 0.56, leather on wood 0.27-0.38).",
    "PF": 'The Physics Factbook, "Coefficients of restitution" (steel ball bearing 0.6, wooden ball 0.6, '
          "glass marble 0.66, hollow hard plastic ball 0.69, on a hard floor).",
    "AT18": "P. Asteriou and G. Tsiambaos, Effect of impact velocity, block mass and hardness on the "
            "coefficients of restitution for rockfall analysis, Int. J. Rock Mech. Min. Sci. 106 (2018) "
            "41-50: drops of rock blocks on rock slabs; restitution rises with the (Schmidt) hardness of both.",
    "MH": "Machinery's Handbook, surface roughness produced by common production methods (Ra, um, "
          "approximately: sand casting 12.5-25, sawing 1.6-25, die casting 0.8-1.6, cold rolling and drawing "
          "0.4-3.2, turning 0.4-6.3, grinding 0.1-1.6, polishing and lapping 0.05-0.4).",
    "FEFCO": "FEFCO / TAPPI corrugated board grades: single-wall C-flute about 4 mm thick with a combined "
             "board weight of about 500-700 g/m^2.",
    "PPS": "TAPPI T 555, roughness of paper and paperboard (Parker Print-Surf): uncoated printing papers "
           "about 3-7 um.",
    "MOH": "N. N. Mohsenin, Physical Properties of Plant and Animal Materials (1986): fruit flesh densities "
           "0.8-1.1 g/cm^3; static friction of apples on plywood about 0.4-0.6.",
    "EN622": "EN 622-5 / EN 312: MDF about 700-800 kg/m^3, particleboard about 600-700 kg/m^3.",
    "POLY": "Polymer data sheets: PET 1380 kg/m^3, ABS 1040-1060, PP 900-910.",
    "ASH": "M. F. Ashby, Materials Selection in Mechanical Design, tables of material properties (cork "
           "120-240 kg/m^3, leather 810-1050, flexible polymer foams from 16, epoxies 1110-1400, concrete "
           "2200-2600).",
    "VF98": "M. F. Vaz and M. A. Fortes, Friction properties of cork, J. Mater. Sci. 33 (1998) 2087-2093: "
            "cork sliding on glass and steel 0.4-1.2.",
    "PFA": "Polyurethane Foam Association, Joint Industry Foam Standards and Guidelines: conventional flexible "
           "polyurethane foams about 1.0-2.0 lb/ft^3 (16-32 kg/m^3), high-resilience foams 2.5 lb/ft^3 and up; "
           "resilience by the ASTM D3574 ball-rebound test.",
    "MHT": "W. E. Morton and J. W. S. Hearle, Physical Properties of Textile Fibres: fibre densities cotton "
           "1520-1540 kg/m^3, wool 1300-1310, polyester 1380, nylon 1140.",
    "ASTM-T": "ASTM D3776 (mass per unit area of fabric) and ASTM D1777 (thickness of textile materials): "
              "their ratio is a cloth's sheet density.",
    "SPEC": "Manufacturers' published specifications (mass and outer dimensions) of the products named in "
            "the entry, giving a bulk density over the bounding box.",
    "ISO13006": "ISO 13006, ceramic tiles: classified by water absorption, from porcelain tiles (<= 0.5 %) "
                "to porous wall tiles (> 10 %).",
}

_CITATION = re.compile(r"\[([A-Z0-9-]+)\]")


@dataclass(frozen=True)
class Material:
    name: str
    density_kg_m3: float
    static_friction: float
    dynamic_friction: float
    restitution: float
    roughness_ra_um: float
    # property (one of PROPERTIES) -> where the value comes from, citing REFERENCES by [key]
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def citations(self, prop: str) -> tuple[str, ...]:
        """The reference keys cited for one property."""
        return tuple(_CITATION.findall(self.sources.get(prop, "")))


def _m(name: str, density: float, static: float, dynamic: float, restitution: float, roughness: float, *,
       density_src: str, friction_src: str, restitution_src: str, roughness_src: str) -> Material:
    sources = {"density_kg_m3": density_src, "static_friction": friction_src, "dynamic_friction": friction_src,
               "restitution": restitution_src, "roughness_ra_um": roughness_src}
    return Material(name, density, static, dynamic, restitution, roughness, sources)


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        _m("ceramic", 2400.0, 0.60, 0.45, 0.40, 0.1,
           density_src="[ETB-D] porcelain/stoneware 2300-2500",
           friction_src="[SJ] glazed ceramic on wood taken between wood on wood and glass on glass",
           restitution_src="[PF] less bouncy than a glass marble (0.66)",
           roughness_src="[MH] a fired glaze is a glass layer, at the smooth end of polishing and lapping "
                         "(0.05-0.4): 0.1"),
        _m("glass", 2500.0, 0.60, 0.40, 0.50, 0.02,
           density_src="[CRC] soda-lime glass ~2500",
           friction_src="[SJ] glass on glass 0.94/0.4, lower on wood",
           restitution_src="[PF] glass marble 0.66, lower for flat faces",
           roughness_src="[MH] float glass is fire-polished, far below lapping (0.05-0.4): 0.02"),
        _m("wood", 700.0, 0.45, 0.30, 0.40, 3.2,
           density_src="[ETB-D] oak/beech/maple 600-900",
           friction_src="[SJ] wood on wood 0.25-0.5 / 0.2",
           restitution_src="[PF] wooden ball 0.6 on a hard floor, lower for flat faces",
           roughness_src="[MH] sanded/sawn wood, sawing 1.6-25: 3.2"),
        _m("wood_panel", 680.0, 0.40, 0.30, 0.30, 1.6,
           density_src="[EN622] laminate-faced MDF 700-800, particleboard 600-700",
           friction_src="[SJ] laminate on wood as wood on wood",
           restitution_src="[PF] wooden ball 0.6; a panel's flat face far lower: 0.3",
           roughness_src="[MH] pressed laminate faces, as drawn/rolled 0.4-3.2: 1.6"),
        _m("cardboard", 150.0, 0.50, 0.40, 0.20, 5.0,
           density_src="[FEFCO] ~600 g/m^2 over ~4 mm -> ~150 kg/m^3 effective",
           friction_src="[ETB-F] paperboard on wood ~0.5/0.4",
           restitution_src="[PF] far below a wooden ball (0.6): board crushes, barely bounces",
           roughness_src="[PPS] uncoated papers 3-7: a kraft liner taken as 5"),
        _m("paper", 800.0, 0.45, 0.35, 0.25, 4.0,
           density_src="[ETB-D] book/printing paper in a stack 700-1150",
           friction_src="[ETB-F] paper on wood ~0.45/0.35",
           restitution_src="[PF] below a wooden ball (0.6): a stack of sheets dissipates",
           roughness_src="[PPS] uncoated printing papers 3-7: 4"),
        _m("steel", 7850.0, 0.60, 0.45, 0.50, 1.6,
           density_src="[CRC] carbon steel 7850",
           friction_src="[SJ] between metal on wood 0.5/0.3 and steel on steel 0.74/0.57",
           restitution_src="[PF] steel ball bearing 0.6, lower for flat faces",
           roughness_src="[MH] cold-rolled sheet 0.4-3.2"),
        _m("aluminium", 2700.0, 0.55, 0.45, 0.50, 0.8,
           density_src="[CRC] aluminium 2700",
           friction_src="[SJ] aluminium on steel 0.61/0.47",
           restitution_src="[PF] as a steel ball bearing (0.6), lower for flat faces",
           roughness_src="[MH] drawn can 0.4-3.2"),
        _m("plastic", 1050.0, 0.40, 0.30, 0.50, 0.8,
           density_src="[POLY] ABS 1040-1060",
           friction_src="[ETB-F] hard plastic on wood ~0.4/0.3 (polystyrene on steel 0.3-0.35)",
           restitution_src="[PF] hollow hard plastic ball 0.69, lower for flat faces",
           roughness_src="[MH] moulded against a machined mould, as die casting 0.8-1.6: 0.8"),
        _m("pet", 1380.0, 0.40, 0.30, 0.40, 0.2,
           density_src="[POLY] PET 1380",
           friction_src="[ETB-F] as hard plastic",
           restitution_src="[PF] hollow hard plastic ball 0.69; a thin-walled bottle flexes: 0.4",
           roughness_src="[MH] blow-moulded against a polished mould, polishing class 0.05-0.4: 0.2"),
        _m("rubber", 1150.0, 1.00, 0.80, 0.60, 3.0,
           density_src="[ETB-D] natural/synthetic rubber 1100-1200",
           friction_src="[SJ] rubber on concrete 1.0/0.8",
           restitution_src="[PF] as a wooden ball or steel bearing (0.6)",
           roughness_src="[MH] moulded rubber, as a die casting to turned finish 0.8-6.3: 3"),
        _m("fruit", 900.0, 0.50, 0.40, 0.20, 5.0,
           density_src="[MOH] fruit flesh 0.8-1.1 g/cm^3",
           friction_src="[MOH] apple on plywood 0.4-0.6",
           restitution_src="[PF] far below a wooden ball (0.6): soft fruit barely bounces",
           roughness_src="[PPS] a waxy peel, taken as rough as uncoated paper (3-7): 5"),
        _m("water", 1000.0, 0.40, 0.30, 0.10, 0.0,
           density_src="[CRC] water 1000 (contents of bottles and cans)",
           friction_src="[ETB-F] unused: contents never touch anything (plastic values)",
           restitution_src="[PF] unused: contents never touch anything",
           roughness_src="[CRC] a liquid has no surface roughness"),
        _m("electronics", 1100.0, 0.45, 0.35, 0.30, 0.8,
           density_src="[SPEC] a 1.3-1.5 kg 13-inch laptop occupies ~1.2-1.3 l: ~1100",
           friction_src="[ETB-F] housing as hard plastic/aluminium on wood",
           restitution_src="[PF] below a hollow hard plastic ball (0.69): a dense assembly, flat faces",
           roughness_src="[MH] moulded or bead-blasted housings, die casting 0.8-1.6: 0.8"),
        _m("display", 450.0, 0.40, 0.30, 0.30, 0.8,
           density_src="[SPEC] a 24-inch monitor panel of ~3 kg in a ~0.54 x 0.32 x 0.04 m envelope: ~450",
           friction_src="[ETB-F] housing as hard plastic",
           restitution_src="[PF] below a hollow hard plastic ball (0.69): flat faces",
           roughness_src="[MH] moulded housing, die casting 0.8-1.6: 0.8"),
        _m("upholstery", 100.0, 0.60, 0.50, 0.10, 20.0,
           density_src="[SPEC] foam, frame and cover: a ~60 kg three-seat sofa half fills ~2.0 x 0.9 x 0.85 m: ~100",
           friction_src="[PH] wood on felt 0.29/0.22 and [SJ] rubber on concrete 1.0/0.8 bound it; a padded cover "
                        "presses into its support: 0.6/0.5",
           restitution_src="[PF] a padded body absorbs the drop, far below a wooden ball (0.6)",
           roughness_src="[MH] a woven cover is coarser than sawing's middle (1.6-25): 20"),
        # --- stone and masonry -------------------------------------------------------------------
        _m("stone", 2600.0, 0.45, 0.35, 0.40, 6.3,
           density_src="[ETB-D] solid granite 2691, limestone 2611, sandstone 2323: 2600",
           friction_src="[PH] wood on stone 0.40, iron on stone 0.3-0.7; dynamic ~3/4 of static [SJ]",
           restitution_src="[AT18] rock on hard rock rebounds well; a flat stone face below a glass "
                           "marble's 0.66 [PF]: 0.4",
           roughness_src="[MH] sawn or split stone, as sawing 1.6-25: 6.3"),
        _m("granite", 2700.0, 0.40, 0.30, 0.45, 0.4,
           density_src="[ETB-D] granite, solid 2691",
           friction_src="[PH] wood on stone 0.40; polished, so at the low end of iron on stone 0.3-0.7; "
                        "dynamic ~3/4 of static [SJ]",
           restitution_src="[AT18] restitution rises with hardness and granite is among the hardest rocks; "
                           "flat faces below a glass marble's 0.66 [PF]: 0.45",
           roughness_src="[MH] ground and polished countertop, polishing and lapping 0.05-0.4: 0.4"),
        _m("marble", 2650.0, 0.40, 0.30, 0.45, 0.4,
           density_src="[ETB-D] marble, solid 2563; [CRC] calcite, which marble is made of, 2710: 2650",
           friction_src="[PH] wood on stone 0.40, polished; dynamic ~3/4 of static [SJ]",
           restitution_src="[AT18] hard rock rebounds well; flat faces below a glass marble's 0.66 [PF]: 0.45",
           roughness_src="[MH] polished, polishing and lapping 0.05-0.4: 0.4"),
        _m("concrete", 2400.0, 0.60, 0.45, 0.35, 12.5,
           density_src="[ETB-D] concrete, gravel ~2400; [ASH] concrete 2200-2600",
           friction_src="[PH] wood on concrete 0.62 (also [ETB-F]); dynamic ~3/4 of static [SJ]",
           restitution_src="[AT18] softer (lower Schmidt hardness) than granite, so a lower rebound: 0.35",
           roughness_src="[MH] cast against formwork, as sand casting 12.5-25: 12.5"),
        _m("tile", 2200.0, 0.60, 0.45, 0.40, 0.4,
           density_src="[ETB-D] porcelain/stoneware 2300-2500; [ISO13006] porous wall tiles (> 10 % water "
                       "absorption) are lighter: 2200",
           friction_src="[SJ] a glazed face, as the ceramic row (between wood on wood and glass on glass)",
           restitution_src="[PF] as the ceramic row, less bouncy than a glass marble (0.66): 0.4",
           roughness_src="[MH] glazed or polished face, polishing and lapping 0.05-0.4: 0.4"),
        # --- soft solids, natural and composite materials ---------------------------------------
        _m("wax", 900.0, 0.30, 0.22, 0.25, 1.6,
           density_src="[ETB-D] paraffin ~900, beeswax ~960",
           friction_src="[ETB-F] paraffin is a short-chain polyethylene: polyethylene on steel 0.2, "
                        "polystyrene on steel 0.3-0.35: 0.30; dynamic ~3/4 of static [SJ]",
           restitution_src="[PF] far below a hollow hard plastic ball (0.69): wax is soft and deforms "
                           "plastically: 0.25",
           roughness_src="[MH] poured into a mould, as die casting 0.8-1.6: 1.6"),
        _m("wicker", 300.0, 0.45, 0.30, 0.30, 25.0,
           density_src="[ETB-D] willow 420 (wicker is woven willow, rattan or cane); strands fill about "
                       "70 % of a woven wall: 300",
           friction_src="[SJ] natural cane on wood, as wood on wood 0.25-0.5 / 0.2",
           restitution_src="[PF] below a wooden ball (0.6): a woven wall flexes and absorbs: 0.3",
           roughness_src="[MH] the weave is coarser than any machined finish, top of sawing's 1.6-25: 25"),
        _m("epoxy_resin", 1150.0, 0.40, 0.30, 0.50, 0.2,
           density_src="[ASH] epoxies 1110-1400, unfilled cast resin at the low end: 1150",
           friction_src="[ETB-F] a hard glassy polymer, as hard plastic on wood ~0.4/0.3",
           restitution_src="[PF] as the plastic row: hollow hard plastic ball 0.69, lower for flat faces",
           roughness_src="[MH] cast against a smooth mould, polishing class 0.05-0.4: 0.2"),
        _m("foam", 30.0, 0.60, 0.45, 0.25, 25.0,
           density_src="[PFA] conventional flexible polyurethane foam 16-32 kg/m^3, HR from 40; "
                       "[ASH] flexible foams from 16: 30",
           friction_src="[SJ] below rubber on concrete (1.0/0.8), above cloth on wood (0.29/0.22 [PH]): "
                        "0.6/0.45",
           restitution_src="[PFA] ASTM D3574 ball rebound measures a ball bouncing off foam; a light foam "
                           "body is stopped by its own damping, far below a plastic ball's 0.69 [PF]: 0.25",
           roughness_src="[MH] open cells, coarser than the top of sawing's 1.6-25: 25"),
        _m("fabric", 300.0, 0.35, 0.27, 0.10, 20.0,
           density_src="[MHT] cotton fibre 1520-1540, polyester 1380; [ASTM-T] cloth is mostly air: mass "
                       "per area over thickness gives ~150-500 kg/m^3 (towelling to denim): 300",
           friction_src="[PH] wood on felt 0.29/0.22; [ETB-F] cotton on cotton 0.3; woven cloth on wood "
                        "a little higher: 0.35/0.27",
           restitution_src="[PF] cloth does not rebound, far below a wooden ball (0.6): 0.1",
           roughness_src="[MH] a weave is coarser than sawing's middle (1.6-25): 20"),
        _m("leather", 860.0, 0.45, 0.35, 0.20, 6.3,
           density_src="[ASH] leather 810-1050; porous upholstery and bag leathers at the low end: 860",
           friction_src="[PH] leather on metals 0.56, on wood 0.27-0.38: 0.45; dynamic ~3/4 of static [SJ]",
           restitution_src="[PF] far below a wooden ball (0.6): a flexible hide absorbs: 0.2",
           roughness_src="[MH] grain leather, as a sawn surface 1.6-25: 6.3"),
        _m("cork", 240.0, 0.60, 0.45, 0.35, 12.5,
           density_src="[ETB-D] cork 240; [ASH] cork 120-240",
           friction_src="[VF98] cork on glass and steel 0.4-1.2: 0.6; dynamic ~3/4 of static [SJ]",
           restitution_src="[PF] below a wooden ball (0.6): cork cells recover but dissipate: 0.35",
           roughness_src="[MH] cut and sanded cork, as sawing 1.6-25: 12.5"),
        # --- metals ---------------------------------------------------------------------------
        _m("brass", 8500.0, 0.51, 0.44, 0.50, 0.8,
           density_src="[ETB-D] brass 8400-8730",
           friction_src="[ETB-F] brass on steel 0.51/0.44",
           restitution_src="[PF] as the steel row: steel ball bearing 0.6, lower for flat faces: 0.5",
           roughness_src="[MH] turned or drawn 0.4-6.3: 0.8"),
        _m("copper", 8960.0, 0.53, 0.36, 0.45, 0.8,
           density_src="[CRC] copper 8960",
           friction_src="[ETB-F] copper on steel 0.53/0.36",
           restitution_src="[PF] below a steel ball bearing (0.6): copper is softer: 0.45",
           roughness_src="[MH] drawn or rolled 0.4-3.2: 0.8"),
        _m("iron", 7870.0, 0.55, 0.40, 0.50, 1.6,
           density_src="[CRC] iron 7874",
           friction_src="[SJ] between metal on wood 0.5/0.3 and steel on steel 0.74/0.57; [ETB-F] cast iron "
                        "on oak 0.49: 0.55/0.40",
           restitution_src="[PF] as the steel row: steel ball bearing 0.6, lower for flat faces: 0.5",
           roughness_src="[MH] wrought bar and sheet, rolling 0.4-3.2: 1.6"),
        _m("cast_iron", 7200.0, 0.45, 0.33, 0.45, 12.5,
           density_src="[ETB-D] cast iron 6800-7800, grey iron ~7200",
           friction_src="[ETB-F] cast iron on oak 0.49, on steel 0.4: 0.45; dynamic ~3/4 of static [SJ]",
           restitution_src="[PF] below a steel ball bearing (0.6): graphite in grey iron damps: 0.45",
           roughness_src="[MH] as-cast, sand casting 12.5-25: 12.5"),
    )
}

# Words a manifest or the LLM may use for a material -> our table's name. Table names match
# themselves ("wood_panel" as "wood panel"); multi-word entries match as word sequences.
MATERIAL_ALIASES: dict[str, str] = {
    "porcelain": "ceramic", "stoneware": "ceramic", "earthenware": "ceramic", "clay": "ceramic",
    "terracotta": "ceramic", "glazed ceramic": "ceramic",
    "wooden": "wood", "hardwood": "wood", "softwood": "wood", "solid wood": "wood", "oak": "wood",
    "pine": "wood", "beech": "wood", "maple": "wood", "walnut": "wood", "teak": "wood", "timber": "wood",
    "mdf": "wood_panel", "particleboard": "wood_panel", "plywood": "wood_panel", "chipboard": "wood_panel",
    "laminate": "wood_panel", "melamine": "wood_panel",
    "cardboard box": "cardboard", "corrugated": "cardboard", "corrugated board": "cardboard",
    "carton": "cardboard", "paperboard": "cardboard",
    "metal": "steel", "stainless steel": "steel", "stainless": "steel", "sheet metal": "steel",
    "aluminum": "aluminium", "alu": "aluminium",
    "plastics": "plastic", "abs": "plastic", "pp": "plastic", "polypropylene": "plastic",
    "polyethylene": "plastic", "hdpe": "plastic", "pvc": "plastic", "acrylic": "plastic",
    "polyethylene terephthalate": "pet",
    "food": "fruit", "vegetable": "fruit",
    "upholstered": "upholstery",
    # stone and masonry
    "rock": "stone", "natural stone": "stone", "slate": "stone", "limestone": "stone",
    "sandstone": "stone", "basalt": "stone", "soapstone": "stone", "travertine": "stone",
    "quartzite": "stone", "pebble": "stone",
    "cement": "concrete", "terrazzo": "concrete",
    "ceramic tile": "tile", "porcelain tile": "tile", "tiled": "tile",
    # soft, natural and composite
    "candle wax": "wax", "paraffin": "wax", "paraffin wax": "wax", "beeswax": "wax", "soy wax": "wax",
    "rattan": "wicker", "cane": "wicker", "willow": "wicker", "woven rattan": "wicker",
    "epoxy": "epoxy_resin", "resin": "epoxy_resin", "epoxide": "epoxy_resin",
    "sponge": "foam", "foam rubber": "foam", "polyurethane foam": "foam", "memory foam": "foam",
    "styrofoam": "foam", "polystyrene foam": "foam", "eps": "foam",
    "cloth": "fabric", "textile": "fabric", "cotton": "fabric", "linen": "fabric", "wool": "fabric",
    "canvas": "fabric", "felt": "fabric", "denim": "fabric", "silk": "fabric", "velvet": "fabric",
    "microfiber": "fabric", "microfibre": "fabric",
    "faux leather": "leather", "leatherette": "leather", "suede": "leather",
    "cork board": "cork", "corkboard": "cork",
    # metals
    "bronze": "brass",
    "wrought iron": "iron",
    "cast iron": "cast_iron", "castiron": "cast_iron",
}

# Materials a manifest may give for an upholstered body (a sofa "of fabric", a "rattan" armchair):
# they name its cover, filling or frame, not its bulk (see the module docstring).
UPHOLSTERY_SURFACES: frozenset[str] = frozenset({"fabric", "leather", "foam", "wicker"})

_MATCHER: Matcher[str] = Matcher([(name, name) for name in MATERIALS] + list(MATERIAL_ALIASES.items()))


@lru_cache(maxsize=4096)
def _material_name(text: str, exact: bool) -> str | None:
    return _MATCHER.exact(text) if exact else _MATCHER.head(text)


def lookup_material(name: str | None, exact: bool = False) -> Material | None:
    """The table entry for a material phrase (`"Porcelain"`, `"stainless steel"`, `"granite
    countertop"`), by whole words (module docstring), or None. `exact`: the whole phrase must be
    one table name or alias (for an answer that was asked to be one of the table's names)."""
    if not name:
        return None
    key = _material_name(name, exact)
    return MATERIALS[key] if key is not None else None


def upholstered(body: Material, surface: Material) -> Material:
    """An upholstered `body` ("upholstery") named and surfaced as `surface` ("leather"): the
    surface's friction, restitution and roughness with the body's bulk density."""
    sources = {**surface.sources, "density_kg_m3": body.sources["density_kg_m3"]}
    return replace(surface, density_kg_m3=body.density_kg_m3, sources=sources)
