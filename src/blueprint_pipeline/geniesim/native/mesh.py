"""Aligned.usd: one UsdGeom.Mesh in the object frame with every transform baked into its points.

Genie Sim's loader merges mesh points and ignores transforms, and puts the mesh's origin at
the workspace bottom + half height, so the bounding-box centre must be the origin. Units metres,
z up. The mesh is, in order of preference: simready's stored mesh of the object (`object_mesh`,
the triangles the USD and the simulator show), the usd stage's visual or a USD asset
(`load_usd_mesh`), else a box or (elliptic) cylinder generated from the object's extents.

A stored mesh with a texture (simready/mesh_files.py) carries its texture coordinates as
primvars:st and a UsdPreviewSurface material sampling `textures/<name>` next to Aligned.usd
(`MeshData.texture_file`; the bundle writes the image there), authored by the usd stage's
usd/visual.author_texture on a stage opened over the layer (textured meshes only).

The mesh carries UsdPhysics collision (CollisionAPI + MeshCollisionAPI, convex decomposition, the
model_type Genie Sim's server uses for the objects it adds): the server adds physics only to task
objects, so the background, which references these files, collides only through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pxr import Gf, Sdf, Usd, UsdGeom, Vt

from blueprint_pipeline.simready.categories import match_profile
from blueprint_pipeline.simready.meshes import ObjectMesh
from blueprint_pipeline.usd.names import TEXTURES_DIR
from blueprint_pipeline.usd.visual import author_texture

CYLINDER_SEGMENTS = 32
COLLIDER_APIS = ("PhysicsCollisionAPI", "PhysicsMeshCollisionAPI")
COLLIDER_APPROXIMATION = "convexDecomposition"
_ROUND_COLLIDERS = ("cylinder", "capsule", "sphere")


@dataclass(frozen=True)
class MeshData:
    points: np.ndarray  # (v, 3) metres, object frame
    face_counts: np.ndarray  # (f,)
    face_indices: np.ndarray  # (sum(face_counts),)
    source: str  # "box" | "cylinder" | "asset:<file name>" | "mesh:<manifest asset path>"
    uv: np.ndarray | None = None  # (v, 2) texture coordinates of the points
    texture_png: bytes | None = None
    texture_file: str | None = None  # the image's path relative to Aligned.usd
    rgba: tuple[float, float, float, float] | None = None  # the texture's colour factor


def box_mesh(extents_m: tuple[float, float, float]) -> MeshData:
    hx, hy, hz = (e / 2 for e in extents_m)
    pts = np.array([[sx * hx, sy * hy, sz * hz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)])
    quads = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]]
    return MeshData(pts, np.full(6, 4), np.array(quads).ravel(), "box")


def cylinder_mesh(extents_m: tuple[float, float, float], segments: int = CYLINDER_SEGMENTS) -> MeshData:
    """Cylinder along z whose bounding box is exactly the extents (elliptic if x != y)."""
    rx, ry, hz = extents_m[0] / 2, extents_m[1] / 2, extents_m[2] / 2
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([rx * np.cos(ang), ry * np.sin(ang)], axis=1)
    pts = np.concatenate([np.c_[ring, np.full(segments, -hz)], np.c_[ring, np.full(segments, hz)]])
    k = np.arange(segments)
    sides = np.stack([k, (k + 1) % segments, (k + 1) % segments + segments, k + segments], axis=1).ravel()
    bottom, top = k[::-1], k + segments
    counts = np.r_[np.full(segments, 4), segments, segments]
    return MeshData(pts, counts, np.r_[sides, bottom, top], "cylinder")


def is_round(category: str, collider: str | None) -> bool:
    """A round collider, or a category whose profile is round by the simready table's whole-word
    matching ("mug", "tin can", "candle"; not "barcode scanner", "cutting board" or "tote bin")."""
    if collider in _ROUND_COLLIDERS:
        return True
    profile = match_profile(category)
    return profile is not None and profile.collider.value in _ROUND_COLLIDERS


def load_usd_mesh(path: Path, extents_m: tuple[float, float, float], under: str | None = None) -> MeshData | None:
    """Meshes of a USD file (only those below the prim `under` if given), world transforms baked,
    recentred and scaled to `extents_m`; None when there is no mesh with faces."""
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        return None
    root = stage.GetPrimAtPath(under) if under else stage.GetPseudoRoot()
    if not root or not root.IsValid():
        return None
    cache = UsdGeom.XformCache()
    pts_all, counts_all, idx_all, offset = [], [], [], 0
    for prim in Usd.PrimRange(root):
        if not prim.IsA(UsdGeom.Mesh):
            continue
        mesh = UsdGeom.Mesh(prim)
        pts, counts, idx = mesh.GetPointsAttr().Get(), mesh.GetFaceVertexCountsAttr().Get(), mesh.GetFaceVertexIndicesAttr().Get()
        if not pts or not counts or not idx:
            continue
        m = np.array(cache.GetLocalToWorldTransform(prim), dtype=float)  # row-vector convention
        p = np.c_[np.array(pts, dtype=float), np.ones(len(pts))] @ m
        pts_all.append(p[:, :3])
        counts_all.append(np.array(counts))
        idx_all.append(np.array(idx) + offset)
        offset += len(pts)
    if not pts_all:
        return None
    up = UsdGeom.GetStageUpAxis(stage)
    pts = np.concatenate(pts_all) * UsdGeom.GetStageMetersPerUnit(stage)
    if up == UsdGeom.Tokens.y:  # y-up asset -> z-up object frame (+90 degrees about x)
        pts = pts @ np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    size = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    pts = (pts - (lo + hi) / 2) * (np.asarray(extents_m) / size)
    return MeshData(pts, np.concatenate(counts_all), np.concatenate(idx_all), f"asset:{path.name}")


def box_centre(points) -> np.ndarray:
    """The centre of the points' bounding box."""
    pts = np.asarray(points, dtype=float)
    return (pts.min(axis=0) + pts.max(axis=0)) / 2


def object_mesh(mesh: ObjectMesh, asset: str) -> MeshData:
    """simready's stored visual mesh of an object (object frame, fitted to its box) as it is,
    recentred so its bounding-box centre (`box_centre`) is exactly the origin (it is, up to rounding)."""
    pts = np.asarray(mesh.vertices, dtype=float)
    faces = np.asarray(mesh.faces)
    textured = mesh.uv is not None and mesh.texture_png is not None
    return MeshData(pts - box_centre(pts), np.full(len(faces), faces.shape[1]), faces.ravel(), f"mesh:{asset}",
                    mesh.uv if textured else None, mesh.texture_png if textured else None,
                    f"{TEXTURES_DIR}/{mesh.texture_name}" if textured else None, mesh.rgba if textured else None)


def write_aligned_usd(path: Path, mesh: MeshData) -> None:
    """Write the mesh as `path` (binary crate when the name ends in .usd), z-up, metres.

    Authored on an Sdf layer directly: no stage composition, several times faster per file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    layer = Sdf.Layer.CreateNew(str(path))
    layer.pseudoRoot.SetInfo("upAxis", UsdGeom.Tokens.z)
    layer.pseudoRoot.SetInfo("metersPerUnit", 1.0)
    root = Sdf.PrimSpec(layer, "Object", Sdf.SpecifierDef, "Xform")
    layer.defaultPrim = "Object"
    m = Sdf.PrimSpec(root, "mesh", Sdf.SpecifierDef, "Mesh")
    pts = np.asarray(mesh.points, dtype=np.float32)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    values = [
        ("points", Sdf.ValueTypeNames.Point3fArray, Vt.Vec3fArray.FromNumpy(pts), Sdf.VariabilityVarying),
        ("faceVertexCounts", Sdf.ValueTypeNames.IntArray,
         Vt.IntArray.FromNumpy(np.asarray(mesh.face_counts, dtype=np.int32)), Sdf.VariabilityVarying),
        ("faceVertexIndices", Sdf.ValueTypeNames.IntArray,
         Vt.IntArray.FromNumpy(np.asarray(mesh.face_indices, dtype=np.int32)), Sdf.VariabilityVarying),
        ("extent", Sdf.ValueTypeNames.Float3Array,
         Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)), Gf.Vec3f(*map(float, hi))]), Sdf.VariabilityVarying),
        ("subdivisionScheme", Sdf.ValueTypeNames.Token, UsdGeom.Tokens.none, Sdf.VariabilityUniform),
    ]
    values += [
        ("physics:collisionEnabled", Sdf.ValueTypeNames.Bool, True, Sdf.VariabilityVarying),
        ("physics:approximation", Sdf.ValueTypeNames.Token, COLLIDER_APPROXIMATION, Sdf.VariabilityUniform),
    ]
    for name, type_name, value, variability in values:
        attr = Sdf.AttributeSpec(m, name, type_name, variability)
        attr.default = value
    m.SetInfo("apiSchemas", Sdf.TokenListOp.Create(prependedItems=list(COLLIDER_APIS)))
    if mesh.uv is not None and mesh.texture_file is not None:  # the usd stage's material, on this layer
        stage = Usd.Stage.Open(layer)
        author_texture(stage, UsdGeom.Mesh(stage.GetPrimAtPath(m.path)), mesh.uv, mesh.texture_file, mesh.rgba)
    layer.Save()
    if mesh.texture_png is not None and mesh.texture_file is not None:
        image = path.parent / mesh.texture_file
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(mesh.texture_png)
