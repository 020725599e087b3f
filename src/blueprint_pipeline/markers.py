"""Stage markers: `<out>/<stage>/.complete.json` on success, `<out>/<stage>/.failed.json` on
failure. Both are written atomically, coerced to JSON-safe values (no value can make writing a
marker fail) and redacted of every registered secret.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import importlib.metadata
import math
import os
import platform
import socket
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from blueprint_pipeline import storage
from blueprint_pipeline.errors import BlueprintError, ErrorCategory
from blueprint_pipeline.secrets.redact import redact

COMPLETE = ".complete.json"
FAILED = ".failed.json"
RUNNING = ".running.json"
MARKER_VERSION = 1
_MAX_DEPTH = 12
_MAX_ITEMS = 1000

RECOMMENDATIONS: dict[str, list[str]] = {
    ErrorCategory.INVALID_INPUT: [
        "Fix the input named in the message (the manifest field or command-line option), then rerun.",
        "Run `blueprint validate` on the manifest to list every problem at once.",
    ],
    ErrorCategory.TRANSIENT: [
        "Rerun later: the failure looked temporary (network, rate limit, service unavailable).",
        "If it persists, lower BP_RATE_LIMIT_PER_S or raise BP_CALL_DEADLINE_S.",
        "Completed items are journaled; a rerun resumes where this one stopped.",
    ],
    ErrorCategory.TIMEOUT: [
        "A task exceeded its deadline or stopped reporting progress and was killed.",
        "On a busy machine, rerun with fewer workers (--workers); finished items are kept.",
        "If the task hangs every time, the failed items below say which input to look at.",
    ],
    ErrorCategory.DEPENDENCY: [
        ("A service, package or secret is missing or refused the request: check credentials "
         "(<NAME>, <NAME>_FILE or Secret Manager) and installed extras."),
        "HTTP 401/403: the key is wrong or lacks permission; 404: the endpoint or model name is wrong.",
    ],
    ErrorCategory.ENVIRONMENT: [
        ("The machine, not the input, failed: a full disk, a permission denied, a worker killed "
         "(out of memory?) or an interrupt. The message names the errors."),
        "Free disk space or fix permissions, then rerun the same command: finished items are kept "
        "and the failed ones run again (the stage was not marked complete).",
    ],
    ErrorCategory.BELOW_THRESHOLD: [
        ("The stage ran, but too few of its items succeeded; partial_results and the stage's "
         "summary give the failure reasons per item."),
        "Look at the most common failure reason first (the report lists them); `--keep-failed` "
        "writes failed episodes too, labelled, for inspection.",
        "BP_MIN_SUCCESS_RATE sets the threshold; lower it only if the failures are understood.",
    ],
    ErrorCategory.INTERNAL: [
        "This looks like a bug: rerun with BP_DEBUG=1 and report the traceback in this marker.",
        "Rerun the stage alone with `blueprint run MANIFEST --out DIR --only STAGE --force`.",
    ],
}


def json_safe(value: Any, _depth: int = 0) -> Any:
    """A JSON-serialisable copy of `value`: paths and enums become strings, numpy values their
    Python equivalents, NaN/inf strings, dataclasses and pydantic models dicts, anything else
    its repr. Never raises."""
    try:
        return _json_safe(value, _depth)
    except Exception as exc:  # noqa: BLE001 - a marker must always be writable
        return f"<unserialisable {type(value).__name__}: {type(exc).__name__}>"


def _json_safe(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_DEPTH:
        return f"<{type(value).__name__} nested too deep>"
    if isinstance(value, enum.Enum):
        return json_safe(value.value, depth + 1)
    if isinstance(value, (PurePath, dt.date, dt.time, dt.timedelta)):
        return value.isoformat() if isinstance(value, (dt.date, dt.time)) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if type(value).__name__ == "SecretStr":
        return "***"
    if hasattr(value, "model_dump"):  # pydantic
        return json_safe(value.model_dump(mode="json"), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array
        return json_safe(value.tolist(), depth + 1)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, Mapping):
        items = list(value.items())[:_MAX_ITEMS]
        return {str(k): json_safe(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        return [json_safe(v, depth + 1) for v in seq[:_MAX_ITEMS]]
    return repr(value)


def redact_tree(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k): redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    return value


@functools.cache
def package_version() -> str:
    try:
        return importlib.metadata.version("blueprint-pipeline")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def package_source_digest() -> str:
    """sha256 over the package's own files (path and bytes, sorted by path; compiled caches left
    out): part of every stage's fingerprint (runner.fingerprint). The version alone does not
    change when a checkout or an editable install gets new code, and a rerun would then reuse
    results the old code made. About 2 MB, read once per process."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix not in (".pyc", ".pyo")):
        h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    out = {"blueprint-pipeline": package_version(), "python": platform.python_version()}
    for dist in ("numpy", "pydantic", "usd-core", "mujoco", "pyarrow", "av"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return tuple(out.items())


def versions() -> dict[str, str]:
    """Versions of the package, Python and the libraries that shape outputs (cached: scanning
    installed distributions takes a noticeable fraction of a second)."""
    return dict(_versions())


_CLOUD_RUN_VARS = ("K_SERVICE", "K_REVISION", "K_CONFIGURATION", "CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION",
                   "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_ATTEMPT", "CLOUD_RUN_TASK_COUNT")
_K8S_VARS = ("POD_NAME", "POD_NAMESPACE", "NODE_NAME", "JOB_NAME", "JOB_COMPLETION_INDEX")


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        "host": socket.gethostname(), "pid": os.getpid(), "python": sys.version.split()[0],
        "platform": platform.platform(), "package_version": package_version(),
    }
    cloud_run = {k: os.environ[k] for k in _CLOUD_RUN_VARS if k in os.environ}
    if cloud_run:
        env["cloud_run"] = cloud_run
    if "KUBERNETES_SERVICE_HOST" in os.environ:
        k8s = {k.lower(): os.environ[k] for k in _K8S_VARS if k in os.environ}
        k8s.setdefault("pod_name", os.environ.get("HOSTNAME", ""))
        env["kubernetes"] = k8s
    return env


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def write_marker(out_url: str, stage: str, name: str, body: dict[str, Any]) -> str:
    url = storage.join(out_url, stage, name)
    doc = redact_tree(json_safe({"marker_version": MARKER_VERSION, "stage": stage, **body}))
    storage.atomic_write_json(url, doc)
    return url


def read_marker(out_url: str, stage: str, name: str) -> dict[str, Any] | None:
    """The marker's contents, or None if absent or unreadable (a damaged marker means 'rerun')."""
    url = storage.join(out_url, stage, name)
    try:
        doc = storage.read_json(url) if storage.exists(url) else None
    except (ValueError, OSError):
        return None
    return doc if isinstance(doc, dict) and doc.get("marker_version") == MARKER_VERSION else None


def remove_marker(out_url: str, stage: str, name: str) -> None:
    storage.remove(storage.join(out_url, stage, name))


def failure_body(exc: BaseException, *, scene_id: str | None, parameters: Any, fingerprint: Any,
                 attempt: int, started_at: str, seconds: float) -> dict[str, Any]:
    category = exc.category if isinstance(exc, BlueprintError) else ErrorCategory.INTERNAL
    partial = getattr(exc, "partial", None)
    problems = [str(p) for p in getattr(exc, "problems", [])]
    return {
        "status": "failed",
        "error_type": type(exc).__name__,
        "category": str(category),
        "message": str(exc),
        "problems": problems,
        "traceback": "".join(traceback.format_exception(exc)),
        "scene_id": scene_id,
        "parameters": parameters,
        "fingerprint": fingerprint,
        "partial_results": partial,
        "environment": environment(),
        "versions": versions(),
        "attempt": attempt,
        "started_at": started_at,
        "failed_at": now_iso(),
        "seconds": round(seconds, 3),
        "recommendations": RECOMMENDATIONS[category],
    }
