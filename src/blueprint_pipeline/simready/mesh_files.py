"""Reading an asset file's triangles, in the object's axes (z up), for simready/meshes.py.

- GLB / glTF, OBJ, STL, PLY with trimesh (a scene's nodes flattened with their transforms);
- USD (usd, usda, usdc, usdz) with usd-core: every `UsdGeom.Mesh` under the default prim (else
  the whole stage), world transforms applied, polygons fanned into triangles.

Axes and units follow scene/asset_size.py (the same table): glTF is y up and in metres; USD says
what it authored; OBJ, STL and PLY are read in the manifest's convention. A y-up file is turned
a quarter about x into the object's z-up frame: (x, y, z) -> (x, -z, y).

A glTF/GLB or OBJ file's base colour texture (glTF's `baseColorTexture`, OBJ's `map_Kd`) is
kept with the vertices' texture coordinates (`SourceMesh.texture`): the image is re-encoded as an
RGB PNG at most `MAX_TEXTURE_PX` on a side. A texture that cannot be read is left out with a note
(the base colour stays). USD files' textures are not read.

Every failure is a `MeshFileError` whose message names what is wrong with the file; the caller
keeps the object's primitive and records the reason.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.scene.asset_size import USD_FORMATS

MAX_FILE_BYTES = 256 * 1024 * 1024  # a larger asset is refused rather than read into memory
MAX_TEXTURE_PX = 512  # a larger texture is scaled down (the renders are 128-256 px)


class MeshFileError(ValueError):
    """An asset file that cannot give a usable mesh (the message says why)."""


@dataclass(frozen=True)
class Texture:
    """A mesh's base colour image and where each vertex samples it."""

    uv: np.ndarray  # (N, 2) float64 per vertex, OpenGL convention (v up from the image's bottom)
    png: bytes  # RGB, at most MAX_TEXTURE_PX on a side


@dataclass(frozen=True)
class SourceMesh:
    vertices: np.ndarray  # (N, 3) float64, the file's units, object axes (z up)
    faces: np.ndarray  # (M, 3) int64
    rgba: tuple[float, float, float, float] | None  # the file's base colour, if it has one
    meters_per_unit: float | None  # what the file says (None: nothing)
    sha256: str  # of the file's bytes
    texture: Texture | None = None
    notes: tuple[str, ...] = ()  # what was left out of the file (a texture that could not be read)


def _read(url: str) -> bytes:
    local = url.removeprefix("file://") if "://" not in url.removeprefix("file://") else None
    size = os.path.getsize(local) if local is not None else storage.size(url)
    if size > MAX_FILE_BYTES:
        raise MeshFileError(f"{size / 1e6:.0f} MB is above the {MAX_FILE_BYTES // 2 ** 20} MB limit for asset files")
    return storage.read_bytes(url)


def _base_colour(mesh) -> tuple[float, float, float, float] | None:
    """The mesh's main colour (a material's base colour factor, else its vertex or face colours)."""
    visual = getattr(mesh, "visual", None)
    try:
        material = getattr(visual, "material", None)
        colour = getattr(material, "baseColorFactor", None) if material is not None else None
        if colour is None and material is not None:
            colour = getattr(material, "main_color", None)
        if colour is None and visual is not None and getattr(visual, "kind", None) in ("face", "vertex"):
            colour = visual.main_color
    except Exception:  # noqa: BLE001 - a colour is optional; the object then gets its material's look
        return None
    if colour is None:
        return None
    c = np.asarray(colour, dtype=float).reshape(-1)[:4]
    if c.size < 3 or not np.isfinite(c).all():
        return None
    if c.max() > 1.0:  # 8-bit colours
        c = c / 255.0
    rgba = np.append(c, 1.0) if c.size == 3 else c
    return tuple(float(v) for v in np.clip(rgba, 0.0, 1.0))  # type: ignore[return-value]


def _texture(mesh, n_vertices: int) -> tuple[Texture | None, str | None]:
    """The mesh's base colour texture and per-vertex coordinates, or None (and why, when the
    file has one that cannot be used)."""
    visual = getattr(mesh, "visual", None)
    if getattr(visual, "kind", None) != "texture":
        return None, None
    material = getattr(visual, "material", None)
    image = getattr(material, "baseColorTexture", None)
    if image is None:
        image = getattr(material, "image", None)
    uv = getattr(visual, "uv", None)
    if image is None:
        return None, None
    from PIL import Image

    try:
        uv = np.asarray(uv, dtype=np.float64)
        if uv.shape != (n_vertices, 2) or not np.isfinite(uv).all():
            return None, "texture left out: its coordinates do not match the vertices"
        rgb = image.convert("RGB")
        if max(rgb.size) > MAX_TEXTURE_PX:
            rgb.thumbnail((MAX_TEXTURE_PX, MAX_TEXTURE_PX), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        rgb.save(buf, format="PNG", optimize=False)
    except Exception as exc:  # noqa: BLE001 - an unusable texture leaves the base colour
        return None, f"texture left out ({str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__})"
    return Texture(uv, buf.getvalue()), None


def _usd_triangles(url: str) -> tuple[np.ndarray, np.ndarray, str | None, float | None]:
    if "://" in url.removeprefix("file://"):
        raise MeshFileError("USD assets are read only from local files")
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(url.removeprefix("file://"))
    if stage is None:
        raise MeshFileError("could not be opened")
    root = stage.GetDefaultPrim() or stage.GetPseudoRoot()
    cache = UsdGeom.XformCache(Usd.TimeCode.Default())
    verts, faces, offset = [], [], 0
    for prim in Usd.PrimRange(root):
        if not prim.IsA(UsdGeom.Mesh):
            continue
        mesh = UsdGeom.Mesh(prim)
        points = np.asarray(mesh.GetPointsAttr().Get() or [], dtype=np.float64).reshape(-1, 3)
        counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get() or [], dtype=np.int64)
        indices = np.asarray(mesh.GetFaceVertexIndicesAttr().Get() or [], dtype=np.int64)
        if len(points) == 0 or len(counts) == 0:
            continue
        xf = np.asarray(cache.GetLocalToWorldTransform(prim), dtype=np.float64)  # row vectors: p' = p @ xf
        points = np.c_[points, np.ones(len(points))] @ xf
        tris, start = [], 0
        for n in counts:
            poly = indices[start:start + n]
            tris.extend((poly[0], poly[k], poly[k + 1]) for k in range(1, n - 1))
            start += n
        if not tris:
            continue
        verts.append(points[:, :3])
        faces.append(np.asarray(tris, dtype=np.int64) + offset)
        offset += len(points)
    if not verts:
        raise MeshFileError("no mesh geometry")
    up = str(UsdGeom.GetStageUpAxis(stage)).lower() if stage.HasAuthoredMetadata("upAxis") else None
    mpu = float(UsdGeom.GetStageMetersPerUnit(stage)) if UsdGeom.StageHasAuthoredMetersPerUnit(stage) else None
    return np.concatenate(verts), np.concatenate(faces), up, mpu


def load_source_mesh(url: str, fmt: str, manifest_y_up: bool) -> SourceMesh:
    """The asset's triangles in object axes (z up), the file's units."""
    data = _read(url)
    sha = hashlib.sha256(data).hexdigest()
    rgba, texture, notes = None, None, ()
    try:
        if fmt in USD_FORMATS:
            vertices, faces, up, mpu = _usd_triangles(url)
        else:
            import trimesh

            local = url.removeprefix("file://")
            # by path when local, so a .gltf finds its .bin next to it
            source = local if "://" not in local else io.BytesIO(data)
            mesh = trimesh.load(source, file_type=fmt, force="mesh", process=True)  # merges an STL's repeated vertices
            vertices = np.asarray(getattr(mesh, "vertices", ()), dtype=np.float64).reshape(-1, 3)
            faces = np.asarray(getattr(mesh, "faces", ()), dtype=np.int64).reshape(-1, 3)
            gltf = fmt in ("glb", "gltf")
            up, mpu = ("y", 1.0) if gltf else (None, None)
            rgba = _base_colour(mesh)
            texture, why = _texture(mesh, len(vertices))
            notes = (why,) if why else ()
    except MeshFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem, said in one line
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise MeshFileError(f"unreadable ({detail})") from None
    if len(vertices) == 0 or len(faces) == 0:
        raise MeshFileError("no triangles")
    if not np.isfinite(vertices).all():
        raise MeshFileError("non-finite vertex coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshFileError("face indices outside the vertex list")
    y_up = (up == "y") if up is not None else manifest_y_up
    if y_up:
        vertices = np.column_stack([vertices[:, 0], -vertices[:, 2], vertices[:, 1]])
    return SourceMesh(vertices, faces, rgba, mpu, sha, texture, notes)
