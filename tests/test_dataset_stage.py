"""Stage `dataset`: episode files in, a published LeRobot dataset out; failures and crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_dataset_fixtures import make_episode

from blueprint_pipeline.dataset.check import check_dataset
from blueprint_pipeline.dataset.publish import PREVIOUS_NAME, STAGING_NAME, recover
from blueprint_pipeline.dataset.stage import run
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.sim.episode_io import episode_filename, save_episode


def _write_episodes(out: Path, records) -> None:
    folder = out / "episodes" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records:
        save_episode(str(folder / episode_filename(rec.episode_index)), rec)
    (out / "episodes" / "summary.json").write_text(json.dumps({"episodes": len(records)}))


def _ctx(out: Path, **options) -> StageContext:
    return StageContext(manifest_url=str(out / "manifest.json"), out_url=str(out), options=RunOptions(**options))


def test_stage_writes_only_successful_episodes_by_default(tmp_path):
    recs = [make_episode(i, frames=14, cameras=("top",), success=(i != 1)) for i in range(3)]
    _write_episodes(tmp_path, recs)
    result = run(_ctx(tmp_path))
    root = tmp_path / "dataset"
    assert check_dataset(root) == []
    assert result.summary["episodes"] == 2 and result.summary["excluded_failed"] == 1
    assert "dataset/meta/info.json" in result.outputs
    rows = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [r["source_episode_index"] for r in rows] == [0, 2]
    assert [r["episode_index"] for r in rows] == [0, 1]
    assert not (tmp_path / STAGING_NAME).exists()


def test_keep_failed_episodes_labels_them(tmp_path):
    recs = [make_episode(i, frames=14, success=(i != 1)) for i in range(3)]
    _write_episodes(tmp_path, recs)
    run(_ctx(tmp_path, keep_failed_episodes=True))
    rows = pq.read_table(tmp_path / "dataset/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [r["success"] for r in rows] == [True, False, True]
    assert rows[1]["failure_reason"] == "target not reached"
    data = pq.read_table(tmp_path / "dataset/data/chunk-000/file-000.parquet")
    ep1 = [s for s, e in zip(data.column("next.success").to_pylist(), data.column("episode_index").to_pylist(),
                             strict=True) if e == 1]
    assert not any(ep1)
    assert check_dataset(tmp_path / "dataset") == []


def test_no_usable_episode_is_a_clear_error(tmp_path):
    _write_episodes(tmp_path, [make_episode(0, frames=10, success=False)])
    with pytest.raises(InvalidInputError, match="keep_failed_episodes"):
        run(_ctx(tmp_path))
    assert not (tmp_path / "dataset").exists()


_CRASHING_RUN = textwrap.dedent("""
    import os, signal, sys
    from blueprint_pipeline.dataset import writer
    from blueprint_pipeline.dataset.stage import run
    from blueprint_pipeline.contract import RunOptions, StageContext

    original = writer.DatasetWriter.add_episode
    calls = []

    def add_then_die(self, rec):
        calls.append(rec.episode_index)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # the process dies in the middle of the dataset
        return original(self, rec)

    writer.DatasetWriter.add_episode = add_then_die
    writer.DATA_ROW_GROUP_BYTES = 1  # a row group per episode: the data file is half-written at the crash
    out = sys.argv[1]
    run(StageContext(manifest_url=out + "/manifest.json", out_url=out, options=RunOptions()))
""")


def test_a_crash_midway_keeps_the_previous_dataset_and_the_next_run_recovers(tmp_path):
    # no cameras: the writer runs in this process (with cameras it runs in a watched worker
    # process, see test_dataset_watchdog.py; the staging and publishing are the same)
    recs = [make_episode(i, frames=12) for i in range(4)]
    _write_episodes(tmp_path, recs[:2])
    run(_ctx(tmp_path))
    assert json.loads((tmp_path / "dataset/meta/info.json").read_text())["total_episodes"] == 2

    _write_episodes(tmp_path, recs)
    env = {**os.environ, "MUJOCO_GL": "egl"}
    proc = subprocess.run([sys.executable, "-c", _CRASHING_RUN, str(tmp_path)], env=env,
                          capture_output=True, check=False)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    # the half-written dataset is in staging, unfinished; the published one is the previous one
    assert (tmp_path / STAGING_NAME / "data").exists()
    assert not (tmp_path / STAGING_NAME / "meta/info.json").exists()
    assert check_dataset(tmp_path / STAGING_NAME) != []
    assert check_dataset(tmp_path / "dataset") == []
    assert json.loads((tmp_path / "dataset/meta/info.json").read_text())["total_episodes"] == 2

    run(_ctx(tmp_path))
    assert check_dataset(tmp_path / "dataset") == []
    assert json.loads((tmp_path / "dataset/meta/info.json").read_text())["total_episodes"] == 4
    assert not (tmp_path / STAGING_NAME).exists() and not (tmp_path / PREVIOUS_NAME).exists()


def test_recover_puts_back_a_dataset_moved_aside_by_an_interrupted_publish(tmp_path):
    _write_episodes(tmp_path, [make_episode(i, frames=10) for i in range(2)])
    run(_ctx(tmp_path))
    os.replace(tmp_path / "dataset", tmp_path / PREVIOUS_NAME)  # as if killed between the renames
    recover(tmp_path / "dataset")
    assert check_dataset(tmp_path / "dataset") == []
    assert not (tmp_path / PREVIOUS_NAME).exists()
