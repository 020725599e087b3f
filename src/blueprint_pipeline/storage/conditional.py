"""Conditional writes on object stores: create an object only if it does not exist, replace it
only if it is still the version that was read. The output-folder lock's lease is built on them.

    store = conditional_store(url)         # None where the store has no conditional writes
    version = store.create(url, data)      # FileExistsError if the object exists
    version, data = store.read(url)        # FileNotFoundError if it does not
    version = store.replace(url, data, version)   # VersionConflict if it changed meanwhile

S3 (s3fs): PUT with `If-None-Match: *` to create and `If-Match: <ETag>` to replace (AWS S3 since
2024; S3-compatible servers vary). GCS (gcsfs): uploads with `ifGenerationMatch=0` to create and
`ifGenerationMatch=<generation>` to replace. A version is read (HEAD) before the content, so a
replace that succeeds proves the content it was decided on was current.

Some servers accept these headers and ignore them (older S3-compatible stores, emulators).
`conditional_store` therefore probes each bucket once per process with a scratch object: a
second create of it must fail and a replace with a wrong version must fail. A store that fails
the probe is treated as having no conditional writes (the caller's documented fallback).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any
from urllib.parse import quote

import fsspec

from blueprint_pipeline.storage.fs import filesystem

log = logging.getLogger(__name__)
PROBE_PREFIX = ".blueprint-conditional-probe-"


class VersionConflict(Exception):
    """The object is no longer the version the caller read (or appeared or vanished)."""


def _s3_precondition(exc: BaseException) -> bool:
    """True if `exc` (as s3fs raises it, a ClientError as its cause) is S3's 412 or 409."""
    for err in (exc, exc.__cause__):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                return True
    return isinstance(exc, FileExistsError)


class _S3:
    name = "S3 (If-None-Match / If-Match)"

    def __init__(self, fs: fsspec.AbstractFileSystem):
        self.fs = fs

    def _split(self, path: str) -> tuple[str, str]:
        bucket, key, _ = self.fs.split_path(path)
        return bucket, key

    def create(self, path: str, data: bytes) -> str:
        bucket, key = self._split(path)
        try:
            out = self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        except Exception as exc:
            if _s3_precondition(exc):
                raise FileExistsError(path) from None
            raise
        finally:
            self.fs.invalidate_cache(path)
        return str(out["ETag"])

    def read(self, path: str) -> tuple[str, bytes]:
        bucket, key = self._split(path)
        self.fs.invalidate_cache(path)
        head = self.fs.call_s3("head_object", Bucket=bucket, Key=key)  # FileNotFoundError if absent
        return str(head["ETag"]), self.fs.cat_file(path)

    def replace(self, path: str, data: bytes, version: str) -> str:
        bucket, key = self._split(path)
        try:
            out = self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfMatch=version)
        except FileNotFoundError:
            raise VersionConflict(path) from None
        except Exception as exc:
            if _s3_precondition(exc):
                raise VersionConflict(path) from None
            raise
        finally:
            self.fs.invalidate_cache(path)
        return str(out["ETag"])

    def delete(self, path: str) -> None:
        self.fs.rm_file(path)
        self.fs.invalidate_cache(path)


class _GCS:
    name = "GCS (ifGenerationMatch)"

    def __init__(self, fs: fsspec.AbstractFileSystem):
        self.fs = fs

    def _split(self, path: str) -> tuple[str, str]:
        bucket, key, _ = self.fs.split_path(path)
        return bucket, key

    def _upload(self, path: str, data: bytes, generation: str) -> str:
        bucket, key = self._split(path)
        try:
            _, body = self.fs.call("POST", f"{self.fs._location}/upload/storage/v1/b/{quote(bucket)}/o",
                                   uploadType="media", name=key, ifGenerationMatch=generation, data=data,
                                   headers={"Content-Type": "application/octet-stream"})
        finally:
            self.fs.invalidate_cache(path)
        import json

        return str(json.loads(body)["generation"])

    def create(self, path: str, data: bytes) -> str:
        return self._upload(path, data, "0")  # gcsfs raises FileExistsError on 412

    def read(self, path: str) -> tuple[str, bytes]:
        self.fs.invalidate_cache(path)
        info = self.fs.info(path)  # FileNotFoundError if absent
        return str(info["generation"]), self.fs.cat_file(path)

    def replace(self, path: str, data: bytes, version: str) -> str:
        try:
            return self._upload(path, data, version)
        except (FileExistsError, FileNotFoundError):
            raise VersionConflict(path) from None

    def delete(self, path: str) -> None:
        self.fs.rm_file(path)
        self.fs.invalidate_cache(path)


_probed: dict[tuple[str, str], bool] = {}
_probe_lock = threading.Lock()


def _kind(fs: fsspec.AbstractFileSystem) -> type | None:
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & {"s3", "s3a"}:
        return _S3
    if protocols & {"gs", "gcs"}:
        return _GCS
    return None


def _honours_conditions(store: Any, folder: str) -> bool:
    """One scratch object in `folder`: a second create and a stale replace must both fail."""
    probe = f"{folder.rstrip('/')}/{PROBE_PREFIX}{uuid.uuid4().hex}"
    try:
        version = store.create(probe, b"1")
        try:
            store.create(probe, b"2")
            return False
        except FileExistsError:
            pass
        try:
            store.replace(probe, b"3", version + "0")
            return False
        except VersionConflict:
            pass
        store.replace(probe, b"4", version)  # the current version must be accepted
        return True
    finally:
        try:
            store.delete(probe)
        except Exception as exc:  # noqa: BLE001 - a scratch object left behind is harmless
            log.warning("could not remove the probe object %s: %s", probe, exc)


def conditional_store(url: str) -> tuple[Any | None, str]:
    """(store, path) for `url`: store is None where conditional writes are unavailable (an
    unsupported protocol, or a server that ignores the conditions: see the module docstring)."""
    fs, path = filesystem(url)
    kind = _kind(fs)
    if kind is None:
        return None, path
    store = kind(fs)
    folder = path.rsplit("/", 1)[0]
    bucket = path.split("/", 1)[0]
    key = (str(getattr(fs, "_fs_token", type(fs).__name__)), bucket)  # fsspec's token of the options
    with _probe_lock:
        ok = _probed.get(key)
        if ok is None:
            ok = _probed[key] = _honours_conditions(store, folder)
            if not ok:
                log.warning("%s: the store accepts but does not honour conditional writes (%s); the output "
                            "lock falls back to a read then a write, which two runs started at the same "
                            "moment can both pass", bucket, store.name)
    return (store if ok else None), path
