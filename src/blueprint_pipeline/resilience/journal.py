"""An append-only JSON Lines journal of finished work items, so a rerun after a crash or
`kill -9` skips what is done.

One line per finished item: `{"v": 1, "key": ..., "index": ..., "ok": true, "value": ...}` or
`{"v": 1, "key": ..., "ok": false, "error_type": ..., "message": ...}`. Lines are only ever
appended; each is flushed and fsynced before the next item is reported done, so at most the
line being written when the process died is lost (a torn last line is ignored on reading).
Local files are appended in place; on object stores (no append) the object is rewritten whole
per item, which is correct but quadratic, so keep journals of long lists on local disk.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import IO, Any

from blueprint_pipeline import storage
from blueprint_pipeline.storage.fs import is_local, local_path

JOURNAL_VERSION = 1
JOURNAL_FOLDER = ".journal"
log = logging.getLogger(__name__)


def stage_journal_url(out_url: str, stage: str, name: str = "items") -> str:
    """Where a stage keeps its journal; the runner clears this folder when the stage's inputs
    change, so a journal is only ever resumed against the inputs that wrote it."""
    return storage.join(out_url, stage, JOURNAL_FOLDER, f"{name}.jsonl")


class Journal:
    def __init__(self, url: str):
        self.url = url
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._remote_lines: list[str] | None = None

    def load(self) -> dict[str, dict[str, Any]]:
        """The latest entry per key (an item retried after a failure has two lines)."""
        if not storage.exists(self.url):
            return {}
        entries: dict[str, dict[str, Any]] = {}
        lines = storage.read_text(self.url).splitlines()
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                # A line torn by a kill (later runs append after it); its item simply runs again.
                log.warning("journal %s: ignoring unreadable line %d (torn by a crash?)", self.url, n + 1)
                continue
            if entry.get("v") != JOURNAL_VERSION:
                raise ValueError(f"journal {self.url} line {n + 1}: unsupported version {entry.get('v')!r}")
            entries[str(entry["key"])] = entry
        return entries

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps({"v": JOURNAL_VERSION, **entry}, ensure_ascii=False, allow_nan=False)
        with self._lock:
            if is_local(self.url):
                f = self._open_local()
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
            else:
                if self._remote_lines is None:
                    existing = storage.read_text(self.url) if storage.exists(self.url) else ""
                    self._remote_lines = [ln for ln in existing.splitlines() if ln.strip()]
                self._remote_lines.append(line)
                storage.atomic_write_text(self.url, "\n".join(self._remote_lines) + "\n")

    def _open_local(self) -> IO[str]:
        if self._file is None:
            path = local_path(self.url)
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            torn = False
            if os.path.exists(path) and os.path.getsize(path) > 0:
                with open(path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    torn = f.read(1) != b"\n"
            created = not os.path.exists(path)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
            if created:  # make the new file's name durable too, not only its lines
                dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            if torn:
                self._file.write("\n")  # end the torn line so the next entry starts clean
        return self._file

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
