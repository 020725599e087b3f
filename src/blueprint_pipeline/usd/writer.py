"""Write every object file and then the scene file (each atomically, the scene last)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pxr import Sdf, Usd

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.scene.records import SceneHeader, SceneObject
from blueprint_pipeline.simready.assets import asset_format, resolve_asset
from blueprint_pipeline.simready.records import PhysicsFile
from blueprint_pipeline.usd.names import OBJECTS_DIR, SCENE_FILE, object_file, prim_names
from blueprint_pipeline.usd.objects import author_object
from blueprint_pipeline.usd.scene import add_object_references, author_scene


@dataclass
class UsdWriteResult:
    names: dict[str, str]  # object id -> prim name / file stem
    files: list[str]  # relative to the usd folder
    notes: dict[str, list[str]] = field(default_factory=dict)  # object id -> notes
    visuals: dict[str, int] = field(default_factory=dict)  # kind -> count


def _local_dir(url: str) -> str:
    return url.removeprefix("file://") if "://" not in url or url.startswith("file://") else "."


def write_usd(usd_url: str, header: SceneHeader, objects: list[SceneObject], physics: PhysicsFile,
              asset_root: str | None = None) -> UsdWriteResult:
    missing = [o.id for o in objects if o.id not in physics.objects]
    if missing:
        raise InvalidInputError(
            "physics.json has no entry for some objects; re-run the simready stage",
            [Problem(f"objects[{oid!r}]", "no physics") for oid in missing[:20]], max(0, len(missing) - 20))
    names = prim_names([o.id for o in objects])
    objects_url = storage.join(usd_url, OBJECTS_DIR)
    layer_dir = _local_dir(objects_url)
    result = UsdWriteResult(names=names, files=[])
    for obj in objects:
        stage = Usd.Stage.CreateInMemory()
        asset_url = resolve_asset(asset_root, obj.asset)
        notes = author_object(stage, obj, physics.objects[obj.id], asset_url, asset_format(obj.asset), layer_dir)
        kind = stage.GetPrimAtPath("/Object/Visual").GetTypeName() or "Xform"
        result.visuals[kind] = result.visuals.get(kind, 0) + 1
        if notes:
            result.notes[obj.id] = notes
        rel = object_file(names[obj.id])
        storage.atomic_write_text(storage.join(usd_url, rel), stage.GetRootLayer().ExportToString())
        result.files.append(rel)
    keep = {os.path.basename(f) for f in result.files}
    for stale in storage.listdir(objects_url):
        if stale.endswith(".usda") and stale not in keep:
            storage.remove(storage.join(objects_url, stale))
    layer = Sdf.Layer.CreateAnonymous("scene.usda")  # held here: it outlives the stage
    scene_stage = Usd.Stage.Open(layer)
    author_scene(scene_stage, header, objects, names)
    del scene_stage
    add_object_references(layer, objects, names)
    storage.atomic_write_text(storage.join(usd_url, SCENE_FILE), layer.ExportToString())
    result.files.append(SCENE_FILE)
    return result
