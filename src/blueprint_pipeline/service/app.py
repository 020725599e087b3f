"""The HTTP API (FastAPI). Every endpoint but /healthz needs `Authorization: Bearer <key>`.

    POST /v1/jobs                  submit a scene (JSON manifest or tar.gz bundle as the body)
    GET  /v1/jobs                  your jobs, newest first
    GET  /v1/jobs/{id}             status, progress, counts, error
    GET  /v1/jobs/{id}/result      dataset/ + report/ as tar.gz, sha256 in X-Content-SHA256
    POST /v1/jobs/{id}/cancel      cancel a queued or running job
    GET  /healthz                  liveness (no key)
    GET  /metrics                  Prometheus text format
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.contract import RunOptions
from blueprint_pipeline.secrets.redact import redact
from blueprint_pipeline.service import job_process
from blueprint_pipeline.service.auth import KeyRateLimiter
from blueprint_pipeline.service.config import ServiceConfig
from blueprint_pipeline.service.faults import FaultInjector
from blueprint_pipeline.service.ids import is_valid_job_id, new_job_id
from blueprint_pipeline.service.inputs import input_kind, prepare_input
from blueprint_pipeline.service.metrics import (
    CONTENT_TYPE,
    RequestCounter,
    ServiceMetrics,
)
from blueprint_pipeline.service.store import (
    CANCELED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Job,
    JobStore,
)
from blueprint_pipeline.service.worker import JobManager

log = logging.getLogger("blueprint.service")

IDEMPOTENCY_HEADER = "Idempotency-Key"
SHA256_HEADER = "X-Content-SHA256"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_ROBOT = r"^[a-z0-9_]{1,32}$"


def create_app(config: ServiceConfig) -> FastAPI:
    data_dir = config.data_dir
    jobs_dir, uploads_dir = data_dir / "jobs", data_dir / "uploads"
    for d in (jobs_dir, uploads_dir):
        d.mkdir(parents=True, exist_ok=True)
    store = JobStore(data_dir / "jobs.sqlite3")
    manager = JobManager(store, jobs_dir, config.worker)
    keys = config.key_ring()
    limiter = KeyRateLimiter(config.rate_limit_per_s, config.rate_burst)
    metrics = ServiceMetrics(store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        _remove_leftovers(store, jobs_dir, uploads_dir)
        manager.start()
        try:
            yield
        finally:
            manager.stop()
            store.close()

    app = FastAPI(title="blueprint-pipeline generation service", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store, app.state.manager, app.state.config = store, manager, config
    if config.faults is not None:
        app.add_middleware(FaultInjector, config=config.faults,
                           on_fault=lambda kind: metrics.faults.labels(kind).inc())
    app.add_middleware(RequestCounter, metrics=metrics)

    def api_key(request: Request) -> str:
        """The caller's key id, after the per-key rate limit."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        kid = keys.identify(token.strip() if scheme.lower() == "bearer" else None)
        if kid is None:
            raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
        wait_s = limiter.acquire(kid)
        if wait_s > 0:
            raise HTTPException(429, f"rate limit of {config.rate_limit_per_s:g} requests/s per key exceeded",
                                headers={"Retry-After": str(max(1, math.ceil(wait_s)))})
        return kid

    def own_job(job_id: str, owner: str) -> Job:
        if not is_valid_job_id(job_id):
            raise HTTPException(400, "invalid job id (expected 32 lowercase hex characters)")
        job = store.get(job_id)
        if job is None or job.owner != owner:
            raise HTTPException(404, "no such job")
        return job

    @app.exception_handler(InvalidInputError)
    async def invalid_input(_request: Request, exc: InvalidInputError) -> JSONResponse:
        return JSONResponse({"detail": redact(exc.args[0] if exc.args else "invalid input"),
                             "problems": [redact(str(p)) for p in exc.problems]}, status_code=422)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def prometheus(_owner: str = Depends(api_key)) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.post("/v1/jobs", status_code=201)
    async def submit(
        request: Request,
        owner: str = Depends(api_key),
        robot: str = Query("franka", pattern=_ROBOT),
        episodes: int | None = Query(None, le=100_000),
        render: bool = Query(False),
        seed: int = Query(0),
        image_size: int = Query(128),
        visual_randomization: bool = Query(True),
        shadows: bool = Query(False),
    ) -> JSONResponse:
        # checked now (422), not in a job that fails after four stages; the same rules as the CLI's
        options = RunOptions.create(robot=robot, episodes=episodes, render=render, seed=seed, prefix="",
                                    image_size=image_size, visual_randomization=visual_randomization,
                                    shadows=shadows)
        kind = input_kind(request.headers.get("content-type"))
        if kind is None:
            raise HTTPException(415, "body must be a scene manifest (application/json) "
                                     "or a bundle (application/gzip)")
        idem = request.headers.get(IDEMPOTENCY_HEADER)
        if idem is not None and not _IDEMPOTENCY_KEY.fullmatch(idem):
            raise HTTPException(400, f"{IDEMPOTENCY_HEADER} must be 1-128 characters of A-Z a-z 0-9 _ . : -")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > config.max_upload_bytes:
            raise HTTPException(413, f"upload larger than the limit of {config.max_upload_bytes} bytes")
        params = {"robot": options.robot, "episodes": options.episodes, "render": options.render,
                  "seed": options.seed, "image_size": options.image_size,
                  "visual_randomization": options.visual_randomization, "shadows": options.shadows}
        upload, digest = await _receive_upload(request, uploads_dir, config.max_upload_bytes)
        digest.update(json.dumps(params, sort_keys=True).encode())
        digest.update(kind.encode())
        job, created = await run_in_threadpool(
            _create_job, store, jobs_dir, config, owner, idem, digest.hexdigest(), upload, kind, params)
        headers = {"Location": f"/v1/jobs/{job.id}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(job.public(), status_code=201 if created else 200, headers=headers)

    @app.get("/v1/jobs")
    def list_jobs(owner: str = Depends(api_key), limit: int = Query(50, ge=1, le=500)) -> dict:
        return {"jobs": [j.public() for j in store.list_for_owner(owner, limit)]}

    @app.get("/v1/jobs/{job_id}")
    def status(job_id: str, owner: str = Depends(api_key)) -> dict:
        return own_job(job_id, owner).public()

    @app.get("/v1/jobs/{job_id}/result")
    def result(job_id: str, owner: str = Depends(api_key)) -> Response:
        job = own_job(job_id, owner)
        if job.state != SUCCEEDED or not job.result_sha256:
            raise HTTPException(409, f"job is {job.state}; a result exists only for a succeeded job")
        path = jobs_dir / job.id / job_process.RESULT_FILE
        return FileResponse(path, media_type="application/gzip", filename=f"{job.id}.tar.gz",
                            headers={SHA256_HEADER: job.result_sha256})

    @app.post("/v1/jobs/{job_id}/cancel")
    def cancel(job_id: str, owner: str = Depends(api_key)) -> JSONResponse:
        job = own_job(job_id, owner)
        if job.state == CANCELED:
            return JSONResponse(job.public(), status_code=200)
        if job.state not in (QUEUED, RUNNING):
            raise HTTPException(409, f"job already {job.state}; nothing to cancel")
        store.update(job.id, cancel_requested=1)
        if not store.transition(job.id, QUEUED, state=CANCELED, finished_at=time.time(), error="cancelled"):
            log.info("job %s: cancel requested while running", job.id)
        job = store.get(job.id)
        assert job is not None
        return JSONResponse(job.public(), status_code=200 if job.state == CANCELED else 202)

    return app


async def _receive_upload(request: Request, uploads_dir: Path, max_bytes: int) -> tuple[Path, Any]:
    """Stream the body to a file in the data folder, enforcing the size limit as bytes arrive."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix="upload-", dir=uploads_dir)
    size = 0
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise HTTPException(413, f"upload larger than the limit of {max_bytes} bytes")
                digest.update(chunk)
                f.write(chunk)
        if size == 0:
            raise HTTPException(400, "empty body: send the scene manifest or bundle as the request body")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), digest


def _create_job(store: JobStore, jobs_dir: Path, config: ServiceConfig, owner: str, idem: str | None,
                request_sha256: str, upload: Path, kind: str, params: dict) -> tuple[Job, bool]:
    """Create the job, or return the one this Idempotency-Key already created: (job, created)."""
    try:
        if idem:
            existing = _replay(store, owner, idem, request_sha256)
            if existing:
                return existing, False
        job_id = new_job_id()
        job_dir = jobs_dir / job_id
        job_dir.mkdir()
        try:
            options = job_process.run_options(params)
            prepared = prepare_input(upload, kind, job_dir, options, config.bundle_limits)
            output_url = storage.join(config.output_url, job_id) if config.output_url else None
            (job_dir / job_process.JOB_FILE).write_text(json.dumps(
                {"manifest": prepared.manifest_rel, "params": params, "out_url": output_url}))
            now = time.time()
            job = Job(id=job_id, owner=owner, idempotency_key=idem, request_sha256=request_sha256,
                      state=QUEUED, scene_id=prepared.scene_id, input_kind=kind, params=params,
                      created_at=now, updated_at=now, output_url=output_url)
            store.insert(job)
            return job, True
        except sqlite3.IntegrityError:
            # A concurrent retry with the same key won the race: answer with its job.
            shutil.rmtree(job_dir, ignore_errors=True)
            existing = _replay(store, owner, idem or "", request_sha256)
            if existing is None:
                raise
            return existing, False
        except InvalidInputError as exc:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise _without_paths(exc, job_dir) from None
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
    finally:
        upload.unlink(missing_ok=True)


def _without_paths(exc: InvalidInputError, job_dir: Path) -> InvalidInputError:
    """The same problems, with this machine's job folder cut out of the text (callers need
    `input/scene_manifest.json`, not where the service keeps it)."""
    prefix = f"{job_dir}/"

    def cut(text: str) -> str:
        return text.replace(prefix, "").replace(" (details in out/scene/.failed.json)", "")

    message = cut(exc.args[0]) if exc.args else "invalid input"
    problems = [Problem(cut(p.path), cut(p.message)) for p in exc.problems]
    return InvalidInputError(message, problems, exc.omitted)


def _replay(store: JobStore, owner: str, idem: str, request_sha256: str) -> Job | None:
    existing = store.find_by_idempotency_key(owner, idem)
    if existing is not None and existing.request_sha256 != request_sha256:
        raise HTTPException(422, f"{IDEMPOTENCY_HEADER} was already used for a different request")
    return existing


def _remove_leftovers(store: JobStore, jobs_dir: Path, uploads_dir: Path) -> None:
    """Remove uploads and job folders that a crash left without a job record."""
    for p in uploads_dir.iterdir():
        p.unlink(missing_ok=True) if p.is_file() else shutil.rmtree(p, ignore_errors=True)
    known = store.all_ids()
    for p in jobs_dir.iterdir():
        if p.is_dir() and p.name not in known:
            shutil.rmtree(p, ignore_errors=True)
