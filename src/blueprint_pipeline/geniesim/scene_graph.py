"""`geniesim/scene_graph.json`: nodes (one per object) and edges (explicit + inferred relations)."""

from __future__ import annotations

from typing import Any

from blueprint_pipeline.geniesim.relations import Relation
from blueprint_pipeline.geniesim.semantics import physics_summary, semantic_text, task_tags, usd_object_paths
from blueprint_pipeline.scene.records import Scene
from blueprint_pipeline.simready.records import ObjectPhysics

SCENE_GRAPH_SCHEMA = "blueprint.geniesim.scene_graph/1"


def build_scene_graph(scene: Scene, physics: dict[str, ObjectPhysics], relations: list[Relation],
                      texts: dict[str, str] | None = None) -> dict[str, Any]:
    """`texts`: semantic text per object id when already computed."""
    nodes = []
    usd_paths = usd_object_paths([o.id for o in scene.objects])
    for o in scene.objects:
        ph = physics.get(o.id)
        nodes.append({
            "asset_id": o.id,
            "name": o.name,
            "category": o.category,
            "semantic_text": texts[o.id] if texts else semantic_text(o, ph),
            "size_m": list(o.extents_m),
            "pose": {"position_m": list(o.position_m), "orientation_wxyz": list(o.orientation_wxyz)},
            "aabb_min_m": list(o.aabb_min_m),
            "aabb_max_m": list(o.aabb_max_m),
            "task_tags": task_tags(o, ph),
            "usd_path": usd_paths[o.id],
            "physics": physics_summary(ph),
            "metadata": {
                "sim_role": o.sim_role.value,
                "semantic_class": o.semantic_class,
                "description": o.description,
                "tags": list(o.tags),
                "affordances": [a.model_dump() for a in o.affordances],
                "asset": o.asset.model_dump() if o.asset else None,
                "articulation": o.articulation.model_dump() if o.articulation else None,
                "placement_region": o.placement_region,
                "extras": o.extras,
            },
        })
    edges = [{"source": r.source, "target": r.target, "relation": r.relation,
              "confidence": r.confidence, "origin": r.origin} for r in relations]
    return {
        "schema": SCENE_GRAPH_SCHEMA,
        "scene_id": scene.header.scene_id,
        "coordinate_system": {"up_axis": "z", "handedness": "right", "source_frame": scene.header.source_frame},
        "meters_per_unit": 1.0,
        "nodes": nodes,
        "edges": edges,
    }
