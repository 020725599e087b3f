"""Client downloads over a real socket: sha256 verified, corrupt or hostile archives refused,
nothing half-written. The finished job is put in the service's store directly, with its
archive written by the same function the job process uses, so these tests do not need the
whole pipeline."""

from __future__ import annotations

import time
import uuid

import pytest
from service_helpers import (
    API_KEY,
    ThreadedServer,
    config_for,
    file_member,
    link_member,
    make_tar_gz,
)

from blueprint_pipeline.client.api import ClientTimeouts, ServiceClient
from blueprint_pipeline.archive import (
    UnsafeArchiveError,
    file_sha256,
    write_archive,
)
from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.resilience.errors import (
    RequestRejectedError,
    RetryExhaustedError,
)
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.service import job_process
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.auth import hash_key, key_id
from blueprint_pipeline.service.ids import new_job_id
from blueprint_pipeline.service.store import QUEUED, SUCCEEDED, Job
from blueprint_pipeline.service.worker import WorkerSettings


@pytest.fixture()
def served(tmp_path):
    app = create_app(config_for(tmp_path / "data", worker=WorkerSettings(max_concurrent_jobs=0)))
    policy = CallPolicy(f"dl-{uuid.uuid4().hex[:8]}", rate_per_s=100, failure_threshold=100,
                        base_delay_s=0.01, max_delay_s=0.05,
                        deadline_s=1.0)
    with ThreadedServer(app) as srv, ServiceClient(srv.url, API_KEY, policy=policy,
                                                   timeouts=ClientTimeouts(request_s=5)) as client:
        yield app, client


def finished_job(app, archive_builder) -> str:
    """A succeeded job whose stored result is whatever `archive_builder(path)` writes."""
    job_id = new_job_id()
    job_dir = app.state.config.data_dir / "jobs" / job_id
    job_dir.mkdir(parents=True)
    result = job_dir / job_process.RESULT_FILE
    archive_builder(result)
    now = time.time()
    app.state.store.insert(Job(
        id=job_id, owner=key_id(hash_key(API_KEY)), idempotency_key=None, request_sha256="0" * 64,
        state=SUCCEEDED, scene_id="kitchen", input_kind="manifest", params={}, created_at=now,
        updated_at=now, result_sha256=file_sha256(result), result_bytes=result.stat().st_size))
    return job_id


def pipeline_like_result(root):
    def build(path):
        (root / "dataset" / "meta").mkdir(parents=True)
        (root / "dataset" / "meta" / "info.json").write_text('{"codebase_version": "v3.0"}')
        (root / "report").mkdir()
        (root / "report" / "index.html").write_text("<html>report</html>")
        write_archive(path, root, ["dataset", "report"])
    return build


def test_download_verifies_and_extracts(served, tmp_path):
    app, client = served
    job_id = finished_job(app, pipeline_like_result(tmp_path / "src"))
    files = client.download(job_id, tmp_path / "got")
    assert sorted(files) == ["dataset/meta/info.json", "report/index.html"]
    assert (tmp_path / "got" / "report" / "index.html").read_text() == "<html>report</html>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "got", "src"]  # no temporary left


def test_corrupted_download_is_retried_then_refused(served, tmp_path):
    app, client = served
    job_id = finished_job(app, pipeline_like_result(tmp_path / "src"))
    stored = app.state.config.data_dir / "jobs" / job_id / job_process.RESULT_FILE
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the file changes under the sha256 the server announces
    stored.write_bytes(bytes(data))
    with pytest.raises(RetryExhaustedError, match="corrupt"):
        client.download(job_id, tmp_path / "got")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "src"]


@pytest.mark.parametrize("members, message", [
    ([file_member("dataset/ok.txt"), link_member("dataset/link", "/etc/passwd")], "link"),
    ([file_member("../../outside.txt")], "'..'"),
    ([file_member("/abs.txt")], "absolute"),
])
def test_hostile_result_from_the_server_is_refused(served, tmp_path, members, message):
    app, client = served
    job_id = finished_job(app, lambda path: make_tar_gz(path, members))
    with pytest.raises(UnsafeArchiveError, match=message):
        client.download(job_id, tmp_path / "dl" / "got")
    assert list((tmp_path / "dl").iterdir()) == []
    assert not (tmp_path / "outside.txt").exists()


def test_download_refuses_a_non_empty_folder_and_unfinished_jobs(served, tmp_path):
    app, client = served
    job_id = finished_job(app, pipeline_like_result(tmp_path / "src"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    with pytest.raises(InvalidInputError, match="not an empty folder"):
        client.download(job_id, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["mine.txt"]
    queued = new_job_id()
    now = time.time()
    app.state.store.insert(Job(id=queued, owner=key_id(hash_key(API_KEY)), idempotency_key=None,
                               request_sha256="0" * 64, state=QUEUED, scene_id=None, input_kind="manifest",
                               params={}, created_at=now, updated_at=now))
    with pytest.raises(RequestRejectedError) as info:
        client.download(queued, tmp_path / "none")
    assert info.value.status == 409
    with pytest.raises(InvalidInputError, match="invalid job id"):
        client.download("../" + queued[3:], tmp_path / "none")
    assert not (tmp_path / "none").exists()
