"""Where an object's mesh asset lives, if it has one (used by simready and usd)."""

from __future__ import annotations

import posixpath

from blueprint_pipeline import storage
from blueprint_pipeline.scene.records import AssetRef

MESH_FORMATS = {"glb", "gltf", "obj", "usd", "usda", "usdc", "usdz", "stl", "ply", "fbx"}
USD_FORMATS = {"usd", "usda", "usdc", "usdz"}


def asset_format(asset: AssetRef | None) -> str | None:
    if asset is None or not asset.path:
        return None
    fmt = (asset.format or posixpath.splitext(asset.path)[1].lstrip(".")).lower()
    return fmt or None


def resolve_asset(asset_root: str | None, asset: AssetRef | None) -> str | None:
    """URL of the asset's file under `asset_root` if it is a mesh format and exists, else None.
    The path must stay inside the root (the scene stage checks this too; checked again here
    because this is where the path is opened)."""
    fmt = asset_format(asset)
    if asset_root is None or fmt not in MESH_FORMATS or asset is None or not asset.path:
        return None
    rel = posixpath.normpath(asset.path.replace("\\", "/"))
    if rel.startswith(("../", "/")) or rel == ".." or ":" in rel.split("/")[0]:
        return None
    url = storage.join(asset_root, rel)
    return url if storage.exists(url) else None
