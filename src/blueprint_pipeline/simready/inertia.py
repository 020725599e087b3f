"""Closed-form mass properties of solid primitives, and their composition into one body.

Every primitive is uniform, axis-aligned in the object frame and described by its full extents
(metres). Inertia values are the diagonal of the tensor about the primitive's own centre of mass,
in kg*m^2. Pure Python floats on purpose: an object needs a handful of these, and numpy's
per-call overhead would dominate the table estimator's throughput.
"""

from __future__ import annotations

import math
from typing import NamedTuple

Vec3 = tuple[float, float, float]


class Part(NamedTuple):
    """A uniform solid piece of a body: its mass, centre of mass and diagonal inertia about it.
    (A NamedTuple: built thousands of times per second by the table estimator.)"""

    mass_kg: float
    com_m: Vec3
    inertia_kg_m2: Vec3


def box_volume(size: Vec3) -> float:
    return size[0] * size[1] * size[2]


def box_inertia(mass_kg: float, size: Vec3) -> Vec3:
    """Solid cuboid of full extents (a, b, c): I = m/12 * (b^2+c^2, a^2+c^2, a^2+b^2)."""
    a, b, c = size
    k = mass_kg / 12.0
    return (k * (b * b + c * c), k * (a * a + c * c), k * (a * a + b * b))


def cylinder_volume(size: Vec3) -> float:
    """Elliptic cylinder along z inscribed in the box `size`."""
    return math.pi * (size[0] / 2) * (size[1] / 2) * size[2]


def cylinder_inertia(mass_kg: float, size: Vec3) -> Vec3:
    """Solid elliptic cylinder along z, semi-axes a = x/2, b = y/2, height h:
    Ixx = m(3b^2 + h^2)/12, Iyy = m(3a^2 + h^2)/12, Izz = m(a^2 + b^2)/4 (circular: m r^2 / 2)."""
    a, b, h = size[0] / 2, size[1] / 2, size[2]
    return (mass_kg * (3 * b * b + h * h) / 12, mass_kg * (3 * a * a + h * h) / 12,
            mass_kg * (a * a + b * b) / 4)


def tube_volume(outer_radius_m: float, inner_radius_m: float, height_m: float) -> float:
    return math.pi * (outer_radius_m ** 2 - inner_radius_m ** 2) * height_m


def tube_inertia(mass_kg: float, outer_radius_m: float, inner_radius_m: float, height_m: float) -> Vec3:
    """Thick-walled tube along z: Izz = m(r1^2 + r2^2)/2, Ixx = Iyy = m(3(r1^2 + r2^2) + h^2)/12."""
    s = outer_radius_m ** 2 + inner_radius_m ** 2
    ixx = mass_kg * (3 * s + height_m ** 2) / 12
    return (ixx, ixx, mass_kg * s / 2)


def ellipsoid_volume(size: Vec3) -> float:
    return 4.0 / 3.0 * math.pi * (size[0] / 2) * (size[1] / 2) * (size[2] / 2)


def ellipsoid_inertia(mass_kg: float, size: Vec3) -> Vec3:
    """Solid ellipsoid with semi-axes (a, b, c): I = m/5 * (b^2+c^2, a^2+c^2, a^2+b^2)
    (a sphere of radius r: 2/5 m r^2)."""
    a, b, c = size[0] / 2, size[1] / 2, size[2] / 2
    k = mass_kg / 5.0
    return (k * (b * b + c * c), k * (a * a + c * c), k * (a * a + b * b))


def capsule_dims(size: Vec3) -> tuple[int, float, float]:
    """(axis index, radius, straight length) of the capsule that fits the box `size`:
    its axis along the longest extent, radius half the smaller of the other two."""
    axis = max(range(3), key=lambda i: size[i])
    radius = min(size[i] for i in range(3) if i != axis) / 2
    return axis, radius, max(size[axis] - 2 * radius, 0.0)


def capsule_volume(size: Vec3) -> float:
    _, r, length = capsule_dims(size)
    return math.pi * r * r * length + 4.0 / 3.0 * math.pi * r ** 3


def capsule_inertia(mass_kg: float, size: Vec3) -> Vec3:
    """Solid capsule: a cylinder of length L plus two hemispheres of radius r, uniform density.
    Axial: m_c r^2/2 + 2 m_h (2/5) r^2. Transverse: m_c (3r^2 + L^2)/12 plus, per hemisphere,
    (83/320) m_h r^2 about its own centre shifted by d = L/2 + 3r/8 (parallel axes)."""
    axis, r, length = capsule_dims(size)
    v_cyl = math.pi * r * r * length
    v_hemi = 2.0 / 3.0 * math.pi * r ** 3
    total = v_cyl + 2 * v_hemi
    m_c = mass_kg * v_cyl / total
    m_h = mass_kg * v_hemi / total
    axial = m_c * r * r / 2 + 2 * m_h * 0.4 * r * r
    d = length / 2 + 3 * r / 8
    transverse = m_c * (3 * r * r + length ** 2) / 12 + 2 * (83.0 / 320.0 * m_h * r * r + m_h * d * d)
    out = [transverse, transverse, transverse]
    out[axis] = axial
    return (out[0], out[1], out[2])


def combine(parts: list[Part]) -> Part:
    """One body from its parts: total mass, mass-weighted centre, and the diagonal of the summed
    inertia about that centre (parallel-axis theorem). Products of inertia are dropped: they
    vanish for the symmetric layouts used here and are small for the rest (a chair's back)."""
    mass = 0.0
    mx = my = mz = 0.0
    for p in parts:
        m = p.mass_kg
        mass += m
        mx += m * p.com_m[0]
        my += m * p.com_m[1]
        mz += m * p.com_m[2]
    if mass <= 0:
        raise ValueError("a body needs positive mass")
    cx, cy, cz = mx / mass, my / mass, mz / mass
    ixx = iyy = izz = 0.0
    for p in parts:
        m = p.mass_kg
        dx, dy, dz = p.com_m[0] - cx, p.com_m[1] - cy, p.com_m[2] - cz
        ixx += p.inertia_kg_m2[0] + m * (dy * dy + dz * dz)
        iyy += p.inertia_kg_m2[1] + m * (dx * dx + dz * dz)
        izz += p.inertia_kg_m2[2] + m * (dx * dx + dy * dy)
    return Part(mass, (cx, cy, cz), (ixx, iyy, izz))


def solid_box_part(density_kg_m3: float, size: Vec3, center_m: Vec3 = (0.0, 0.0, 0.0)) -> Part:
    m = density_kg_m3 * box_volume(size)
    return Part(m, center_m, box_inertia(m, size))
