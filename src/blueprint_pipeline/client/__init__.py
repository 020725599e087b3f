"""Client of the generation service: resilient calls, idempotent submits, verified downloads
and safe archive extraction (`blueprint submit/status/wait/download/cancel`)."""

from blueprint_pipeline.client.api import (
           ClientTimeouts,
           JobFailedError,
           ServiceClient,
           check_job_id,
)
from blueprint_pipeline.archive import (
           ArchiveLimits,
           UnsafeArchiveError,
           safe_extract,
)

__all__ = ["ArchiveLimits", "ClientTimeouts", "JobFailedError", "ServiceClient", "UnsafeArchiveError",
           "check_job_id", "safe_extract"]
