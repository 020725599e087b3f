"""Video datasets are written in a watched worker process: a stalled write is killed and restarted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_dataset_fixtures import make_episode

from blueprint_pipeline.dataset.check import check_dataset
from blueprint_pipeline.dataset.stage import run
from blueprint_pipeline.dataset.watchdog import (
    ATTEMPTS,
    WriteJob,
    progress_path,
    write_dataset_watched,
    write_in_worker,
)
from blueprint_pipeline.dataset.writer import WriterOptions
from blueprint_pipeline.errors import InvalidInputError, StageTimeoutError
from blueprint_pipeline.contract import RunOptions, StageContext
from blueprint_pipeline.sim.episode_io import episode_filename, save_episode


def _episode_files(out: Path, records) -> str:
    folder = out / "episodes" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records:
        save_episode(str(folder / episode_filename(rec.episode_index)), rec)
    return str(folder)


def stall_on_first_attempt(job: WriteJob, heartbeat) -> tuple[dict, dict]:
    """Pool task: the first attempt leaves a partial file and then hangs without a heartbeat, the
    way the AV1 encoder deadlocks; later attempts write the dataset."""
    marker = Path(job.staging).parent / "attempts"
    attempts = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(attempts))
    if attempts == 1:
        Path(job.staging).mkdir(parents=True)
        (Path(job.staging) / "half-written.parquet").write_bytes(b"PAR1")
        time.sleep(600)
    return write_in_worker(job, heartbeat)


def always_stall(job: WriteJob, heartbeat) -> None:
    time.sleep(600)


def report_progress_slowly(job: WriteJob, heartbeat) -> tuple[dict, dict]:
    for done in (1, 2):
        Path(job.progress_file).write_text(f"{done} 3")
        for _ in range(30):  # 3 s per step, beating, so the parent's relay (every 0.5 s) sees each count
            heartbeat()
            time.sleep(0.1)
    return write_in_worker(job, heartbeat)


@pytest.fixture(scope="module")
def camera_episodes(tmp_path_factory):
    out = tmp_path_factory.mktemp("episodes")
    return _episode_files(out, [make_episode(i, frames=12, cameras=("top",)) for i in range(3)])


def test_a_stalled_write_is_killed_and_the_dataset_written_again(tmp_path, camera_episodes):
    job = WriteJob(camera_episodes, str(tmp_path / "staging"), WriterOptions(), keep_failed=False)
    info, summary = write_dataset_watched(job, stall_s=1.0, task=stall_on_first_attempt)
    assert summary["write_attempts"] == 2 and (tmp_path / "attempts").read_text() == "2"
    assert info["total_episodes"] == 3
    assert not (tmp_path / "staging" / "half-written.parquet").exists()
    assert check_dataset(tmp_path / "staging") == []


def test_a_write_that_always_stalls_fails_with_a_timeout_after_the_attempts(tmp_path, camera_episodes):
    job = WriteJob(camera_episodes, str(tmp_path / "staging"), WriterOptions(), keep_failed=False)
    with pytest.raises(StageTimeoutError, match=f"stalled {ATTEMPTS} times"):
        write_dataset_watched(job, stall_s=0.5, task=always_stall)


def test_an_orphaned_worker_stops_before_writing(tmp_path, camera_episodes):
    dead = WriteJob(camera_episodes, str(tmp_path / "staging"), WriterOptions(), keep_failed=False,
                    parent_pid=2**22 + 12345)  # above the kernel's pid_max: no such process
    with pytest.raises(SystemExit, match="has exited"):
        write_in_worker(dead, heartbeat=lambda: None)
    assert not (tmp_path / "staging" / "meta" / "info.json").exists()


def test_the_stage_writes_camera_episodes_through_the_watched_worker(tmp_path):
    _episode_files(tmp_path, [make_episode(i, frames=12, cameras=("top",)) for i in range(2)])
    result = run(StageContext(manifest_url=str(tmp_path / "m.json"), out_url=str(tmp_path), options=RunOptions()))
    assert result.summary["write_attempts"] == 1 and result.summary["cameras"] == ["observation.images.top"]
    assert check_dataset(tmp_path / "dataset") == []
    assert json.loads((tmp_path / "dataset/meta/info.json").read_text())["total_episodes"] == 2


def test_bad_input_found_by_the_worker_is_still_bad_input(tmp_path):
    _episode_files(tmp_path, [make_episode(0, frames=12, cameras=("top",), success=False)])
    with pytest.raises(InvalidInputError, match="keep_failed_episodes"):
        run(StageContext(manifest_url=str(tmp_path / "m.json"), out_url=str(tmp_path), options=RunOptions()))
    assert not (tmp_path / "dataset").exists()


def test_the_workers_progress_reaches_the_parents_progress_callback(tmp_path, camera_episodes):
    staging = tmp_path / "staging"
    job = WriteJob(camera_episodes, str(staging), WriterOptions(), keep_failed=False,
                   progress_file=str(progress_path(staging)))
    calls = []
    write_dataset_watched(job, stall_s=30, progress=lambda *a: calls.append(a), task=report_progress_slowly)
    assert (1, 3, "episodes written") in calls and (2, 3, "episodes written") in calls
    assert calls[-1] == (3, 3, "episodes written")
    assert not progress_path(staging).exists()
