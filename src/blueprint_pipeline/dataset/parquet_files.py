"""Parquet files that grow one row group at a time and roll over to the next file past a size."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from blueprint_pipeline.dataset.layout import CHUNKS_SIZE, next_chunk_file


class RollingParquetWriter:
    """Writes tables to `path_for(chunk, file)` under `root`, starting a new file when the next
    table would take the current one to `size_limit_bytes` (estimated from bytes per row so far).
    """

    def __init__(self, root: Path, path_for: Callable[[int, int], str], schema: pa.Schema,
                 size_limit_bytes: float, chunks_size: int = CHUNKS_SIZE, compression: str = "snappy",
                 use_dictionary: bool = True, write_statistics: bool = True):
        self.root = root
        self.path_for = path_for
        self.schema = schema
        self.limit = size_limit_bytes
        self.chunks_size = chunks_size
        self.compression = compression
        self.use_dictionary = use_dictionary
        self.write_statistics = write_statistics
        self.chunk_index, self.file_index = 0, 0
        self._sink: pa.NativeFile | None = None
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_file = 0
        self.files_written: list[str] = []

    def _open(self) -> None:
        rel = self.path_for(self.chunk_index, self.file_index)
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pq.ParquetWriter(self._sink, self.schema, compression=self.compression,
                                        use_dictionary=self.use_dictionary,
                                        write_statistics=self.write_statistics)
        self._rows_in_file = 0
        self.files_written.append(rel)

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
        self._writer = self._sink = None

    def where_next(self, rows: int) -> tuple[int, int]:
        """(chunk, file) that a table of `rows` rows will be written to; rolls over if needed."""
        if self._writer is not None and self._rows_in_file:
            written = self._sink.tell()
            if written + written / self._rows_in_file * rows >= self.limit:
                self._close()
                self.chunk_index, self.file_index = next_chunk_file(
                    self.chunk_index, self.file_index, self.chunks_size)
        return self.chunk_index, self.file_index

    def write(self, table: pa.Table) -> None:
        """Append `table` as one row group to the file `where_next` chose."""
        self.where_next(table.num_rows)
        if self._writer is None:
            self._open()
        self._writer.write_table(table)
        self._rows_in_file += table.num_rows

    def close(self) -> None:
        self._close()


class WriteBehind:
    """A `RollingParquetWriter` whose row groups are encoded and written on a background thread.

    pyarrow encodes and writes parquet without holding the GIL, so the caller's own work (the
    dataset writer's statistics, episodes metadata and videos) runs while row groups are written.
    Tables are written in the order given, each to the file its predecessor's size decides (the
    thread does the rollover and tells the caller as soon as it has). At most `MAX_IN_FLIGHT`
    tables are queued or being written: `write` waits for the oldest beyond that, so memory holds
    that many row groups more, not more. The first background error is raised by `write`, `wait`
    or `close`, and no later table is written. With `background=False` every table is written
    by `write` itself, on the caller's thread.
    """

    MAX_IN_FLIGHT = 2

    def __init__(self, files: RollingParquetWriter, background: bool = True):
        self.files = files
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-write") if background else None
        self._inflight: deque[Future] = deque()
        self._failed = False

    @property
    def schema(self) -> pa.Schema:
        return self.files.schema

    def write(self, table: pa.Table) -> Future:
        """Queue `table` as one row group. The returned future gives the (chunk, file) it goes to
        as soon as the thread has chosen it, before the table is written."""
        while len(self._inflight) >= self.MAX_IN_FLIGHT:
            self._inflight.popleft().result()
        located: Future = Future()
        if self._pool is None:
            self._write(table, located)
        else:
            self._inflight.append(self._pool.submit(self._write, table, located))
        return located

    def _write(self, table: pa.Table, located: Future) -> None:
        try:
            if self._failed:
                raise RuntimeError("not written: an earlier row group of this file failed")
            located.set_result(self.files.where_next(table.num_rows))
            self.files.write(table)
        except BaseException as exc:
            self._failed = True
            if not located.done():
                located.set_exception(exc)
            raise

    def wait(self) -> None:
        """Block until every queued table is written; raise the first error."""
        while self._inflight:
            self._inflight.popleft().result()

    def close(self) -> None:
        """Wait for the last table, close the file and stop the thread."""
        try:
            self.wait()
        except BaseException:
            self.abandon()
            raise
        self.files.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def abandon(self) -> None:
        """Stop after a failure: let the thread finish, close the file, raise nothing (the dataset
        is unfinished anyway: it has no info.json)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._inflight.clear()
        with contextlib.suppress(Exception):  # the first error is the one the caller reports
            self.files.close()
