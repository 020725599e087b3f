"""meta/tasks.parquet: one row per task, the task string as the (pandas) index `task`.

LeRobot reads this file with pandas and looks tasks up by index, so the file carries the pandas
metadata that marks the `task` column as the index. pandas is not a dependency here, so that
small block is written by hand in the layout pandas itself writes (data columns, then index).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _pandas_metadata() -> bytes:
    meta = {
        "index_columns": ["task"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                            "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode",
             "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    return json.dumps(meta).encode("utf-8")


def write_tasks(path: Path, tasks: dict[str, int]) -> None:
    """Write `task string -> task_index`, ordered by task_index."""
    ordered = sorted(tasks.items(), key=lambda kv: kv[1])
    schema = pa.schema([("task_index", pa.int64()), ("task", pa.string())],
                       metadata={b"pandas": _pandas_metadata()})
    table = pa.table({"task_index": [i for _, i in ordered], "task": [t for t, _ in ordered]}, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, str(path))


def read_tasks(path: Path) -> dict[str, int]:
    table = pq.read_table(str(path))
    if "task" not in table.column_names or "task_index" not in table.column_names:
        raise ValueError(f"{path.name}: want columns task and task_index, found {table.column_names}")
    return dict(zip(table.column("task").to_pylist(), table.column("task_index").to_pylist(), strict=True))
