"""Every documented setting exists and acts, and every setting is documented and read.

Docs to Settings: each BP_* name in README.md, docs/ and the code's strings (error messages
included) is a known variable. Settings to docs: each field has a row in docs/configuration.md's table
(also test_runner_cli) and is read by the code outside config.py, through the typed settings.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from blueprint_pipeline import config, contract
from blueprint_pipeline.config import Settings, known_variables, load_settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(contract.__file__).resolve().parent
NAME = re.compile(r"BP_[A-Z0-9_]*[A-Z0-9](_\*)?|BP_[A-Z0-9_]+_\*")
# Names the docs show on purpose that are not settings: the unknown-variable error's own example.
EXAMPLES_OF_TYPOS = {"BP_WORKRES"}


def _documented(text: str) -> set[str]:
    return {m.group(0) for m in NAME.finditer(text)}


def _sources() -> dict[str, str]:
    texts = {"README.md": (ROOT / "README.md").read_text()}
    texts |= {str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "docs").rglob("*.md"))}
    texts |= {str(p.relative_to(ROOT)): p.read_text() for p in sorted(PACKAGE.rglob("*.py"))}
    return texts


def _unknown(names: set[str]) -> set[str]:
    known = known_variables()
    missing = set()
    for n in names - EXAMPLES_OF_TYPOS:
        if n.endswith("_*"):
            if not any(k.startswith(n[:-1]) for k in known):
                missing.add(n)
        elif n not in known:
            missing.add(n)
    return missing


def test_the_name_finder_sees_names_and_prefixes():
    assert _documented("set `BP_VIDEO_CODEC=h264`, or BP_RETRY_* and BP_X_FILE") == {
        "BP_VIDEO_CODEC", "BP_RETRY_*", "BP_X_FILE"}
    assert _unknown({"BP_NOT_A_SETTING", "BP_RETRY_*", "BP_NOPE_*"}) == {"BP_NOT_A_SETTING", "BP_NOPE_*"}


def test_every_setting_the_docs_and_messages_name_exists():
    unknown = {f"{where}: {n}" for where, text in _sources().items() for n in _unknown(_documented(text))}
    assert unknown == set()


def test_every_setting_has_a_row_in_the_configuration_page():
    page = (ROOT / "docs" / "configuration.md").read_text()
    rows = set(re.findall(r"^\| `(BP_[A-Z0-9_]+)` \|", page, flags=re.M))
    assert {f"BP_{n.upper()}" for n in Settings.model_fields} - rows == set()


def _settings_reads() -> set[str]:
    """Settings fields read as attributes anywhere in the package outside config.py."""
    fields = set(Settings.model_fields)
    reads = set()
    for f in PACKAGE.rglob("*.py"):
        if f.name == "config.py" and f.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in fields:
                reads.add(node.attr)
    return reads


def test_every_setting_is_read_by_the_code():
    assert set(Settings.model_fields) - _settings_reads() == set()


def test_no_settings_are_read_with_getattr_defaults():
    """Typed settings: `getattr(settings, "name", default)` would restate a default."""
    found = []
    for f in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in Settings.model_fields):
                found.append(f"{f.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []


def test_dataset_settings_reach_the_writer():
    from blueprint_pipeline.dataset import layout
    from blueprint_pipeline.dataset.stage import DatasetConfig

    default = DatasetConfig.from_settings(load_settings({}), seed=4)
    assert default.writer.video.codec == "libsvtav1" and default.writer.seed == 4
    assert default.writer.data_files_size_in_mb == layout.DEFAULT_DATA_FILES_SIZE_IN_MB
    assert default.writer.video_files_size_in_mb == layout.DEFAULT_VIDEO_FILES_SIZE_IN_MB
    cfg = DatasetConfig.from_settings(load_settings({
        "BP_VIDEO_CODEC": "h264", "BP_DATA_FILES_SIZE_IN_MB": "5", "BP_VIDEO_FILES_SIZE_IN_MB": "7",
        "BP_DATASET_STALL_TIMEOUT_S": "30"}))
    assert cfg.writer.video.codec == "libx264"
    assert (cfg.writer.data_files_size_in_mb, cfg.writer.video_files_size_in_mb, cfg.stall_timeout_s) == (5, 7, 30)
    with pytest.raises(Exception, match="BP_VIDEO_CODEC"):
        load_settings({"BP_VIDEO_CODEC": "vp9"})


def test_stage_configs_are_built_from_the_settings():
    from blueprint_pipeline.geniesim.stage import GeniesimConfig
    from blueprint_pipeline.scene.stage import SceneConfig
    from blueprint_pipeline.sim.stage import NOMINAL_EPISODE_S, EpisodesConfig

    s = load_settings({"BP_STREAMING_THRESHOLD_MB": "2", "BP_INGEST_WORKERS": "3", "BP_MIN_SUCCESS_RATE": "0.9",
                       "BP_EPISODE_DEADLINE_FACTOR": "4", "BP_GENIESIM_COMMERCIAL_ONLY": "1"})
    assert SceneConfig.from_settings(s) == SceneConfig(stream_threshold_bytes=2 * 1024 * 1024, workers=3)
    episodes = EpisodesConfig.from_settings(s)
    assert episodes.min_success_rate == 0.9 and episodes.deadline_s == 4 * NOMINAL_EPISODE_S
    assert GeniesimConfig.from_settings(s).commercial_only is True


def test_min_success_rate_decides_whether_the_episodes_stage_passes(tabletop_out, make_ctx, monkeypatch):
    """Two episodes, one succeeds: passes at BP_MIN_SUCCESS_RATE 0.5, fails at 0.75."""
    from blueprint_pipeline.sim import stage as episodes_stage

    def half(items, workers, deadline_s, heartbeat_timeout_s, **kw):
        return [{"schema": episodes_stage.RESULT_SCHEMA, "episode_index": it.episode_index, "task_id": it.task_id,
                 "success": it.episode_index == 0, "failure_reason": None if it.episode_index == 0 else "dropped",
                 "kept": False, "frames": 0, "metrics": {}} for it in items]

    monkeypatch.setattr(episodes_stage, "simulate_items", half)
    ok = episodes_stage.run(make_ctx(tabletop_out, settings_=load_settings({"BP_MIN_SUCCESS_RATE": "0.5"}),
                                     episodes=2))
    assert ok.items_ok == 1 and ok.items_failed == 1
    with pytest.raises(episodes_stage.EpisodesFailedError, match="BP_MIN_SUCCESS_RATE"):
        episodes_stage.run(make_ctx(tabletop_out, settings_=load_settings({"BP_MIN_SUCCESS_RATE": "0.75"}),
                                    episodes=2))


def test_config_module_names_every_variable_it_accepts():
    assert {f"BP_{n.upper()}" for n in Settings.model_fields} <= known_variables()
    assert config.ENV_PREFIX == "BP_"
