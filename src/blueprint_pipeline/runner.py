"""Runs the pipeline's stages in order, writing success and failure markers.

For each selected stage (all, `from_stage` onwards, or `only` one):
1. Fingerprint its inputs: sha256 of the manifest (if it reads it), of the asset files the
   scene's objects name (if it reads them: `simready.meshes.assets_digest`), and of each declared
   upstream path (a file, or a folder's files), plus the run options that change outputs and
   the package version. A missing input is invalid input naming the stage to run first.
2. Skip it if `<out>/<stage>/.complete.json` holds the same fingerprint and its outputs still
   hold the bytes it recorded (unless `force`): same size, and the same stat key (size, mtime,
   inode) or else the same sha256 (`output_unchanged`), so an edit of an output reruns the stage.
3. Otherwise run it, with `ctx.input_digest` (the fingerprint's sha256) and `ctx.force` set. A
   journal under `<out>/<stage>/.journal/` is kept only if it was written against the same
   fingerprint (so a crashed or killed stage resumes), else cleared; stages that keep their own
   resumable items key them by `input_digest`.
4. On success write `.complete.json` (inputs with sha256, outputs with size and sha256,
   timings, versions, options) and remove `.failed.json`; on any error write `.failed.json`
   (see `markers.failure_body`), redact the exception's text, and re-raise: later stages
   do not run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blueprint_pipeline import markers, pipeline, storage
from blueprint_pipeline.contract import (
    ASSETS_INPUT,
    MANIFEST_INPUT,
    ROBOT_MODEL_INPUT,
    SCENE_NORMALIZED,
    StageContext,
    StageResult,
)
from blueprint_pipeline.errors import InternalError, InvalidInputError
from blueprint_pipeline.pipeline import Stage
from blueprint_pipeline.resilience.journal import JOURNAL_FOLDER
from blueprint_pipeline.secrets.redact import redact
from blueprint_pipeline.storage.lock import OutputLock

log = logging.getLogger(__name__)

# Options that change how fast a stage runs but not what it writes: not part of fingerprints.
_NON_OUTPUT_OPTIONS = frozenset({"workers", "executor"})
# Settings that change no stage's outputs (the others are named by the stages that read them,
# pipeline.Stage.settings, and are part of those stages' fingerprints): how a run logs, retries,
# paces and parallelises its work, where caches and the service live, secrets; the asset root is
# covered by the `@assets` input (the bytes of the files found there); min_success_rate is the
# episodes stage's pass mark, not its output (a lower mark on a rerun of a failed stage resumes
# its journal; a completed stage is not judged again).
SETTINGS_NOT_IN_OUTPUTS = frozenset({
    "debug", "log_json", "log_level", "rate_limit_per_s", "breaker_failures", "breaker_recovery_s", "retry_base_s",
    "retry_max_wait_s", "call_deadline_s", "min_success_rate", "workers", "object_workers", "episode_deadline_factor",
    "streaming_threshold_mb", "ingest_workers", "asset_root", "mesh_cache_dir", "dataset_stall_timeout_s",
    "storage_options_json", "lock_lease_s", "service_url", "service_data_dir", "service_output_url",
    "service_api_key_hashes", "service_max_upload_mb", "service_max_bundle_expanded_mb", "service_rate_limit_per_s",
    "service_max_concurrent_jobs", "service_max_job_attempts", "service_faults", "service_header_timeout_s",
    "secrets_require_manager", "secret_ttl_s"})


@dataclass
class StageOutcome:
    stage: str
    status: str  # "ok" | "skipped" | "failed"
    result: StageResult | None
    seconds: float
    marker_url: str | None = None


def select_stages(from_stage: str | None = None, only: str | None = None) -> list[Stage]:
    stages = list(pipeline.STAGES)
    names = [s.name for s in stages]
    for option, n in (("--from", from_stage), ("--only", only)):
        if n is not None and n not in names:
            raise InvalidInputError(f"{option}: unknown stage {n!r}; stages are: {', '.join(names)}")
    if from_stage and only:
        raise InvalidInputError("--from and --only cannot be combined")
    if only:
        return [s for s in stages if s.name == only]
    if from_stage:
        return stages[names.index(from_stage):]
    return stages


def options_fingerprint(options: Any, relevant: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The options that change outputs: `relevant` ones if the stage declares them, else all
    but the speed-only ones."""
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        values = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    else:
        values = dict(vars(options)) if options is not None else {}
    keep = (lambda k: k in relevant) if relevant is not None else (lambda k: k not in _NON_OUTPUT_OPTIONS)
    return markers.json_safe({k: v for k, v in sorted(values.items()) if keep(k)})


def _producer_hint(name: str) -> str:
    folder = name.split("/", 1)[0]
    if folder in [s.name for s in pipeline.STAGES]:
        return f"; run stage {folder!r} first (blueprint run MANIFEST --out DIR --from {folder})"
    return ""


def describe_inputs(ctx: StageContext, stage: Stage) -> list[dict[str, Any]]:
    """Each declared input with its sha256 (and size for files); InvalidInputError if missing."""
    out = []
    for name in stage.inputs:
        if name == MANIFEST_INPUT:
            if not ctx.manifest_url or not storage.exists(ctx.manifest_url):
                raise InvalidInputError(f"stage {stage.name}: manifest {ctx.manifest_url!r} does not exist")
            out.append({"name": name, "url": ctx.manifest_url, "size": storage.size(ctx.manifest_url),
                        "sha256": storage.sha256_file(ctx.manifest_url)})
            continue
        if name == ASSETS_INPUT:
            from blueprint_pipeline.scene.io import load_scene
            from blueprint_pipeline.simready.meshes import assets_digest

            try:
                sha, files = assets_digest(load_scene(ctx.url(SCENE_NORMALIZED)), ctx.asset_root())
            except (InvalidInputError, ValueError):  # the stage itself says what is wrong with the scene
                sha, files = "unreadable scene", 0
            out.append({"name": name, "files": files, "sha256": sha})
            continue
        if name == ROBOT_MODEL_INPUT:
            from blueprint_pipeline.robots.visuals import rendered_model

            model = rendered_model(ctx.options.robot, ctx.options.render, ctx.settings.robot_meshes)
            out.append({"name": name, "model": model, "sha256": hashlib.sha256(model.encode()).hexdigest()})
            continue
        url = storage.safe_join(ctx.out_url, name)
        if not storage.exists(url):
            raise InvalidInputError(f"stage {stage.name} needs {name}, which does not exist{_producer_hint(name)}")
        entry: dict[str, Any] = {"name": name, "sha256": storage.sha256_tree(url)}
        if not storage.is_dir(url):
            entry["size"] = storage.size(url)
        out.append(entry)
    return out


def fingerprint(ctx: StageContext, stage: Stage, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    fp = {
        "inputs": {i["name"]: i["sha256"] for i in inputs},
        "options": options_fingerprint(ctx.options, stage.options),
        "package_version": markers.package_version(),
        "package_source": markers.package_source_digest(),  # new code of the same version reruns
    }
    if stage.settings:  # the values of the settings that change its outputs (none is a secret)
        fp["settings"] = {name: getattr(ctx.settings, name) for name in stage.settings}
    return fp


def digest(fp: dict[str, Any]) -> str:
    """One sha256 for a fingerprint (canonical JSON), the key of a stage's resumable items."""
    text = json.dumps(markers.json_safe(fp), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe_outputs(ctx: StageContext, stage: Stage, result: StageResult) -> list[dict[str, Any]]:
    """Every file the stage reported (folders expanded) with size and sha256; a declared output
    (Stage.outputs) that is missing is an internal error."""
    for rel in stage.outputs:
        if not storage.exists(storage.safe_join(ctx.out_url, rel)):
            raise InternalError(f"stage {stage.name} finished without writing {rel}, which it declares")
    out = []
    for rel in result.outputs:
        url = storage.safe_join(ctx.out_url, rel)
        if not storage.exists(url):
            raise InternalError(f"stage {stage.name} reported output {rel}, which does not exist")
        files = [(rel, url)] if not storage.is_dir(url) else [
            (f"{rel.rstrip('/')}/{sub}", storage.join(url, sub)) for sub in storage.walk_files(url)]
        for name, file_url in files:
            out.append({"path": name, "size": storage.size(file_url), "sha256": storage.sha256_file(file_url),
                        "stat": storage.stat_key(file_url)})
    return out


def output_unchanged(ctx: StageContext, recorded: dict[str, Any]) -> bool:
    """True if an output file still holds the bytes its marker recorded. Cheap path: a local file
    whose [size, mtime_ns, inode, device] equal the recorded ones has not been written since (an
    edit changes the mtime, a replacement the inode). Otherwise its sha256 decides, so a same-size
    edit, or any file on an object store, is caught."""
    url = storage.join(ctx.out_url, recorded["path"])
    if not storage.exists(url) or storage.size(url) != recorded.get("size"):
        return False
    stat = storage.stat_key(url)
    if stat is not None and stat == recorded.get("stat"):
        return True
    return storage.sha256_file(url) == recorded.get("sha256")


def is_up_to_date(ctx: StageContext, stage: Stage, fp: dict[str, Any]) -> bool:
    marker = markers.read_marker(ctx.out_url, stage.name, markers.COMPLETE)
    if marker is None or marker.get("fingerprint") != markers.json_safe(fp):
        return False
    for o in marker.get("outputs", []):
        if not output_unchanged(ctx, o):
            log.info("%s: output %s changed since the stage wrote it; rerunning", stage.name, o["path"],
                     extra={"stage": stage.name, "event": "output_changed"})
            return False
    return True


def _scene_id(ctx: StageContext) -> str | None:
    """Best effort, for failure markers: the normalised scene's header, else the manifest's
    top-level scene_id (streamed, so a huge manifest costs nothing)."""
    try:
        url = ctx.url(SCENE_NORMALIZED)
        if storage.exists(url):
            from blueprint_pipeline.scene.io import read_header

            return read_header(url).scene_id or None
        if ctx.manifest_url and storage.exists(ctx.manifest_url):
            import ijson

            with storage.open_read(ctx.manifest_url, "rb") as f:
                for prefix, event, value in ijson.parse(f):
                    if prefix == "scene_id" and event in ("string", "number"):
                        return str(value)
                    if prefix == "" and event == "end_map":
                        break
    except Exception:  # noqa: BLE001 - a marker never fails for want of a scene id
        return None
    return None


def _prepare_journal(ctx: StageContext, stage: Stage, fp: dict[str, Any]) -> None:
    """Keep a journal only if the interrupted run that wrote it had the same fingerprint."""
    safe_fp = markers.json_safe(fp)
    previous = [markers.read_marker(ctx.out_url, stage.name, m)
                for m in (markers.RUNNING, markers.FAILED, markers.COMPLETE)]
    if not any(p is not None and p.get("fingerprint") == safe_fp for p in previous):
        storage.remove(ctx.path(stage.name, JOURNAL_FOLDER), recursive=True)


def _previous_attempts(ctx: StageContext, stage: Stage, fp: dict[str, Any]) -> int:
    failed = markers.read_marker(ctx.out_url, stage.name, markers.FAILED)
    if failed and failed.get("fingerprint") == markers.json_safe(fp):
        return int(failed.get("attempt", 0))
    return 0


def _redact_in_place(exc: BaseException) -> None:
    """Mask secrets in the exception's own text, so whoever prints it later cannot leak one."""
    try:
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
    except Exception:  # noqa: BLE001 - some exception types refuse new args; markers are redacted anyway
        log.debug("could not redact %s in place", type(exc).__name__)


def run_stage(ctx: StageContext, stage: Stage, force: bool = False) -> StageOutcome:
    t0 = time.perf_counter()
    started_at = markers.now_iso()
    fp: dict[str, Any] | None = None
    attempt = 1
    try:
        inputs = describe_inputs(ctx, stage)
        fp = fingerprint(ctx, stage, inputs)
        if not force and is_up_to_date(ctx, stage, fp):
            log.info("%s: up to date, skipped (--force reruns it)", stage.name,
                     extra={"stage": stage.name, "event": "skipped"})
            return StageOutcome(stage.name, "skipped", None, time.perf_counter() - t0,
                                storage.join(ctx.out_url, stage.name, markers.COMPLETE))
        attempt = _previous_attempts(ctx, stage, fp) + 1
        _prepare_journal(ctx, stage, fp)
        markers.remove_marker(ctx.out_url, stage.name, markers.COMPLETE)
        markers.write_marker(ctx.out_url, stage.name, markers.RUNNING,
                             {"status": "running", "fingerprint": fp, "started_at": started_at,
                              "attempt": attempt})
        log.info("%s: running (attempt %d)", stage.name, attempt,
                 extra={"stage": stage.name, "event": "start", "attempt": attempt})
        result = stage.run(dataclasses.replace(ctx, input_digest=digest(fp), force=force))
        outputs = describe_outputs(ctx, stage, result)
        seconds = time.perf_counter() - t0
        url = markers.write_marker(ctx.out_url, stage.name, markers.COMPLETE, {
            "status": "complete", "fingerprint": fp, "inputs": inputs, "outputs": outputs,
            "options": markers.json_safe(ctx.options), "summary": result.summary,
            "items_ok": result.items_ok, "items_failed": result.items_failed, "attempt": attempt,
            "started_at": started_at, "finished_at": markers.now_iso(), "seconds": round(seconds, 3),
            "versions": markers.versions(), "environment": markers.environment(),
        })
        markers.remove_marker(ctx.out_url, stage.name, markers.FAILED)
        markers.remove_marker(ctx.out_url, stage.name, markers.RUNNING)
        log.info("%s: done in %.2f s (%d outputs)", stage.name, seconds, len(outputs),
                 extra={"stage": stage.name, "event": "complete", "seconds": round(seconds, 3)})
        return StageOutcome(stage.name, "ok", result, seconds, url)
    except Exception as exc:
        seconds = time.perf_counter() - t0
        try:
            url = markers.write_marker(ctx.out_url, stage.name, markers.FAILED, markers.failure_body(
                exc, scene_id=_scene_id(ctx), parameters={
                    "manifest_url": ctx.manifest_url, "out_url": ctx.out_url, "options": ctx.options,
                    "force": force}, fingerprint=fp, attempt=attempt, started_at=started_at,
                seconds=seconds))
            markers.remove_marker(ctx.out_url, stage.name, markers.RUNNING)
            log.error("%s: failed after %.2f s: %s (details in %s)", stage.name, seconds,
                      f"{type(exc).__name__}: {exc}".splitlines()[0], url,
                      extra={"stage": stage.name, "event": "failed", "error_type": type(exc).__name__})
        except Exception as marker_exc:  # noqa: BLE001 - report the stage's error, not ours
            log.error("%s: could not write the failure marker: %s", stage.name, marker_exc)
        _redact_in_place(exc)
        raise


StageObserver = Callable[[str, str, "StageOutcome | None"], None]


def run_pipeline(ctx: StageContext, from_stage: str | None = None, only: str | None = None,
                 force: bool = False, observer: StageObserver | None = None) -> list[StageOutcome]:
    """Run the selected stages in order; the first failing stage raises (after its marker).
    `observer(stage, event, outcome)` hears "start", then "ok" / "skipped" / "failed". The output folder's
    lock (`storage.lock.OutputLock`) is held throughout: a second run into the same folder is
    refused at once with OutputLockedError (exit 2), naming the holder."""
    stages = select_stages(from_stage, only)
    with OutputLock(ctx.out_url, lease_s=ctx.settings.lock_lease_s):
        return _run_stages(ctx, stages, force, observer)


def _run_stages(ctx: StageContext, stages: list[Stage], force: bool,
                observer: StageObserver | None) -> list[StageOutcome]:
    outcomes = []
    for stage in stages:
        if observer:
            observer(stage.name, "start", None)
        try:
            outcome = run_stage(ctx, stage, force)
        except Exception:
            if observer:
                observer(stage.name, "failed", None)
            raise
        outcomes.append(outcome)
        if observer:
            observer(stage.name, outcome.status, outcome)
    return outcomes
