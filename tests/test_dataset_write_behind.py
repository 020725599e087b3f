"""Data row groups written on a background thread: order, rollover, and failures that surface."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_dataset_fixtures import make_episode

from blueprint_pipeline.dataset import layout
from blueprint_pipeline.dataset.check import check_dataset
from blueprint_pipeline.dataset.parquet_files import RollingParquetWriter, WriteBehind
from blueprint_pipeline.dataset.writer import DatasetWriter, WriterOptions

SCHEMA = pa.schema([("index", pa.int64()), ("value", pa.float32())])


def _table(first: int, rows: int) -> pa.Table:
    index = np.arange(first, first + rows, dtype=np.int64)
    return pa.table([index, np.sin(index).astype(np.float32)], schema=SCHEMA)


def _parquet_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("parquet-write")]


def test_tables_land_in_order_in_the_files_their_futures_name(tmp_path):
    files = RollingParquetWriter(tmp_path, layout.data_path, SCHEMA, size_limit_bytes=6_000, chunks_size=2)
    writer = WriteBehind(files)
    located = [(first, writer.write(_table(first, 250))) for first in range(0, 5000, 250)]
    writer.close()
    where = {first: future.result() for first, future in located}
    assert len(set(where.values())) >= 3  # rolled over, into a second chunk as well
    for first, (chunk, file) in where.items():
        index = pq.read_table(tmp_path / layout.data_path(chunk, file)).column("index").to_numpy()
        assert first in index and first + 249 in index
    on_disk = np.concatenate([pq.read_table(tmp_path / layout.data_path(c, f)).column("index").to_numpy()
                              for c, f in sorted(set(where.values()))])
    assert np.array_equal(on_disk, np.arange(5000))
    assert not _parquet_threads()


def test_a_failed_background_write_is_raised_and_nothing_after_it_is_written(tmp_path):
    files = RollingParquetWriter(tmp_path, layout.data_path, SCHEMA, size_limit_bytes=1e9)
    writer = WriteBehind(files)
    writer.write(_table(0, 10))
    bad = pa.table({"index": pa.array(["not", "a", "number"])})  # not the file's schema
    writer.write(bad)
    after = writer.write(_table(10, 10))
    with pytest.raises(RuntimeError, match="earlier row group"):
        after.result(timeout=60)
    with pytest.raises(ValueError):
        writer.close()
    assert not _parquet_threads()
    assert pq.read_table(tmp_path / layout.data_path(0, 0)).column("index").to_pylist() == list(range(10))


def test_a_dataset_whose_data_write_fails_is_never_finished(tmp_path, monkeypatch):
    recs = [make_episode(i, frames=40) for i in range(12)]
    real_write = RollingParquetWriter.write
    calls = []

    def disk_full_on_the_second_row_group(self, table):
        calls.append(table.num_rows)
        if self.path_for is layout.data_path and len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write(self, table)

    monkeypatch.setattr(RollingParquetWriter, "write", disk_full_on_the_second_row_group)
    writer = DatasetWriter(tmp_path / "ds", WriterOptions(data_files_size_in_mb=0.02))
    with pytest.raises(OSError, match="No space left"):
        for rec in recs:
            writer.add_episode(rec)
        writer.finish()
    assert not (tmp_path / "ds" / layout.INFO_PATH).exists()
    assert check_dataset(tmp_path / "ds") != []
    assert not _parquet_threads()


def test_without_a_thread_each_table_is_written_by_write_itself(tmp_path):
    files = RollingParquetWriter(tmp_path, layout.data_path, SCHEMA, size_limit_bytes=1e9)
    writer = WriteBehind(files, background=False)
    assert writer.write(_table(0, 10)).result(timeout=0) == (0, 0)
    assert not _parquet_threads()
    with pytest.raises(ValueError):
        writer.write(pa.table({"index": pa.array(["not", "a", "number"])}))
    writer.abandon()
    assert pq.read_table(tmp_path / layout.data_path(0, 0)).column("index").to_pylist() == list(range(10))
