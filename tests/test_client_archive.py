"""Safe extraction of downloaded / uploaded tar.gz archives."""

from __future__ import annotations

import tarfile

import pytest
from service_helpers import (
    bomb_tar_gz,
    file_member,
    link_member,
    make_tar_gz,
    tree_snapshot,
)

from blueprint_pipeline.archive import (
    ArchiveLimits,
    UnsafeArchiveError,
    safe_extract,
    write_archive,
)
from blueprint_pipeline.errors import InvalidInputError


def test_round_trip_writes_files_and_skips_hidden_ones(tmp_path):
    src = tmp_path / "src"
    (src / "dataset" / "meta").mkdir(parents=True)
    (src / "dataset" / "meta" / "info.json").write_text('{"fps": 30}')
    (src / "dataset" / ".complete.json").write_text("{}")
    (src / "report").mkdir()
    (src / "report" / "index.html").write_text("<html></html>")
    sha, size = write_archive(tmp_path / "r.tar.gz", src, ["dataset", "report", "missing"])
    assert len(sha) == 64 and size == (tmp_path / "r.tar.gz").stat().st_size
    files = safe_extract(tmp_path / "r.tar.gz", tmp_path / "out")
    assert sorted(files) == ["dataset/meta/info.json", "report/index.html"]
    assert (tmp_path / "out" / "dataset" / "meta" / "info.json").read_text() == '{"fps": 30}'
    assert not (tmp_path / "out" / "dataset" / ".complete.json").exists()


@pytest.mark.parametrize("members, message", [
    ([file_member("ok.txt"), file_member("../evil.txt")], "'..'"),
    ([file_member("a/../../evil.txt")], "'..'"),
    ([file_member("/etc/evil.txt")], "absolute"),
    ([link_member("link", "/etc/passwd")], "link"),
    ([link_member("link", "ok.txt", tarfile.LNKTYPE)], "link"),
    ([link_member("dev", "", tarfile.CHRTYPE)], "not a regular file"),
    ([file_member("x.txt"), file_member("x.txt")], "repeats"),
])
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path, members, message):
    archive = make_tar_gz(tmp_path / "bad.tar.gz", members)
    before = tree_snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=message):
        safe_extract(archive, tmp_path / "out" / "dest")
    assert tree_snapshot(tmp_path) == before | {"out"}  # the parent folder only, empty
    assert not any((tmp_path / "out").iterdir())


def test_compression_bomb_is_refused_by_ratio(tmp_path):
    archive = bomb_tar_gz(tmp_path / "bomb.tar.gz", 64 * 1024**2)
    assert archive.stat().st_size < 200_000  # 64 MiB of zeros packs to well under 1%
    with pytest.raises(UnsafeArchiveError, match="compression ratio"):
        safe_extract(archive, tmp_path / "dest", ArchiveLimits(max_ratio=100, ratio_floor_bytes=1024**2))
    assert not (tmp_path / "dest").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bomb.tar.gz"]


def test_total_size_limit(tmp_path):
    archive = make_tar_gz(tmp_path / "big.tar.gz", [file_member("a.bin", bytes(range(256)) * 40)])
    with pytest.raises(UnsafeArchiveError, match="expands past"):
        safe_extract(archive, tmp_path / "dest", ArchiveLimits(max_total_bytes=4096))
    assert not (tmp_path / "dest").exists()


def test_not_a_tar_gz_and_non_empty_destination(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not gzip")
    with pytest.raises(InvalidInputError, match="not a readable tar.gz"):
        safe_extract(junk, tmp_path / "dest")
    good = make_tar_gz(tmp_path / "good.tar.gz", [file_member("a.txt", b"a")])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not an empty folder"):
        safe_extract(good, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_truncated_archive_is_refused(tmp_path):
    good = make_tar_gz(tmp_path / "good.tar.gz", [file_member("a.bin", bytes(range(256)) * 400)])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidInputError):
        safe_extract(cut, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
