"""The rim of an open-top hollow mesh (a mug, a cup, a bowl, a pot): where a parallel gripper
can take it with one finger inside and one outside, as people take a mug too wide for their
grip by its rim.

Found by casting rays at the fitted mesh (object frame, metres; simready/meshes.py):
1. the rim's centre is the middle of the horizontal box of the vertices within 3 mm of the top;
2. a ray down from above that centre must travel at least `MIN_DEPTH_M` below the top before
   it meets the mesh: the object is open at the top (a closed box or a bottle is not);
3. at `grip depth` below the top (half the cavity's depth, at most 1.5 cm), rays out from the
   centre in `DIRECTIONS` directions meet the inner and then the outer face of the wall: their
   distances give the wall's thickness and its middle radius. A direction whose ray meets more
   than that wall (a mug's handle), there or down to `FINGER_REACH_M` lower (where the pads
   reach), or no wall is left out: the outer finger would meet the handle there.
4. the wall's lean: the angle from vertical of the inner face's chord from just below the top
   (`TOP_BAND_M`) to the lowest of those levels (median over the clear directions, within
   +-`MAX_LEAN_RAD`). A grasp leans the hand by it (sim/grasp.rim_candidates): the pads then lie
   along the curved wall, the inner one bearing on it at the top and low down, and the wall
   cannot turn in the hand. With the pads vertical, a 16 cm bowl's wall (24 deg) was pinched
   between the outer pad's top and the inner pad's bottom edge and tilted about 14 deg in the
   hand as it was lifted (0 of 5 lifts held; 5 of 5 with the hand leaned).
The rim is kept when at least half the directions are clear and the wall is 1-25 mm thick.

Rays are intersected with the triangles directly (Moller-Trumbore, numpy): trimesh's ray
queries need rtree, and a few dozen rays against at most the visual's triangle budget are cheap.
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.simready.records import RimRecord

DIRECTIONS = 12
MIN_DEPTH_M = 0.02
MAX_GRIP_DEPTH_M = 0.015
WALL_RANGE_M = (0.001, 0.025)
TOP_BAND_M = 0.003
FINGER_REACH_M = 0.03  # how far below the grip depth the wall is checked for a handle
MAX_LEAN_RAD = float(np.radians(30.0))


def ray_distances(origin: np.ndarray, direction: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Per triangle of `triangles` (n, 3, 3), the distance along the ray at which it crosses
    it, or inf."""
    v0, e1, e2 = triangles[:, 0], triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - v0
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    v = (q @ direction) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-9)
    return np.where(hit, t, np.inf)


def ray_hits(origin: np.ndarray, direction: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Distances along the ray at which it crosses `triangles` (n, 3, 3), sorted."""
    t = ray_distances(origin, direction, triangles)
    ts = np.sort(t[np.isfinite(t)])
    if len(ts) > 1:  # a ray through a shared edge crosses both triangles: count it once
        ts = ts[np.concatenate([[True], np.diff(ts) > 1e-7])]
    return ts


def find_rim(vertices: np.ndarray, faces: np.ndarray) -> RimRecord | None:
    """The rim of an open-top hollow mesh (module docstring), or None."""
    tris = np.asarray(vertices, dtype=float)[np.asarray(faces)]
    top = float(vertices[:, 2].max())
    ring = vertices[vertices[:, 2] >= top - TOP_BAND_M, :2]
    centre = 0.5 * (ring.min(axis=0) + ring.max(axis=0))
    down = ray_hits(np.array([centre[0], centre[1], top + 0.01]), np.array([0.0, 0.0, -1.0]), tris)
    depth = (down[0] - 0.01) if len(down) else 0.0
    if depth < MIN_DEPTH_M:
        return None
    grip_depth = min(MAX_GRIP_DEPTH_M, 0.5 * depth)
    origin = np.array([centre[0], centre[1], top - grip_depth])
    # the fingers reach further down than the grip depth: the wall must be clear there too
    below = [top - z for z in (grip_depth + FINGER_REACH_M / 2, grip_depth + FINGER_REACH_M) if z < depth - 0.003]
    levels = [top - TOP_BAND_M, *below]  # the lean's chord: its first and last level
    angles, walls, radii, leans = [], [], [], []
    for a in np.arange(DIRECTIONS) * 2 * np.pi / DIRECTIONS:
        ray = np.array([np.cos(a), np.sin(a), 0.0])
        hits = ray_hits(origin, ray, tris)
        down = [ray_hits(np.array([centre[0], centre[1], z]), ray, tris) for z in below]
        if len(hits) != 2 or any(len(h) != 2 for h in down):
            continue
        wall = float(hits[1] - hits[0])
        upper = ray_hits(np.array([centre[0], centre[1], levels[0]]), ray, tris)
        if WALL_RANGE_M[0] <= wall <= WALL_RANGE_M[1] and len(upper):
            angles.append(float(a))
            walls.append(wall)
            radii.append(float(0.5 * (hits[0] + hits[1])))
            inner = (down or [hits])[-1][0]
            leans.append(np.arctan2(upper[0] - inner, levels[0] - (levels[-1] if below else origin[2])))
    if len(angles) < DIRECTIONS // 2:
        return None
    return RimRecord(centre_m=(float(centre[0]), float(centre[1])), top_z_m=top, depth_m=float(depth),
                     grip_depth_m=float(grip_depth), wall_m=float(np.median(walls)),
                     radius_m=float(np.median(radii)), angles_rad=tuple(angles),
                     lean_rad=float(np.clip(np.median(leans), -MAX_LEAN_RAD, MAX_LEAN_RAD)))
