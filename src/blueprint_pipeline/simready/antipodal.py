"""Antipodal grasps of a mesh: pairs of surface points a parallel gripper can squeeze, found on
the fitted mesh (object frame, metres; simready/meshes.py) for shapes its box does not describe:
a roll of tape too wide to take across but whose wall fits between the fingers, a handle.

1. `SAMPLES` points are sampled on the surface, by area (a fixed seed: the same mesh
   gives the same grasps);
2. from each, a ray goes into the object along the surface's inward normal; where it leaves the
   surface again is the other contact. The pair is a grasp when it is between `MIN_WIDTH_M` and
   `MAX_WIDTH_M` apart and the surface there faces the way the ray travels within `CONE_RAD`
   (both pads then push along the surfaces' normals: inside the friction cone of any pad);
3. pairs closer than `APART_M` and `APART_RAD` to a better one are dropped (better: the surfaces
   more nearly opposite, then nearer the mesh's centre, which the lift then turns less), and at
   most `KEEP` are kept.

The episodes' planner turns them into candidates after the box's and the rim's
(sim/grasp.antipodal_candidates); the Genie Sim bundle writes them too. What the pads' faces
meet beyond the two points (the surface's curvature across the pad) is left to the physics.
Rays are cast with simready/rims.py's ray-triangle test (about 30 ms for a 2,700-triangle bowl),
and the result is cached with the decompositions (`antipodal_cached`, by the mesh's content and
these parameters): a rerun of a 100-object scene spent 2.9 s on them uncached.
"""

from __future__ import annotations

import json
import os

import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.simready.hulls import content_key
from blueprint_pipeline.simready.records import AntipodalGrasp
from blueprint_pipeline.simready.rims import ray_distances

SAMPLES = 256
MIN_WIDTH_M = 0.004
MAX_WIDTH_M = 0.085  # the widest stroke of the robots' grippers (the UR's 2F-85)
CONE_RAD = float(np.radians(15.0))
APART_M = 0.012
APART_RAD = float(np.radians(25.0))
KEEP = 16
SEED = 0
VERSION = 1  # of the sampling: a change here or in the constants above is a new cache key
OFF_VERTICAL_RAD = float(np.radians(25.0))  # an axis this far off vertical is squeezed from the sides


def from_the_side(axis) -> bool:
    """Whether pads closing along `axis` can come from above or beside the object: the axis is
    at least OFF_VERTICAL_RAD off vertical (one squeezed top to bottom would need a finger under
    what the object stands on)."""
    return abs(float(axis[2])) < np.cos(OFF_VERTICAL_RAD)


def find_antipodal(vertices: np.ndarray, faces: np.ndarray) -> tuple[AntipodalGrasp, ...]:
    """The mesh's antipodal grasps (module docstring), best first; none for an empty result."""
    import trimesh

    mesh = trimesh.Trimesh(np.asarray(vertices, dtype=float), np.asarray(faces), process=False)
    if len(mesh.faces) == 0 or mesh.area <= 0:
        return ()
    points, index = trimesh.sample.sample_surface(mesh, SAMPLES, seed=SEED)
    normals = mesh.face_normals
    tris = mesh.triangles
    centre = (mesh.bounds[0] + mesh.bounds[1]) / 2
    size = float(np.linalg.norm(mesh.extents))
    found: list[tuple[float, float, AntipodalGrasp]] = []
    for p, k in zip(points, index):
        inward = -normals[k]
        origin = p + 1e-5 * inward
        t = ray_distances(origin, inward, tris)
        t[k] = np.inf
        exit_face = int(np.argmin(t))
        width = float(t[exit_face]) + 1e-5
        if not (MIN_WIDTH_M <= width <= MAX_WIDTH_M):
            continue
        angle = float(np.arccos(np.clip(np.dot(normals[exit_face], inward), -1.0, 1.0)))
        if angle > CONE_RAD:
            continue
        mid = p + 0.5 * width * inward
        found.append((angle, float(np.linalg.norm(mid - centre)) / size,
                      AntipodalGrasp(centre_m=tuple(map(float, mid)), axis=tuple(map(float, inward)),  # type: ignore[arg-type]
                                     width_m=width, angle_rad=angle)))
    kept: list[AntipodalGrasp] = []
    for _, _, g in sorted(found, key=lambda f: (round(f[0] / np.radians(5.0)), f[1])):
        c, a = np.asarray(g.centre_m), np.asarray(g.axis)
        if all(np.linalg.norm(c - np.asarray(o.centre_m)) >= APART_M
               or np.arccos(min(1.0, abs(float(a @ np.asarray(o.axis))))) >= APART_RAD for o in kept):
            kept.append(g)
        if len(kept) == KEEP:
            break
    return tuple(kept)


def antipodal_cached(vertices: np.ndarray, faces: np.ndarray, cache_dir: str | None) -> tuple[AntipodalGrasp, ...]:
    """`find_antipodal`, read from `cache_dir/antipodal/<key>.json` when a run computed it for the
    same triangles (and written there when not). A damaged or unwritable entry costs speed only."""
    if cache_dir is None:
        return find_antipodal(vertices, faces)
    key = content_key(json.dumps([VERSION, SAMPLES, MIN_WIDTH_M, MAX_WIDTH_M, CONE_RAD, APART_M, APART_RAD,
                                  KEEP, SEED]), vertices, faces)
    path = os.path.join(cache_dir, "antipodal", f"{key}.json")
    try:
        with open(path, encoding="utf-8") as f:
            return tuple(AntipodalGrasp.model_validate(g) for g in json.load(f))
    except (OSError, ValueError):
        pass
    grasps = find_antipodal(vertices, faces)
    try:
        storage.atomic_write_json(path, [g.model_dump(mode="json") for g in grasps], indent=None)
    except OSError:
        pass
    return grasps
