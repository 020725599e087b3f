"""The geniesim export as functions of (scene, physics): build everything, then write it.

Pipeline-level files (`geniesim/`): scene_graph.json, asset_index.json, task_config.json,
scene_config.yaml and export_manifest.json (every file with its sha256, written last).
The native bundle (`geniesim/native/`) is built in a temporary folder and moved into place whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import yaml

from blueprint_pipeline import storage
from blueprint_pipeline.contract import (
    GENIESIM_ASSET_INDEX,
    GENIESIM_SCENE_CONFIG,
    GENIESIM_SCENE_GRAPH,
    GENIESIM_TASK_CONFIG,
    USD_SCENE,
)
from blueprint_pipeline.geniesim.asset_index import build_asset_index
from blueprint_pipeline.geniesim.embedders import Embedder, NoEmbedder
from blueprint_pipeline.geniesim.native.bundle import NATIVE_FORMAT_VERSION, write_bundle
from blueprint_pipeline.scene.floor import floor_height_m
from blueprint_pipeline.geniesim.records import TaskConfig
from blueprint_pipeline.geniesim.relations import scene_relations
from blueprint_pipeline.geniesim.robots import ROBOTS, robot_configs
from blueprint_pipeline.geniesim.scene_graph import build_scene_graph
from blueprint_pipeline.geniesim.semantics import semantic_text
from blueprint_pipeline.geniesim.tasks import TaskCaps, plan_tasks
from blueprint_pipeline.scene.records import Scene
from blueprint_pipeline.simready.meshes import ObjectMesh
from blueprint_pipeline.simready.records import ObjectPhysics

EXPORT_FORMAT_VERSION = "blueprint.geniesim.export/1"
NATIVE_DIR = "native"
FILES = (GENIESIM_SCENE_GRAPH.name, GENIESIM_ASSET_INDEX.name, GENIESIM_TASK_CONFIG.name, GENIESIM_SCENE_CONFIG.name)


@dataclass
class Export:
    scene_graph: dict[str, Any]
    asset_index: dict[str, Any]
    task_config: TaskConfig
    scene_config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def build_export(scene: Scene, physics: dict[str, ObjectPhysics], commercial_only: bool = False,
                 embedder: Embedder | NoEmbedder | None = None, caps: TaskCaps = TaskCaps()) -> Export:  # noqa: B008
    t0 = time.perf_counter()
    relations, notes = scene_relations(scene.objects)
    t1 = time.perf_counter()
    texts = {o.id: semantic_text(o, physics.get(o.id)) for o in scene.objects}
    graph = build_scene_graph(scene, physics, relations, texts=texts)
    index = build_asset_index(scene, physics, commercial_only=commercial_only, embedder=embedder, texts=texts)
    t2 = time.perf_counter()
    plan = plan_tasks(scene.objects, physics, relations, caps)
    tasks = plan.tasks
    t3 = time.perf_counter()
    config = TaskConfig(scene_id=scene.header.scene_id, robots=robot_configs(), tasks=tuple(tasks),
                        skipped=tuple(plan.skipped))
    h = scene.header
    scene_config = {
        "scene_id": h.scene_id,
        "environment_type": h.environment_type,
        "coordinate_system": {"up_axis": "z", "meters_per_unit": 1.0, "source_frame": h.source_frame},
        "gravity_m_s2": list(h.gravity_m_s2),
        "physics_steps_per_second": h.time_steps_per_second,
        "room_size_m": list(h.room_size_m) if h.room_size_m else None,
        "floor_z_m": floor_height_m(scene.objects),
        "usd_scene": USD_SCENE.rel,
        "robots": {name: {"reach_m": spec.config.reach_m, "gripper_stroke_m": spec.config.gripper_stroke_m}
                   for name, spec in ROBOTS.items()},
        "counts": {"objects": len(scene.objects), "edges": len(relations), "tasks": len(tasks),
                   "assets_indexed": len(index["assets"])},
        "tasks": [t.task_id for t in tasks],
        "files": {"scene_graph": GENIESIM_SCENE_GRAPH.name, "asset_index": GENIESIM_ASSET_INDEX.name,
                  "task_config": GENIESIM_TASK_CONFIG.name, "export_manifest": "export_manifest.json",
                  "native_bundle": f"{NATIVE_DIR}/ (set SIM_ASSETS to it; task files in {NATIVE_DIR}/tasks/)"},
    }
    return Export(graph, index, config, scene_config, notes,
                  {"relations": t1 - t0, "graph_and_index": t2 - t1, "tasks": t3 - t2})


def _dumps(obj: Any) -> bytes:
    # compact: only without indentation does the json module use its C encoder (5x faster at 10k objects)
    return (json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")


def pipeline_file_bytes(export: Export) -> dict[str, bytes]:
    return {
        GENIESIM_SCENE_GRAPH.name: _dumps(export.scene_graph),
        GENIESIM_ASSET_INDEX.name: _dumps(export.asset_index),
        GENIESIM_TASK_CONFIG.name: (export.task_config.model_dump_json(by_alias=True, indent=1) + "\n").encode("utf-8"),
        GENIESIM_SCENE_CONFIG.name: yaml.safe_dump(export.scene_config, sort_keys=False, allow_unicode=True).encode("utf-8"),
    }


def _pipeline_version() -> str:
    try:
        from importlib.metadata import version

        return version("blueprint-pipeline")
    except Exception:  # noqa: BLE001 - not installed as a distribution (running from source)
        return "unknown"


def manifest(files: dict[str, str], scene_id: str) -> dict[str, Any]:
    """export_manifest.json content from {relative path: sha256}."""
    return {
        "schema": EXPORT_FORMAT_VERSION,
        "scene_id": scene_id,
        "pipeline_version": _pipeline_version(),
        "formats": {"scene_graph": "blueprint.geniesim.scene_graph/1", "asset_index": "blueprint.geniesim.asset_index/1",
                    "task_config": "blueprint.task_config/1", "native_bundle": NATIVE_FORMAT_VERSION},
        "files": [{"path": p, "sha256": files[p]} for p in sorted(files)],
    }


def _sha256_tree(root: Path, prefix: str) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[f"{prefix}/{p.relative_to(root).as_posix()}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def write_native(stage_url: str, scene: Scene, physics: dict[str, ObjectPhysics], task_config: TaskConfig,
                 asset_root: Path | None, object_usd: dict[str, Path] | None = None,
                 meshes: Mapping[str, ObjectMesh] | None = None) -> dict[str, str]:
    """Build the bundle in a temporary folder, then put it in place whole; returns {path: sha256}."""
    local = "://" not in stage_url or stage_url.startswith("file://")
    if local:
        stage_dir = Path(stage_url.removeprefix("file://"))
        stage_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".native-tmp-", dir=stage_dir))
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bp-native-"))
    try:
        write_bundle(tmp, scene, physics, task_config, asset_root=asset_root, object_usd=object_usd, meshes=meshes)
        hashes = _sha256_tree(tmp, NATIVE_DIR)
        if local:
            final = stage_dir / NATIVE_DIR
            old = stage_dir / f".native-old-{os.getpid()}"
            if final.exists():
                os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            for rel in hashes:
                storage.atomic_write_bytes(storage.join(stage_url, rel), (tmp / rel.split("/", 1)[1]).read_bytes())
        return hashes
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)


def write_export(stage_url: str, scene: Scene, physics: dict[str, ObjectPhysics], export: Export,
                 asset_root: Path | None = None, native: bool = True,
                 object_usd: dict[str, Path] | None = None, meshes: Mapping[str, ObjectMesh] | None = None) -> list[str]:
    """Write every file under `stage_url`; export_manifest.json goes last. Returns relative paths.
    `meshes`: the objects' stored meshes (simready/meshes.py) for the native bundle's Aligned.usd."""
    hashes: dict[str, str] = {}
    for name, data in pipeline_file_bytes(export).items():
        storage.atomic_write_bytes(storage.join(stage_url, name), data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    if native:
        hashes.update(write_native(stage_url, scene, physics, export.task_config, asset_root, object_usd, meshes))
    storage.atomic_write_json(storage.join(stage_url, "export_manifest.json"), manifest(hashes, scene.header.scene_id))
    return [*FILES, "export_manifest.json", *([NATIVE_DIR] if native else [])]
