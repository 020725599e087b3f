"""Sparse tar members on both paths that extract archives: the client's download and the
service's bundle upload. A few hundred bytes of tar.gz can describe a sparse file of 3 GiB whose
holes tarfile expands into zeros that never went through the decompressor, so limits counted on
the decompressed stream alone do not see them. Sparse members (GNU type 'S', PAX GNU.sparse.*
versions 0.0, 0.1 and 1.0, as GNU tar writes them) are refused outright, and the size and ratio
limits are also held on the bytes written, which stops such a member if it ever gets past the
check. The archives here are built by GNU tar from a file with a real hole; the hole itself is
never written: a refused member writes nothing, and the byte-counted limits stop a regression
after a few MiB."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import httpx
import pytest
from service_helpers import (
    API_KEY,
    ThreadedServer,
    auth,
    file_member,
    make_tar_gz,
    tiny_manifest,
    tree_snapshot,
)

from blueprint_pipeline import archive
from blueprint_pipeline.client.api import ClientTimeouts, ServiceClient
from blueprint_pipeline.archive import (
    ArchiveLimits,
    UnsafeArchiveError,
    file_sha256,
    safe_extract,
)
from blueprint_pipeline.config import load_settings
from blueprint_pipeline.resilience.policy import CallPolicy
from blueprint_pipeline.secrets import resolver
from blueprint_pipeline.service import job_process
from blueprint_pipeline.service.app import create_app
from blueprint_pipeline.service.auth import hash_key, key_id
from blueprint_pipeline.service.config import ServiceConfig
from blueprint_pipeline.service.ids import new_job_id
from blueprint_pipeline.service.store import SUCCEEDED, Job
from blueprint_pipeline.service.worker import WorkerSettings

MIB = 1024**2
HOLE = 3 * 1024**3  # the sparse file's logical size: past the client's default 2 GiB limit
SPARSE_FORMATS = {
    "gnu": ["--format=gnu"],
    "pax-0.0": ["--format=pax", "--sparse-version=0.0"],
    "pax-0.1": ["--format=pax", "--sparse-version=0.1"],
    "pax-1.0": ["--format=pax", "--sparse-version=1.0"],
}
CLI = [sys.executable, "-c", "from blueprint_pipeline.cli import main; main()"]


def gnu_tar() -> str:
    tar = shutil.which("tar")
    version = subprocess.run([tar, "--version"], capture_output=True, text=True, check=False).stdout if tar else ""
    if "GNU tar" not in version:
        pytest.skip("GNU tar (Debian package `tar`) is needed to write sparse archives")
    return tar


def _holes_kept(folder: Path) -> bool:
    probe = folder / ".hole-probe"
    with open(probe, "wb") as f:
        f.truncate(16 * MIB)
    kept = probe.stat().st_blocks * 512 < MIB
    probe.unlink()
    return kept


def sparse_tar_gz(path: Path, fmt: str, hole: int = HOLE, extra: dict[str, bytes] | None = None) -> Path:
    """A tar.gz holding `big.bin`, a sparse file of `hole` bytes (4 bytes of data at each end),
    written by GNU tar in format `fmt`, plus the `extra` files (stored before it)."""
    tar = gnu_tar()
    src = path.parent / f"{path.name}.src"
    src.mkdir()
    if not _holes_kept(src):
        pytest.skip("this filesystem does not keep holes in files")
    for name, data in (extra or {}).items():
        (src / name).write_bytes(data)
    with open(src / "big.bin", "wb") as f:
        f.write(b"head")
        f.seek(hole - 4)
        f.write(b"tail")
    subprocess.run([tar, "--sparse", *SPARSE_FORMATS[fmt], "-czf", str(path), "-C", str(src),
                    *(extra or {}), "big.bin"], check=True, capture_output=True)
    shutil.rmtree(src)
    assert path.stat().st_size < 4096
    with tarfile.open(path, "r:gz") as t:  # what the test is about: tarfile sees a sparse member
        big = t.getmember("big.bin")
        assert big.issparse() and big.size == hole
    return path


def nothing_new(root: Path, before: set[str]) -> set[str]:
    return tree_snapshot(root) - before


# -- the library function (shared by both paths) -------------------------------------------------

@pytest.mark.parametrize("hole", [HOLE, 64 * 1024], ids=["3GiB", "64KiB"])
@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_sparse_members_are_refused_and_nothing_is_written(tmp_path, fmt, hole):
    bundle = sparse_tar_gz(tmp_path / "sparse.tar.gz", fmt, hole, extra={"ok.txt": b"fine"})
    before = tree_snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="'big.bin' is a sparse file"):
        safe_extract(bundle, tmp_path / "out" / "dest")
    assert nothing_new(tmp_path, before) == {"out"}  # the parent folder only, empty
    assert not any((tmp_path / "out").iterdir())


def test_sparse_headers_tarfile_does_not_understand_are_refused(tmp_path):
    """GNU.sparse.* keys of a version tarfile does not map (here 1.1) leave a 'regular' member
    whose data is a sparse map; refused on the keys alone."""
    info = tarfile.TarInfo("GNUSparseFile.0/big.bin")
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "1", "GNU.sparse.name": "big.bin"}
    data = b"2\n0\n4\n3221225468\n4\n".ljust(512, b"\0") + b"headtail"
    info.size = len(data)
    bundle = tmp_path / "odd.tar.gz"
    with tarfile.open(bundle, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UnsafeArchiveError, match="'big.bin' is a sparse file"):
        safe_extract(bundle, tmp_path / "dest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.tar.gz"]


@pytest.mark.parametrize("limits, message", [
    (ArchiveLimits(max_total_bytes=MIB, max_ratio=1e12), "expands past the limit of 1048576 bytes"),
    (ArchiveLimits(), "compression ratio exceeds 200:1"),
], ids=["size", "ratio"])
@pytest.mark.parametrize("fmt", ["gnu", "pax-1.0"])
def test_limits_hold_on_bytes_written_if_a_sparse_member_got_past_the_check(tmp_path, monkeypatch,
                                                                            fmt, limits, message):
    """The decompressed stream of a sparse member is a few hundred bytes; only counting what is
    written sees its holes. With the sparse check disabled the limits still stop it early."""
    monkeypatch.setattr(archive, "is_sparse", lambda member: False, raising=False)
    bundle = sparse_tar_gz(tmp_path / "sparse.tar.gz", fmt, 64 * MIB)
    with pytest.raises(UnsafeArchiveError, match=f"{message}.*'big.bin'"):
        safe_extract(bundle, tmp_path / "dest", limits)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sparse.tar.gz"]


def test_size_limit_holds_for_a_normal_archive_over_it(tmp_path):
    rng = random.Random(5)  # incompressible, so the ratio limit stays out of the way
    members = [file_member(f"part-{i}.bin", rng.randbytes(400 * 1024)) for i in range(3)]
    bundle = make_tar_gz(tmp_path / "big.tar.gz", members)
    with pytest.raises(UnsafeArchiveError, match="expands past the limit of 1048576 bytes"):
        safe_extract(bundle, tmp_path / "dest", ArchiveLimits(max_total_bytes=MIB))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tar.gz"]
    files = safe_extract(bundle, tmp_path / "dest", ArchiveLimits(max_total_bytes=2 * MIB))
    assert sorted(files) == ["part-0.bin", "part-1.bin", "part-2.bin"]
    assert sum((tmp_path / "dest" / f).stat().st_size for f in files) == 3 * 400 * 1024


# -- `blueprint download` (the client) ----------------------------------------------------------

@pytest.fixture()
def served(tmp_path):
    app = create_app(ServiceConfig(data_dir=tmp_path / "data", api_key_hashes=(hash_key(API_KEY),),
                                   worker=WorkerSettings(max_concurrent_jobs=0)))
    policy = CallPolicy(f"sparse-{uuid.uuid4().hex[:8]}", rate_per_s=100, failure_threshold=100,
                        base_delay_s=0.01, max_delay_s=0.05, deadline_s=300)
    with ThreadedServer(app) as srv, ServiceClient(srv.url, API_KEY, policy=policy,
                                                   timeouts=ClientTimeouts(request_s=300)) as client:
        yield app, srv, client


def finished_job(app, result_builder) -> str:
    """A succeeded job whose stored result is whatever `result_builder(path)` writes."""
    job_id = new_job_id()
    job_dir = app.state.config.data_dir / "jobs" / job_id
    job_dir.mkdir(parents=True)
    result = job_dir / job_process.RESULT_FILE
    result_builder(result)
    now = time.time()
    app.state.store.insert(Job(
        id=job_id, owner=key_id(hash_key(API_KEY)), idempotency_key=None, request_sha256="0" * 64,
        state=SUCCEEDED, scene_id="kitchen", input_kind="manifest", params={}, created_at=now,
        updated_at=now, result_sha256=file_sha256(result), result_bytes=result.stat().st_size))
    return job_id


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_download_refuses_a_sparse_result(served, tmp_path, fmt):
    app, _, client = served
    job_id = finished_job(app, lambda path: sparse_tar_gz(path, fmt, extra={"report.txt": b"r"}))
    (tmp_path / "dl").mkdir()
    with pytest.raises(UnsafeArchiveError, match="'big.bin' is a sparse file"):
        client.download(job_id, tmp_path / "dl" / "got")
    assert list((tmp_path / "dl").iterdir()) == []  # no output folder, no temporary download


def test_blueprint_download_command_refuses_a_sparse_result(served, tmp_path):
    app, srv, _ = served
    job_id = finished_job(app, lambda path: sparse_tar_gz(path, "pax-1.0"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    env.update({"BP_API_KEY": API_KEY, "BP_SERVICE_URL": srv.url})
    (tmp_path / "dl").mkdir()
    run = subprocess.run([*CLI, "download", job_id, "--out", str(tmp_path / "dl" / "got")], env=env,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "'big.bin' is a sparse file" in run.stderr and "Traceback" not in run.stderr
    assert list((tmp_path / "dl").iterdir()) == []


# -- the service's bundle upload, limits from BP_SERVICE_* settings ------------------------------

@pytest.fixture()
def small_bundle_service(tmp_path, monkeypatch):
    for var in [v for v in os.environ if v.startswith("BP_")]:
        monkeypatch.delenv(var)
    resolver.clear_cache()
    data = tmp_path / "data"
    cfg = ServiceConfig.from_settings(load_settings({
        "BP_SERVICE_DATA_DIR": str(data), "BP_SERVICE_API_KEY_HASHES": hash_key(API_KEY),
        "BP_SERVICE_MAX_BUNDLE_EXPANDED_MB": "1", "BP_SERVICE_MAX_CONCURRENT_JOBS": "0"}))
    assert cfg.bundle_limits.max_total_bytes == MIB
    with ThreadedServer(create_app(cfg)) as srv:
        srv.data_dir = data
        yield srv
    resolver.clear_cache()


def upload(service, bundle: Path) -> httpx.Response:
    return httpx.post(f"{service.url}/v1/jobs", content=bundle.read_bytes(), timeout=None,
                      headers={**auth(), "Content-Type": "application/gzip"})


def assert_nothing_kept(service) -> None:
    assert not any((service.data_dir / "jobs").iterdir())
    assert not any((service.data_dir / "uploads").iterdir())
    assert httpx.get(f"{service.url}/v1/jobs", headers=auth(), timeout=None).json() == {"jobs": []}


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_service_refuses_a_sparse_bundle(small_bundle_service, tmp_path, fmt):
    manifest = tiny_manifest(tmp_path).read_bytes()  # a valid scene: only the sparse member is wrong
    bundle = sparse_tar_gz(tmp_path / "bundle.tar.gz", fmt, extra={"scene_manifest.json": manifest})
    r = upload(small_bundle_service, bundle)
    assert r.status_code == 422, r.text
    assert "'big.bin' is a sparse file" in r.json()["detail"]
    assert_nothing_kept(small_bundle_service)


def test_service_holds_the_bundle_limit_on_bytes_written(small_bundle_service, tmp_path):
    manifest = tiny_manifest(tmp_path).read_bytes()
    rng = random.Random(7)
    over = make_tar_gz(tmp_path / "over.tar.gz", [file_member("scene_manifest.json", manifest)]
                       + [file_member(f"part-{i}.bin", rng.randbytes(400 * 1024)) for i in range(3)])
    r = upload(small_bundle_service, over)
    assert r.status_code == 422, r.text
    assert "expands past the limit of 1048576 bytes" in r.json()["detail"]
    assert_nothing_kept(small_bundle_service)
    # The same scene under the limit is accepted: the refusals above are about the archives.
    under = make_tar_gz(tmp_path / "under.tar.gz", [file_member("scene_manifest.json", manifest)])
    r = upload(small_bundle_service, under)
    assert r.status_code in (200, 201, 202), r.text
