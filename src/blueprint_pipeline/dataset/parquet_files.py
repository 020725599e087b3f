"""Parquet files that grow one row group at a time and roll over to the next file past a size."""

from __future__ import annotations

from collections.abc import Callable
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
