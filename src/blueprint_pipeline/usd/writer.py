"""Write every object file and then the scene file (each atomically, the scene last).

Objects whose physics record has a stored `mesh` are authored from it (`meshes`, loaded once by
the stage with `simready.meshes.load_meshes`); usd/objects.py describes both layouts."""

from __future__ import annotations

import ctypes
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from pxr import Sdf, Usd

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.scene.records import SceneHeader, SceneObject
from blueprint_pipeline.simready.assets import asset_format, resolve_asset
from blueprint_pipeline.simready.meshes import ObjectMesh
from blueprint_pipeline.simready.records import PhysicsFile
from blueprint_pipeline.usd.fast_objects import author_object_layer, can_author_fast
from blueprint_pipeline.usd.names import OBJECTS_DIR, SCENE_FILE, TEXTURES_DIR, object_file, prim_names, texture_file
from blueprint_pipeline.usd.objects import author_object, missing_asset_note
from blueprint_pipeline.usd.scene import add_object_prims, author_scene

VISUAL_PATH = Sdf.Path("/Object/Visual")


@dataclass
class UsdWriteResult:
    names: dict[str, str]  # object id -> prim name / file stem
    files: list[str]  # relative to the usd folder
    notes: dict[str, list[str]] = field(default_factory=dict)  # object id -> notes
    visuals: dict[str, int] = field(default_factory=dict)  # kind -> count


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _sync_folder(folder: str, names: list[str]) -> None:
    """Make the folder's new files durable. One syncfs(2) on Linux instead of an fsync per file:
    with thousands of object files the per-file fsyncs were half of the stage's time."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(folder, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    for name in names:
        fd = os.open(os.path.join(folder, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _publish_local(staging: str, target: str) -> None:
    """Replace the `target` folder by `staging` (written in full, synced): readers see the old
    set of object files or the new one, never a mix; files of removed objects go with the old."""
    _sync_folder(staging, os.listdir(staging))
    old = None
    if os.path.exists(target):
        old = f"{target}.old-{uuid.uuid4().hex[:12]}"
        os.rename(target, old)
    os.rename(staging, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _local_dir(url: str) -> str:
    return url.removeprefix("file://") if "://" not in url or url.startswith("file://") else "."


def write_usd(usd_url: str, header: SceneHeader, objects: list[SceneObject], physics: PhysicsFile,
              asset_root: str | None = None, meshes: Mapping[str, ObjectMesh] | None = None) -> UsdWriteResult:
    """`meshes`: the stored mesh of every object whose physics record names one, by object id."""
    meshes = meshes or {}
    missing = [o.id for o in objects if o.id not in physics.objects]
    if missing:
        raise InvalidInputError(
            "physics.json has no entry for some objects; re-run the simready stage",
            [Problem(f"objects[{oid!r}]", "no physics") for oid in missing[:20]], max(0, len(missing) - 20))
    unloaded = [o.id for o in objects if physics.objects[o.id].mesh is not None and o.id not in meshes]
    if unloaded:
        raise InvalidInputError(
            "physics.json names stored meshes that were not given (load them with simready.meshes.load_meshes)",
            [Problem(f"objects[{oid!r}].mesh", "not loaded") for oid in unloaded[:20]], max(0, len(unloaded) - 20))
    names = prim_names([o.id for o in objects])
    objects_url = storage.join(usd_url, OBJECTS_DIR)
    local = _is_local(usd_url)
    layer_dir = _local_dir(objects_url)
    result = UsdWriteResult(names=names, files=[])
    staging = os.path.join(_local_dir(usd_url), f".objects-{uuid.uuid4().hex[:12]}") if local else None
    if staging:
        os.makedirs(staging)
    textures: set[str] = set()  # meshes' images written (objects may share one)
    try:
        for obj in objects:
            phys = physics.objects[obj.id]
            mesh = meshes.get(obj.id) if phys.mesh is not None else None
            if mesh is not None and mesh.texture_png is not None and mesh.texture_name not in textures:
                rel_tex = f"{OBJECTS_DIR}/{texture_file(mesh.texture_name)}"
                if staging:
                    os.makedirs(os.path.join(staging, TEXTURES_DIR), exist_ok=True)
                    with open(os.path.join(staging, texture_file(mesh.texture_name)), "wb") as f:
                        f.write(mesh.texture_png)
                else:
                    storage.atomic_write_bytes(storage.join(usd_url, rel_tex), mesh.texture_png)
                textures.add(mesh.texture_name)
                result.files.append(rel_tex)
            asset_url = resolve_asset(asset_root, obj.asset) if mesh is None else None
            if mesh is None and can_author_fast(phys, asset_url):
                layer = author_object_layer(obj, phys)
                kind = layer.GetPrimAtPath(VISUAL_PATH).typeName
                notes = missing_asset_note(obj)
            else:
                stage = Usd.Stage.CreateInMemory()
                notes = author_object(stage, obj, phys, asset_url, asset_format(obj.asset), layer_dir, mesh,
                                      manifest_y_up=header.source_frame == "y_up")
                kind = stage.GetPrimAtPath(VISUAL_PATH).GetTypeName() or "Xform"
                layer = stage.GetRootLayer()
            result.visuals[kind] = result.visuals.get(kind, 0) + 1
            if notes:
                result.notes[obj.id] = notes
            rel = object_file(names[obj.id])
            text = layer.ExportToString()
            if staging:
                with open(os.path.join(staging, os.path.basename(rel)), "w", encoding="utf-8") as f:
                    f.write(text)
            else:
                storage.atomic_write_text(storage.join(usd_url, rel), text)
            result.files.append(rel)
        if staging:
            _publish_local(staging, _local_dir(objects_url))
            staging = None
        else:
            keep = {os.path.basename(f) for f in result.files}
            for stale in storage.listdir(objects_url):
                if stale.endswith(".usda") and stale not in keep:
                    storage.remove(storage.join(objects_url, stale))
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    layer = Sdf.Layer.CreateAnonymous(SCENE_FILE)  # held here: it outlives the stage
    scene_stage = Usd.Stage.Open(layer)
    author_scene(scene_stage, header, objects, names)
    del scene_stage
    add_object_prims(layer, objects, names)
    storage.atomic_write_text(storage.join(usd_url, SCENE_FILE), layer.ExportToString())
    result.files.append(SCENE_FILE)
    return result
