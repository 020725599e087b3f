"""`blueprint validate`, `blueprint normalize`, `blueprint synth`: the scene contract commands."""

from __future__ import annotations

import typer
from rich.console import Console

from blueprint_pipeline.cli import app
from blueprint_pipeline.contract import SEED_MAX, SEED_MIN

console = Console(highlight=False, soft_wrap=True)


def _threshold(stream_threshold_mb: float | None) -> int:
    if stream_threshold_mb is not None:
        if stream_threshold_mb < 0:
            from blueprint_pipeline.errors import InvalidInputError

            raise InvalidInputError(f"--stream-threshold-mb must be >= 0, got {stream_threshold_mb:g}")
        return int(stream_threshold_mb * 1024 * 1024)
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.scene.stage import SceneConfig

    return SceneConfig.from_settings(get_settings()).stream_threshold_bytes


def _workers(workers: int | None) -> int:
    if workers is not None:
        if not 0 <= workers <= 8:
            from blueprint_pipeline.errors import InvalidInputError

            raise InvalidInputError(f"--workers must be between 0 and 8, got {workers}")
        return workers
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.scene.stage import SceneConfig

    return SceneConfig.from_settings(get_settings()).workers


_WORKERS = typer.Option(None, "--workers",
                        help="Processes checking a streamed manifest's objects (default BP_INGEST_WORKERS; 0 = one per core).")
_STRICT = typer.Option(False, "--strict", help="Reject unknown keys (with a did-you-mean hint) instead of keeping them under extras.")
_THRESHOLD = typer.Option(None, "--stream-threshold-mb",
                          help="Stream manifests larger than this (default BP_STREAMING_THRESHOLD_MB, 10).")


@app.command()
def validate(
    manifest: str = typer.Argument(..., help="Path or URL of scene_manifest.json."),
    strict: bool = _STRICT,
    stream_threshold_mb: float = _THRESHOLD,
    workers: int = _WORKERS,
) -> None:
    """Check MANIFEST and print a summary, or every problem found (exit 2)."""
    from blueprint_pipeline.scene.ingest import validate_manifest
    from blueprint_pipeline.scene.summary import print_summary

    ingest = validate_manifest(manifest, strict=strict, stream_threshold_bytes=_threshold(stream_threshold_mb),
                               workers=_workers(workers))
    print_summary(ingest, console)


@app.command()
def normalize(
    manifest: str = typer.Argument(..., help="Path or URL of scene_manifest.json."),
    out: str = typer.Option(..., "--out", "-o", help="Output file (JSON Lines: header record, then one object per line)."),
    strict: bool = _STRICT,
    stream_threshold_mb: float = _THRESHOLD,
    workers: int = _WORKERS,
) -> None:
    """Write the normalised scene (z-up, metres, unit quaternions) of MANIFEST to OUT."""
    from blueprint_pipeline.scene.ingest import ManifestIngest
    from blueprint_pipeline.scene.io import write_normalized_streaming

    ingest = ManifestIngest(manifest, strict=strict, stream_threshold_bytes=_threshold(stream_threshold_mb),
                            workers=_workers(workers))
    n = write_normalized_streaming(out, ingest.record_lines(), ingest.header_record)
    for w in ingest.problems.warnings:
        console.print(f"[yellow]warning:[/] {w}", markup=True)
    console.print(f"wrote {n} objects to {out}")


@app.command()
def synth(
    objects: int = typer.Option(..., "--objects", "-n", help="Number of objects (0 to 10,000,000)."),
    seed: int = typer.Option(0, "--seed", min=SEED_MIN, max=SEED_MAX, help="Random seed (same seed, same file)."),
    out: str = typer.Option(..., "--out", "-o", help="Output manifest path."),
    frame: str = typer.Option("z_up", "--frame", help="z_up or y_up."),
) -> None:
    """Write a valid synthetic manifest: furniture with objects resting on it, no overlaps."""
    from blueprint_pipeline.errors import InvalidInputError
    from blueprint_pipeline.scene.synth import write_synthetic_manifest

    if not 0 <= objects <= 10_000_000:
        raise InvalidInputError(f"--objects must be between 0 and 10,000,000, got {objects}")
    if frame not in ("z_up", "y_up"):
        raise InvalidInputError(f"--frame must be z_up or y_up, got {frame!r}")
    n = write_synthetic_manifest(out, objects, seed, frame=frame)
    console.print(f"wrote {n} objects to {out}")
