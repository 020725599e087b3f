"""Client of the generation service. Every request goes through a `CallPolicy` (rate limit per
attempt -> circuit breaker -> retry of transient failures with Retry-After honoured, inside an
overall deadline; the default policy, and the CLI's, wait for an open breaker's probe when the
deadline allows instead of failing fast). Submits carry an Idempotency-Key, so a retried POST
whose first answer was lost returns the job the first attempt created instead of creating a
second one.

    client = ServiceClient("http://127.0.0.1:8080", api_key)
    job = client.submit("examples/kitchen.json", episodes=20)
    job = client.wait(job["id"])
    client.download(job["id"], "out/kitchen")
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from blueprint_pipeline.archive import ArchiveLimits, safe_extract
from blueprint_pipeline.errors import DependencyError, InvalidInputError, TransientError
from blueprint_pipeline.resilience.errors import (
    RequestRejectedError,
    TransientHTTPError,
)
from blueprint_pipeline.resilience.policy import (
    TRANSIENT_STATUSES,
    CallPolicy,
    parse_retry_after,
)

TERMINAL_STATES = ("succeeded", "failed", "canceled")
# Requests are paced this much below the configured rate limit: permits are spaced exactly
# 1/rate apart, and scheduling jitter between taking a permit and the request reaching the
# service could otherwise put one request too many into some 1 s window there.
PACING = 0.95


def paced_rate(limit_per_s: float) -> float:
    """The pacing rate that keeps the rate seen by the service within `limit_per_s`."""
    return limit_per_s * PACING
SHA256_HEADER = "X-Content-SHA256"
_JOB_ID_CHARS = set("0123456789abcdef")


class JobFailedError(DependencyError):
    """The job ended failed or cancelled."""


@dataclass(frozen=True)
class ClientTimeouts:
    """Seconds: per attempt (connect + read), and overall for `wait`."""

    request_s: float = 30.0
    connect_s: float = 5.0
    wait_s: float = 6 * 3600.0
    poll_min_s: float = 1.0
    poll_max_s: float = 30.0


def check_job_id(job_id: str) -> str:
    """Refuse ids that are not 32 lowercase hex characters before they reach a URL or a path."""
    if len(job_id) != 32 or not set(job_id) <= _JOB_ID_CHARS:
        raise InvalidInputError(f"invalid job id {job_id!r}: expected 32 lowercase hex characters")
    return job_id


class ServiceClient:
    def __init__(self, base_url: str, api_key: str, *, policy: CallPolicy | None = None,
                 timeouts: ClientTimeouts = ClientTimeouts(), transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidInputError(f"--server must be an http(s) URL, got {base_url!r}")
        if not api_key:
            raise InvalidInputError("no API key: set BP_API_KEY or BP_API_KEY_FILE (or a Secret Manager secret)")
        self.base_url = str(url).rstrip("/")
        self.policy = policy or CallPolicy(f"service:{url.host}:{url.port or ''}", wait_for_breaker=True)
        self.timeouts = timeouts
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, follow_redirects=False,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "blueprint-client"},
            timeout=httpx.Timeout(timeouts.request_s, connect=timeouts.connect_s))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------

    def submit(self, scene: str | Path, *, robot: str = "franka", episodes: int | None = None,
               render: bool = False, seed: int = 0, idempotency_key: str | None = None,
               image_size: int = 128, visual_randomization: bool = True, shadows: bool = False) -> dict[str, Any]:
        """Upload a manifest (.json) or a bundle (.tar.gz); returns the job."""
        path = Path(scene)
        if not path.is_file():
            raise InvalidInputError(f"{scene}: no such file")
        body = path.read_bytes()
        name = path.name.lower()
        if name.endswith((".tar.gz", ".tgz")):
            content_type = "application/gzip"
        elif name.endswith(".json"):
            content_type = "application/json"
        else:
            raise InvalidInputError(f"{scene}: expected a scene manifest (.json) or a bundle (.tar.gz)")
        params: dict[str, Any] = {"robot": robot, "render": str(render).lower(), "seed": seed,
                                  "image_size": image_size,
                                  "visual_randomization": str(visual_randomization).lower(),
                                  "shadows": str(shadows).lower()}
        if episodes is not None:
            params["episodes"] = episodes
        key = idempotency_key or uuid.uuid4().hex  # one key for every retry of this submit
        r = self._request("POST", "/v1/jobs", params=params, content=body,
                          headers={"Content-Type": content_type, "Idempotency-Key": key})
        return r.json()

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        """This key's jobs, newest first."""
        return self._request("GET", "/v1/jobs", params={"limit": limit}).json()["jobs"]

    def status(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/jobs/{check_job_id(job_id)}").json()

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/jobs/{check_job_id(job_id)}/cancel").json()

    def wait(self, job_id: str, *, on_update: Callable[[dict[str, Any]], None] = lambda job: None) -> dict[str, Any]:
        """Poll with backoff (1 s doubling to 30 s) until the job ends or the wait deadline passes.
        Returns the job if it succeeded; raises JobFailedError otherwise."""
        check_job_id(job_id)
        deadline = time.monotonic() + self.timeouts.wait_s
        delay_s = self.timeouts.poll_min_s
        last_progress = None
        while True:
            job = self.status(job_id)
            on_update(job)
            if job["state"] in TERMINAL_STATES:
                break
            if job.get("progress") != last_progress:  # moving: poll again soon
                last_progress, delay_s = job.get("progress"), self.timeouts.poll_min_s
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise TransientError(
                    f"job {job_id} still {job['state']} after waiting {self.timeouts.wait_s:g} s; "
                    f"run `blueprint wait {job_id}` to keep waiting")
            self._sleep(min(delay_s, left_s))
            delay_s = min(delay_s * 2, self.timeouts.poll_max_s)
        if job["state"] != "succeeded":
            why = job.get("error") or "no reason given"
            raise JobFailedError(f"job {job_id} {job['state']}: {why}")
        return job

    def download(self, job_id: str, out_dir: str | Path, limits: ArchiveLimits | None = None) -> list[str]:
        """Stream the result to a temporary file, check its sha256, extract it safely into
        `out_dir` (new or empty) in one rename. Returns the files written (relative)."""
        check_job_id(job_id)
        out_dir = Path(out_dir)
        if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
            raise InvalidInputError(f"{out_dir}: exists and is not an empty folder")
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out_dir.name}.download-", suffix=".tar.gz", dir=out_dir.parent)
        os.close(fd)
        try:
            self.policy.call(lambda: self._fetch_to(f"/v1/jobs/{job_id}/result", Path(tmp)))
            return safe_extract(tmp, out_dir, limits or ArchiveLimits())
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    # -- internals ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.policy.request(self._http, method, path, **kwargs)

    def _fetch_to(self, path: str, dest: Path) -> None:
        """One attempt at streaming a result into `dest` and checking its sha256 (a mismatch is
        transient: the next attempt downloads it again)."""
        with self._http.stream("GET", path) as r:
            if r.status_code >= 400:
                r.read()
                _raise_for_status(r)
            expected = r.headers.get(SHA256_HEADER, "")
            if len(expected) != 64:
                raise DependencyError(f"the server sent no valid {SHA256_HEADER} header")
            digest = hashlib.sha256()
            with open(dest, "wb") as f:
                for chunk in r.iter_bytes(1 << 20):
                    f.write(chunk)
                    digest.update(chunk)
        if digest.hexdigest() != expected:
            raise TransientError(f"download of {path} is corrupt: sha256 {digest.hexdigest()} "
                                 f"!= {expected} announced by the server")


def _raise_for_status(r: httpx.Response) -> None:
    """The policy's classification for a response read outside `CallPolicy.request`."""
    if r.status_code in TRANSIENT_STATUSES:
        raise TransientHTTPError(f"HTTP {r.status_code} from {r.request.method} {r.request.url.path}",
                                 r.status_code, parse_retry_after(r.headers.get("Retry-After")))
    raise RequestRejectedError(f"HTTP {r.status_code} {r.reason_phrase} from {r.request.method} "
                               f"{r.request.url.path}: {r.text[:200]}", r.status_code)
