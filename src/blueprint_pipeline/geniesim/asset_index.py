"""`geniesim/asset_index.json`: one entry per asset, with licence filtering and optional embeddings."""

from __future__ import annotations

from typing import Any

from blueprint_pipeline.geniesim.embedders import Embedder, NoEmbedder
from blueprint_pipeline.geniesim.semantics import physics_summary, semantic_text, usd_object_paths
from blueprint_pipeline.scene.records import Scene
from blueprint_pipeline.simready.records import ObjectPhysics

ASSET_INDEX_SCHEMA = "blueprint.geniesim.asset_index/1"
COLLIDER_PRIM = "/Object/Collider"  # where the usd stage authors each object's collider


def build_asset_index(scene: Scene, physics: dict[str, ObjectPhysics], commercial_only: bool = False,
                      embedder: Embedder | NoEmbedder | None = None,
                      texts: dict[str, str] | None = None) -> dict[str, Any]:
    """Entries for every object; with `commercial_only`, assets not cleared for commercial use
    (commercial_ok false, or unknown) are left out and counted."""
    embedder = embedder or NoEmbedder()
    entries: list[dict[str, Any]] = []
    dropped = {"non_commercial": 0, "licence_unknown": 0}
    usd_paths = usd_object_paths([o.id for o in scene.objects])
    for o in scene.objects:
        asset = o.asset
        commercial_ok = asset.commercial_ok if asset else None
        if commercial_only and commercial_ok is not True:
            dropped["non_commercial" if commercial_ok is False else "licence_unknown"] += 1
            continue
        ph = physics.get(o.id)
        categories = []
        for c in (o.category, o.semantic_class, *o.tags):
            if c and c.lower() not in categories:
                categories.append(c.lower())
        entries.append({
            "asset_id": o.id,
            "name": o.name,
            "semantic_description": texts[o.id] if texts else semantic_text(o, ph),
            "categories": categories,
            "physics": physics_summary(ph),
            "material": (ph.material if ph else None) or (o.physics.material_type if o.physics else None),
            "collider_path": usd_paths[o.id],
            "collider_prim": COLLIDER_PRIM,
            "collider_shape": ph.collider.value if ph else None,
            "source_asset": asset.path if asset else None,
            "license": asset.license if asset else None,
            "commercial_ok": commercial_ok,
        })
    index: dict[str, Any] = {
        "schema": ASSET_INDEX_SCHEMA,
        "scene_id": scene.header.scene_id,
        "commercial_only": commercial_only,
        "filtered_out": dropped,
        "assets": entries,
    }
    if isinstance(embedder, NoEmbedder):
        index["embeddings"] = None
        index["embeddings_reason"] = embedder.reason
    else:
        vecs = embedder.embed([e["semantic_description"] for e in entries]) if entries else []
        index["embeddings"] = {"model": embedder.name, "dim": int(vecs.shape[1]) if len(entries) else 0,
                               "normalized": True}
        for e, v in zip(entries, vecs):
            e["embedding"] = [round(float(x), 6) for x in v]
    return index
