"""The service's configuration, built from `BP_SERVICE_*` settings (or directly, in tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blueprint_pipeline.archive import ArchiveLimits
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.service.auth import KeyRing, hash_key
from blueprint_pipeline.service.faults import FaultConfig
from blueprint_pipeline.service.worker import WorkerSettings

SERVICE_KEY_SECRET = "BP_SERVICE_API_KEY"


@dataclass(frozen=True)
class ServiceConfig:
    data_dir: Path
    api_key_hashes: tuple[str, ...]
    output_url: str | None = None  # jobs write <output_url>/<job id>/; None: <data_dir>/jobs/<job id>/out
    max_upload_bytes: int = 64 * 1024**2
    rate_limit_per_s: float = 20.0  # per API key
    rate_burst: int | None = None  # default: one second's worth
    faults: FaultConfig | None = None
    header_timeout_s: float = 10.0  # a connection's request line and headers must arrive within this
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    bundle_limits: ArchiveLimits = field(default_factory=ArchiveLimits)

    def key_ring(self) -> KeyRing:
        return KeyRing(self.api_key_hashes)

    @classmethod
    def from_settings(cls, settings: Any, data_dir: str | None = None) -> ServiceConfig:
        """From `blueprint_pipeline.config.Settings`; keys are the configured hashes plus the hash
        of `BP_SERVICE_API_KEY` if the secrets resolver finds it (Secret Manager, file or env)."""
        hashes = [h for h in (settings.service_api_key_hashes or "").split(",") if h.strip()]
        plain = _resolve_service_key(settings)
        if plain:
            hashes.append(hash_key(plain))
        if not hashes:
            raise InvalidInputError(
                "no API keys configured: set BP_SERVICE_API_KEY_HASHES (sha256 hex of each key, "
                "comma-separated; `blueprint serve --hash-key` prints one) or BP_SERVICE_API_KEY "
                "(or BP_SERVICE_API_KEY_FILE, or a Secret Manager secret of that name)")
        try:
            KeyRing(hashes)
        except ValueError as exc:
            raise InvalidInputError(f"BP_SERVICE_API_KEY_HASHES: {exc}") from None
        faults = FaultConfig.parse(settings.service_faults) if settings.service_faults else None
        bundle_mb = settings.service_max_bundle_expanded_mb
        return cls(
            data_dir=Path(data_dir or settings.service_data_dir).expanduser().resolve(),
            api_key_hashes=tuple(hashes),
            output_url=_output_url(settings.service_output_url),
            max_upload_bytes=int(settings.service_max_upload_mb * 1024**2),
            rate_limit_per_s=settings.service_rate_limit_per_s,
            faults=faults,
            header_timeout_s=settings.service_header_timeout_s,
            worker=WorkerSettings(max_concurrent_jobs=settings.service_max_concurrent_jobs,
                                  episode_workers=settings.workers,
                                  max_attempts=settings.service_max_job_attempts,
                                  stage_pause_s=faults.stage_pause_s if faults else 0.0),
            bundle_limits=ArchiveLimits(max_total_bytes=int(bundle_mb * 1024**2)),
        )


def _output_url(url: str | None) -> str | None:
    """BP_SERVICE_OUTPUT_URL checked at start-up: a bucket URL or an absolute folder, no '..'."""
    if not url or not url.strip():
        return None
    url = url.strip().rstrip("/")
    if ".." in url.split("/"):
        raise InvalidInputError(f"BP_SERVICE_OUTPUT_URL: must not contain '..': {url!r}")
    if "://" not in url and not Path(url).expanduser().is_absolute():
        raise InvalidInputError(f"BP_SERVICE_OUTPUT_URL: a bucket URL (s3://, gs://) or an absolute folder, got {url!r}")
    return url if "://" in url else str(Path(url).expanduser())


def _resolve_service_key(settings: Any) -> str | None:
    """BP_SERVICE_API_KEY through the secrets resolver; None when no source holds it (any other
    failure, e.g. Secret Manager refusing us, is an error, never a silent fallback)."""
    from blueprint_pipeline.secrets.resolver import SecretNotFoundError, get_secret

    try:
        return get_secret(SERVICE_KEY_SECRET, settings=settings)
    except SecretNotFoundError:
        return None
