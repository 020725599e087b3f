"""Everything the report shows, read defensively: a missing or unreadable input becomes a note
in the report, never a failed report. Episode files are read for their small `meta` member only,
except for the few sample episodes whose trajectories and frames are drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blueprint_pipeline import storage
from blueprint_pipeline.contract import (
    DATASET_INFO,
    EPISODES_CERTIFICATE,
    EPISODES_DATA,
    EPISODES_RESULTS,
    EPISODES_SUMMARY,
    GENIESIM_SCENE_GRAPH,
    SCENE_NORMALIZED,
    SIMREADY_PHYSICS,
    SIMREADY_PHYSICS_LINES,
    STAGE_NAMES,
    StageContext,
)
from blueprint_pipeline.sim.episode_io import iter_episode_files, load_episode
from blueprint_pipeline.sim.records import EpisodeRecord



KEYFRAME_TASKS = 24  # rows of the keyframe sheet at most
FAILED_GALLERY = 8  # failed episodes shown with their frames at most
KEYFRAME_NAMES = ("start", "grasp", "end")


@dataclass
class Keyframes:
    """The start, grasp (the fingers closed) and end frames of one episode, per camera."""

    task_id: str
    episode_index: int
    success: bool
    failure_reason: str | None
    frames: dict[str, list[np.ndarray]]  # camera -> one frame per KEYFRAME_NAMES


def keyframes_of(rec: EpisodeRecord) -> Keyframes:
    last = rec.length - 1
    grasp = rec.metrics.get("grasp_frame")
    ticks = (0, min(int(grasp), last) if grasp is not None else last // 2, last)
    return Keyframes(rec.task_id, rec.episode_index, rec.success, rec.failure_reason,
                     {cam: [frames[t].copy() for t in ticks] for cam, frames in sorted(rec.images.items())})


@dataclass
class ReportInputs:
    scene_id: str | None = None
    scene_header: dict[str, Any] | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)
    physics: dict[str, dict[str, Any]] = field(default_factory=dict)
    scene_graph: dict[str, Any] | None = None
    episodes_summary: dict[str, Any] | None = None
    episode_metas: list[dict[str, Any]] = field(default_factory=list)
    # every simulated episode's result (episodes/results/*.json), failed ones without a file included
    episode_results: list[dict[str, Any]] = field(default_factory=list)
    sample_episodes: list[EpisodeRecord] = field(default_factory=list)
    keyframes: list[Keyframes] = field(default_factory=list)  # one episode per task, rendered runs
    failed_keyframes: list[Keyframes] = field(default_factory=list)  # failed episodes kept with frames
    episodes_certificate: dict[str, Any] | None = None
    dataset_info: dict[str, Any] | None = None
    stage_markers: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what could not be read, and why


def _try(inputs: ReportInputs, what: str, fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a report shows what it could read and says why not
        inputs.notes.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        return None


def _read_json_if_exists(url: str) -> Any:
    return storage.read_json(url) if storage.exists(url) else None


def read_episode_meta(url: str) -> dict[str, Any]:
    """The scalar fields of an episode file, without loading its arrays (npz members are lazy)."""
    with storage.open_read(url, "rb") as f, np.load(f) as z:
        meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        meta["length"] = int(z["state"].shape[0]) if "state" in z.files else None
    return meta


def _load_scene(ctx: StageContext, inputs: ReportInputs) -> None:
    from blueprint_pipeline.scene.io import load_scene

    url = ctx.url(SCENE_NORMALIZED)
    if not storage.exists(url):
        inputs.notes.append(f"scene: {SCENE_NORMALIZED.rel} not found")
        return
    scene = load_scene(url)
    inputs.scene_id = scene.header.scene_id
    inputs.scene_header = scene.header.model_dump(mode="json", by_alias=True)
    inputs.objects = [o.model_dump(mode="json") for o in scene.objects]


def _load_physics(ctx: StageContext, inputs: ReportInputs) -> None:
    from blueprint_pipeline.simready.io import load_physics

    for artifact in (SIMREADY_PHYSICS, SIMREADY_PHYSICS_LINES):
        url = ctx.url(artifact)
        if storage.exists(url):
            pf = load_physics(url)
            inputs.physics = {k: v.model_dump(mode="json") for k, v in pf.objects.items()}
            return
    inputs.notes.append(f"physics: {SIMREADY_PHYSICS.rel} not found")


def _load_episodes(ctx: StageContext, inputs: ReportInputs, samples: int) -> None:
    files = list(iter_episode_files(ctx.url(EPISODES_DATA)))
    if not files:
        inputs.notes.append(f"episodes: no episode files in {EPISODES_DATA.rel}")
        return
    for url in files:
        meta = _try(inputs, f"episode file {url.rsplit('/', 1)[-1]}", lambda u=url: read_episode_meta(u))
        if meta is not None:
            meta["_url"] = url
            inputs.episode_metas.append(meta)
    # samples: the first successes, then a failure when there is one (shows what went wrong)
    ok = [m for m in inputs.episode_metas if m.get("success")]
    failed = [m for m in inputs.episode_metas if not m.get("success")]
    chosen = ok[: max(1, samples - 1)] + failed[:1] if failed else ok[:samples]
    for m in chosen[:samples]:
        rec = _try(inputs, f"sample episode {m.get('episode_index')}", lambda u=m["_url"]: load_episode(u))
        if rec is not None:
            inputs.sample_episodes.append(rec)
    if any(rec.images for rec in inputs.sample_episodes):
        _load_keyframes(inputs)


def _load_keyframes(inputs: ReportInputs) -> None:
    """One episode per task (its first success, else its first episode), read one at a time and
    kept only as its keyframes, for at most KEYFRAME_TASKS tasks."""
    per_task: dict[str, dict[str, Any]] = {}
    for m in inputs.episode_metas:
        best = per_task.get(m.get("task_id"))
        if best is None or (m.get("success") and not best.get("success")):
            per_task[m.get("task_id")] = m
    for task_id in sorted(per_task, key=str)[:KEYFRAME_TASKS]:
        m = per_task[task_id]
        rec = _try(inputs, f"keyframes of episode {m.get('episode_index')}", lambda u=m["_url"]: load_episode(u))
        if rec is not None and rec.images:
            inputs.keyframes.append(keyframes_of(rec))
    shown = {(k.task_id, k.episode_index): k for k in inputs.keyframes}
    for m in [m for m in inputs.episode_metas if not m.get("success")][:FAILED_GALLERY]:  # kept with --keep-failed
        known = shown.get((m.get("task_id"), m.get("episode_index")))
        if known is None:
            rec = _try(inputs, f"keyframes of episode {m.get('episode_index')}", lambda u=m["_url"]: load_episode(u))
            known = keyframes_of(rec) if rec is not None and rec.images else None
        if known is not None:
            inputs.failed_keyframes.append(known)


def _load_episode_results(ctx: StageContext, inputs: ReportInputs) -> None:
    folder = ctx.url(EPISODES_RESULTS)
    for name in storage.listdir(folder):
        if name.startswith("episode_") and name.endswith(".json"):
            res = _try(inputs, f"episode result {name}", lambda n=name: storage.read_json(storage.join(folder, n)))
            if isinstance(res, dict) and "task_id" in res:
                inputs.episode_results.append(res)


def attempts(inputs: ReportInputs) -> list[dict[str, Any]]:
    """Every attempted episode: the results journal when present (it includes failed episodes
    that were not kept), else the episode files."""
    return inputs.episode_results or inputs.episode_metas


def _stage_markers(ctx: StageContext, inputs: ReportInputs) -> None:
    for stage in STAGE_NAMES:
        for name, status in ((".complete.json", "complete"), (".failed.json", "failed")):
            url = ctx.path(stage, name)
            if storage.exists(url):
                marker = _try(inputs, f"marker {stage}/{name}", lambda u=url: storage.read_json(u))
                if isinstance(marker, dict):
                    inputs.stage_markers[stage] = {"status": status, **marker}
                break


def read_inputs(ctx: StageContext, samples: int = 3) -> ReportInputs:
    inputs = ReportInputs()
    _try(inputs, "scene", lambda: _load_scene(ctx, inputs))
    _try(inputs, "physics", lambda: _load_physics(ctx, inputs))
    inputs.scene_graph = _try(inputs, "scene graph",
                              lambda: _read_json_if_exists(ctx.url(GENIESIM_SCENE_GRAPH)))
    if inputs.scene_graph is None:
        inputs.notes.append(f"scene graph: {GENIESIM_SCENE_GRAPH.rel} not found")
    inputs.episodes_summary = _try(inputs, "episodes summary",
                                   lambda: _read_json_if_exists(ctx.url(EPISODES_SUMMARY)))
    inputs.episodes_certificate = _try(inputs, EPISODES_CERTIFICATE.rel,
                                       lambda: _read_json_if_exists(ctx.url(EPISODES_CERTIFICATE)))
    _try(inputs, "episodes", lambda: _load_episodes(ctx, inputs, samples))
    _try(inputs, "episode results", lambda: _load_episode_results(ctx, inputs))
    inputs.dataset_info = _try(inputs, "dataset info",
                               lambda: _read_json_if_exists(ctx.url(DATASET_INFO)))
    _stage_markers(ctx, inputs)
    if inputs.scene_id is None:
        inputs.scene_id = (inputs.scene_graph or {}).get("scene_id") or (inputs.episodes_summary or {}).get("scene_id")
    return inputs


def marker_seconds(marker: dict[str, Any]) -> dict[str, float]:
    """Named durations in a stage marker: its `timings` block, else a single total if present."""
    timings = marker.get("timings")
    if isinstance(timings, dict):
        return {str(k): float(v) for k, v in timings.items() if isinstance(v, int | float)}
    for key in ("seconds", "duration_s", "elapsed_s", "wall_s"):
        if isinstance(marker.get(key), int | float):
            return {"total": float(marker[key])}
    return {}
