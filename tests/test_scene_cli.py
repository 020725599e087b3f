"""`blueprint validate / normalize / synth` and the `scene` stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprint_pipeline.cli import main
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.contract import SCENE_NORMALIZED
from blueprint_pipeline.scene.io import load_scene
from blueprint_pipeline.scene.stage import run as run_stage

EXAMPLES = Path(__file__).parent.parent / "examples"


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), " ".join(out.split()), err


def test_validate_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["validate", str(EXAMPLES / "office.json")], capsys)
    assert code == 0
    assert "valid manifest office_demo (version 1.0.0): 17 objects" in out
    assert "frame y_up (normalised to z_up), 0.01 m per unit, euler angles in degrees" in out
    assert "manipulable_object │ 8" in out and "no warnings" in out


def test_normalize_writes_jsonl_with_header_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "k.jsonl"
    code, out, _ = cli(["normalize", str(EXAMPLES / "kitchen.json"), "-o", str(target)], capsys)
    assert code == 0 and "wrote 25 objects" in out
    lines = target.read_text().splitlines()
    assert json.loads(lines[0])["schema"] == "blueprint.normalized_scene/1"
    assert json.loads(lines[0])["object_count"] == 25 == len(lines) - 1
    assert load_scene(str(target)).by_id()["mug_red"].aabb_min_m[2] == pytest.approx(0.75)


def test_synth_then_validate_streamed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    code, out, _ = cli(["synth", "--objects", "3000", "--seed", "4", "-o", str(path)], capsys)
    assert code == 0 and "wrote 3000 objects" in out
    code, out, _ = cli(["validate", str(path), "--strict", "--stream-threshold-mb", "0.1"], capsys)
    assert code == 0 and "3000 objects" in out and "read as a stream" in out


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["synth", "--objects", "-5", "-o", str(tmp_path / "x.json")], capsys)
    assert code == 2 and "--objects must be between 0 and 10,000,000" in err
    code, _, err = cli(["validate", str(EXAMPLES / "kitchen.json"), "--stream-threshold-mb", "-1"], capsys)
    assert code == 2 and "--stream-threshold-mb must be >= 0" in err
    code, _, err = cli(["validate", str(tmp_path / "missing.json")], capsys)
    assert code == 2 and "manifest not found" in err and "Traceback" not in err
    code, _, err = cli(["validate", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err


def test_stage_writes_normalized_scene(tmp_path: Path) -> None:
    ctx = StageContext(manifest_url=str(EXAMPLES / "warehouse.json"), out_url=str(tmp_path))
    result = run_stage(ctx)
    assert result.outputs == [SCENE_NORMALIZED.rel]
    assert result.items_ok == 27 and result.summary["source_frame"] == "z_up"
    scene = load_scene(SCENE_NORMALIZED.url(str(tmp_path)))
    assert len(scene.objects) == scene.header.object_count == 27


def test_stage_writes_nothing_on_invalid_input(tmp_path: Path) -> None:
    m = json.loads((EXAMPLES / "kitchen.json").read_text())
    m["objects"][-1]["transform"]["scale"] = {"x": 1, "y": 0, "z": 1}
    m["objects"][-2]["colour"] = "teal"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(m))
    out = tmp_path / "out"
    with pytest.raises(InvalidInputError) as info:
        run_stage(StageContext(manifest_url=str(bad), out_url=str(out), options=RunOptions(strict=True)))
    text = str(info.value)
    assert "objects[24].transform.scale.y: must be > 0" in text
    assert "objects[23].colour: unknown key (strict mode)" in text
    assert not (out / SCENE_NORMALIZED.rel).exists()
    assert not (out / "scene").exists() or list((out / "scene").iterdir()) == []


def test_stage_reads_the_streaming_threshold_setting(tmp_path: Path, make_ctx, settings) -> None:
    streamed = settings.model_copy(update={"streaming_threshold_mb": 0.0})
    ctx = make_ctx(tmp_path, manifest=EXAMPLES / "kitchen.json", settings_=streamed)
    assert run_stage(ctx).summary["streamed"] is True
    ctx = make_ctx(tmp_path / "b", manifest=EXAMPLES / "kitchen.json")
    assert run_stage(ctx).summary["streamed"] is False
