"""`blueprint run` and `blueprint config show` end to end, with stages registered here."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from blueprint_pipeline import config, pipeline, storage
from blueprint_pipeline.cli import main
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.contract import MANIFEST_INPUT, StageContext, StageResult
from blueprint_pipeline.pipeline import Stage


def copy_stage(ctx: StageContext) -> StageResult:
    doc = json.loads(storage.read_text(ctx.manifest_url))
    ctx.progress(1, 1, "objects")
    storage.atomic_write_json(ctx.path("copy", "doc.json"), doc)
    return StageResult(outputs=["copy/doc.json"])


def broken_stage(ctx: StageContext) -> StageResult:
    raise RuntimeError("the simulator fell over")


def picky_stage(ctx: StageContext) -> StageResult:
    raise InvalidInputError("objects[0].mass_kg: must be > 0")


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    monkeypatch.setattr(config, "_cached", None)
    for var in [v for v in __import__("os").environ if v.startswith("BP_")]:
        monkeypatch.delenv(var)
    yield
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_blueprint", False)]:
        root.removeHandler(h)


def cli(*argv: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    return int(info.value.code or 0)


@pytest.fixture
def manifest(tmp_path) -> str:
    path = tmp_path / "scene_manifest.json"
    path.write_text(json.dumps({"scene_id": "cli-1", "objects": [{"id": "mug"}]}))
    return str(path)


def test_run_succeeds_then_skips_and_says_where_results_are(monkeypatch, manifest, tmp_path, capsys):
    monkeypatch.setattr(pipeline, "STAGES", [Stage("copy", copy_stage, (MANIFEST_INPUT,))])
    out = tmp_path / "out"
    assert cli("run", manifest, "--out", str(out)) == 0
    text = capsys.readouterr().out
    assert f"results: {out.resolve()}" in text and "copy" in text and "ok" in text
    assert (out / "copy" / ".complete.json").exists()
    assert cli("run", manifest, "--out", str(out)) == 0
    assert "skipped" in capsys.readouterr().out
    assert cli("run", manifest, "--out", str(out), "--force", "--seed", "5", "--workers", "3") == 0
    marker = json.loads((out / "copy" / ".complete.json").read_text())
    assert marker["options"]["seed"] == 5 and marker["options"]["workers"] == 3


def test_failing_stage_exits_1_with_a_marker(monkeypatch, manifest, tmp_path, capsys):
    monkeypatch.setattr(pipeline, "STAGES", [Stage("copy", copy_stage, (MANIFEST_INPUT,)),
                                             Stage("broken", broken_stage, ("copy/doc.json",))])
    out = tmp_path / "out"
    assert cli("run", manifest, "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "the simulator fell over" in err and "Traceback" not in err
    assert "broken/.failed.json" in err
    failed = json.loads((out / "broken" / ".failed.json").read_text())
    assert failed["error_type"] == "RuntimeError" and failed["scene_id"] == "cli-1"


def test_invalid_input_exits_2_with_a_marker(monkeypatch, manifest, tmp_path, capsys):
    monkeypatch.setattr(pipeline, "STAGES", [Stage("picky", picky_stage, (MANIFEST_INPUT,))])
    out = tmp_path / "out"
    assert cli("run", manifest, "--out", str(out)) == 2
    assert "objects[0].mass_kg" in capsys.readouterr().err
    assert json.loads((out / "picky" / ".failed.json").read_text())["category"] == "invalid_input"
    assert cli("run", str(tmp_path / "missing.json"), "--out", str(out)) == 2
    assert cli("run", manifest, "--out", str(out), "--only", "nonsense") == 2
    assert "unknown stage 'nonsense'" in capsys.readouterr().err


def test_log_json_writes_json_lines(monkeypatch, manifest, tmp_path, capsys):
    monkeypatch.setattr(pipeline, "STAGES", [Stage("copy", copy_stage, (MANIFEST_INPUT,))])
    assert cli("run", manifest, "--out", str(tmp_path / "out"), "--log-json") == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    docs = [json.loads(ln) for ln in lines]
    assert any(d["message"].startswith("copy: running") for d in docs)
    assert all({"ts", "level", "logger", "message"} <= set(d) for d in docs)


def test_unknown_bp_variable_is_rejected_with_a_hint(monkeypatch, manifest, tmp_path, capsys):
    monkeypatch.setenv("BP_WORKRES", "4")
    assert cli("run", manifest, "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "BP_WORKRES" in err and "BP_WORKERS" in err


def test_config_show_masks_secrets(monkeypatch, capsys):
    monkeypatch.setenv("BP_STORAGE_OPTIONS_JSON", '{"token": "very-secret-token-123"}')
    monkeypatch.setenv("BP_RATE_LIMIT_PER_S", "0.25")
    assert cli("config", "show") == 0
    text = capsys.readouterr().out
    assert "very-secret-token-123" not in text and "***" in text
    assert "BP_RATE_LIMIT_PER_S" in text and "0.25" in text


def test_configuration_page_documents_every_setting():
    page = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    missing = [v for v in sorted(config.known_variables()) if f"`{v}`" not in page]
    assert missing == []


def test_manifest_page_states_the_nesting_limits_the_reader_enforces():
    from blueprint_pipeline.scene import reader, sanitise

    readme = " ".join((Path(__file__).resolve().parents[1] / "docs" / "manifest.md").read_text().split())
    assert f"deeper than {reader.MAX_DEPTH} levels" in readme
    assert f"nested more than {sanitise.FREE_FORM_MAX_DEPTH} levels" in readme
