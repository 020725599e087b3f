"""The stage contract: RunOptions checked once, each stage's fingerprint holding only the options
it reads, artifacts resolved in one place."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from blueprint_pipeline import contract, pipeline, storage
from blueprint_pipeline.contract import SEED_MAX, RunOptions, StageContext, StageResult
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.runner import run_pipeline

OPTION_FIELDS = {f.name for f in dataclasses.fields(RunOptions)}


@pytest.mark.parametrize("kwargs,named", [
    ({"robot": "kuka"}, "--robot"),
    ({"episodes": -1}, "--episodes"),
    ({"seed": -1}, "--seed"),
    ({"seed": SEED_MAX + 1}, "--seed"),
    ({"workers": 0}, "--workers"),
    ({"executor": "slurm"}, "--executor"),
    ({"image_size": 200}, "--image-size"),
    ({"image_size": True}, "--image-size"),
])
def test_run_options_are_checked_naming_the_option(kwargs, named, settings):
    with pytest.raises(InvalidInputError, match=named):
        RunOptions.create(settings=settings, **kwargs)


def test_run_options_take_the_whole_seed_range_and_bp_workers(settings):
    assert RunOptions.create(seed=SEED_MAX, settings=settings).seed == SEED_MAX
    assert RunOptions.create(episodes=0, settings=settings).episodes == 0
    assert RunOptions.create(settings=settings).workers == settings.workers == 2
    assert [RunOptions.create(image_size=s, settings=settings).image_size for s in (128, 224, 256)] == [128, 224, 256]


def test_every_construction_site_uses_the_factory():
    """Outside the contract and tests, RunOptions is only built by RunOptions.create."""
    root = Path(contract.__file__).resolve().parent
    direct = []
    for f in root.rglob("*.py"):
        if f.name == "contract.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "RunOptions":
                direct.append(f"{f.relative_to(root)}:{node.lineno}")
    assert direct == []


@pytest.mark.parametrize("argv", [["run", "m.json", "--out", "o", "--seed", "-1"],
                                  ["episodes", "o", "--seed", "-5"],
                                  ["batch", "s", "--out", "o", "--seed", str(SEED_MAX + 1)],
                                  ["run", "m.json", "--out", "o", "--image-size", "100"],
                                  ["episodes", "o", "--image-size", "512"]])
def test_the_cli_refuses_seeds_out_of_range_with_exit_2(argv, tmp_path):
    run = subprocess.run([sys.executable, "-m", "blueprint_pipeline.cli", *argv], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    flag = argv[-2]
    assert run.returncode == 2 and flag in run.stderr, run.stderr


def _option_reads(module_file: Path) -> set[str]:
    """RunOptions fields a stage module reads: `<x>.options.<field>` and `opts.<field>`."""
    found = set()
    for node in ast.walk(ast.parse(module_file.read_text())):
        if not (isinstance(node, ast.Attribute) and node.attr in OPTION_FIELDS):
            continue
        owner = node.value
        if (isinstance(owner, ast.Attribute) and owner.attr == "options") or (
                isinstance(owner, ast.Name) and owner.id in ("opts", "options")):
            found.add(node.attr)
    return found


@pytest.mark.parametrize("stage", pipeline.STAGES, ids=lambda s: s.name)
def test_each_stage_declares_exactly_the_options_it_reads(stage):
    import importlib

    module = importlib.import_module(stage.run.__qualname__.rsplit(".", 1)[0])
    reads = _option_reads(Path(module.__file__)) - {"workers", "executor"}  # speed only, never fingerprinted
    assert stage.options is not None, f"{stage.name} declares no options: every option would rerun it"
    assert reads == set(stage.options)


def test_every_setting_either_changes_named_stages_outputs_or_none():
    """A new setting must be classified: named by the stages whose outputs it changes (then its
    value is in their fingerprints and a rerun with another value reruns them), or listed as
    changing no output. No secret is ever part of a fingerprint (fingerprints go into markers)."""
    from blueprint_pipeline.config import Settings
    from blueprint_pipeline.runner import SETTINGS_NOT_IN_OUTPUTS

    named = [n for s in pipeline.STAGES for n in s.settings]
    assert len(named) == len(set(named)), "a setting named by two stages"
    assert set(named) | SETTINGS_NOT_IN_OUTPUTS == set(Settings.model_fields)
    assert not set(named) & SETTINGS_NOT_IN_OUTPUTS
    secret = {n for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
    assert secret and not secret & set(named)


def _fake(stage: pipeline.Stage):
    """A stand-in for `stage` that writes its declared output from its inputs and the options it
    declares (so an option it does not declare cannot change what it writes)."""

    def run(ctx: StageContext) -> StageResult:
        inputs = [storage.sha256_file(ctx.manifest_url) if i == contract.MANIFEST_INPUT else i
                  if i in (contract.ASSETS_INPUT, contract.ROBOT_MODEL_INPUT)
                  else storage.sha256_tree(storage.join(ctx.out_url, i)) for i in stage.inputs]
        opts = {k: getattr(ctx.options, k) for k in stage.options or ()}
        read_later = {i for s in pipeline.STAGES for i in s.inputs if i.startswith(f"{stage.name}/")}
        written = sorted(set(stage.outputs) | read_later)
        written = [f"{rel}/episode.npz" if rel == contract.EPISODES_DATA.rel else rel for rel in written]
        for rel in written:
            storage.atomic_write_text(storage.join(ctx.out_url, rel), json.dumps([inputs, opts]))
        return StageResult(outputs=written)

    return dataclasses.replace(stage, run=run)


def test_changing_episodes_or_seed_reruns_only_the_stages_that_read_them(tmp_path, monkeypatch, settings):
    monkeypatch.setattr(pipeline, "STAGES", [_fake(s) for s in pipeline.STAGES])
    manifest = tmp_path / "scene_manifest.json"
    manifest.write_text("{}")

    def run(**options) -> dict[str, str]:
        ctx = StageContext(str(manifest), str(tmp_path / "out"), options=RunOptions(**options), settings=settings)
        return {o.stage: o.status for o in run_pipeline(ctx)}

    assert set(run(episodes=2).values()) == {"ok"}
    rerun = run(episodes=3)
    assert [s for s, status in rerun.items() if status == "ok"] == ["episodes", "dataset", "report"]
    rerun = run(episodes=3, seed=7)
    assert [s for s, status in rerun.items() if status == "ok"] == ["episodes", "dataset", "report"]
    assert set(run(episodes=3, seed=7, workers=5).values()) == {"skipped"}
    rerun = run(episodes=3, seed=7, image_size=224)  # the cameras' resolution changes the episodes
    assert [s for s, status in rerun.items() if status == "ok"] == ["episodes", "dataset", "report"]


def test_context_resolves_artifacts_and_the_asset_root(tmp_path, settings, make_ctx):
    ctx = make_ctx(tmp_path / "out", manifest=tmp_path / "in" / "m.json")
    assert ctx.url(contract.SCENE_NORMALIZED) == storage.join(str(tmp_path / "out"), "scene", "normalized.jsonl")
    assert ctx.asset_root() == str(tmp_path / "in")
    rooted = make_ctx(tmp_path, settings_=settings.model_copy(update={"asset_root": "gs://assets"}))
    assert rooted.asset_root() == "gs://assets"
