"""Safe tar.gz handling, shared by the service (bundle uploads) and the client (result downloads).

An archive from the network is hostile until proven otherwise. Before a member is written we
check its header: regular files and folders only (no symlinks, hard links, devices, fifos, sparse
files), a relative name without `..` parts. The size limit and the compression-ratio limit are
held on running totals of bytes actually produced, never on sizes a header declares: once on the
decompressed stream (a gzip bomb can lie in its headers, not in its output) and once on the bytes
written to disk, checked before each chunk is written, so no file ever grows past a limit.
Members are written into a fresh temporary folder beside the destination, which is renamed into
place only when every member passed; on any error (refusal, unreadable archive, full disk,
interrupt) that folder is removed, so a refused archive leaves nothing behind.

Sparse members are refused outright. A sparse file's holes are not stored in the archive:
`tarfile` expands them into zeros that never pass through the decompressor, so a few hundred
bytes of tar.gz can describe a 3 GiB file. GNU tar writes them as the old GNU type 'S' or, in
PAX archives, as `GNU.sparse.*` extended headers (versions 0.0, 0.1 and 1.0; 1.0 names the member
`GNUSparseFile.N/...` in its plain header). `tarfile` maps all of these to `TarInfo.sparse`; a
member carrying any `GNU.sparse.*` key is refused as well, so a version it does not know is not
taken for a plain file. Nothing this project writes is sparse (`write_archive` uses `tarfile`,
which never writes sparse members), and the byte-counted limits would stop one anyway.

`tarfile`'s own `filter="data"` covers part of this (absolute names, `..`, links escaping the
destination) but allows links inside it and has no size or ratio limit, hence the checks here.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from blueprint_pipeline import storage
from blueprint_pipeline.errors import InvalidInputError

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may expand to: total bytes, members, and decompressed/compressed ratio."""

    max_total_bytes: int = 2 * 1024**3
    max_members: int = 100_000
    max_ratio: float = 200.0
    # Tiny archives have huge ratios from tar's zero padding alone; apply the ratio past this.
    ratio_floor_bytes: int = 8 * 1024**2


class UnsafeArchiveError(InvalidInputError):
    """The archive was refused; nothing was written."""


def _check_totals(total: int, compressed: int, limits: ArchiveLimits, where: str = "") -> None:
    """Raise if `total` bytes produced from `compressed` archive bytes break a limit."""
    if total > limits.max_total_bytes:
        raise UnsafeArchiveError(f"archive expands past the limit of {limits.max_total_bytes} bytes{where}")
    if total > limits.ratio_floor_bytes and total / max(compressed, 1) > limits.max_ratio:
        raise UnsafeArchiveError(
            f"archive compression ratio exceeds {limits.max_ratio:g}:1 (likely a compression bomb){where}")


class _CountingReader(io.RawIOBase):
    """Reads decompressed bytes and refuses to go past the size or ratio limit."""

    def __init__(self, raw: IO[bytes], compressed_bytes: int, limits: ArchiveLimits):
        self._raw = raw
        self._compressed = compressed_bytes
        self._limits = limits
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        n = self._raw.readinto(buf)  # type: ignore[attr-defined]
        self.total += n
        _check_totals(self.total, self._compressed, self._limits)
        return n


class _WriteBudget:
    """The bytes written so far, held to the same limits as the decompressed stream: a member's
    content can be longer than what the stream carried for it (holes of a sparse file come out
    as zeros), so the limits are checked where the bytes land, before each chunk is written."""

    def __init__(self, compressed_bytes: int, limits: ArchiveLimits):
        self._compressed = compressed_bytes
        self._limits = limits
        self.total = 0

    def copy(self, src: IO[bytes], out: IO[bytes], name: str) -> None:
        while chunk := src.read(_CHUNK_BYTES):
            _check_totals(self.total + len(chunk), self._compressed, self._limits,
                          f" (writing member {name!r})")
            out.write(chunk)
            self.total += len(chunk)


def is_sparse(member: tarfile.TarInfo) -> bool:
    """A sparse file in any format GNU tar writes (see the module docstring)."""
    return (member.issparse() or member.type == tarfile.GNUTYPE_SPARSE
            or any(key.startswith("GNU.sparse.") for key in member.pax_headers))


def check_member(member: tarfile.TarInfo) -> str:
    """Return the member's normalised relative name, or raise if the member is unsafe."""
    name = member.name
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"archive member {name!r} is a link; links are not accepted")
    if is_sparse(member):
        raise UnsafeArchiveError(f"archive member {name!r} is a sparse file; sparse files are not accepted")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"archive member {name!r} is not a regular file or folder")
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    if "\\" in name or "\x00" in name:
        raise UnsafeArchiveError(f"archive member {name!r} has an invalid character")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchiveError(f"archive member {name!r} leaves the archive root ('..')")
    return posixpath.join(*parts) if parts else "."


def safe_extract(archive_path: str | Path, dest: str | Path, limits: ArchiveLimits = ArchiveLimits()) -> list[str]:
    """Extract a tar.gz into `dest` (which must not exist or be an empty folder), atomically.

    Returns the relative names of the files written. Raises UnsafeArchiveError for a refused
    archive and InvalidInputError for one that is not a readable tar.gz; `dest` is untouched then.
    """
    archive_path, dest = Path(archive_path), Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInputError(f"{dest}: destination exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    written: list[str] = []
    try:
        with open(archive_path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            counting = _CountingReader(_GzipReader(raw), size, limits)
            budget = _WriteBudget(size, limits)
            stream = io.BufferedReader(counting, buffer_size=_CHUNK_BYTES)
            try:
                with tarfile.open(fileobj=stream, mode="r|") as tar:
                    for n, member in enumerate(tar, start=1):
                        if n > limits.max_members:
                            raise UnsafeArchiveError(f"archive has more than {limits.max_members} members")
                        rel = check_member(member)
                        target = tmp / rel
                        if member.isdir():
                            target.mkdir(parents=True, exist_ok=True)
                            continue
                        target.parent.mkdir(parents=True, exist_ok=True)
                        src = tar.extractfile(member)
                        assert src is not None  # a regular file always has content
                        with open(target, "xb") as out:  # "x": a duplicate member is refused
                            budget.copy(src, out, rel)
                        written.append(rel)
            except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                if isinstance(exc, FileExistsError):
                    raise UnsafeArchiveError(f"archive repeats a member: {exc.filename}") from None
                raise InvalidInputError(f"not a readable tar.gz archive: {exc}") from None
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


class _GzipReader(io.RawIOBase):
    """A gzip decompressor with bounded output per read, so our counter sees every byte as it is
    produced (gzip.GzipFile reads ahead, and a bomb must never sit fully inflated in memory)."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[override]
        while not self._z.eof:
            data = self._z.unconsumed_tail or self._raw.read(64 * 1024)
            if not data:
                raise EOFError("compressed stream ends early")
            out = self._z.decompress(data, len(buf))
            if out:
                buf[: len(out)] = out
                return len(out)
        return 0


def write_archive(out_path: str | Path, root: str | Path, members: Iterable[str]) -> tuple[str, int]:
    """Write root/<member> (files or folders, hidden files skipped) as a tar.gz, atomically.

    Returns (sha256 hex, size in bytes) of the archive.
    """
    out_path, root = Path(out_path), Path(root)
    with storage.atomic_writer(str(out_path), "wb") as f:
        with tarfile.open(fileobj=f, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
            for name in members:
                _add_tree(tar, root, name)
    return file_sha256(out_path), out_path.stat().st_size


def _add_tree(tar: tarfile.TarFile, root: Path, name: str) -> None:
    path = root / name
    if path.is_symlink() or not path.exists():
        return
    if path.is_file():
        tar.add(path, arcname=name, recursive=False)
        return
    tar.add(path, arcname=name, recursive=False)
    for child in sorted(path.iterdir()):
        if not child.name.startswith("."):
            _add_tree(tar, root, f"{name}/{child.name}")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            h.update(chunk)
    return h.hexdigest()
