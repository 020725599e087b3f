"""Open furniture: a shelving unit, bookshelf, rack or cabinet that a manifest gives as ONE box
with the things on its shelves inside that box.

Scanners and authoring tools describe a bookshelf by its bounding box and each book by its own;
taken literally, the books start inside a solid block. A static object is read as open furniture
when free objects stand inside its box: their footprint centre lies inside its oriented footprint
(less `INSIDE_MARGIN_M`), and their bottom is more than `BOTTOM_MARGIN_M` above its bottom (a
bottom board is usually 2 cm thick) and `INSIDE_MARGIN_M` below its top. Those bottoms, grouped when within `LEVEL_TOL_M` of each other, are its shelf
levels; each level's board top is the lowest bottom of its group (nothing starts inside a board).

It is then modelled as what it is (`OpenFurniture.parts`): a board under every level, a top, two
sides and a back, each `BOARD_M` thick (less for small furniture), open at the front. The front
is the side of its shallower horizontal axis that faces the middle of the scene (the centre of
every object's box); the back is the other one. Containers (bowls, bins, ...) are not open
furniture: they are hollow shells (sim/containers.py), and whoever asks passes them as `skip`.

Everything here is in the normalised frame (z up, metres).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from blueprint_pipeline.rotations import quat_to_matrix
from blueprint_pipeline.scene.records import SceneObject, SimRole

BOARD_M = 0.02
INSIDE_MARGIN_M = 0.02
BOTTOM_MARGIN_M = 0.01  # above the furniture's bottom: books on a 2 cm bottom board stand inside
LEVEL_TOL_M = 0.02
_NOT_FURNITURE = (SimRole.SCENE_SHELL, SimRole.BACKGROUND)


@dataclass(frozen=True)
class Level:
    """One shelf: its board's top (`z_m`) and the underside of the board above (`ceiling_m`)."""

    z_m: float
    ceiling_m: float

    @property
    def clear_height_m(self) -> float:
        return self.ceiling_m - self.z_m


@dataclass(frozen=True)
class Part:
    """One board or panel in the furniture's body frame: box half-sizes and centre."""

    name: str
    half_m: tuple[float, float, float]
    centre_m: tuple[float, float, float]


@dataclass(frozen=True)
class OpenFurniture:
    id: str
    extents_m: tuple[float, float, float]
    centre_z_m: float  # world z of the box centre
    levels: tuple[Level, ...]  # ascending
    front_axis: int  # 0 or 1: the local horizontal axis the open front faces along
    front_sign: float  # +1 or -1
    thickness_m: float
    contents: tuple[str, ...]  # ids of the objects standing inside

    def level_at(self, bottom_z_m: float) -> Level | None:
        """The level an object whose bottom is at `bottom_z_m` stands on."""
        for lv in self.levels:
            if abs(bottom_z_m - lv.z_m) <= LEVEL_TOL_M + 1e-9:
                return lv
        return None

    def parts(self) -> list[Part]:
        """Boards (under each level and the top), two sides and a back, in the body frame."""
        hx, hy, hz = (e / 2 for e in self.extents_m)
        t = self.thickness_m
        out: list[Part] = []
        for k, lv in enumerate(self.levels):
            top_local = lv.z_m - self.centre_z_m
            thick = min(t, top_local + hz)  # a level near the bottom gets a thinner board
            if thick > 1e-4:
                out.append(Part(f"board{k}", (hx, hy, thick / 2), (0.0, 0.0, top_local - thick / 2)))
        out.append(Part("top", (hx, hy, t / 2), (0.0, 0.0, hz - t / 2)))
        side = 1 - self.front_axis  # the sides close the axis along the front
        for s in (-1.0, 1.0):
            half = [hx, hy, hz]
            centre = [0.0, 0.0, 0.0]
            half[side] = t / 2
            centre[side] = s * ((hx, hy)[side] - t / 2)
            out.append(Part("side_" + ("l" if s < 0 else "r"), tuple(half), tuple(centre)))  # type: ignore[arg-type]
        half = [hx, hy, hz]
        centre = [0.0, 0.0, 0.0]
        half[self.front_axis] = t / 2
        centre[self.front_axis] = -self.front_sign * ((hx, hy)[self.front_axis] - t / 2)
        out.append(Part("back", tuple(half), tuple(centre)))  # type: ignore[arg-type]
        return out

    @property
    def back_inner_m(self) -> float:
        """The back panel's inner face, measured from the centre along the open front's normal
        (negative: behind the centre)."""
        lo, hi = self.interior_local()
        return self.front_sign * float((lo if self.front_sign > 0 else hi)[self.front_axis])

    def interior_local(self) -> tuple[np.ndarray, np.ndarray]:
        """The x-y rectangle inside the sides and back, in the furniture's frame (lo, hi)."""
        hx, hy = self.extents_m[0] / 2, self.extents_m[1] / 2
        lo, hi = np.array([-hx, -hy]), np.array([hx, hy])
        side = 1 - self.front_axis
        lo[side] += self.thickness_m
        hi[side] -= self.thickness_m
        if self.front_sign > 0:
            lo[self.front_axis] += self.thickness_m
        else:
            hi[self.front_axis] -= self.thickness_m
        return lo, hi


def _local_xy(furniture: SceneObject, xy: Sequence[float]) -> np.ndarray:
    rot = np.array(quat_to_matrix(furniture.orientation_wxyz))
    d = np.array([xy[0] - furniture.position_m[0], xy[1] - furniture.position_m[1], 0.0])
    return (rot.T @ d)[:2]


def is_upright(o: SceneObject) -> bool:
    return abs(float(quat_to_matrix(o.orientation_wxyz)[2][2])) > 0.999


def open_furniture(objects: Sequence[SceneObject],
                   skip: Callable[[SceneObject], bool] = lambda o: False) -> dict[str, OpenFurniture]:
    """Every static object that holds free objects inside its box, as open furniture (rules in
    the module docstring). `skip`: objects modelled otherwise (containers)."""
    free = [o for o in objects if o.sim_role.is_dynamic]
    if not free:
        return {}
    everything = np.array([[*o.aabb_min_m, *o.aabb_max_m] for o in objects], dtype=float)
    middle = (everything[:, :2].min(axis=0) + everything[:, 3:5].max(axis=0)) / 2
    free_xy = np.array([o.position_m[:2] for o in free], dtype=float)
    free_bottom = np.array([o.aabb_min_m[2] for o in free], dtype=float)
    out: dict[str, OpenFurniture] = {}
    for f in objects:
        if (f.sim_role.is_dynamic or f.sim_role in _NOT_FURNITURE or f.articulation is not None
                or f.sim_role.is_articulated or not is_upright(f) or skip(f)):
            continue
        lo, hi = np.asarray(f.aabb_min_m), np.asarray(f.aabb_max_m)
        near = np.all((free_xy >= lo[:2]) & (free_xy <= hi[:2]), axis=1)
        near &= (free_bottom > lo[2] + BOTTOM_MARGIN_M) & (free_bottom < hi[2] - INSIDE_MARGIN_M)
        if not near.any():
            continue
        hx, hy = f.extents_m[0] / 2, f.extents_m[1] / 2
        inside = []
        for i in np.flatnonzero(near):
            lx, ly = _local_xy(f, free_xy[i])
            if abs(lx) <= hx - INSIDE_MARGIN_M and abs(ly) <= hy - INSIDE_MARGIN_M:
                inside.append(i)
        if not inside:
            continue
        bottoms = sorted(float(free_bottom[i]) for i in inside)
        groups: list[list[float]] = [[bottoms[0]]]
        for b in bottoms[1:]:
            if b - groups[-1][-1] <= LEVEL_TOL_M:
                groups[-1].append(b)
            else:
                groups.append([b])
        thickness = min(BOARD_M, 0.1 * min(f.extents_m))
        zs = [g[0] for g in groups]
        ceilings = [z - thickness for z in zs[1:]] + [float(hi[2]) - thickness]
        levels = tuple(Level(z, c) for z, c in zip(zs, ceilings))
        front_axis = 0 if f.extents_m[0] < f.extents_m[1] else 1
        axis_world = np.array(quat_to_matrix(f.orientation_wxyz))[:2, front_axis]
        sign = 1.0 if float(np.dot(middle - np.asarray(f.position_m[:2]), axis_world)) >= 0 else -1.0
        out[f.id] = OpenFurniture(
            id=f.id, extents_m=tuple(float(e) for e in f.extents_m), centre_z_m=float(f.position_m[2]),
            levels=levels, front_axis=front_axis, front_sign=sign, thickness_m=thickness,
            contents=tuple(free[i].id for i in inside))
    return out
