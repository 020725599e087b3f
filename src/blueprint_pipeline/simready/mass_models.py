"""Mass models: a body of given extents built from uniform solid parts (object frame, metres).

The object frame's origin is the centre of the bounding box (see scene/records.py), z up;
"front" is -y (shelves are open there, a chair's back is at +y). Every model returns parts of unit density scaled by the
caller, so the same geometry serves the table's density and a manifest's mass.
"""

from __future__ import annotations

import math

from blueprint_pipeline.simready.categories import Profile
from blueprint_pipeline.simready.inertia import (
    Part,
    Vec3,
    capsule_inertia,
    capsule_volume,
    cylinder_inertia,
    cylinder_volume,
    ellipsoid_inertia,
    ellipsoid_volume,
    solid_box_part,
    tube_inertia,
    tube_volume,
)
from blueprint_pipeline.simready.records import ColliderShape


def solid(shape: ColliderShape, size: Vec3, density: float) -> list[Part]:
    if shape is ColliderShape.CYLINDER:
        m = density * cylinder_volume(size)
        return [Part(m, (0.0, 0.0, 0.0), cylinder_inertia(m, size))]
    if shape is ColliderShape.SPHERE:
        m = density * ellipsoid_volume(size)
        return [Part(m, (0.0, 0.0, 0.0), ellipsoid_inertia(m, size))]
    if shape is ColliderShape.CAPSULE:
        m = density * capsule_volume(size)
        return [Part(m, (0.0, 0.0, 0.0), capsule_inertia(m, size))]
    return [solid_box_part(density, size)]


def box_shell(size: Vec3, wall_m: float, density: float, open_faces: tuple[str, ...] = (),
              shelf_spacing_m: float = 0.0) -> list[Part]:
    """Six panels of thickness `wall_m` (top/bottom full size, sides fitted between them, so
    edges are not counted twice), minus the open faces, plus horizontal shelves."""
    x, y, z = size
    t = wall_m
    if min(size) <= 2 * t:
        return [solid_box_part(density, size)]
    panels: list[tuple[str, Vec3, Vec3]] = [
        ("+z", (x, y, t), (0.0, 0.0, z / 2 - t / 2)),
        ("-z", (x, y, t), (0.0, 0.0, -z / 2 + t / 2)),
        ("+y", (x, t, z - 2 * t), (0.0, y / 2 - t / 2, 0.0)),
        ("-y", (x, t, z - 2 * t), (0.0, -y / 2 + t / 2, 0.0)),
        ("+x", (t, y - 2 * t, z - 2 * t), (x / 2 - t / 2, 0.0, 0.0)),
        ("-x", (t, y - 2 * t, z - 2 * t), (-x / 2 + t / 2, 0.0, 0.0)),
    ]
    parts = [solid_box_part(density, s, c) for face, s, c in panels if face not in open_faces]
    inner_h = z - 2 * t
    if shelf_spacing_m > 0 and inner_h > shelf_spacing_m:
        n = int(inner_h // shelf_spacing_m)
        depth = y - t if "-y" in open_faces or "+y" in open_faces else y - 2 * t
        for i in range(1, n + 1):
            zc = -inner_h / 2 + i * inner_h / (n + 1)
            parts.append(solid_box_part(density, (x - 2 * t, depth, t), (0.0, 0.0, zc)))
    return parts


def cylinder_shell(size: Vec3, wall_m: float, density: float, open_top: bool,
                   contents_density: float = 0.0, contents_fraction: float = 0.0) -> list[Part]:
    """A tube (mean radius of x and y) on a bottom disc, with a lid unless open, optionally
    filled with contents to a fraction of the inner height."""
    r = (size[0] + size[1]) / 4
    h = size[2]
    t = wall_m
    caps = 1 if open_top else 2
    if r <= t or h <= caps * t:
        return solid(ColliderShape.CYLINDER, size, density)
    tube_h = h - caps * t
    tube_zc = -h / 2 + t + tube_h / 2
    m_tube = density * tube_volume(r, r - t, tube_h)
    parts = [Part(m_tube, (0.0, 0.0, tube_zc), tube_inertia(m_tube, r, r - t, tube_h))]
    disc = (2 * r, 2 * r, t)
    m_disc = density * cylinder_volume(disc)
    parts.append(Part(m_disc, (0.0, 0.0, -h / 2 + t / 2), cylinder_inertia(m_disc, disc)))
    if not open_top:
        parts.append(Part(m_disc, (0.0, 0.0, h / 2 - t / 2), cylinder_inertia(m_disc, disc)))
    if contents_density > 0 and contents_fraction > 0:
        inner_h = h - caps * t
        fill = (2 * (r - t), 2 * (r - t), inner_h * contents_fraction)
        m_fill = contents_density * cylinder_volume(fill)
        parts.append(Part(m_fill, (0.0, 0.0, -h / 2 + t + fill[2] / 2), cylinder_inertia(m_fill, fill)))
    return parts


def table(size: Vec3, top_m: float, density: float, leg_m: float = 0.05) -> list[Part]:
    """A top slab and four square legs at the corners."""
    x, y, z = size
    leg = min(leg_m, x / 4, y / 4)
    top = min(top_m, z / 2)
    parts = [solid_box_part(density, (x, y, top), (0.0, 0.0, z / 2 - top / 2))]
    leg_h = z - top
    for sx in (-1, 1):
        for sy in (-1, 1):
            c = (sx * (x / 2 - leg / 2), sy * (y / 2 - leg / 2), -z / 2 + leg_h / 2)
            parts.append(solid_box_part(density, (leg, leg, leg_h), c))
    return parts


def chair(size: Vec3, seat_m: float, density: float, leg_m: float = 0.035) -> list[Part]:
    """Seat at half height, two front legs up to the seat, two back legs the full height
    (they carry the backrest), and a backrest panel over the top third, at the back (+y)."""
    x, y, z = size
    leg = min(leg_m, x / 4, y / 4)
    seat_top = 0.0  # seat top at mid height (the object frame's origin is the box centre)
    seat = min(seat_m, z / 4)
    parts = [solid_box_part(density, (x, y, seat), (0.0, 0.0, seat_top - seat / 2))]
    front_h = z / 2 - seat
    for sx in (-1, 1):
        parts.append(solid_box_part(density, (leg, leg, front_h),
                                    (sx * (x / 2 - leg / 2), -y / 2 + leg / 2, -z / 2 + front_h / 2)))
        parts.append(solid_box_part(density, (leg, leg, z), (sx * (x / 2 - leg / 2), y / 2 - leg / 2, 0.0)))
    back = (max(x - 2 * leg, leg), seat, z / 3)
    parts.append(solid_box_part(density, back, (0.0, y / 2 - leg / 2, z / 2 - back[2] / 2)))
    return parts


def panel(size: Vec3, thickness_m: float, density: float) -> list[Part]:
    """A flat-panel display: a slab over the top 80 % of the height, a neck and a base plate."""
    x, y, z = size
    t = min(thickness_m, y)
    slab = (x, t, 0.8 * z)
    base = (0.4 * x, 0.8 * y, min(0.02, 0.1 * z))
    neck = (min(0.05, x / 4), t, max(0.2 * z - base[2], 0.0))
    parts = [solid_box_part(density, slab, (0.0, 0.0, z / 2 - slab[2] / 2)),
             solid_box_part(density, base, (0.0, 0.0, -z / 2 + base[2] / 2))]
    if neck[2] > 0:
        parts.append(solid_box_part(density, neck, (0.0, 0.0, -z / 2 + base[2] + neck[2] / 2)))
    return parts


def build_parts(profile: Profile, size: Vec3, density: float, contents_density: float = 0.0) -> list[Part]:
    """The parts of a body of `profile` with extents `size` made of a material of `density`."""
    if profile.model == "box_shell":
        return box_shell(size, profile.wall_m, density, profile.open_faces, profile.shelf_spacing_m)
    if profile.model == "cylinder_shell":
        return cylinder_shell(size, profile.wall_m, density, "+z" in profile.open_faces,
                              contents_density, profile.contents_fraction)
    if profile.model == "table":
        return table(size, profile.wall_m, density)
    if profile.model == "chair":
        return chair(size, profile.wall_m, density)
    if profile.model == "panel":
        return panel(size, profile.wall_m, density)
    parts = solid(profile.collider, size, density)
    if profile.fill != 1.0:
        f = profile.fill
        parts = [Part(p.mass_kg * f, p.com_m, tuple(i * f for i in p.inertia_kg_m2)) for p in parts]  # type: ignore[misc]
    return parts


def is_finite_size(size: Vec3) -> bool:
    return all(math.isfinite(s) and s > 0 for s in size)


SHELL_MODELS = ("box_shell", "cylinder_shell")


def _scaled(p: Part, k: float) -> Part:
    return Part(p.mass_kg * k, p.com_m, (p.inertia_kg_m2[0] * k, p.inertia_kg_m2[1] * k, p.inertia_kg_m2[2] * k))


def mesh_body(profile: Profile, solid_part: Part | None, surface_part: Part, density: float,
              contents_density: float = 0.0) -> tuple[Part | None, str]:
    """The body from an object's mesh (simready/meshes.py; parts at unit density: a solid's mass
    is its volume, a surface's its area), by the category's model; (None, why) keeps the model's
    primitive. Rules:
    - solid models: a closed mesh's volume x density x fill; an open mesh says nothing about
      volume, so the primitive model stays;
    - shells (bottles, mugs, bins): the surface x wall thickness x density, or the closed mesh's
      volume x density when that is smaller (a mesh that models its walls, as a real mug's does,
      encloses only the walls); a closed mesh's contents fill `contents_fraction` of its volume,
      spread like the solid;
    - tables, chairs, panels: the primitive model (their meshes are rarely closed)."""
    if profile.model == "solid":
        if solid_part is None:
            return None, "open mesh: mass from the category's model"
        return _scaled(solid_part, density * profile.fill), "mass, centre and inertia from the mesh's volume"
    if profile.model in SHELL_MODELS:
        shell = _scaled(surface_part, profile.wall_m * density)
        body, how = shell, f"a {profile.wall_m * 1000:g} mm shell over the mesh's surface"
        if solid_part is not None and solid_part.mass_kg * density < shell.mass_kg:
            body, how = _scaled(solid_part, density), "the mesh's volume (it models its walls)"
        if solid_part is not None and contents_density > 0 and profile.contents_fraction > 0:
            from blueprint_pipeline.simready.inertia import combine

            body = combine([body, _scaled(solid_part, contents_density * profile.contents_fraction)])
            how += f" and contents filling {profile.contents_fraction:.0%} of its volume"
        return body, f"mass, centre and inertia from {how}"
    return None, f"mass from the category's {profile.model} model"
