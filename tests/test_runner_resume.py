"""A stage process killed with SIGKILL midway resumes from its journal on rerun, and its
output is identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from blueprint_pipeline import storage

SCRIPT = r'''
import hashlib, json, sys, time
from blueprint_pipeline import pipeline, storage
from blueprint_pipeline.contract import MANIFEST_INPUT, StageContext, StageResult
from blueprint_pipeline.pipeline import Stage
from blueprint_pipeline.resilience.journal import stage_journal_url
from blueprint_pipeline.resilience.partial import run_items
from blueprint_pipeline.runner import run_pipeline

DELAY_S = float(sys.argv[3])

def estimate(obj):
    time.sleep(DELAY_S)
    digest = hashlib.sha256(f"{obj['id']}:{obj['size_m']}".encode()).hexdigest()
    return {"id": obj["id"], "digest": digest, "mass_kg": round(obj["size_m"] ** 3 * 700.0, 6)}

def physics(ctx):
    objects = json.loads(storage.read_text(ctx.manifest_url))["objects"]
    report = run_items(objects, estimate, workers=2, key=lambda o: o["id"], stage="physics",
                       journal_url=stage_journal_url(ctx.out_url, "physics"))
    storage.atomic_write_json(ctx.path("physics", "physics.json"), {"objects": report.values})
    return StageResult(outputs=["physics/physics.json"], summary=report.summary(),
                       items_ok=report.ok_count)

pipeline.STAGES[:] = [Stage("physics", physics, (MANIFEST_INPUT,))]
run_pipeline(StageContext(sys.argv[1], sys.argv[2]))
'''

N_OBJECTS = 40


def _run(script: Path, manifest: Path, out: Path, delay_s: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), str(manifest), str(out), str(delay_s)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_midway_then_rerun_matches_an_uninterrupted_run(tmp_path):
    script = tmp_path / "stage_script.py"
    script.write_text(SCRIPT)
    manifest = tmp_path / "scene_manifest.json"
    manifest.write_text(json.dumps({"scene_id": "s1", "objects": [
        {"id": f"obj_{i:03d}", "size_m": 0.05 + 0.01 * i} for i in range(N_OBJECTS)]}))

    killed_out = tmp_path / "killed"
    journal = killed_out / "physics" / ".journal" / "items.jsonl"
    proc = _run(script, manifest, killed_out, delay_s=0.05)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 8:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed_out / "physics" / "physics.json").exists()
    assert not (killed_out / "physics" / ".complete.json").exists()
    done_before = journal.read_text().count("\n")
    assert 8 <= done_before < N_OBJECTS

    rerun = _run(script, manifest, killed_out, delay_s=0.0)
    assert rerun.wait(120) == 0, rerun.communicate()
    reference_out = tmp_path / "reference"
    reference = _run(script, manifest, reference_out, delay_s=0.0)
    assert reference.wait(120) == 0, reference.communicate()

    resumed = (killed_out / "physics" / "physics.json").read_bytes()
    assert resumed == (reference_out / "physics" / "physics.json").read_bytes()
    marker = storage.read_json(str(killed_out / "physics" / ".complete.json"))
    assert marker["summary"]["resumed"] >= done_before - 1  # a torn last line may be redone
    assert marker["summary"]["ok"] == N_OBJECTS
