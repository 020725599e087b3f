"""The `scene` stage: validate and normalise the manifest into `<out>/scene/normalized.jsonl`."""

from __future__ import annotations

from blueprint_pipeline.pipeline import StageContext, StageResult
from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.scene.io import NORMALIZED_FILE, write_normalized_streaming
from blueprint_pipeline.scene.reader import DEFAULT_STREAM_THRESHOLD_BYTES


def stream_threshold_bytes(settings: object) -> int:
    """BP_STREAMING_THRESHOLD_MB from the settings object, else the 10 MB default."""
    mb = getattr(settings, "streaming_threshold_mb", None)
    if isinstance(mb, (int, float)) and not isinstance(mb, bool) and mb >= 0:
        return int(mb * 1024 * 1024)
    return DEFAULT_STREAM_THRESHOLD_BYTES


def ingest_workers(settings: object) -> int:
    """BP_INGEST_WORKERS from the settings object, else 0 (one per core)."""
    n = getattr(settings, "ingest_workers", None)
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else 0


def asset_root(settings: object) -> str | None:
    """BP_ASSET_ROOT from the settings object, else None (the manifest's folder), as the later
    stages resolve assets."""
    root = getattr(settings, "asset_root", None)
    return str(root) if isinstance(root, str) and root else None


def run(ctx: StageContext) -> StageResult:
    """Read ctx.manifest_url (streamed when large), write the normalised scene atomically.
    Raises InvalidInputError with every problem, writing nothing, if the manifest is invalid."""
    ingest = ManifestIngest(ctx.manifest_url, strict=ctx.options.strict,
                            stream_threshold_bytes=stream_threshold_bytes(ctx.settings),
                            workers=ingest_workers(ctx.settings), asset_root=asset_root(ctx.settings))
    url = ctx.path("scene", NORMALIZED_FILE)
    count = write_normalized_streaming(url, ingest.record_lines(), ingest.header_record)
    return StageResult(
        outputs=[f"scene/{NORMALIZED_FILE}"],
        summary={
            "objects": count,
            "excluded_objects": [e["id"] for e in ingest.excluded],
            "by_sim_role": dict(sorted(ingest.by_role.items())),
            "source_frame": ingest.header.scene.coordinate_frame if ingest.header else None,
            "streamed": ingest.raw.streamed,
            "warnings": ingest.problems.warnings,
        },
        items_ok=count,
    )
