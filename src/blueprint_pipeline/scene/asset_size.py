"""Sizes of an object from its asset file, for objects without `dimensions_est`.

The reference's schema requires `asset` but not `dimensions_est` (sizes come from the asset), so an
object without `dimensions_est` is sized from the bounding box of its asset file:

- GLB / glTF, OBJ, STL, PLY are read with trimesh (the whole file, node transforms applied);
- USD (usd, usda, usdc, usdz) with usd-core: `UsdGeom.BBoxCache` over the default prim (else the
  whole stage), purposes default and render.

Units and axes of the file (the box's sizes only; the asset's own origin does not matter, because
`transform.position` is the centre of the object's box):

| file | length unit | up axis |
|---|---|---|
| glTF / GLB | metres (glTF 2.0 defines it) | y (glTF 2.0 defines it) |
| USD with `metersPerUnit` / `upAxis` authored | as authored | as authored |
| USD without them, OBJ, STL, PLY | the manifest's units | the manifest's `coordinate_frame` |

The sizes are then read like `dimensions_est` (manifest units; in y-up data width is along x,
height along y, depth along z) and multiplied by `transform.scale` like it.

Paths are resolved against the asset root (`BP_ASSET_ROOT`, else the manifest's folder) with
`sanitise.resolve_asset_path`, which refuses any path that leaves the root; a local file whose
real path (symbolic links followed) lies outside the root is refused as well. Files are read once
per process (cached by URL), so many objects sharing an asset cost one read.

`asset_dimensions` never raises for a missing or unreadable file: it returns the reason, and the
scene stage then keeps the object out of simulation with a warning naming it.
"""

from __future__ import annotations

import functools
import io
import os
import posixpath
from dataclasses import dataclass

from blueprint_pipeline import storage
from blueprint_pipeline.scene import sanitise

MESH_FORMATS = frozenset({"glb", "gltf", "obj", "stl", "ply"})
USD_FORMATS = frozenset({"usd", "usda", "usdc", "usdz"})
SIZED_FORMATS = MESH_FORMATS | USD_FORMATS
MIN_SIZE = 1e-9  # a box flatter than this along an axis has no size there


@dataclass(frozen=True)
class FileBounds:
    """The asset's bounding-box sizes along the file's own x, y, z, and what the file says about
    its units and up axis (None: it says nothing)."""

    size: tuple[float, float, float]
    up_axis: str | None  # "y" | "z"
    meters_per_unit: float | None


def asset_format(path: str, declared: str | None) -> str:
    """`asset.format` if given (lower case, without a dot), else the file name's extension."""
    fmt = declared if declared else posixpath.splitext(path)[1]
    return fmt.lower().lstrip(".")


def _is_url(path: str) -> bool:
    return "://" in path


def resolve(asset_root: str, path: str) -> str:
    """The asset's URL or local path under `asset_root`; ValueError if it would leave the root
    (lexically, or for a local file through a symbolic link)."""
    if _is_url(asset_root):  # posixpath would fold the scheme's "//"; the checked path cannot climb
        sanitise.check_asset_path(path)
        return path if _is_url(path) else storage.join(asset_root, posixpath.normpath(path))
    joined = sanitise.resolve_asset_path(asset_root, path)
    if not _is_url(joined):
        root = os.path.realpath(asset_root or ".")
        real = os.path.realpath(joined)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise ValueError(f"asset path {path!r} leaves the asset root (through a symbolic link)")
    return joined


def exists(url: str) -> bool:
    """Whether the asset file is there (a local path, or a URL on storage)."""
    if not _is_url(url):
        return os.path.isfile(url)
    return storage.exists(url)


@functools.lru_cache(maxsize=256)
def file_bounds(url: str, fmt: str) -> FileBounds:
    """Bounding-box sizes of one asset file (cached per process). Raises on unreadable files."""
    if fmt in USD_FORMATS:
        return _usd_bounds(url)
    import numpy as np
    import trimesh

    if _is_url(url):
        mesh = trimesh.load(io.BytesIO(storage.read_bytes(url)), file_type=fmt, force="mesh")
    else:  # by path, so a .gltf finds its .bin and textures next to it
        mesh = trimesh.load(url, file_type=fmt, force="mesh")
    vertices = np.asarray(getattr(mesh, "vertices", ()), dtype=np.float64).reshape(-1, 3)
    if len(vertices) == 0:
        raise ValueError("no geometry")
    if not np.isfinite(vertices).all():
        raise ValueError("non-finite vertex coordinates")
    size = vertices.max(axis=0) - vertices.min(axis=0)
    gltf = fmt in ("glb", "gltf")
    return FileBounds((float(size[0]), float(size[1]), float(size[2])), "y" if gltf else None, 1.0 if gltf else None)


def _usd_bounds(url: str) -> FileBounds:
    if _is_url(url):
        raise ValueError("USD assets are sized only from local files")
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(url)
    if stage is None:
        raise ValueError("could not be opened")
    prim = stage.GetDefaultPrim() or stage.GetPseudoRoot()
    box = UsdGeom.BBoxCache(Usd.TimeCode.Default(), [UsdGeom.Tokens.default_, UsdGeom.Tokens.render]) \
        .ComputeWorldBound(prim).ComputeAlignedRange()
    if box.IsEmpty():
        raise ValueError("no geometry")
    size = box.GetMax() - box.GetMin()
    up = str(UsdGeom.GetStageUpAxis(stage)).lower() if stage.HasAuthoredMetadata("upAxis") else None
    mpu = float(UsdGeom.GetStageMetersPerUnit(stage)) if UsdGeom.StageHasAuthoredMetersPerUnit(stage) else None
    return FileBounds((float(size[0]), float(size[1]), float(size[2])), up, mpu)


def dimensions_from_bounds(bounds: FileBounds, y_up: bool, meters_per_unit: float) -> tuple[float, float, float]:
    """(width, depth, height) in manifest units, read in the manifest's axes (see the table above)."""
    sx, sy, sz = bounds.size
    manifest_up = "y" if y_up else "z"
    if bounds.up_axis is not None and bounds.up_axis != manifest_up:
        sy, sz = sz, sy  # a quarter turn between the frames swaps the two sizes
    if bounds.meters_per_unit is not None:
        k = bounds.meters_per_unit / meters_per_unit
        sx, sy, sz = sx * k, sy * k, sz * k
    return (sx, sz, sy) if y_up else (sx, sy, sz)


def asset_dimensions(asset_root: str | None, path: str | None, declared_format: str | None,
                     y_up: bool, meters_per_unit: float) -> tuple[tuple[float, float, float] | None, str]:
    """((width, depth, height) in manifest units, "") from the asset file, or (None, the reason)."""
    if not path:
        return None, "no asset path"
    fmt = asset_format(path, declared_format)
    if fmt not in SIZED_FORMATS:
        return None, f"asset format {fmt or '(none)'!r} is not read for sizes (only {', '.join(sorted(SIZED_FORMATS))})"
    if asset_root is None:
        return None, "no asset root to resolve the asset path against"
    try:
        url = resolve(asset_root, path)
    except ValueError as exc:
        return None, str(exc)
    try:
        if not exists(url):
            return None, f"asset file {path} not found"
        bounds = file_bounds(url, fmt)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: the object is kept unsimulated, with the reason
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return None, f"asset file {path} unreadable ({detail})"
    # Mesh files store float32: 7 significant digits, so 0.08 stays 0.08 rather than 0.0799999982.
    w, d, h = (float(f"{v:.7g}") for v in dimensions_from_bounds(bounds, y_up, meters_per_unit))
    dims = (w, d, h)
    flat = [name for name, v in zip(("width", "depth", "height"), dims, strict=True) if not v > MIN_SIZE]
    if flat:
        return None, f"asset file {path} has no {' or '.join(flat)} (flat or empty bounding box)"
    return dims, ""
