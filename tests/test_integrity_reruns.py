"""Reruns never reuse stale results: edited inputs, edited outputs, failures of the machine,
two runs into one folder (the integrity issue, items 1-4)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from blueprint_pipeline import storage
from blueprint_pipeline.cli import main as cli_main
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.simready.io import load_physics
from blueprint_pipeline.storage.lock import LOCK_NAME, OutputLock, OutputLockedError

ROOT = Path(__file__).resolve().parents[1]
KITCHEN = ROOT / "examples" / "kitchen.json"


def _tree_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file below `folder` except markers and other hidden names."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def _run(manifest: Path, out: Path, **options) -> list:
    opts = RunOptions(episodes=options.pop("episodes", 2), **options)
    return run_pipeline(StageContext(manifest_url=str(manifest), out_url=str(out), options=opts))


def _run_until(manifest: Path, out: Path, last: str, episodes: int = 2) -> dict[str, str]:
    """Run the stages up to `last` (each with --only); their statuses by name."""
    from blueprint_pipeline.pipeline import STAGE_NAMES

    ctx = StageContext(manifest_url=str(manifest), out_url=str(out), options=RunOptions(episodes=episodes))
    names = STAGE_NAMES[:STAGE_NAMES.index(last) + 1]
    return {name: run_pipeline(ctx, only=name)[-1].status for name in names}


def _edited_kitchen(tmp_path: Path) -> Path:
    """The kitchen with the spoon box (the first pick_place task's target) moved 5 cm and made heavier."""
    manifest = json.loads(KITCHEN.read_text())
    spoon = next(o for o in manifest["objects"] if o["id"] == "spoon_box")
    spoon["transform"]["position"]["x"] += 0.05
    spoon.setdefault("physics", {})["mass_kg"] = 0.35
    path = tmp_path / "kitchen_edited.json"
    path.write_text(json.dumps(manifest))
    return path


def test_edited_manifest_rerun_into_the_same_folder_equals_a_fresh_run(tmp_path):
    reused = tmp_path / "reused"
    _run(KITCHEN, reused)
    before = _tree_hashes(reused / "dataset")
    edited = _edited_kitchen(tmp_path)
    _run(edited, reused)
    fresh = tmp_path / "fresh"
    _run(edited, fresh)
    summary = json.loads((reused / "episodes" / "summary.json").read_text())
    assert summary["resumed_from_journal"] == 0  # every episode was simulated again
    assert _tree_hashes(reused / "dataset") == _tree_hashes(fresh / "dataset")
    assert _tree_hashes(reused / "dataset") != before


def test_results_of_other_inputs_are_deleted_not_reused(tmp_path):
    out = tmp_path / "out"
    _run(KITCHEN, out, episodes=2)
    results = out / "episodes" / "results"
    stale = results / "episode_000007.json"  # an index this run does not have
    stale.write_text((results / "episode_000000.json").read_text())
    _run(_edited_kitchen(tmp_path), out, episodes=2)
    assert sorted(p.name for p in results.iterdir()) == ["episode_000000.json", "episode_000001.json"]


def test_same_size_edit_of_an_output_reruns_its_stage(tmp_path):
    out = tmp_path / "out"
    _run_until(KITCHEN, out, "usd")
    physics = out / "simready" / "physics.json"
    text = physics.read_text()
    assert '"static_friction": 0.6' in text
    edited = text.replace('"static_friction": 0.6', '"static_friction": 9e9', 1)
    assert len(edited) == len(text)
    physics.write_text(edited)
    outcomes = _run_until(KITCHEN, out, "usd")
    assert outcomes == {"scene": "skipped", "simready": "ok", "usd": "skipped"}  # same bytes again
    assert physics.read_text() == text  # written again from its inputs


def test_upstream_values_are_range_checked_when_loaded(tmp_path):
    out = tmp_path / "out"
    _run_until(KITCHEN, out, "simready")
    physics = out / "simready" / "physics.json"
    doc = json.loads(physics.read_text())
    static = next(k for k, v in doc["objects"].items() if not v["is_dynamic"])
    doc["objects"][static]["mass_kg"] = -5.0
    physics.write_text(json.dumps(doc))
    with pytest.raises(Exception) as info:
        load_physics(str(physics))
    assert f"objects.{static}.mass_kg" in str(info.value)
    doc["objects"][static]["mass_kg"] = 5.0
    doc["objects"][static]["static_friction"] = 9e9
    physics.write_text(json.dumps(doc))
    with pytest.raises(Exception, match="static_friction"):
        load_physics(str(physics))


def simulate_on_a_full_disk(item, heartbeat):
    """The episodes worker on a disk that is full while `<out>/DISK_FULL` exists: every third
    episode's file cannot be written (top level, so worker processes can unpickle it)."""
    from blueprint_pipeline.sim import stage as episodes_stage

    if item.episode_index % 3 == 0 and os.path.exists(os.path.join(item.out_url, "DISK_FULL")):
        raise OSError(errno.ENOSPC, "No space left on device", "episode_file.npz")
    return episodes_stage.simulate_item(item, heartbeat)


def test_disk_full_episodes_are_not_results_and_are_retried(tmp_path, monkeypatch):
    from blueprint_pipeline.sim import stage as episodes_stage

    out = tmp_path / "out"
    _run_until(KITCHEN, out, "geniesim")
    monkeypatch.setattr(episodes_stage, "simulate_item", simulate_on_a_full_disk)
    (out / "DISK_FULL").touch()
    ctx = StageContext(manifest_url=str(KITCHEN), out_url=str(out), options=RunOptions(episodes=6))
    with pytest.raises(Exception) as info:
        run_pipeline(ctx, only="episodes")
    assert getattr(info.value, "category", None) == "environment"
    assert "No space left on device" in str(info.value)
    assert not (out / "episodes" / ".complete.json").exists()
    failed = json.loads((out / "episodes" / ".failed.json").read_text())
    assert failed["category"] == "environment" and "Free disk space" in " ".join(failed["recommendations"])
    results = sorted(p.name for p in (out / "episodes" / "results").iterdir())
    assert results == [f"episode_00000{i}.json" for i in (1, 2, 4, 5)]  # 0 and 3 hit the full disk
    (out / "DISK_FULL").unlink()  # space freed
    outcome = run_pipeline(ctx, only="episodes")[-1]
    assert outcome.status == "ok"
    summary = json.loads((out / "episodes" / "summary.json").read_text())
    assert summary["episodes"] == 6 and summary["resumed_from_journal"] == 4
    assert "error" not in summary["failure_reasons"]


def test_force_reruns_recorded_failures(tmp_path):
    out = tmp_path / "out"
    _run(KITCHEN, out, episodes=2)
    result = out / "episodes" / "results" / "episode_000001.json"
    doc = json.loads(result.read_text())
    doc.update(success=False, failure_reason="grasp_slip")
    result.write_text(json.dumps(doc))
    ctx = StageContext(manifest_url=str(KITCHEN), out_url=str(out), options=RunOptions(episodes=2))
    run_pipeline(ctx, only="episodes")  # up to date? the results file is not an output: skipped
    run_pipeline(ctx, only="episodes", force=True)
    summary = json.loads((out / "episodes" / "summary.json").read_text())
    assert summary["resumed_from_journal"] == 1 and summary["succeeded"] == 2


# --- one run per output folder -------------------------------------------------------------------

HOLD = textwrap.dedent("""
    import sys, time
    from blueprint_pipeline.storage.lock import OutputLock
    lock = OutputLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(600)
""")


def _holder(tmp_path: Path, out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_into_a_locked_folder_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    holder = _holder(tmp_path, out)
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["run", str(KITCHEN), "--out", str(out), "--only", "scene"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and "in use by another run" in err and "started" in err
        assert not (out / "scene").exists()  # nothing ran
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_message(tmp_path, caplog):
    out = tmp_path / "out"
    holder = _holder(tmp_path, out)
    holder.kill()
    holder.wait()
    record = json.loads((out / LOCK_NAME).read_text())
    assert record["pid"] == holder.pid
    with caplog.at_level("WARNING"):
        _run_until(KITCHEN, out, "scene")
    assert f"took over the lock left by pid {holder.pid}" in caplog.text
    assert (out / LOCK_NAME).read_text() == ""  # released at the end


def test_lock_is_reentrant_in_one_process_and_exclusive_across(tmp_path):
    out = str(tmp_path / "out")
    with OutputLock(out):
        with OutputLock(out):  # the batch driver and the service call the runner again
            pass
        code = f"from blueprint_pipeline.storage.lock import OutputLock; OutputLock({out!r}).acquire()"
        probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert probe.returncode != 0 and "OutputLockedError" in probe.stderr
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr


def test_object_store_lease_refuses_a_live_holder_and_takes_an_expired_one():
    out = "memory://lock-test/out"
    first = OutputLock(out, lease_s=60).acquire()
    try:
        with pytest.raises(OutputLockedError, match="in use by another run"):
            OutputLock(out)._acquire_lease()  # as another process would see it
    finally:
        first.release()
    assert not storage.exists(f"{out}/{LOCK_NAME}")
    storage.atomic_write_json(f"{out}/{LOCK_NAME}", {"pid": 1, "host": "elsewhere", "started_at": "2020-01-01",
                                                     "expires_at": "2020-01-01T00:00:00+00:00", "token": "x"})
    second = OutputLock(out, lease_s=60).acquire()
    assert second.took_over and second.took_over["host"] == "elsewhere"
    second.release()


def test_two_concurrent_cli_runs_one_is_refused(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "blueprint_pipeline.cli", "run", str(KITCHEN), "--out", str(out),
           "--episodes", "2", "--log-json"]
    env = os.environ | {"BP_LOG_JSON": "1"}
    a = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    b = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    codes = sorted([a.wait(), b.wait()])
    errs = a.stderr.read() + b.stderr.read()
    assert codes == [0, 2], errs
    assert "in use by another run" in errs
    # the run that went through left a complete, consistent dataset
    info = json.loads((out / "dataset" / "meta" / "info.json").read_text())
    assert info["total_episodes"] >= 1 and list((out / "dataset" / "data").rglob("*.parquet"))


# --- categories of stage failures ----------------------------------------------------------------

def test_one_disk_full_item_fails_a_stage_whose_rate_passes():
    from blueprint_pipeline.resilience.errors import StageFailedError
    from blueprint_pipeline.resilience.partial import run_items

    def work(i: int) -> int:
        if i == 7:
            raise OSError(errno.ENOSPC, "No space left on device")
        return i

    with pytest.raises(StageFailedError) as info:
        run_items(list(range(10)), work, min_success_rate=0.5, stage="things")
    assert info.value.category == "environment" and "reason of the machine" in str(info.value)
    assert info.value.report.success_rate == 0.9


def test_below_threshold_failures_have_their_own_category_and_advice(capsys):
    from blueprint_pipeline.cli import report_error
    from blueprint_pipeline.markers import RECOMMENDATIONS
    from blueprint_pipeline.resilience.errors import StageFailedError
    from blueprint_pipeline.resilience.partial import run_items
    from blueprint_pipeline.sim.stage import EpisodesFailedError

    def work(i: int) -> int:
        if i % 2:
            raise ValueError(f"item {i} is odd")
        return i

    with pytest.raises(StageFailedError) as info:
        run_items(list(range(10)), work, min_success_rate=0.8, stage="things")
    for exc in (info.value, EpisodesFailedError("episodes: success rate 0.20 is below 0.50")):
        assert exc.category == "below_threshold"
        assert report_error(exc) == 1
        err = capsys.readouterr().err
        assert "error (below_threshold)" in err and "(internal)" not in err
    assert any("BP_MIN_SUCCESS_RATE" in line for line in RECOMMENDATIONS["below_threshold"])


def test_a_setting_that_changes_a_stages_output_reruns_that_stage_and_only_what_follows(tmp_path):
    """BP_SIMREADY_DR_MASS_REL changes the physics file's randomisation ranges: set on a rerun, it
    reruns simready (and so the stages that read its output), never reusing the old physics;
    a setting that changes no output (the log level) reruns nothing."""
    from blueprint_pipeline.config import Settings
    from blueprint_pipeline.pipeline import STAGE_NAMES

    def run(settings: Settings) -> dict[str, str]:
        ctx = StageContext(manifest_url=str(KITCHEN), out_url=str(tmp_path), options=RunOptions(episodes=2),
                           settings=settings)
        names = STAGE_NAMES[:STAGE_NAMES.index("geniesim") + 1]
        return {name: run_pipeline(ctx, only=name)[-1].status for name in names}

    default = Settings(_env_file=None)
    assert set(run(default).values()) == {"ok"}
    before = load_physics(str(tmp_path / "simready" / "physics.json"))
    assert set(run(default.model_copy(update={"log_level": "DEBUG"})).values()) == {"skipped"}
    wider = default.model_copy(update={"simready_dr_mass_rel": 0.4})
    statuses = run(wider)
    assert statuses["scene"] == "skipped" and statuses["simready"] == "ok"
    after = load_physics(str(tmp_path / "simready" / "physics.json"))
    oid = next(o for o, p in after.objects.items() if p.is_dynamic)
    width = {when: (p.objects[oid].randomization.mass_kg[1] - p.objects[oid].randomization.mass_kg[0])
             for when, p in (("before", before), ("after", after))}
    assert width["after"] == pytest.approx(2 * width["before"])  # +-40 % instead of +-20 %
    assert run(wider)["simready"] == "skipped"
