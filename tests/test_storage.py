"""Storage helpers: atomic writes, hashing, walking, path safety."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid

import pytest

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError


def test_local_write_is_atomic_and_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "sub" / "data.json"
    storage.atomic_write_json(str(target), {"a": 1})
    with pytest.raises(RuntimeError), storage.atomic_writer(str(target), "w") as f:
        f.write('{"half": ')
        raise RuntimeError("crash mid-write")
    assert storage.read_json(str(target)) == {"a": 1}
    assert os.listdir(target.parent) == ["data.json"]  # no temporary file left behind
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable like any file, not 0600


def test_hashes_agree_between_local_and_memory(tmp_path):
    files = {"a.txt": b"alpha", "nested/b.bin": bytes(range(256)) * 5000, ".complete.json": b"{}"}
    mem = f"memory://hash-{uuid.uuid4().hex}"
    for rel, data in files.items():
        storage.atomic_write_bytes(str(tmp_path / rel), data)
        storage.atomic_write_bytes(f"{mem}/{rel}", data)
    assert storage.walk_files(str(tmp_path)) == ["a.txt", "nested/b.bin"]
    assert storage.walk_files(str(tmp_path), include_hidden=True)[0] == ".complete.json"
    assert storage.sha256_tree(str(tmp_path)) == storage.sha256_tree(mem)
    assert storage.sha256_file(f"{mem}/nested/b.bin") == hashlib.sha256(files["nested/b.bin"]).hexdigest()
    assert storage.size(str(tmp_path / "a.txt")) == 5
    before = storage.sha256_tree(mem)
    storage.atomic_write_bytes(f"{mem}/a.txt", b"alphA")
    assert storage.sha256_tree(mem) != before


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "gs://bucket/x", "a\\b", "C:/x",
                                 "", "a/\0b", "a/../b", ".."])
def test_safe_join_refuses_escapes(bad):
    with pytest.raises(InvalidInputError):
        storage.safe_join("assets", bad)


def test_safe_join_accepts_relative_paths():
    assert storage.safe_join("memory://root", "meshes/./mug.usd") == "memory://root/meshes/mug.usd"
    assert storage.safe_join("/data/assets", "a b/Café.usd") == "/data/assets/a b/Café.usd"


def test_storage_options_for_remote_urls_come_from_the_setting(monkeypatch):
    from blueprint_pipeline import config
    from blueprint_pipeline.storage.fs import storage_options

    monkeypatch.setattr(config, "_cached", config.load_settings(
        {"BP_STORAGE_OPTIONS_JSON": '{"project": "demo", "token": "anon"}'}))
    # listings are not cached on object stores: other processes write the same prefixes
    assert storage_options("gs://bucket/run") == {"use_listings_cache": False, "project": "demo", "token": "anon"}
    assert storage_options("/local/path") == {} and storage_options("memory://x") == {}
    monkeypatch.setattr(config, "_cached", config.load_settings({"BP_STORAGE_OPTIONS_JSON": "[1]"}))
    with pytest.raises(InvalidInputError, match="JSON object"):
        storage_options("s3://bucket/run")
    monkeypatch.setattr(config, "_cached", config.load_settings({"BP_STORAGE_OPTIONS_JSON": "{oops"}))
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        storage_options("s3://bucket/run")


def test_a_missing_cloud_extra_is_a_clear_dependency_error():
    from blueprint_pipeline.errors import DependencyError

    pytest.importorskip("fsspec")
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="cloud extra"):
            storage.exists("gs://bucket/run/scene")
    else:
        pytest.skip("gcsfs is installed")
