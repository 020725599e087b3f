"""The `scene` stage: validate and normalise the manifest into `contract.SCENE_NORMALIZED`."""

from __future__ import annotations

from dataclasses import dataclass

from blueprint_pipeline.config import Settings
from blueprint_pipeline.contract import SCENE_NORMALIZED, StageContext, StageResult
from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.scene.io import write_normalized_streaming


@dataclass(frozen=True)
class SceneConfig:
    """What the scene stage takes from the settings."""

    stream_threshold_bytes: int  # BP_STREAMING_THRESHOLD_MB: larger manifests are streamed
    workers: int  # BP_INGEST_WORKERS: processes checking a streamed manifest (0: one per core)

    @classmethod
    def from_settings(cls, settings: Settings) -> SceneConfig:
        return cls(stream_threshold_bytes=int(settings.streaming_threshold_mb * 1024 * 1024),
                   workers=settings.ingest_workers)


def run(ctx: StageContext) -> StageResult:
    """Read ctx.manifest_url (streamed when large), write the normalised scene atomically.
    Raises InvalidInputError with every problem, writing nothing, if the manifest is invalid."""
    cfg = SceneConfig.from_settings(ctx.settings)
    ingest = ManifestIngest(ctx.manifest_url, strict=ctx.options.strict,
                            stream_threshold_bytes=cfg.stream_threshold_bytes,
                            workers=cfg.workers, asset_root=ctx.asset_root())
    count = write_normalized_streaming(ctx.url(SCENE_NORMALIZED), ingest.record_lines(), ingest.header_record)
    return StageResult(
        outputs=[SCENE_NORMALIZED.rel],
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
