"""Visual geometry of an object: simready's stored mesh, else its asset fitted to the object's
extents, else a primitive.

An object whose physics record has a `mesh` (simready/meshes.py) is drawn from that stored mesh
(`author_object_mesh`): the file is not read again, so the USD, the simulator and the Genie Sim
bundle show the same triangles, with the asset's colour as displayColor/displayOpacity.

Other objects (furniture, or no stored mesh): the manifest's extents (scale applied) are
authoritative, so an asset is translated and scaled to fill exactly the object's box, whatever
units it was made in. USD assets are referenced; GLB/glTF/OBJ/STL/PLY are read in the object's
axes as simready reads meshes (simready/mesh_files.py: a y-up glTF is turned upright) and
written as a UsdGeom.Mesh (usd-core has no reader for them). The convex-hull collider of such an
object uses the same fitted points.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

import numpy as np
from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, Vt

from blueprint_pipeline.simready.assets import USD_FORMATS
from blueprint_pipeline.simready.mesh_files import load_source_mesh
from blueprint_pipeline.simready.meshes import ObjectMesh

Vec3 = tuple[float, float, float]


@dataclass
class VisualResult:
    kind: str  # "usd_reference" | "mesh" | "primitive"
    hull_points: np.ndarray | None = None  # (N, 3) metres in the object frame, for convex colliders
    notes: list[str] = field(default_factory=list)


def _fit(points: np.ndarray, extents: Vec3) -> np.ndarray:
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    return (points - (lo + hi) / 2) * (np.asarray(extents) / size)


def _usd_asset_bound(local_path: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Bounding box of a USD file's default prim (or whole stage), in the file's units."""
    try:
        asset = Usd.Stage.Open(local_path)
    except Exception:  # noqa: BLE001 - unreadable file: the caller falls back to a primitive
        return None
    prim = asset.GetDefaultPrim() or asset.GetPseudoRoot()
    box = UsdGeom.BBoxCache(Usd.TimeCode.Default(), [UsdGeom.Tokens.default_, UsdGeom.Tokens.render]) \
        .ComputeWorldBound(prim).ComputeAlignedRange()
    if box.IsEmpty():
        return None
    return np.array(box.GetMin()), np.array(box.GetMax())


def author_primitive(stage: Usd.Stage, path: str, shape: str, extents: Vec3) -> Usd.Prim:
    """A gprim filling the box `extents` (box: unit Cube scaled; cylinder along z; sphere and
    capsule as the bounding shapes used by simready's mass model)."""
    x, y, z = extents
    if shape == "cylinder":
        g = UsdGeom.Cylinder.Define(stage, path)
        g.CreateAxisAttr(UsdGeom.Tokens.z)
        g.CreateRadiusAttr(max(x, y) / 2)
        g.CreateHeightAttr(z)
    elif shape == "sphere":
        g = UsdGeom.Sphere.Define(stage, path)
        g.CreateRadiusAttr(max(extents) / 2)
    elif shape == "capsule":
        from blueprint_pipeline.simready.inertia import capsule_dims

        axis, r, length = capsule_dims(extents)
        g = UsdGeom.Capsule.Define(stage, path)
        g.CreateAxisAttr("XYZ"[axis])
        g.CreateRadiusAttr(r)
        g.CreateHeightAttr(length)
    else:
        g = UsdGeom.Cube.Define(stage, path)
        g.CreateSizeAttr(1.0)
        g.AddScaleOp().Set(Gf.Vec3f(x, y, z))
    g.CreateExtentAttr().Set(Vt.Vec3fArray([Gf.Vec3f(-x / 2, -y / 2, -z / 2), Gf.Vec3f(x / 2, y / 2, z / 2)]))
    return g.GetPrim()


def author_mesh(stage: Usd.Stage, path: str, points: np.ndarray, faces: np.ndarray) -> UsdGeom.Mesh:
    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points.astype(np.float32)))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(faces), faces.shape[1], dtype=np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(faces.reshape(-1).astype(np.int32)))
    lo, hi = points.min(axis=0), points.max(axis=0)
    mesh.CreateExtentAttr().Set(Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)), Gf.Vec3f(*map(float, hi))]))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    return mesh


def author_object_mesh(stage: Usd.Stage, path: str, mesh: ObjectMesh, texture_path: str | None = None) -> UsdGeom.Mesh:
    """The visual from simready's stored mesh (object frame, already fitted to the box), with
    its colour if the asset has one, and its texture when it has one: `texture_path`, the image's
    asset path relative to this layer (the caller writes the file there)."""
    visual = author_mesh(stage, path, mesh.vertices, mesh.faces)
    if mesh.rgba is not None:
        r, g, b, a = mesh.rgba
        visual.CreateDisplayColorAttr(Vt.Vec3fArray([Gf.Vec3f(r, g, b)]))
        visual.CreateDisplayOpacityAttr(Vt.FloatArray([a]))
    if mesh.uv is not None and mesh.texture_png is not None and texture_path is not None:
        author_texture(stage, visual, mesh.uv, texture_path, mesh.rgba)
    return visual


def author_texture(stage: Usd.Stage, visual: UsdGeom.Mesh, uv: np.ndarray, texture_path: str,
                   rgba: tuple[float, float, float, float] | None = None) -> UsdShade.Material:
    """Texture coordinates `uv` (per point) as primvars:st and a UsdPreviewSurface material
    (`<visual>Material`) whose diffuse colour is the image at `texture_path` (times `rgba`, a
    glTF base colour factor), bound to the visual."""
    st = UsdGeom.PrimvarsAPI(visual).CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
    st.Set(Vt.Vec2fArray.FromNumpy(np.asarray(uv, dtype=np.float32)))
    base = f"{visual.GetPath()}Material"
    material = UsdShade.Material.Define(stage, base)
    surface = UsdShade.Shader.Define(stage, f"{base}/Surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    reader = UsdShade.Shader.Define(stage, f"{base}/St")
    reader.CreateIdAttr("UsdPrimvarReader_float2")
    reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
    image = UsdShade.Shader.Define(stage, f"{base}/Image")
    image.CreateIdAttr("UsdUVTexture")
    image.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath(texture_path))
    image.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
    image.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
    image.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
    if rgba is not None:
        image.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*map(float, rgba)))
    rgb = image.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
    surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(rgb)
    surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.6)
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    UsdShade.MaterialBindingAPI.Apply(visual.GetPrim()).Bind(material)
    return material


def author_visual(stage: Usd.Stage, path: str, shape: str, extents: Vec3, asset_url: str | None,
                  asset_fmt: str | None, layer_dir: str, want_hull: bool, manifest_y_up: bool = False) -> VisualResult:
    """Author the visual at `path` and return what was used. A mesh file is read in the object's
    axes as simready reads it (simready/mesh_files.py: glTF is y up, other formats follow the
    manifest's `manifest_y_up`), then fitted to the extents."""
    if asset_url is not None and asset_fmt in USD_FORMATS:
        local = asset_url.removeprefix("file://")
        bound = _usd_asset_bound(local) if "://" not in local else None
        if bound is None:
            author_primitive(stage, path, shape, extents)
            note = f"USD asset {posixpath.basename(local)} could not be opened or has no geometry; primitive used"
            return VisualResult("primitive", notes=[note])
        lo, hi = bound
        rel = os.path.relpath(os.path.abspath(local), os.path.abspath(layer_dir)).replace(os.sep, "/")
        xf = UsdGeom.Xform.Define(stage, path)
        size = np.where(hi - lo > 1e-12, hi - lo, 1.0)
        xf.AddScaleOp().Set(Gf.Vec3d(*map(float, np.asarray(extents) / size)))
        xf.AddTranslateOp(opSuffix="center").Set(Gf.Vec3d(*map(float, -(lo + hi) / 2)))
        stage.DefinePrim(f"{path}/Asset").GetReferences().AddReference(rel)
        if not want_hull:
            return VisualResult("usd_reference")
        # Reading every mesh of a referenced USD asset is left to the engine; the collider
        # hull is the asset's fitted bounding box.
        return VisualResult("usd_reference", hull_points=box_corners(extents),
                            notes=["convex hull of the USD asset approximated by its bounding box"])
    if asset_url is not None and asset_fmt is not None:
        try:
            source = load_source_mesh(asset_url, asset_fmt, manifest_y_up)
            points, faces = _fit(source.vertices, extents), source.faces
            author_mesh(stage, path, points, faces)
            hull = None
            if want_hull:
                import trimesh

                hull = np.asarray(trimesh.Trimesh(points, faces, process=False).convex_hull.vertices)
            return VisualResult("mesh", hull_points=hull)
        except Exception as exc:  # noqa: BLE001 - any unreadable asset falls back to a primitive, noted
            author_primitive(stage, path, shape, extents)
            note = f"asset {posixpath.basename(asset_url)} unreadable ({type(exc).__name__}); primitive used"
            return VisualResult("primitive", notes=[note])
    author_primitive(stage, path, shape, extents)
    return VisualResult("primitive")


def box_corners(extents: Vec3) -> np.ndarray:
    """The 8 corners of the box `extents` centred on the origin."""
    h = np.asarray(extents) / 2
    return np.array([[sx * h[0], sy * h[1], sz * h[2]] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])

