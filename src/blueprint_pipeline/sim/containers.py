"""Containers (bowls, baskets, bins, trays, pots, ...) as hollow shells instead of solid colliders.

A solid collider filling a bowl's bounding shape pushes whatever the scene puts inside it (fruit
in a bowl) out at the first physics step. A container is therefore built as an open-top shell
with the same outer extents: a floor slab plus walls,
  - cylinder collider: a cylindrical floor slab and a ring of `RING_SEGMENTS` thin box walls whose
    outer corners lie on the cylinder (a regular 12-gon inscribed in the circle, so the shell never
    reaches outside the record's extents);
  - box collider (and a convex hull approximated by its box): a box floor slab and 4 wall boxes;
  - spheres and capsules stay solid.
Wall and floor thickness: min(1 cm, 10 % of the smallest extent) (simready/containers.py).

Which objects are containers is decided in simready/containers.py (`is_container`), shared with
task suggestion.

Mass, centre of mass and inertia are not affected: bodies carry the record's values explicitly
(`explicitinertial`), so MuJoCo ignores the geoms' own masses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blueprint_pipeline.simready.containers import RING_SEGMENTS, shell_thickness_m
from blueprint_pipeline.simready.records import ColliderShape, ObjectPhysics


@dataclass(frozen=True)
class Part:
    """One geom of a shell, in the body frame: `kind` is "box" or "cylinder"; `size` is MuJoCo's
    geom size (box half-sizes, or cylinder radius and half-height)."""

    kind: str
    size: tuple[float, float, float]
    pos: tuple[float, float, float]
    yaw_rad: float = 0.0


def shell_parts(phys: ObjectPhysics) -> list[Part]:
    """Floor slab first, then the walls; all inside the collider's outer extents."""
    sx, sy, sz = (max(float(v), 1e-3) for v in phys.collider_size_m)
    t = shell_thickness_m((sx, sy, sz))
    floor_z = -sz / 2 + t / 2
    wall_h = (sz - t) / 2  # walls stand on the floor slab up to the top
    wall_z = -sz / 2 + t + wall_h
    if phys.collider is ColliderShape.CYLINDER:
        r = min(sx, sy) / 2
        parts = [Part("cylinder", (r, t / 2, 0.0), (0.0, 0.0, floor_z))]
        half_angle = np.pi / RING_SEGMENTS
        apothem = r * np.cos(half_angle)  # outer face of each segment; its outer corners lie on the circle
        half_len = r * np.sin(half_angle)
        for k in range(RING_SEGMENTS):
            a = 2 * np.pi * k / RING_SEGMENTS
            c = apothem - t / 2
            parts.append(Part("box", (t / 2, half_len, wall_h), (c * np.cos(a), c * np.sin(a), wall_z), a))
        return parts
    parts = [Part("box", (sx / 2, sy / 2, t / 2), (0.0, 0.0, floor_z))]
    for sign in (-1.0, 1.0):  # walls across x (full length) and along y (between them)
        parts.append(Part("box", (sx / 2, t / 2, wall_h), (0.0, sign * (sy / 2 - t / 2), wall_z)))
        parts.append(Part("box", (t / 2, sy / 2 - t, wall_h), (sign * (sx / 2 - t / 2), 0.0, wall_z)))
    return parts
