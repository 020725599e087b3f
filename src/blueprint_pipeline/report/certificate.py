"""report/quality_certificate.json: each check says what it verified, on what, and the outcome.

A check that could not run (its input is missing) has `passed: null` and says why; the
certificate passes only when every check ran and passed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from blueprint_pipeline.contract import DATASET_INFO, EPISODES_CERTIFICATE, EPISODES_SUMMARY, SIMREADY_PHYSICS
from blueprint_pipeline.report.inputs import ReportInputs, attempts

CERTIFICATE_SCHEMA = "blueprint.quality_certificate/1"
MAX_DETAILS = 50


def _producer() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"blueprint-pipeline {version('blueprint-pipeline')}"
    except PackageNotFoundError:
        return "blueprint-pipeline"


def _check(name: str, what: str, passed: bool | None, details: list[str] | None = None,
           **facts: Any) -> dict[str, Any]:
    details = details or []
    out = {"name": name, "what": what, "passed": passed, **facts,
           "details": details[:MAX_DETAILS]}
    if len(details) > MAX_DETAILS:
        out["details_omitted"] = len(details) - MAX_DETAILS
    return out


def check_dataset_invariants(dataset_dir: Path | None) -> dict[str, Any]:
    what = ("LeRobot v3.0 invariants re-read from the files: info.json counts, contiguous index, episode "
            "ranges partition the frames, timestamps = frame_index/fps within 1e-4 s, every video decodes "
            "with matching frame count and duration, stats recomputed from the data, schema = features")
    if dataset_dir is None or not (dataset_dir / DATASET_INFO.name).is_file():
        return _check("dataset_invariants", what, None, ["no finished dataset at dataset/"])
    from blueprint_pipeline.dataset.check import check_dataset

    problems = [str(p) for p in check_dataset(dataset_dir)]
    return _check("dataset_invariants", what, not problems, problems, problems=len(problems))


def check_dataset_matches_episodes(inputs: ReportInputs, keep_failed: bool) -> dict[str, Any]:
    what = ("the dataset holds exactly the episode files it should (successful ones, or all when "
            "keep_failed_episodes is set), with the same total frame count")
    info = inputs.dataset_info
    if info is None or not inputs.episode_metas:
        return _check("dataset_matches_episodes", what, None, ["dataset or episode files missing"])
    chosen = [m for m in inputs.episode_metas if keep_failed or m.get("success")]
    want_eps, want_frames = len(chosen), sum(int(m.get("length") or 0) for m in chosen)
    details = []
    if info.get("total_episodes") != want_eps:
        details.append(f"dataset has {info.get('total_episodes')} episodes, episode files give {want_eps}")
    if info.get("total_frames") != want_frames:
        details.append(f"dataset has {info.get('total_frames')} frames, episode files give {want_frames}")
    return _check("dataset_matches_episodes", what, not details, details,
                  expected_episodes=want_eps, expected_frames=want_frames)


def check_tasks_have_successes(inputs: ReportInputs) -> dict[str, Any]:
    what = "every task that was attempted has at least one successful episode"
    episodes = attempts(inputs)
    if not episodes:
        return _check("tasks_have_successes", what, None, ["no episode files"])
    tried, ok = Counter(), Counter()
    for m in episodes:
        tried[m.get("task_id")] += 1
        ok[m.get("task_id")] += bool(m.get("success"))
    details = [f"task {t!r}: 0 of {n} episodes succeeded" for t, n in tried.items() if ok[t] == 0]
    rates = {str(t): round(ok[t] / n, 4) for t, n in tried.items()}
    return _check("tasks_have_successes", what, not details, details, success_rate_by_task=rates)


def check_physics_plausible(inputs: ReportInputs) -> dict[str, Any]:
    what = ("per object in simready/physics.json: mass > 0, bulk density 1..25,000 kg/m^3, "
            "0 <= dynamic friction <= static friction, restitution in [0, 1], principal inertias positive "
            "and obeying the triangle inequality")
    if not inputs.physics:
        return _check("physics_plausible", what, None, [f"{SIMREADY_PHYSICS.rel} missing or unreadable"])
    details = []
    for oid, p in inputs.physics.items():
        m, rho = p.get("mass_kg", 0), p.get("density_kg_m3", 0)
        mu_s, mu_d, e = p.get("static_friction", 0), p.get("dynamic_friction", 0), p.get("restitution", 0)
        ixx, iyy, izz = (list(p.get("inertia_diag_kg_m2") or [0, 0, 0]) + [0, 0, 0])[:3]
        if not m > 0:
            details.append(f"{oid}: mass {m} kg")
        if not 1 <= rho <= 25_000:
            details.append(f"{oid}: density {rho} kg/m^3")
        if not 0 <= mu_d <= mu_s:
            details.append(f"{oid}: friction static {mu_s}, dynamic {mu_d}")
        if not 0 <= e <= 1:
            details.append(f"{oid}: restitution {e}")
        tol = 1e-9 * max(ixx, iyy, izz, 1e-12)
        if min(ixx, iyy, izz) <= 0 or ixx + iyy < izz - tol or iyy + izz < ixx - tol or ixx + izz < iyy - tol:
            details.append(f"{oid}: inertia {[ixx, iyy, izz]} kg m^2")
    return _check("physics_plausible", what, not details, details, objects=len(inputs.physics))


def check_stages_complete(inputs: ReportInputs, before: list[str]) -> dict[str, Any]:
    what = "every stage before the report left a .complete.json marker (none failed)"
    details = [f"{s}: {inputs.stage_markers.get(s, {}).get('status', 'no marker')}" for s in before
               if inputs.stage_markers.get(s, {}).get("status") != "complete"]
    return _check("stages_complete", what, not details, details)


def check_episodes_certificate(inputs: ReportInputs) -> dict[str, Any]:
    what = ("the episodes stage's certificate exists, states how success was judged (its `checks`), and its "
            "episode count agrees with episodes/summary.json, whose kept count agrees with the episode files; its own pass/fail verdict is used when it has one")
    cert = inputs.episodes_certificate
    if cert is None:
        return _check("episodes_certificate", what, None, [f"{EPISODES_CERTIFICATE.rel} not found"])
    details = []
    if not cert.get("checks"):
        details.append("the certificate does not say what it checked")
    # The certificate counts every simulated episode; files exist only for the kept ones
    # (failed episodes are dropped unless keep_failed is set), as the summary's `kept` says.
    stated = (cert.get("results") or {}).get("episodes", cert.get("episodes"))
    summary = inputs.episodes_summary or {}
    simulated = summary.get("episodes")
    if stated is not None and simulated is not None and stated != simulated:
        details.append(f"certificate counts {stated} episodes, episodes/summary.json {simulated}")
    elif stated is not None and simulated is None and inputs.episode_metas and stated != len(inputs.episode_metas):
        details.append(f"certificate counts {stated} episodes, {len(inputs.episode_metas)} episode files were read")
    kept = summary.get("kept")
    if kept is not None and inputs.episode_metas and kept != len(inputs.episode_metas):
        details.append(f"{EPISODES_SUMMARY.rel} keeps {kept} episodes, {len(inputs.episode_metas)} episode files were read")
    verdict = cert.get("passed", cert.get("ok"))
    if verdict is False:
        details.append("the episodes certificate itself reports a failure")
    return _check("episodes_certificate", what, not details, details)


def build_certificate(inputs: ReportInputs, dataset_dir: Path | None, keep_failed: bool,
                      stages_before: list[str]) -> dict[str, Any]:
    checks = [
        check_dataset_invariants(dataset_dir),
        check_dataset_matches_episodes(inputs, keep_failed),
        check_tasks_have_successes(inputs),
        check_physics_plausible(inputs),
        check_stages_complete(inputs, stages_before),
        check_episodes_certificate(inputs),
    ]
    return {
        "schema": CERTIFICATE_SCHEMA,
        "scene_id": inputs.scene_id,
        "producer": _producer(),
        "passed": all(c["passed"] is True for c in checks),
        "checks_passed": sum(c["passed"] is True for c in checks),
        "checks_failed": sum(c["passed"] is False for c in checks),
        "checks_not_run": sum(c["passed"] is None for c in checks),
        "checks": checks,
        "episodes_certificate": inputs.episodes_certificate,
    }
