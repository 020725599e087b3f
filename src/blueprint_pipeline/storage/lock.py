"""One run at a time per output folder: an exclusive lock held for the whole run.

    with OutputLock(out_url):        # OutputLockedError (exit 2) names the holder if taken
        run the stages

Local folders: `fcntl.flock` on `<out>/.blueprint.lock`, a file that holds the holder's record
(pid, host, start time, command). The kernel releases a flock when its process dies, however it
dies, so a lock left by a dead process is free: the next run takes it and logs whose it was. The
file itself is never deleted (deleting a locked file lets a third run lock a new file of the same
name while the second still holds the old one); releasing empties it. flock is not reliable on
every network filesystem (NFS before v4 emulates it, or not at all): keep output folders on local
disk or on object storage.

Object stores (gs://, s3://, memory://, ...): a lease object `<out>/.blueprint.lock` with the
holder's record (owner token, pid, host, command) and an expiry, renewed by a background thread
every third of BP_LOCK_LEASE_S. A lease whose expiry has passed, or whose holder ran on this host
and is no longer running, is taken over with a message. On S3 and GCS every change of the lease
is a conditional write (`storage.conditional`): it is created only if absent (S3 If-None-Match,
GCS ifGenerationMatch=0), and taken over or renewed only if it is still the version that was read
(S3 If-Match on the ETag, GCS ifGenerationMatch on the generation), so of two runs that start at
the same moment exactly one gets it, and a run whose lease was taken over learns it at its next
renewal. Limitation: where the store has no conditional writes (memory://, other protocols, or an
S3-compatible server that ignores the headers, detected by a probe and logged), taking the lease
is a read followed by a write, so two runs that start within the same moment can both take it;
runs that start apart are refused as on local disk.

Within one process the lock is re-entrant (the batch driver and the service call the runner
more than once for one folder).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import sys
import threading
import uuid
from typing import IO, Any

import psutil

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.storage import fs

LOCK_NAME = ".blueprint.lock"
DEFAULT_LEASE_S = 600.0
_CAS_ATTEMPTS = 5
log = logging.getLogger(__name__)

_held: dict[str, tuple[OutputLock, int]] = {}  # out url -> (lock, depth), this process
_held_guard = threading.Lock()


class OutputLockedError(InvalidInputError):
    """Another run holds the output folder's lock."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _holder_record(lease_s: float | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "pid": os.getpid(), "host": socket.gethostname(), "started_at": _now().isoformat(timespec="seconds"),
        "process_started": psutil.Process().create_time(), "token": uuid.uuid4().hex,
        "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300],
    }
    if lease_s is not None:
        record["expires_at"] = (_now() + dt.timedelta(seconds=lease_s)).isoformat(timespec="seconds")
    return record


def describe(holder: dict[str, Any]) -> str:
    parts = [f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}",
             f"started {holder.get('started_at', '?')}"]
    if holder.get("command"):
        parts.append(f"command: {holder['command']}")
    return ", ".join(parts)


def _alive_here(holder: dict[str, Any]) -> bool:
    """False only if the holder ran on this host and its process is gone (or is another one)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        proc = psutil.Process(int(holder.get("pid", -1)))
        started = holder.get("process_started")
        return started is None or abs(proc.create_time() - float(started)) < 1.0
    except (psutil.NoSuchProcess, ValueError, TypeError):
        return False
    except psutil.AccessDenied:
        return True


def _parse(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


class OutputLock:
    """The exclusive lock of one output folder (see the module docstring)."""

    def __init__(self, out_url: str, lease_s: float = DEFAULT_LEASE_S):
        self.out_url = str(out_url).rstrip("/") or str(out_url)
        self.url = fs.join(self.out_url, LOCK_NAME)
        self.lease_s = float(lease_s)
        self._file: IO[str] | None = None
        self._record: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.took_over: dict[str, Any] | None = None  # the dead holder whose lock this run took
        self._store: Any = None  # storage.conditional store of an object-store lease, if it has one
        self._path = ""
        self._version = ""

    # -- public ---------------------------------------------------------------------------------
    def acquire(self) -> OutputLock:
        with _held_guard:
            if self.out_url in _held:
                lock, depth = _held[self.out_url]
                _held[self.out_url] = (lock, depth + 1)
                return lock
            fs.makedirs(self.out_url)
            if fs.is_local(self.url):
                self._acquire_local()
            else:
                self._acquire_lease()
            _held[self.out_url] = (self, 1)
        if self.took_over:
            log.warning("output folder %s: took over the lock left by %s, which is no longer running",
                        self.out_url, describe(self.took_over))
        return self

    def release(self) -> None:
        with _held_guard:
            lock, depth = _held.get(self.out_url, (None, 0))
            if lock is None:
                return
            if depth > 1:
                _held[self.out_url] = (lock, depth - 1)
                return
            del _held[self.out_url]
        lock._release_now()

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- local: flock -----------------------------------------------------------------------------
    def _acquire_local(self) -> None:
        import fcntl

        path = fs.local_path(self.url)
        f = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = _parse(f.read()) or {}
            f.close()
            raise self._locked(holder) from None
        f.seek(0)
        previous = _parse(f.read())
        if previous:  # a record left behind: its process died without releasing
            self.took_over = previous
        self._record = _holder_record(None)
        f.seek(0)
        f.truncate()
        f.write(json.dumps(self._record) + "\n")
        f.flush()
        self._file = f

    # -- object stores: a lease -------------------------------------------------------------------
    def _acquire_lease(self) -> None:
        from blueprint_pipeline.storage.conditional import conditional_store

        self._store, self._path = conditional_store(self.url)
        if self._store is None:
            self._acquire_lease_unconditional()
        else:
            self._acquire_lease_conditional()
        self._renewer = threading.Thread(target=self._renew, name="output-lock-lease", daemon=True)
        self._renewer.start()

    def _expired_or_dead(self, holder: dict[str, Any]) -> bool:
        expires = holder.get("expires_at")
        try:
            expired = expires is None or dt.datetime.fromisoformat(expires) <= _now()
        except (TypeError, ValueError):
            expired = True
        return expired or not _alive_here(holder)

    def _encode(self) -> bytes:
        return (json.dumps(self._record) + "\n").encode("utf-8")

    def _acquire_lease_conditional(self) -> None:
        from blueprint_pipeline.storage.conditional import VersionConflict

        store, path = self._store, self._path
        holder: dict[str, Any] = {}
        for _ in range(_CAS_ATTEMPTS):  # each failed attempt means another run changed the lease
            self._record = _holder_record(self.lease_s)
            try:
                self._version = store.create(path, self._encode())
                return
            except FileExistsError:
                pass
            try:
                version, data = store.read(path)
            except FileNotFoundError:
                continue  # released meanwhile: try to create it again
            holder = _parse(data.decode("utf-8", "replace")) or {}
            if not self._expired_or_dead(holder):
                raise self._locked(holder)
            try:
                self._version = store.replace(path, self._encode(), version)
            except VersionConflict:
                continue  # another run took it over or renewed it first: look again
            self.took_over = holder
            return
        raise self._locked(holder)

    def _acquire_lease_unconditional(self) -> None:
        if fs.exists(self.url):
            holder = _parse(fs.read_text(self.url)) or {}
            if not self._expired_or_dead(holder):
                raise self._locked(holder)
            self.took_over = holder
        self._record = _holder_record(self.lease_s)
        fs.atomic_write_json(self.url, self._record)

    def _renew(self) -> None:
        from blueprint_pipeline.storage.conditional import VersionConflict

        while not self._stop.wait(self.lease_s / 3):
            try:
                if self._record is None:
                    return
                if self._store is not None:
                    self._record["expires_at"] = (_now() + dt.timedelta(seconds=self.lease_s)).isoformat(
                        timespec="seconds")
                    try:
                        self._version = self._store.replace(self._path, self._encode(), self._version)
                    except VersionConflict:
                        current = _parse(fs.read_text(self.url)) if fs.exists(self.url) else None
                        log.error("output folder %s: the lock's lease was taken by %s", self.out_url,
                                  describe(current) if current else "another run, which has since released it")
                        return
                    continue
                current = _parse(fs.read_text(self.url)) or {}
                if current.get("token") != self._record.get("token"):
                    log.error("output folder %s: the lock's lease was taken by %s", self.out_url, describe(current))
                    return
                self._record["expires_at"] = (_now() + dt.timedelta(seconds=self.lease_s)).isoformat(
                    timespec="seconds")
                fs.atomic_write_json(self.url, self._record)
            except Exception as exc:  # noqa: BLE001 - a renewal that fails is retried at the next tick
                log.warning("output folder %s: could not renew the lock's lease: %s", self.out_url, exc)

    # -- both -------------------------------------------------------------------------------------
    def _locked(self, holder: dict[str, Any]) -> OutputLockedError:
        return OutputLockedError(
            f"output folder {self.out_url} is in use by another run ({describe(holder)}); wait for it to "
            f"finish or choose another --out (the lock is {self.url})")

    def _release_now(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self._file is not None:
            import fcntl

            try:
                self._file.seek(0)
                self._file.truncate()
                self._file.flush()
            finally:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
                self._file.close()
                self._file = None
        elif self._record is not None:
            try:
                if self._store is not None:
                    _, data = self._store.read(self._path)
                    current = _parse(data.decode("utf-8", "replace"))
                else:
                    current = _parse(fs.read_text(self.url)) if fs.exists(self.url) else None
                if current and current.get("token") == self._record.get("token"):
                    fs.remove(self.url)
            except FileNotFoundError:
                pass
            except Exception as exc:  # noqa: BLE001 - the lease expires anyway
                log.warning("output folder %s: could not remove the lock's lease: %s", self.out_url, exc)
        self._record = None
