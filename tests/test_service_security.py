"""Security of the service over a real loopback socket: keys, ids, uploads, hostile bundles."""

from __future__ import annotations

import socket
import tarfile

import httpx
import pytest
from service_helpers import (
    API_KEY,
    ThreadedServer,
    auth,
    bomb_tar_gz,
    config_for,
    file_member,
    link_member,
    make_tar_gz,
    tree_snapshot,
)

from blueprint_pipeline.archive import ArchiveLimits
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.worker import WorkerSettings

JOB_ID = "0123456789abcdef0123456789abcdef"
PROTECTED = [
    ("GET", "/metrics"),
    ("GET", "/v1/jobs"),
    ("POST", "/v1/jobs"),
    ("GET", f"/v1/jobs/{JOB_ID}"),
    ("GET", f"/v1/jobs/{JOB_ID}/result"),
    ("POST", f"/v1/jobs/{JOB_ID}/cancel"),
]


@pytest.fixture()
def service(tmp_path):
    data = tmp_path / "data"
    cfg = config_for(data, max_upload_bytes=256 * 1024, rate_limit_per_s=1000.0,
                     worker=WorkerSettings(max_concurrent_jobs=0),
                     bundle_limits=ArchiveLimits(max_total_bytes=32 * 1024**2, max_ratio=50,
                                                 ratio_floor_bytes=1024**2))
    with ThreadedServer(create_app(cfg)) as srv:
        srv.data_dir = data
        yield srv


def raw_request(port: int, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send the path exactly as written (an HTTP library would normalise `..` away)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def test_healthz_needs_no_key_everything_else_does(service):
    assert httpx.get(f"{service.url}/healthz").json() == {"status": "ok"}
    for method, path in PROTECTED:
        for headers in ({}, auth("wrong-key-0000000000"), {"Authorization": API_KEY},
                        {"Authorization": "Basic " + API_KEY}):
            r = httpx.request(method, service.url + path, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{service.url}/metrics", headers=auth()).status_code == 200
    assert httpx.get(f"{service.url}/docs").status_code == 404  # no unauthenticated docs


def test_job_ids_are_validated_and_paths_never_escape(service, tmp_path):
    (tmp_path / "secret.txt").write_text("TOPSECRET")
    paths = ["/v1/jobs/..%2F..%2Fsecret.txt", "/v1/jobs/../../secret.txt", "/v1/jobs/%2e%2e/result",
             "/v1/jobs/..", "/v1/jobs/ABCDEF0123456789abcdef0123456789", f"/v1/jobs/{JOB_ID}x/result",
             "/v1/jobs/%00/result", "/v1/jobs/..%5c..%5csecret.txt/cancel"]
    for path in paths:
        for method in ("GET", "POST"):
            status, body = raw_request(service.port, method, path, auth())
            assert status in (400, 404, 405), (path, status, body)
            assert b"TOPSECRET" not in body
    status, body = raw_request(service.port, "GET", "/v1/jobs/not-a-job", auth())
    assert status == 400 and b"invalid job id" in body
    status, _ = raw_request(service.port, "GET", f"/v1/jobs/{JOB_ID}", auth())
    assert status == 404


def test_oversized_upload_is_refused_without_keeping_anything(service):
    before = tree_snapshot(service.data_dir)
    body = b'{"pad": "' + b"x" * 300_000 + b'"}'
    r = httpx.post(f"{service.url}/v1/jobs", content=body, headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        for _ in range(40):
            yield b"x" * 16384

    r = httpx.post(f"{service.url}/v1/jobs", content=chunks(), headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert tree_snapshot(service.data_dir) == before


def test_unknown_content_type_and_empty_body(service):
    r = httpx.post(f"{service.url}/v1/jobs", content=b"abc", headers={**auth(), "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = httpx.post(f"{service.url}/v1/jobs", content=b"", headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 400
    r = httpx.post(f"{service.url}/v1/jobs", content=b"{}", headers={
        **auth(), "Content-Type": "application/json", "Idempotency-Key": "../../bad key"})
    assert r.status_code == 400


@pytest.mark.parametrize("members, message", [
    ([file_member("scene_manifest.json", b"{}"), file_member("../escape.txt")], "'..'"),
    ([file_member("/tmp/abs.txt")], "absolute"),
    ([link_member("scene_manifest.json", "/etc/passwd")], "link"),
    ([file_member("a.txt"), link_member("hard", "a.txt", tarfile.LNKTYPE)], "link"),
])
def test_hostile_bundles_are_refused(service, tmp_path, members, message):
    bundle = make_tar_gz(tmp_path / "bundle.tar.gz", members)
    outside_before = tree_snapshot(tmp_path)
    r = httpx.post(f"{service.url}/v1/jobs", content=bundle.read_bytes(),
                   headers={**auth(), "Content-Type": "application/gzip"})
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    after = tree_snapshot(tmp_path)
    # Nothing new anywhere: no job folder, no upload left, nothing beside the data folder.
    assert {p for p in after - outside_before if not p.startswith("data/jobs.sqlite3")} == set()
    assert httpx.get(f"{service.url}/v1/jobs", headers=auth()).json() == {"jobs": []}


def test_compression_bomb_bundle_is_refused(service, tmp_path):
    bomb = bomb_tar_gz(tmp_path / "bomb.tar.gz", 128 * 1024**2)
    assert bomb.stat().st_size < 256 * 1024  # passes the upload limit; only the ratio stops it
    r = httpx.post(f"{service.url}/v1/jobs", content=bomb.read_bytes(),
                   headers={**auth(), "Content-Type": "application/gzip"}, timeout=60)
    assert r.status_code == 422, r.text
    assert "compression ratio" in r.json()["detail"]
    assert not any((service.data_dir / "jobs").iterdir())
    assert not any((service.data_dir / "uploads").iterdir())


def test_per_key_rate_limit_answers_429_with_retry_after(tmp_path):
    cfg = config_for(tmp_path / "data", rate_limit_per_s=0.1, rate_burst=2,  # a token per 10 s
                     worker=WorkerSettings(max_concurrent_jobs=0))
    with ThreadedServer(create_app(cfg)) as srv:
        codes = [httpx.get(f"{srv.url}/v1/jobs", headers=auth()) for _ in range(4)]
        assert [r.status_code for r in codes[:2]] == [200, 200]
        limited = [r for r in codes[2:] if r.status_code == 429]
        assert limited, [r.status_code for r in codes]
        assert int(limited[0].headers["retry-after"]) >= 1
        # The limit is per key: another key is not affected.
        from service_helpers import OTHER_KEY

        assert httpx.get(f"{srv.url}/v1/jobs", headers=auth(OTHER_KEY)).status_code == 200
