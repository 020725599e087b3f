"""Resolve a secret by name, in this order:

1. Google Secret Manager (`projects/<project>/secrets/<NAME>/versions/latest`), when the optional
   `google-cloud-secret-manager` package is installed; the project comes from
   GOOGLE_CLOUD_PROJECT or application default credentials.
2. The file named by the environment variable `<NAME>_FILE` (a mounted Kubernetes or Docker
   secret); one trailing newline is dropped.
3. The environment variable `<NAME>`.

With BP_SECRETS_REQUIRE_MANAGER=true only the first source is allowed and its absence is an
error. "Not found" falls through to the next source; any other Secret Manager failure (refused,
unreachable) is an error, never a silent fallback to plaintext. Values are cached for
BP_SECRET_TTL_S seconds so rotation is picked up, and each one is registered for redaction.
Errors name the secret and the sources tried, never the value.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any

from blueprint_pipeline.errors import DependencyError
from blueprint_pipeline.secrets.redact import register_secret

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")

_clock = time.monotonic  # replaced in tests
_cache: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


class SecretNotFoundError(DependencyError):
    """No source holds the secret (or the only allowed source does not)."""


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def get_secret(name: str, *, settings: Any = None) -> str:
    """The secret's value (see the module docstring for the order of sources)."""
    if not _NAME.match(name or ""):
        raise ValueError(f"invalid secret name {name!r}")
    if settings is None:
        from blueprint_pipeline.config import get_settings

        settings = get_settings()
    now = _clock()
    with _lock:
        hit = _cache.get(name)
        if hit is not None and hit[1] > now:
            return hit[0]
    value, source = _resolve(name, bool(settings.secrets_require_manager))
    register_secret(value)
    log.debug("secret %s resolved from %s", name, source)
    with _lock:
        _cache[name] = (value, now + float(settings.secret_ttl_s))
    return value


def _resolve(name: str, require_manager: bool) -> tuple[str, str]:
    tried: list[str] = []
    value = _from_secret_manager(name, require_manager, tried)
    if value is not None:
        return value, "Secret Manager"
    if require_manager:
        raise SecretNotFoundError(
            f"secret {name} not found in Google Secret Manager ({'; '.join(tried)}), and "
            "BP_SECRETS_REQUIRE_MANAGER=true forbids the file and environment fallbacks")
    file_var = f"{name}_FILE"
    path = os.environ.get(file_var)
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise SecretNotFoundError(
                f"secret {name}: {file_var} names {path}, which cannot be read ({exc.strerror})") from None
        value = text.removesuffix("\n")
        if not value:
            raise SecretNotFoundError(f"secret {name}: the file named by {file_var} ({path}) is empty")
        return value, f"file {file_var}"
    tried.append(f"{file_var} (not set)")
    value = os.environ.get(name)
    if value:
        return value, f"environment {name}"
    tried.append(f"environment {name} (not set)")
    raise SecretNotFoundError(f"secret {name} not found; tried: {'; '.join(tried)}")


def _from_secret_manager(name: str, required: bool, tried: list[str]) -> str | None:
    try:
        from google.api_core import exceptions as gexc  # type: ignore[import-not-found]
        from google.cloud import secretmanager  # type: ignore[import-not-found]
    except ImportError:
        if required:
            raise DependencyError(
                f"secret {name}: BP_SECRETS_REQUIRE_MANAGER=true but google-cloud-secret-manager "
                "is not installed (pip install 'blueprint-pipeline[cloud]')") from None
        tried.append("Secret Manager (google-cloud-secret-manager not installed)")
        return None
    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or _adc_project()
    if not project:
        tried.append("Secret Manager (no project: set GOOGLE_CLOUD_PROJECT)")
        return None
    resource = f"projects/{project}/secrets/{name}/versions/latest"
    try:
        client = secretmanager.SecretManagerServiceClient()
        response = client.access_secret_version(name=resource, timeout=10.0)
    except gexc.NotFound:
        tried.append(f"Secret Manager ({resource} not found)")
        return None
    except Exception as exc:  # noqa: BLE001 - refused/unreachable: an error, never a fallback
        raise DependencyError(
            f"secret {name}: Secret Manager failed for {resource} ({type(exc).__name__}); "
            "not falling back to files or environment") from None
    return response.payload.data.decode("utf-8")


def _adc_project() -> str | None:
    try:
        import google.auth  # type: ignore[import-not-found]

        _, project = google.auth.default()
    except Exception:  # noqa: BLE001 - no credentials: the source is unavailable
        return None
    return project
