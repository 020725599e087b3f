"""The stage runner with stages registered by the test (no real stage is needed)."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import numpy as np
import pytest

from blueprint_pipeline import markers, pipeline, storage
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.contract import MANIFEST_INPUT, RunOptions, StageContext, StageResult
from blueprint_pipeline.pipeline import Stage
from blueprint_pipeline.resilience.partial import run_items
from blueprint_pipeline.runner import run_pipeline, select_stages

calls: list[str] = []


def stage_a(ctx: StageContext) -> StageResult:
    calls.append("a")
    doc = json.loads(storage.read_text(ctx.manifest_url))
    objects = sorted(o["id"] for o in doc["objects"])  # ignores everything but the ids
    storage.atomic_write_json(ctx.path("a", "ids.json"), {"ids": objects, "seed": ctx.options.seed})
    return StageResult(outputs=["a/ids.json"], summary={"objects": len(objects)})


def stage_b(ctx: StageContext) -> StageResult:
    calls.append("b")
    ids = storage.read_json(ctx.path("a", "ids.json"))["ids"]
    for i in ids:
        storage.atomic_write_text(ctx.path("b", "per_object", f"{i}.txt"), i.upper())
    return StageResult(outputs=["b/per_object"], items_ok=len(ids))


def stage_c_fails(ctx: StageContext) -> StageResult:
    calls.append("c")
    raise ValueError("simulated failure in c")


@pytest.fixture
def stages(monkeypatch):
    calls.clear()
    registered = [Stage("a", stage_a, (MANIFEST_INPUT,)), Stage("b", stage_b, ("a/ids.json",))]
    monkeypatch.setattr(pipeline, "STAGES", registered)
    return registered


def write_manifest(path: Path, ids: list[str], note: str = "") -> str:
    path.write_text(json.dumps({"scene_id": "kitchen-7", "note": note,
                                "objects": [{"id": i} for i in ids]}))
    return str(path)


@pytest.fixture(params=["local", "memory"])
def ctx(request, tmp_path, stages):
    manifest = write_manifest(tmp_path / "scene_manifest.json", ["mug", "plate"])
    out = str(tmp_path / "out") if request.param == "local" else f"memory://runner-{uuid.uuid4().hex}/out"
    return StageContext(manifest_url=manifest, out_url=out, options=RunOptions(seed=3))


def test_runs_all_stages_and_writes_complete_markers(ctx):
    outcomes = run_pipeline(ctx)
    assert [(o.stage, o.status) for o in outcomes] == [("a", "ok"), ("b", "ok")]
    marker = storage.read_json(storage.join(ctx.out_url, "a", ".complete.json"))
    assert marker["status"] == "complete" and marker["stage"] == "a"
    manifest_in = marker["inputs"][0]
    assert manifest_in["name"] == MANIFEST_INPUT
    assert manifest_in["sha256"] == storage.sha256_file(ctx.manifest_url)
    assert marker["outputs"] == [{"path": "a/ids.json", "size": storage.size(ctx.path("a", "ids.json")),
                                  "sha256": storage.sha256_file(ctx.path("a", "ids.json")),
                                  "stat": storage.stat_key(ctx.path("a", "ids.json"))}]
    assert marker["versions"]["blueprint-pipeline"] and marker["seconds"] >= 0
    assert marker["summary"] == {"objects": 2} and marker["options"]["seed"] == 3
    b = storage.read_json(storage.join(ctx.out_url, "b", ".complete.json"))
    assert [o["path"] for o in b["outputs"]] == ["b/per_object/mug.txt", "b/per_object/plate.txt"]
    assert b["inputs"][0]["sha256"] == storage.sha256_file(ctx.path("a", "ids.json"))
    assert not storage.exists(storage.join(ctx.out_url, "a", ".running.json"))


def test_up_to_date_stages_are_skipped_and_changes_rerun_only_what_they_affect(ctx, tmp_path):
    run_pipeline(ctx)
    assert [o.status for o in run_pipeline(ctx)] == ["skipped", "skipped"]
    # A manifest change that does not change a's output: a reruns, b stays skipped.
    write_manifest(Path(ctx.manifest_url), ["plate", "mug"], note="reordered")
    calls.clear()
    assert [o.status for o in run_pipeline(ctx)] == ["ok", "skipped"]
    # A manifest change that does: both rerun.
    write_manifest(Path(ctx.manifest_url), ["mug", "plate", "bowl"])
    assert [o.status for o in run_pipeline(ctx)] == ["ok", "ok"]
    assert storage.read_text(ctx.path("b", "per_object", "bowl.txt")) == "BOWL"
    # Options that change outputs rerun; worker count does not.
    faster = StageContext(ctx.manifest_url, ctx.out_url, options=RunOptions(seed=3, workers=7))
    assert [o.status for o in run_pipeline(faster)] == ["skipped", "skipped"]
    reseeded = StageContext(ctx.manifest_url, ctx.out_url, options=RunOptions(seed=4))
    assert [o.status for o in run_pipeline(reseeded)] == ["ok", "ok"]


def test_a_deleted_output_makes_the_stage_rerun(ctx):
    run_pipeline(ctx)
    storage.remove(ctx.path("b", "per_object", "mug.txt"))
    assert [o.status for o in run_pipeline(ctx)] == ["skipped", "ok"]


def test_force_only_and_from(ctx):
    run_pipeline(ctx)
    calls.clear()
    assert [o.status for o in run_pipeline(ctx, force=True)] == ["ok", "ok"] and calls == ["a", "b"]
    calls.clear()
    assert [(o.stage, o.status) for o in run_pipeline(ctx, only="b", force=True)] == [("b", "ok")]
    assert [(o.stage, o.status) for o in run_pipeline(ctx, from_stage="b")] == [("b", "skipped")]
    assert calls == ["b"]
    assert [s.name for s in select_stages(from_stage="a")] == ["a", "b"]
    with pytest.raises(InvalidInputError, match="unknown stage 'z'"):
        run_pipeline(ctx, only="z")


def test_missing_upstream_output_is_invalid_input_with_a_failure_marker(ctx):
    with pytest.raises(InvalidInputError) as info:
        run_pipeline(ctx, only="b")
    assert "a/ids.json" in str(info.value) and "--from a" in str(info.value)
    failed = storage.read_json(storage.join(ctx.out_url, "b", ".failed.json"))
    assert failed["category"] == "invalid_input" and failed["error_type"] == "InvalidInputError"
    assert failed["recommendations"] == markers.RECOMMENDATIONS["invalid_input"]


class Unserialisable:
    def __repr__(self) -> str:
        return "<Unserialisable thing>"


def test_failure_marker_has_everything_and_coerces_any_value(ctx, monkeypatch, stages):
    monkeypatch.setenv("K_SERVICE", "blueprint-svc")
    monkeypatch.setenv("CLOUD_RUN_JOB", "bp-job")
    stages.append(Stage("c", stage_c_fails, ("b/per_object",)))
    stages.append(Stage("d", stage_a, ("c/never.json",)))
    ctx.options = RunOptions(seed=3)
    odd_ctx = StageContext(ctx.manifest_url, ctx.out_url, options=ctx.options)
    odd = {"path": Path("/x/y"), "arr": np.arange(3), "nan": math.nan, "obj": Unserialisable(),
           "f32": np.float32(2.5)}
    with pytest.raises(ValueError, match="simulated failure in c"):
        run_pipeline(odd_ctx)
    assert calls == ["a", "b", "c"]  # d never ran
    failed = storage.read_json(storage.join(ctx.out_url, "c", ".failed.json"))
    assert failed["stage"] == "c" and failed["status"] == "failed"
    assert failed["error_type"] == "ValueError" and failed["message"] == "simulated failure in c"
    assert "stage_c_fails" in failed["traceback"]
    assert failed["category"] == "internal" and failed["recommendations"]
    assert failed["scene_id"] == "kitchen-7"
    assert failed["parameters"]["options"]["seed"] == 3
    env = failed["environment"]
    assert env["host"] and env["python"] and env["package_version"]
    assert env["cloud_run"] == {"K_SERVICE": "blueprint-svc", "CLOUD_RUN_JOB": "bp-job"}
    assert failed["attempt"] == 1 and failed["started_at"] <= failed["failed_at"]
    assert storage.exists(storage.join(ctx.out_url, "b", ".complete.json"))
    with pytest.raises(ValueError):
        run_pipeline(odd_ctx, only="c")
    assert storage.read_json(storage.join(ctx.out_url, "c", ".failed.json"))["attempt"] == 2
    # json_safe directly: none of these can make a marker fail.
    coerced = markers.json_safe(odd)
    assert coerced == {"path": "/x/y", "arr": [0, 1, 2], "nan": "nan", "obj": "<Unserialisable thing>",
                       "f32": 2.5}


def half_failing(ctx: StageContext) -> StageResult:
    def work(i: int) -> int:
        if i % 4 != 0:
            raise RuntimeError(f"object {i} broke")
        return i

    report = run_items(list(range(8)), work, stage="half", min_success_rate=0.5)
    return StageResult(summary=report.summary())


def test_stage_failed_error_puts_partial_results_in_the_marker(ctx, stages):
    stages.append(Stage("half", half_failing, (MANIFEST_INPUT,)))
    with pytest.raises(Exception) as info:
        run_pipeline(ctx, only="half")
    assert type(info.value).__name__ == "StageFailedError"
    failed = storage.read_json(storage.join(ctx.out_url, "half", ".failed.json"))
    partial = failed["partial_results"]
    assert partial["ok"] == 2 and partial["failed"] == 6
    assert partial["failures"][0] == {"index": 1, "key": "1", "error_type": "RuntimeError",
                                      "category": "internal", "message": "object 1 broke"}


def test_a_successful_rerun_removes_the_failure_marker(ctx, stages, monkeypatch):
    state = {"fail": True}

    def flaky(c: StageContext) -> StageResult:
        if state["fail"]:
            raise RuntimeError("first time fails")
        storage.atomic_write_text(c.path("flaky", "out.txt"), "ok")
        return StageResult(outputs=["flaky/out.txt"])

    stages.append(Stage("flaky", flaky, (MANIFEST_INPUT,)))
    with pytest.raises(RuntimeError):
        run_pipeline(ctx, only="flaky")
    state["fail"] = False
    assert run_pipeline(ctx, only="flaky")[0].status == "ok"
    assert not storage.exists(storage.join(ctx.out_url, "flaky", ".failed.json"))
    assert storage.read_json(storage.join(ctx.out_url, "flaky", ".complete.json"))["attempt"] == 2


def test_journal_is_cleared_when_inputs_change(ctx, stages):
    from blueprint_pipeline.resilience.journal import stage_journal_url

    seen: list[int] = []

    def journaled(c: StageContext) -> StageResult:
        ids = json.loads(storage.read_text(c.manifest_url))["objects"]
        report = run_items(ids, lambda o: seen.append(1) or o["id"], key=lambda o: o["id"],
                           journal_url=stage_journal_url(c.out_url, "j"))
        storage.atomic_write_json(c.path("j", "ids.json"), report.values)
        return StageResult(outputs=["j/ids.json"])

    stages.append(Stage("j", journaled, (MANIFEST_INPUT,)))
    run_pipeline(ctx, only="j")
    assert len(seen) == 2
    run_pipeline(ctx, only="j", force=True)  # same inputs: the journal is resumed
    assert len(seen) == 2
    write_manifest(Path(ctx.manifest_url), ["mug", "plate"], note="changed")
    run_pipeline(ctx, only="j")  # new inputs: the old journal must not be trusted
    assert len(seen) == 4


def test_a_stage_declaring_its_options_ignores_the_others(ctx, stages):
    stages[0] = Stage("a", stage_a, (MANIFEST_INPUT,), options=("seed",))
    run_pipeline(ctx)
    more_episodes = StageContext(ctx.manifest_url, ctx.out_url, options=RunOptions(seed=3, episodes=9))
    assert [o.status for o in run_pipeline(more_episodes)] == ["skipped", "ok"]  # b declares none
    reseeded = StageContext(ctx.manifest_url, ctx.out_url, options=RunOptions(seed=8, episodes=9))
    assert [o.status for o in run_pipeline(reseeded)][0] == "ok"


def test_a_declared_output_that_was_not_written_fails_the_stage(ctx, stages):
    stages[0] = Stage("a", stage_a, (MANIFEST_INPUT,), outputs=("a/ids.json", "a/missing.json"))
    with pytest.raises(Exception, match="a/missing.json"):
        run_pipeline(ctx, only="a")
    failed = storage.read_json(storage.join(ctx.out_url, "a", ".failed.json"))
    assert failed["error_type"] == "InternalError"


def test_new_code_of_the_same_version_reruns_every_stage(ctx, monkeypatch):
    """The fingerprint holds a digest of the package's own files, not only its version: a checkout
    or editable install with new code reruns instead of reusing what the old code made."""
    run_pipeline(ctx)
    marker = storage.read_json(ctx.path("a", ".complete.json"))
    assert marker["fingerprint"]["package_source"] == markers.package_source_digest()
    assert len(markers.package_source_digest()) == 64
    assert [o.status for o in run_pipeline(ctx)] == ["skipped", "skipped"]
    monkeypatch.setattr(markers, "package_source_digest", lambda: "0" * 64)
    calls.clear()
    assert [o.status for o in run_pipeline(ctx)] == ["ok", "ok"] and calls == ["a", "b"]
