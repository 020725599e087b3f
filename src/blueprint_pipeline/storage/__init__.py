"""All reads and writes of the pipeline go through here (fsspec underneath).

Paths are URLs or local paths: `out/scene`, `memory://run1/scene`, `gs://bucket/run1/scene`.
Local writes are atomic (temporary file in the same folder, fsync, rename), so a reader never
sees half a file; other filesystems write the object in one put, which is atomic on GCS and S3.
"""

from blueprint_pipeline.storage.fs import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
    download_tree,
    exists,
    filesystem,
    is_dir,
    is_local,
    join,
    listdir,
    local_path,
    makedirs,
    open_read,
    read_bytes,
    read_json,
    read_text,
    remove,
    safe_join,
    sha256_file,
    sha256_tree,
    size,
    stat_key,
    walk_files,
)

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_writer",
    "download_tree",
    "exists",
    "filesystem",
    "is_dir",
    "is_local",
    "join",
    "listdir",
    "local_path",
    "makedirs",
    "open_read",
    "read_bytes",
    "read_json",
    "read_text",
    "remove",
    "safe_join",
    "sha256_file",
    "sha256_tree",
    "size",
    "stat_key",
    "walk_files",
]
