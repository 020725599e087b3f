"""fsspec-backed file access with atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


def _file_mode() -> int:
    """0666 minus the process umask, read without changing it (os.umask is process-wide)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


_FILE_MODE = _file_mode()


_LOCAL_PROTOCOLS = ("file://", "memory://")


SECRET_REF = "from_secret"


def storage_options(url: str) -> dict[str, Any]:
    """fsspec options for remote URLs (gs://, s3://, ...) from BP_STORAGE_OPTIONS_JSON, e.g.
    `{"project": "my-project"}` or `{"anon": true}`; none for local paths and memory://.

    Any value may instead be `{"from_secret": "NAME"}`: it is replaced by the secret NAME from the
    secrets resolver (Secret Manager, the file named by NAME_FILE, or the variable NAME), which
    also registers it for redaction, so credentials need not sit in the JSON itself:
    `{"endpoint_url": "http://10.0.0.9:9000", "key": {"from_secret": "S3_KEY_ID"},
    "secret": {"from_secret": "S3_SECRET"}}`."""
    url = str(url)
    if "://" not in url or url.startswith(_LOCAL_PROTOCOLS):
        return {}
    from blueprint_pipeline.config import get_settings
    from blueprint_pipeline.errors import InvalidInputError

    raw = get_settings().storage_options_json
    defaults = _protocol_defaults(url)
    if raw is None:
        return defaults
    try:
        options = json.loads(raw.get_secret_value())
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"BP_STORAGE_OPTIONS_JSON is not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(options, dict):
        raise InvalidInputError("BP_STORAGE_OPTIONS_JSON must be a JSON object")
    return defaults | _resolve_secret_refs(options, "BP_STORAGE_OPTIONS_JSON")


# s3fs and gcsfs cache directory listings per process; other processes (episode workers, Ray
# tasks on other nodes, a second run) write the same prefixes, so a cached listing goes stale
# and a file written since is "not found". Off unless BP_STORAGE_OPTIONS_JSON says otherwise.
_NO_LISTINGS_CACHE = ("s3://", "s3a://", "gs://", "gcs://")


def _protocol_defaults(url: str) -> dict[str, Any]:
    return {"use_listings_cache": False} if url.startswith(_NO_LISTINGS_CACHE) else {}


def _resolve_secret_refs(value: Any, where: str) -> Any:
    """`value` with every `{"from_secret": NAME}` replaced by that secret's value."""
    if isinstance(value, dict):
        if SECRET_REF in value:
            from blueprint_pipeline.errors import InvalidInputError
            from blueprint_pipeline.secrets import get_secret

            name = value[SECRET_REF]
            if len(value) != 1 or not isinstance(name, str):
                raise InvalidInputError(f"{where}: a secret reference is exactly {{\"{SECRET_REF}\": \"NAME\"}}, "
                                        f"got keys {sorted(value)}")
            try:
                return get_secret(name)
            except ValueError as exc:  # an invalid name; the message holds no value
                raise InvalidInputError(f"{where}: {exc}") from None
        return {k: _resolve_secret_refs(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secret_refs(v, where) for v in value]
    return value


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem and path of `url`, with BP_STORAGE_OPTIONS_JSON applied: code that
    needs fsspec itself (uploads of whole folders, conditional writes) must get it here, so an
    object store's endpoint and credentials are the same for every read and write."""
    return _fs(url)


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    try:
        fs, path = fsspec.core.url_to_fs(str(url), **storage_options(url))
    except ImportError as exc:  # gcsfs / s3fs missing
        from blueprint_pipeline.errors import DependencyError

        raise DependencyError(f"{str(url).split('://')[0]}:// needs the cloud extra "
                              f"(pip install 'blueprint-pipeline[cloud]'): {exc}") from None
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
            os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; give the usual umask-based mode
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


def is_local(url: str) -> bool:
    """True if `url` is on the local filesystem (a plain path or file://)."""
    fs, _ = _fs(url)
    return _is_local(fs)


def local_path(url: str) -> str:
    """The local filesystem path of a local `url`."""
    fs, path = _fs(url)
    if not _is_local(fs):
        raise ValueError(f"not a local path: {url}")
    return path


def size(url: str) -> int:
    fs, path = _fs(url)
    return int(fs.size(path))


def stat_key(url: str) -> list[int] | None:
    """[size, mtime_ns, inode, device] of a local file: any write to it, or a replacement (every
    atomic write is a new inode), changes it. None on object stores, where only a hash tells."""
    fs, path = _fs(url)
    if not _is_local(fs):
        return None
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def is_dir(url: str) -> bool:
    fs, path = _fs(url)
    return fs.isdir(path)


def walk_files(url: str, *, include_hidden: bool = False) -> list[str]:
    """Paths (relative to `url`, '/'-separated, sorted) of every file below a folder.
    Names starting with '.' (markers, journals, temporary files) are left out unless asked."""
    fs, root = _fs(url)
    if not fs.exists(root):
        return []
    root = root.rstrip("/")
    out = []
    for path in fs.find(root):
        rel = path[len(root):].lstrip("/") if path.startswith(root) else path
        if not include_hidden and any(part.startswith(".") for part in rel.split("/")):
            continue
        out.append(rel)
    return sorted(out)


_CHUNK = 1 << 20


def sha256_file(url: str) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (constant memory)."""
    h = hashlib.sha256()
    with open_read(url, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(url: str) -> str:
    """Hex sha256 of a file, or of a folder's files: their relative names and contents in
    sorted order (hidden names such as markers excluded), so equal trees hash equal anywhere."""
    if not is_dir(url):
        return sha256_file(url)
    h = hashlib.sha256()
    for rel in walk_files(url):
        h.update(rel.encode("utf-8") + b"\0" + sha256_file(join(url, rel)).encode("ascii") + b"\n")
    return h.hexdigest()


def download_tree(url: str, dest: str, *, include_hidden: bool = False) -> list[str]:
    """Copy a file or a folder's files from any store into the local path `dest` (streamed in
    1 MiB chunks; names checked with `safe_join`, so none lands outside `dest`). Returns the
    relative names copied; a `url` that does not exist copies nothing."""
    if is_dir(url):
        rels = walk_files(url, include_hidden=include_hidden)
        pairs = [(join(url, rel), safe_join(dest, rel)) for rel in rels]
    elif exists(url):
        rels, pairs = [os.path.basename(dest)], [(url, dest)]
    else:
        return []
    for src, target in pairs:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        with open_read(src, "rb") as f_in, open(target, "wb") as f_out:
            shutil.copyfileobj(f_in, f_out, _CHUNK)
    return rels


def safe_join(root: str, relative: str) -> str:
    """`root`/`relative`, refusing any `relative` that could leave `root`: absolute paths, URLs,
    drive letters, '..' segments, backslashes and NUL bytes raise InvalidInputError."""
    from blueprint_pipeline.errors import InvalidInputError

    rel = str(relative)
    problem = None
    if not rel.strip():
        problem = "is empty"
    elif "\0" in rel:
        problem = "contains a NUL byte"
    elif "\\" in rel:
        problem = "contains a backslash; use '/'"
    elif rel.startswith("/") or "://" in rel or (len(rel) > 1 and rel[1] == ":"):
        problem = "must be relative (no leading '/', URL scheme or drive letter)"
    else:
        normalized = posixpath.normpath(rel)
        if normalized == ".." or normalized.startswith("../") or normalized == ".":
            problem = "escapes its root folder"
        elif ".." in rel.split("/"):
            problem = "contains '..'"
    if problem:
        raise InvalidInputError(f"path {rel!r} {problem}")
    return join(root, posixpath.normpath(rel))
