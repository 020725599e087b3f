"""Report stage: a self-contained page, PNG figures and a certificate, on a run folder built by
the real scene records, simready stage, scene graph builder, simulated episodes and dataset stage.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pytest
from test_dataset_fixtures import make_episode

from blueprint_pipeline.dataset.stage import run as run_dataset
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.report.stage import run as run_report
from blueprint_pipeline.scene.io import load_scene, write_normalized
from blueprint_pipeline.rotations import box_aabb
from blueprint_pipeline.scene.records import SceneHeader, SceneObject, SimRole
from blueprint_pipeline.sim.episode_io import episode_filename, save_episode

HOSTILE_NAME = '<script>alert("owned")</script> & "mug"'
HOSTILE_DESCRIPTION = "A red mug, ceramic <img src=x onerror=alert(1)>"
HOSTILE_TASK = 'put the <b>mug</b> & "cup" on the table'
HOSTILE_REASON = "<script>steal()</script> grasp slipped"


def _obj(oid, name, category, role, pos, ext, description=""):
    q = (1.0, 0.0, 0.0, 0.0)
    lo, hi = box_aabb(pos, q, ext)
    return SceneObject(id=oid, name=name, category=category, description=description, sim_role=role,
                       position_m=pos, orientation_wxyz=q, extents_m=ext, aabb_min_m=lo, aabb_max_m=hi)


def _build_run(out):
    objects = [
        _obj("table_1", "Table", "table", SimRole.STATIC, (0.5, 0.0, 0.375), (1.2, 0.8, 0.75)),
        _obj("mug_1", HOSTILE_NAME, "mug", SimRole.MANIPULABLE_OBJECT, (0.4, 0.1, 0.8), (0.09, 0.09, 0.1),
             HOSTILE_DESCRIPTION),
        _obj("box_1", "Box $5", "box", SimRole.MANIPULABLE_OBJECT, (0.6, -0.2, 0.78), (0.06, 0.06, 0.06)),
    ]
    header = SceneHeader(scene_id="kitchen_report_test", manifest_version="1.0.0", environment_type="kitchen",
                         source_frame="z_up", source_meters_per_unit=1.0, object_count=len(objects))
    write_normalized(str(out / "scene" / "normalized.jsonl"), header, objects)
    ctx = StageContext(manifest_url=str(out / "manifest.json"), out_url=str(out), options=RunOptions())
    from blueprint_pipeline.simready.stage import run as run_simready

    run_simready(ctx)
    from blueprint_pipeline.geniesim.relations import scene_relations
    from blueprint_pipeline.geniesim.scene_graph import build_scene_graph
    from blueprint_pipeline.simready.io import load_physics

    scene = load_scene(str(out / "scene" / "normalized.jsonl"))
    physics = load_physics(str(out / "simready" / "physics.json")).objects
    relations, _ = scene_relations(scene.objects)
    (out / "geniesim").mkdir()
    (out / "geniesim" / "scene_graph.json").write_text(json.dumps(build_scene_graph(scene, physics, relations)))

    (out / "episodes" / "data").mkdir(parents=True)
    for i in range(4):
        rec = make_episode(i, frames=20, cameras=("top",), success=i != 2, task=HOSTILE_TASK)
        if not rec.success:
            rec.failure_reason = HOSTILE_REASON
        save_episode(str(out / "episodes" / "data" / episode_filename(i)), rec)
    (out / "episodes" / "summary.json").write_text(json.dumps({"scene_id": "kitchen_report_test", "episodes": 4}))
    (out / "episodes" / "quality_certificate.json").write_text(json.dumps({
        "engine": {"name": "MuJoCo", "timestep_s": 1 / 600},
        "checks": {"success": "arm ended over the box <within 2 cm>"}, "results": {"episodes": 4}}))
    run_dataset(ctx)
    for stage, secs in (("scene", 0.4), ("simready", 1.2), ("dataset", 3.5)):
        (out / stage / ".complete.json").write_text(json.dumps({"stage": stage, "timings": {"total": secs}}))
    return ctx


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    ctx = _build_run(out)
    result = run_report(ctx)
    return out, ctx, result


def test_report_is_self_contained_and_escapes_manifest_text(report_run):
    out, _, result = report_run
    page = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert "report/report.html" in result.outputs
    assert "<script" not in page.lower() and "<img src=x" not in page and "<b>mug" not in page
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; &quot;mug&quot;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "put the &lt;b&gt;mug&lt;/b&gt; &amp; &quot;cup&quot; on the table" in page
    assert "&lt;script&gt;steal()&lt;/script&gt; grasp slipped" in page
    # every image is embedded; nothing is fetched from elsewhere
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) >= 5 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "href=" not in page


def test_report_sections_and_pngs(report_run):
    out, _, _ = report_run
    page = (out / "report" / "report.html").read_text(encoding="utf-8")
    for heading in ("Quality certificate", "Scene", "Physics", "Scene graph from above",
                    "Tasks and success rates", "Sample episodes", "Camera top", "Stage timings"):
        assert heading in page, heading
    assert "3 of 4 episodes succeeded" in page
    assert "Failed episodes (1)" in page and "this page so far" in page
    pngs = sorted(p.name for p in (out / "report").glob("*.png"))
    assert {"scene_graph.png", "success_rates.png", "contact_sheet_top.png", "stage_timings.png",
            "keyframes.png", "failed_episodes.png"} <= set(pngs)
    assert any(n.startswith("trajectory_episode_") for n in pngs)
    for p in (out / "report").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_certificate_says_what_was_checked(report_run):
    out, _, _ = report_run
    cert = json.loads((out / "report" / "quality_certificate.json").read_text())
    checks = {c["name"]: c for c in cert["checks"]}
    assert checks["dataset_invariants"]["passed"] is True
    assert checks["dataset_matches_episodes"]["passed"] is True
    assert checks["dataset_matches_episodes"]["expected_episodes"] == 3
    assert checks["physics_plausible"]["passed"] is True and checks["physics_plausible"]["objects"] == 3
    assert checks["tasks_have_successes"]["success_rate_by_task"] == {"reach_box": 0.75}
    assert checks["episodes_certificate"]["passed"] is True
    # no markers for usd/geniesim/episodes in this folder
    assert checks["stages_complete"]["passed"] is False
    assert set(checks["stages_complete"]["details"]) == {"usd: no marker", "geniesim: no marker", "episodes: no marker"}
    assert cert["passed"] is False and all(c["what"] for c in cert["checks"])
    page = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert "arm ended over the box &lt;within 2 cm&gt;" in page


def test_certificate_fails_on_a_corrupted_dataset(report_run, tmp_path):
    out, _, _ = report_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    stats = json.loads((copy / "dataset/meta/stats.json").read_text())
    stats["action"]["max"] = [v + 1 for v in stats["action"]["max"]]
    (copy / "dataset/meta/stats.json").write_text(json.dumps(stats))
    run_report(StageContext(manifest_url=str(copy / "manifest.json"), out_url=str(copy), options=RunOptions()))
    cert = json.loads((copy / "report" / "quality_certificate.json").read_text())
    check = {c["name"]: c for c in cert["checks"]}["dataset_invariants"]
    assert check["passed"] is False and any("action.max" in d for d in check["details"])


def test_episodes_certificate_that_disagrees_with_the_files(report_run, tmp_path):
    out, _, _ = report_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    (copy / "episodes" / "quality_certificate.json").write_text(json.dumps({"checks": {"a": "b"},
                                                                           "results": {"episodes": 7}}))
    run_report(StageContext(manifest_url=str(copy / "manifest.json"), out_url=str(copy), options=RunOptions()))
    cert = json.loads((copy / "report" / "quality_certificate.json").read_text())
    check = {c["name"]: c for c in cert["checks"]}["episodes_certificate"]
    assert check["passed"] is False and "certificate counts 7 episodes" in check["details"][0]


def test_report_on_a_folder_with_nothing_in_it(tmp_path):
    result = run_report(StageContext(manifest_url=str(tmp_path / "m.json"), out_url=str(tmp_path)))
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Inputs not available" in page and "No episode files." in page
    assert result.summary["certificate_passed"] is False


def test_scene_labels_never_overlap_and_name_the_largest_first():
    from matplotlib.figure import Figure

    from blueprint_pipeline.report.plots import place_labels

    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.add_subplot()
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 4)
    rng = np.random.default_rng(0)
    points = rng.uniform(0.2, 3.8, (300, 2))  # a crowded room: 300 objects
    drawn = place_labels(fig, ax, [(p, f"object number {i}") for i, p in enumerate(points)], max_labels=30)
    assert 5 <= len(drawn) <= 30
    assert drawn[0].get_text() == "object number 0"  # the first (most important) always gets its label
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in drawn]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_the_path_plot_shows_the_workspace_not_the_room():
    from blueprint_pipeline.report.plots import WORKSPACE_MARGIN_M, workspace_xy

    rec = make_episode(0, frames=20)
    rec.object_poses[:, 0] += 6.0  # an object across the room moves nowhere near the arm
    lo, hi = workspace_xy(rec)
    path = np.vstack([rec.ee_pose[:, :2], rec.task_state[:, :2], rec.task_state[:1, 7:9]])
    np.testing.assert_allclose(lo, path.min(axis=0) - WORKSPACE_MARGIN_M)
    np.testing.assert_allclose(hi, path.max(axis=0) + WORKSPACE_MARGIN_M)
    assert hi[0] < rec.object_poses[0, 0]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc")
def test_figures_drawn_from_many_threads_open_the_fonts_once():
    """Matplotlib caches open font files per thread: drawn on the callers' threads, every new scene
    thread of a batch opened them again. Five threads alive at once must not hold more font files
    than one does."""
    import threading

    from blueprint_pipeline.report.plots import success_rates_png

    def font_files() -> int:
        n = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                n += os.readlink(f"/proc/self/fd/{fd}").endswith(".ttf")
            except OSError:
                continue
        return n

    success_rates_png({"pick_place": (3, 4)})
    after_one = font_files()
    assert after_one >= 1  # the figure has text, so a font file is open
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def draw() -> None:
        try:
            success_rates_png({"stack": (1, 2)})
            barrier.wait(timeout=60)  # all five alive at once, so none reuses another's thread id
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=draw) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert font_files() == after_one
