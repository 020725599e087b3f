"""A secret resolved through the resolver never appears in a failure marker, a log line or
the exception text of a failing stage."""

from __future__ import annotations

import json
import logging

import pytest

from blueprint_pipeline import config, pipeline, storage
from blueprint_pipeline.cli import main
from blueprint_pipeline.errors import DependencyError
from blueprint_pipeline.contract import MANIFEST_INPUT, RunOptions, StageContext, StageResult
from blueprint_pipeline.pipeline import Stage
from blueprint_pipeline.runner import run_pipeline
from blueprint_pipeline.secrets import clear_cache, get_secret

SECRET = "sk-live-5f2b9c0d7e1a4b3c"
log = logging.getLogger("blueprint_pipeline.tests.leaky")


def leaky_stage(ctx: StageContext) -> StageResult:
    key = get_secret("ESTIMATOR_API_KEY", settings=config.load_settings({}))
    log.warning("calling the estimator with key %s", key)
    try:
        raise ConnectionError(f"handshake failed for Authorization: Bearer {key}")
    except ConnectionError:
        log.exception("estimator call failed (key=%s)", key)
    raise DependencyError(f"estimator refused key {key!r}")


@pytest.fixture(autouse=True)
def setup(monkeypatch):
    clear_cache()
    monkeypatch.setattr(config, "_cached", None)
    monkeypatch.setenv("ESTIMATOR_API_KEY", SECRET)
    monkeypatch.setattr(pipeline, "STAGES", [Stage("leaky", leaky_stage, (MANIFEST_INPUT,))])
    yield
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_blueprint", False)]:
        root.removeHandler(h)
    clear_cache()


@pytest.fixture
def manifest(tmp_path) -> str:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"scene_id": "s", "objects": []}))
    return str(path)


@pytest.mark.parametrize("log_json", [True, False])
def test_secret_absent_from_marker_logs_and_cli_output(manifest, tmp_path, capsys, log_json):
    out = tmp_path / "out"
    argv = ["run", manifest, "--out", str(out)] + (["--log-json"] if log_json else [])
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 1
    captured = capsys.readouterr()
    marker_text = (out / "leaky" / ".failed.json").read_text()
    for text in (captured.out, captured.err, marker_text):
        assert SECRET not in text
    assert "***" in marker_text and "***" in captured.err  # the masked messages are there
    assert "handshake failed" in captured.err  # the logged traceback was written, masked
    marker = json.loads(marker_text)
    assert marker["category"] == "dependency" and "refused key" in marker["message"]


def test_secret_absent_from_the_raised_exception(manifest, tmp_path, caplog):
    ctx = StageContext(manifest, str(tmp_path / "out"), options=RunOptions())
    with pytest.raises(DependencyError) as info:
        run_pipeline(ctx)
    assert SECRET not in str(info.value) and "***" in str(info.value)
    marker = storage.read_text(str(tmp_path / "out" / "leaky" / ".failed.json"))
    assert SECRET not in marker


def test_redact_values_masks_every_string_at_any_depth():
    from blueprint_pipeline.secrets.redact import redact_values, register_secret

    register_secret(SECRET)
    value = {"material": f"plastic {SECRET}", SECRET: [1, (f"x{SECRET}", 2.5)], "n": None, "ok": True}
    assert redact_values(value) == {"material": "plastic ***", "***": [1, ("x***", 2.5)], "n": None, "ok": True}
