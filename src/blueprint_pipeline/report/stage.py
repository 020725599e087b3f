"""Stage `report`: report/report.html (self-contained), its figures as PNGs, and
report/quality_certificate.json.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from blueprint_pipeline import storage
from blueprint_pipeline.dataset.publish import local_path
from blueprint_pipeline.contract import REPORT_CERTIFICATE, REPORT_HTML, STAGE_NAMES, StageContext, StageResult
from blueprint_pipeline.report import plots
from blueprint_pipeline.report.certificate import build_certificate
from blueprint_pipeline.report.html_page import esc, img, page, table, verdict
from blueprint_pipeline.report.inputs import KEYFRAME_NAMES, ReportInputs, attempts, marker_seconds, read_inputs


def _fmt(v: Any, nd: int = 3) -> str:
    return f"{v:.{nd}g}" if isinstance(v, float) else ("" if v is None else str(v))


def _scene_section(inputs: ReportInputs, figures: dict[str, bytes]) -> str:
    h = inputs.scene_header or {}
    facts = [("scene id", inputs.scene_id), ("environment", h.get("environment_type")),
             ("objects", len(inputs.objects) or h.get("object_count")), ("room size [m]", h.get("room_size_m")),
             ("source frame", h.get("source_frame")), ("gravity [m/s^2]", h.get("gravity_m_s2"))]
    out = [table(["", ""], [(k, v) for k, v in facts if v is not None])]
    if inputs.objects:
        out.append("<h3>Objects</h3>")
        out.append(table(["id", "name", "category", "role", "size [m]", "description"],
                         ([o.get("id"), o.get("name"), o.get("category"), o.get("sim_role"),
                           " x ".join(_fmt(float(v)) for v in o.get("extents_m") or []),
                           (o.get("description") or "")[:120]] for o in inputs.objects)))
    if inputs.physics:
        out.append("<h3>Physics</h3>")
        out.append(table(
            ["object", "material", "mass [kg]", "density [kg/m^3]", "friction s/d", "restitution", "collider",
             "dynamic", "graspable"],
            ([oid, p.get("material"), _fmt(p.get("mass_kg")), _fmt(p.get("density_kg_m3")),
              f"{_fmt(p.get('static_friction'))} / {_fmt(p.get('dynamic_friction'))}", _fmt(p.get("restitution")),
              p.get("collider"), p.get("is_dynamic"), p.get("graspable")] for oid, p in inputs.physics.items()),
            numeric={2, 3, 5}))
    graph = inputs.scene_graph
    nodes = (graph or {}).get("nodes") or []
    if not nodes and inputs.objects:  # no graph yet: draw the scene's own boxes
        nodes = [{"asset_id": o.get("id"), "name": o.get("name"), "size_m": o.get("extents_m"),
                  "pose": {"position_m": o.get("position_m"), "orientation_wxyz": o.get("orientation_wxyz")},
                  "metadata": {"sim_role": o.get("sim_role")}} for o in inputs.objects]
    if nodes:
        edges = (graph or {}).get("edges") or []
        figures["scene_graph.png"] = plots.scene_topdown_png(nodes, edges)
        out.append("<h3>Scene graph from above</h3>" + img(figures["scene_graph.png"], "scene from above"))
        counts = Counter(str(e.get("relation")) for e in edges)
        if counts:
            out.append(table(["relation", "edges"], counts.most_common(), numeric={1}))
    return "".join(out)


def _tasks_section(inputs: ReportInputs, figures: dict[str, bytes]) -> str:
    episodes = attempts(inputs)
    if not episodes:
        return '<p class="muted">No episode files.</p>'
    descriptions = {str(m.get("task_id")): m.get("task_description") for m in inputs.episode_metas}
    by_task: dict[str, list[dict]] = defaultdict(list)
    for m in episodes:
        by_task[str(m.get("task_id"))].append(m)
    rows, rates = [], {}
    for task, eps in by_task.items():
        ok = sum(bool(m.get("success")) for m in eps)
        reasons = Counter(str(m.get("failure_reason")) for m in eps if not m.get("success"))
        rates[task] = (ok, len(eps))
        rows.append([task, eps[0].get("task_description") or descriptions.get(task), len(eps), ok, f"{ok / len(eps):.0%}",
                     "; ".join(f"{r} ({n})" for r, n in reasons.most_common(5))])
    figures["success_rates.png"] = plots.success_rates_png(rates)
    total_ok = sum(ok for ok, _ in rates.values())
    head = f"<p>{total_ok} of {len(episodes)} episodes succeeded.</p>"
    summary = inputs.episodes_summary
    extra = ""
    if isinstance(summary, dict):
        scalars = [(k, v) for k, v in summary.items() if isinstance(v, str | int | float | bool)]
        if scalars:
            extra = "<h3>episodes/summary.json</h3>" + table(["field", "value"], scalars)
    return (head + table(["task", "description", "episodes", "successes", "rate", "failure reasons"], rows,
                         numeric={2, 3, 4}) + img(figures["success_rates.png"], "success rates") + extra)


def _episodes_section(inputs: ReportInputs, figures: dict[str, bytes]) -> str:
    out = []
    for rec in inputs.sample_episodes:
        name = f"trajectory_episode_{rec.episode_index:06d}.png"
        figures[name] = plots.trajectories_png(rec)
        state = "succeeded" if rec.success else f"failed: {rec.failure_reason}"
        out.append(f"<h3>Episode {esc(rec.episode_index)} ({esc(rec.task_id)}, {esc(state)})</h3>"
                   + img(figures[name], f"trajectories of episode {rec.episode_index}"))
    if inputs.keyframes:
        figures["keyframes.png"] = plots.keyframes_png(inputs.keyframes, KEYFRAME_NAMES)
        out.append("<h3>Start, grasp and end of each task</h3>"
                   + img(figures["keyframes.png"], "start, grasp and end frames of one episode per task, both cameras"))
    out.append(_failed_gallery(inputs, figures))
    cameras = sorted({c for rec in inputs.sample_episodes for c in rec.images})
    for cam in cameras:
        name = f"contact_sheet_{cam}.png"
        figures[name] = plots.contact_sheet_png(inputs.sample_episodes, cam)
        out.append(f"<h3>Camera {esc(cam)}</h3>" + img(figures[name], f"frames of camera {cam}"))
    if not cameras and inputs.sample_episodes:
        out.append('<p class="muted">No camera frames were rendered in this run.</p>')
    return "".join(out) or '<p class="muted">No sample episodes could be read.</p>'


FAILED_ROWS = 50


def _failed_gallery(inputs: ReportInputs, figures: dict[str, bytes]) -> str:
    """Every failed episode (at most FAILED_ROWS) with its reason and the planner's or judge's
    numbers that explain it; the frames of those kept with --keep-failed in a rendered run."""
    failed = [r for r in attempts(inputs) if not r.get("success")]
    if not failed:
        return ""
    rows = []
    for r in failed[:FAILED_ROWS]:
        m = r.get("metrics") or {}
        why = {k: m.get(k) for k in ("plan_error", "grasp_slip_m", "placement_error_m", "unstable",
                                     "max_other_displacement_m", "joint_fraction_final") if m.get(k) is not None}
        rows.append([r.get("task_id"), r.get("episode_index"), r.get("failure_reason"),
                     "; ".join(f"{k} {_fmt(v) if isinstance(v, float) else v}" for k, v in why.items())])
    out = (f"<h3>Failed episodes ({len(failed)})</h3>"
           + table(["task", "episode", "reason", "evidence"], rows, numeric={1}))
    if len(failed) > FAILED_ROWS:
        out += f'<p class="muted">{len(failed) - FAILED_ROWS} more not listed.</p>'
    if inputs.failed_keyframes:
        figures["failed_episodes.png"] = plots.keyframes_png(inputs.failed_keyframes, KEYFRAME_NAMES)
        out += img(figures["failed_episodes.png"], "start, grasp and end frames of failed episodes")
    elif any(not m.get("success") for m in inputs.episode_metas) or failed:
        out += ('<p class="muted">Frames of failed episodes are shown when the run keeps them '
                '(--keep-failed) and renders (--render).</p>')
    return out


def _dataset_section(inputs: ReportInputs) -> str:
    info = inputs.dataset_info
    if not info:
        return '<p class="muted">No finished dataset at dataset/.</p>'
    facts = [(k, info.get(k)) for k in ("codebase_version", "robot_type", "fps", "total_episodes",
                                        "total_frames", "total_tasks")]
    feats = [(k, ft.get("dtype"), ft.get("shape"), ", ".join(map(str, ft.get("names") or []))[:100])
             for k, ft in (info.get("features") or {}).items()]
    return table(["", ""], facts) + table(["feature", "dtype", "shape", "names"], feats)


def _timing_section(inputs: ReportInputs, figures: dict[str, bytes], report_s: float) -> str:
    """Each stage's marker timings; the report's own (its marker is written after this page) is
    its time so far, up to this section."""
    rows, totals = [], {}
    for stage in STAGE_NAMES:
        if stage == "report":
            rows.append([stage, "running", f"this page so far {report_s:.2f} s"])
            totals[stage] = report_s
            continue
        marker = inputs.stage_markers.get(stage)
        if marker is None:
            rows.append([stage, "no marker", ""])
            continue
        secs = marker_seconds(marker)
        rows.append([stage, marker["status"], "; ".join(f"{k} {v:.2f} s" for k, v in secs.items())])
        total = secs.get("total", secs.get("total_s", sum(secs.values()) if secs else None))
        if total is not None:
            totals[stage] = total
    out = table(["stage", "status", "timings"], rows)
    if totals:
        figures["stage_timings.png"] = plots.timings_png(totals)
        out += img(figures["stage_timings.png"], "stage timings")
    return out


def _certificate_section(cert: dict[str, Any]) -> str:
    episodes_cert = cert.get("episodes_certificate") or {}
    how = episodes_cert.get("checks")
    judged = ""
    if isinstance(how, dict) and how:
        judged = "<h3>How the episodes stage judged its episodes</h3>" + table(["aspect", "method"], how.items())
    engine = episodes_cert.get("engine")
    if isinstance(engine, dict) and engine:
        judged += table(["simulator", "value"], engine.items())
    rows = "".join(
        f"<tr><td>{esc(c['name'])}</td><td>{verdict(c['passed'])}</td><td>{esc(c['what'])}</td>"
        f"<td>{'<br>'.join(esc(d) for d in c['details'][:10])}</td></tr>" for c in cert["checks"])
    return (f"<p>Overall: {verdict(cert['passed'])} ({cert['checks_passed']} passed, {cert['checks_failed']} "
            f"failed, {cert['checks_not_run']} not run). The same content is in quality_certificate.json.</p>"
            f"<table><tr><th>check</th><th>result</th><th>what was checked</th><th>details</th></tr>{rows}</table>"
            + judged)


def build_report(ctx: StageContext) -> tuple[str, dict[str, bytes], dict[str, Any]]:
    t0 = time.perf_counter()
    inputs = read_inputs(ctx)
    figures: dict[str, bytes] = {}
    before = list(STAGE_NAMES[: STAGE_NAMES.index("report")])
    cert = build_certificate(inputs, local_path(ctx.stage_dir("dataset")), ctx.options.keep_failed_episodes,
                             before)
    sections = [
        ("Quality certificate", _certificate_section(cert)),
        ("Scene", _scene_section(inputs, figures)),
        ("Tasks and success rates", _tasks_section(inputs, figures)),
        ("Sample episodes", _episodes_section(inputs, figures)),
        ("LeRobot dataset", _dataset_section(inputs)),
    ]
    sections.append(("Stage timings", _timing_section(inputs, figures, time.perf_counter() - t0)))
    if inputs.notes:
        sections.append(("Inputs not available", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in inputs.notes)
                         + "</ul>"))
    title = f"Blueprint pipeline report: {inputs.scene_id or 'unknown scene'}"
    return page(title, sections), figures, cert


def run(ctx: StageContext) -> StageResult:
    html_text, figures, cert = build_report(ctx)
    outputs = []
    for name, png in figures.items():
        storage.atomic_write_bytes(ctx.path("report", name), png)
        outputs.append(f"report/{name}")
    storage.atomic_write_json(ctx.url(REPORT_CERTIFICATE), cert)
    storage.atomic_write_text(ctx.url(REPORT_HTML), html_text)  # last: the page links nothing
    outputs += [REPORT_CERTIFICATE.rel, REPORT_HTML.rel]
    return StageResult(outputs=outputs, summary={"certificate_passed": cert["passed"],
                                                 "checks_failed": cert["checks_failed"],
                                                 "checks_not_run": cert["checks_not_run"]},
                       items_ok=1)
