"""Settings read from `BP_*` environment variables (pydantic-settings).

Every field of `Settings` is one variable: field `rate_limit_per_s` is `BP_RATE_LIMIT_PER_S`.
Unknown `BP_*` variables are rejected with the closest known name as a hint, so a typo never
silently falls back to a default. Booleans accept 1/0/true/false/yes/no (also on/off).

To add a setting for a stage: add a typed field with a default, a `Field(description=...)`, and
a range where one makes sense; the README table is checked against these fields by the tests.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from blueprint_pipeline.errors import InvalidInputError, Problem

ENV_PREFIX = "BP_"

# BP_* variables read directly by code that runs before settings exist (none today besides
# BP_DEBUG, which is also a field); listed so the unknown-variable check accepts them.
EXTRA_KNOWN_VARIABLES: set[str] = {
    # Secrets read through secrets.resolver (the value, or a file named by <NAME>_FILE), never
    # settings fields, so they stay out of `config show`: the client's key and the service's.
    "BP_API_KEY", "BP_API_KEY_FILE", "BP_SERVICE_API_KEY", "BP_SERVICE_API_KEY_FILE",
}

# Field-name endings whose values are masked by `blueprint config show` (besides SecretStr fields).
_SECRET_SUFFIXES = ("_key", "_token", "_password", "_secret", "_credentials")


class Settings(BaseSettings):
    """The effective configuration of one process. Units are in the names."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False,
                                      validate_default=True, frozen=True)

    # Logging and diagnostics
    debug: bool = Field(False, description="Show Python tracebacks instead of one-screen errors.")
    log_json: bool = Field(False, description="Write logs as JSON lines (one object per line) on stderr.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest log level written.")

    # Outgoing calls: rate limit -> circuit breaker -> retry (resilience.policy)
    rate_limit_per_s: float = Field(10.0, gt=0, le=10_000,
                                    description="Requests per second per named service, shared by all threads; below 1 allowed.")
    breaker_failures: int = Field(5, ge=1, le=1000,
                                  description="Consecutive transient failures that open the circuit breaker.")
    breaker_recovery_s: float = Field(10.0, gt=0, le=3600,
                                      description="Seconds the breaker stays open before one probe call.")
    retry_base_s: float = Field(1.0, gt=0, le=60, description="First backoff window (full jitter), seconds.")
    retry_max_wait_s: float = Field(10.0, gt=0, le=3600,
                                    description="Cap on any single backoff delay, after jitter, seconds.")
    call_deadline_s: float = Field(120.0, gt=0, le=86_400,
                                   description="Overall deadline of one logical call including all retries, seconds.")

    # Work lists and workers (resilience.partial, resilience.pool)
    min_success_rate: float = Field(0.5, ge=0.0, le=1.0,
                                    description="Share of episodes (and of items in run_items) that must succeed for the stage to pass.")
    workers: int = Field(2, ge=1, le=256, description="Worker processes for simulator work.")
    object_workers: int = Field(10, ge=1, le=256,
                                description="Threads for I/O-bound per-object calls (e.g. physics estimation).")
    episode_deadline_factor: float = Field(10.0, gt=0, le=1000,
                                           description="Episode wall-clock deadline as a multiple of its simulated duration.")

    # Input
    streaming_threshold_mb: float = Field(10.0, ge=0, le=100_000,
                                          description="Manifests larger than this are parsed as a stream.")
    ingest_workers: int = Field(0, ge=0, le=8,
                                description="Processes that check a streamed manifest's objects (0: one per core, at most 8; 1: none).")
    asset_root: str | None = Field(None, description="Folder or URL that asset paths in manifests are relative to.")

    # Physics estimation (simready stage)
    simready_estimator: Literal["table", "gemini"] = Field(
        "table", description="Physics estimator: the offline material table, or Gemini (extra `gemini`, key GEMINI_API_KEY).")
    simready_gemini_model: str = Field("gemini-2.5-flash", description="Gemini model name for the gemini estimator.")
    simready_gemini_base_url: str = Field("https://generativelanguage.googleapis.com",
                                          description="Base URL of the Gemini REST API (a local stand-in in tests).")
    simready_dr_mass_rel: float = Field(0.20, ge=0, le=1, description="Domain randomisation: mass +- this fraction.")
    simready_dr_friction_rel: float = Field(0.15, ge=0, le=1,
                                            description="Domain randomisation: friction +- this fraction.")
    simready_dr_restitution_rel: float = Field(0.30, ge=0, le=1,
                                               description="Domain randomisation: restitution +- this fraction.")
    simready_dr_com_noise_rel: float = Field(0.05, ge=0, le=0.5,
                                             description="Domain randomisation: centre-of-mass noise, fraction of each extent.")

    mesh_max_hulls: int = Field(32, ge=1, le=64,
                                description="Object meshes: at most this many convex pieces per collider (CoACD).")
    mesh_visual_triangles: int = Field(10_000, ge=100, le=500_000,
                                       description="Object meshes: visuals are decimated to at most this many triangles.")
    mesh_cache_dir: str | None = Field(
        None, description="Folder caching convex decompositions by mesh content (default: ~/.cache/blueprint-pipeline/meshes; 'off': no cache).")

    # Episode instructions (episodes stage, sim/phrasings.py)
    instruction_phrasings: Literal["templates", "gemini"] = Field(
        "templates", description="Episode instructions: the built-in templates only, or templates plus phrasings Gemini "
                                 "writes per task family (key GEMINI_API_KEY, URL BP_SIMREADY_GEMINI_BASE_URL).")
    instruction_gemini_model: str = Field("gemini-2.5-flash", description="Gemini model that writes instruction phrasings.")
    instruction_phrasings_per_family: int = Field(
        5, ge=1, le=20, description="Instruction phrasings asked of Gemini per task family (invalid ones are dropped).")

    # Rendering (episodes stage, robots/visuals.py)
    robot_meshes: bool = Field(
        True, description="Runs that render draw the robots with their real meshes when the robot-meshes extra is "
                          "installed (false: their collision primitives).")

    # LeRobot dataset (dataset stage)
    video_codec: Literal["av1", "h264"] = Field(
        "av1", description="Datasets with video: the encoder, av1 (SVT-AV1, LeRobot's default) or h264 (libx264, faster).")
    data_files_size_in_mb: float = Field(
        100.0, gt=0, le=100_000, description="LeRobot data/*.parquet files are started anew above this size, MB.")
    video_files_size_in_mb: float = Field(
        200.0, gt=0, le=100_000, description="LeRobot videos/*.mp4 files are started anew above this size, MB.")
    dataset_stall_timeout_s: float = Field(
        120.0, gt=0, le=86_400,
        description="Datasets with video: seconds without a finished episode before the writer process is killed and the write restarted (SVT-AV1 can deadlock).")

    # Genie Sim export (geniesim stage)
    geniesim_commercial_only: bool = Field(False, description="Leave assets whose licence forbids commercial use out of asset_index.json.")
    geniesim_embedder: str = Field("none", description="Embedder for asset_index.json: none, or minilm (needs torch).")
    task_cap_pick_place: int = Field(16, ge=0, le=10_000, description="Most pick_place tasks per scene (geniesim/tasks.py).")
    task_cap_stack: int = Field(4, ge=0, le=10_000, description="Most stack tasks per scene.")
    task_cap_place_in: int = Field(4, ge=0, le=10_000, description="Most place_in tasks (into a container) per scene.")
    task_cap_push: int = Field(4, ge=0, le=10_000, description="Most push tasks per scene.")
    task_cap_push_in: int = Field(
        8, ge=0, le=10_000, description="Most tasks per scene that push a thing further back on its shelf of open furniture.")
    task_cap_open_close: int = Field(
        4, ge=0, le=10_000, description="Most drawers and doors per scene that get tasks (an opening and a closing each).")

    # Storage
    storage_options_json: SecretStr | None = Field(
        None, description="JSON object of fsspec storage options for gs:// or s3:// (masked in `config show`).")
    lock_lease_s: float = Field(
        600.0, ge=10, le=86_400,
        description="Output folders on object stores: seconds a run's lock lease lasts unless renewed (renewed every third).")

    # Generation service (`blueprint serve`) and its client (`blueprint submit/status/...`)
    service_url: str | None = Field(None, description="Client: the service's URL when --server is not given.")
    service_data_dir: str = Field("~/.blueprint/service",
                                  description="Service: folder of the job store (SQLite) and the job folders.")
    service_output_url: str | None = Field(
        None, description="Service: where job outputs go, e.g. s3://bucket/jobs or gs://bucket/jobs (storage options "
                          "from BP_STORAGE_OPTIONS_JSON); each job writes <url>/<job id>/. Unset: inside each job's "
                          "folder under the data folder.")
    service_api_key_hashes: str | None = Field(
        None, description="Service: accepted API keys as sha256 hex digests, comma-separated "
                          "(`blueprint serve --hash-key` prints one); BP_SERVICE_API_KEY adds one more.")
    service_max_upload_mb: float = Field(64.0, gt=0, le=100_000, description="Service: largest accepted upload, MiB.")
    service_max_bundle_expanded_mb: float = Field(
        2048.0, gt=0, le=1_000_000, description="Service: largest total size an uploaded bundle may expand to, MiB.")
    service_rate_limit_per_s: float = Field(20.0, gt=0, le=100_000,
                                            description="Service: requests per second allowed per API key (429 beyond).")
    service_max_concurrent_jobs: int = Field(1, ge=0, le=256,
                                             description="Service: jobs run at once (0: accept and queue only).")
    service_max_job_attempts: int = Field(
        3, ge=1, le=100, description="Service: starts of a job (restarts of the service included) before it is failed.")
    service_faults: str | None = Field(
        None, description="Service: fault injection for drills, e.g. 'seed=1,p503=0.3,p429=0.1,pstall=0.05'; off if unset.")
    service_header_timeout_s: float = Field(
        10.0, gt=0, le=3600,
        description="Service: seconds a connection has to send a request's line and headers before it is closed.")

    # Secrets (secrets.resolver)
    secrets_require_manager: bool = Field(
        False, description="Resolve secrets only from Google Secret Manager; no file or env fallback.")
    secret_ttl_s: float = Field(300.0, ge=0, le=86_400,
                                description="Seconds a resolved secret is cached (rotation is picked up after this).")


def known_variables(settings_cls: type[BaseSettings] = Settings) -> set[str]:
    names = {f"{ENV_PREFIX}{name}".upper() for name in settings_cls.model_fields}
    return names | EXTRA_KNOWN_VARIABLES


def check_unknown_variables(environ: Mapping[str, str] | None = None,
                            settings_cls: type[BaseSettings] = Settings) -> None:
    """Reject `BP_*` variables that no setting reads, naming each with the closest known name."""
    environ = os.environ if environ is None else environ
    known = known_variables(settings_cls)
    problems = []
    for var in sorted(environ):
        upper = var.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(Problem(var, f"unknown setting{hint}"))
    if problems:
        raise InvalidInputError("unknown BP_* environment variables (see README, Configuration)", problems)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `environ` (default: the process environment), with clear errors."""
    environ = dict(os.environ if environ is None else environ)
    check_unknown_variables(environ)
    values = {k[len(ENV_PREFIX):].lower(): v for k, v in environ.items() if k.upper().startswith(ENV_PREFIX)}
    try:
        # Validated from the mapping (not re-read from os.environ) so tests can pass their own.
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = [Problem(f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc'])}".upper(),
                            f"{e['msg']} (got {e.get('input')!r})") for e in exc.errors()]
        raise InvalidInputError("invalid BP_* settings", problems) from None


_cached: Settings | None = None


def get_settings(reload: bool = False) -> Settings:
    """The process's settings, read once from the environment (`reload=True` rereads)."""
    global _cached
    if _cached is None or reload:
        _cached = load_settings()
    return _cached


def is_secret_field(name: str, settings_cls: type[BaseSettings] = Settings) -> bool:
    field = settings_cls.model_fields.get(name)
    typed_secret = field is not None and "SecretStr" in repr(field.annotation)
    return typed_secret or name.lower().endswith(_SECRET_SUFFIXES)


def effective_config(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, value, description) rows with secret values masked."""
    rows = []
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if value is None:
            shown = "(unset)"
        elif is_secret_field(name, type(settings)) or isinstance(value, SecretStr):
            shown = "***"
        else:
            shown = str(value)
        rows.append((f"{ENV_PREFIX}{name.upper()}", shown, field.description or ""))
    return rows
