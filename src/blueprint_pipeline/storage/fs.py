"""fsspec-backed file access with atomic writes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(str(url))
    return fs, path


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def join(base: str, *parts: str) -> str:
    base = str(base)
    out = base.rstrip("/")
    for p in parts:
        out = f"{out}/{str(p).strip('/')}"
    return out


def exists(url: str) -> bool:
    fs, path = _fs(url)
    return fs.exists(path)


def makedirs(url: str) -> None:
    fs, path = _fs(url)
    fs.makedirs(path, exist_ok=True)


def listdir(url: str) -> list[str]:
    """Names (not paths) of the entries in a folder; empty if it does not exist."""
    fs, path = _fs(url)
    if not fs.exists(path):
        return []
    return sorted(os.path.basename(p.rstrip("/")) for p in fs.ls(path, detail=False))


def remove(url: str, recursive: bool = False) -> None:
    fs, path = _fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=recursive)


def open_read(url: str, mode: str = "rb") -> IO[Any]:
    fs, path = _fs(url)
    return fs.open(path, mode)


def read_bytes(url: str) -> bytes:
    with open_read(url, "rb") as f:
        return f.read()


def read_text(url: str) -> str:
    return read_bytes(url).decode("utf-8")


def read_json(url: str) -> Any:
    return json.loads(read_bytes(url))


@contextlib.contextmanager
def atomic_writer(url: str, mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a file to write; it appears at `url` only if the block finishes without error."""
    fs, path = _fs(url)
    if _is_local(fs):
        folder = os.path.dirname(os.path.abspath(path)) or "."
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, mode) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return
    # Object stores: buffer and put once (a single PUT is atomic on GCS/S3/memory).
    buf: IO[Any] = io.BytesIO() if "b" in mode else io.StringIO()
    yield buf
    data = buf.getvalue()
    parent = path.rsplit("/", 1)[0]
    with contextlib.suppress(Exception):
        fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(path, data.encode("utf-8") if isinstance(data, str) else data)


def atomic_write_bytes(url: str, data: bytes) -> None:
    with atomic_writer(url, "wb") as f:
        f.write(data)


def atomic_write_text(url: str, text: str) -> None:
    atomic_write_bytes(url, text.encode("utf-8"))


def atomic_write_json(url: str, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(url, json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n")
