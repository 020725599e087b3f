"""The ingest's worker processes give exactly what one process gives: records, errors, warnings.

Small spans (`chunk_bytes`) cut a few hundred objects into many pieces, so every cross-span case
(duplicate ids, forward relationships, problem indices, the problem cap) is exercised.
"""

from __future__ import annotations

import json
import multiprocessing

import pytest

from blueprint_pipeline.errors import InvalidInputError
from blueprint_pipeline.scene.ingest import ManifestIngest
from blueprint_pipeline.scene.synth import write_synthetic_manifest

CHUNK = 6_000  # bytes: about a dozen objects per span


def _ingest(path, workers, strict=False):
    ing = ManifestIngest(str(path), strict=strict, stream_threshold_bytes=0, workers=workers, chunk_bytes=CHUNK)
    try:
        lines = list(ing.record_lines())
    except InvalidInputError as exc:
        return ing, None, exc
    return ing, lines, None


def _manifest(tmp_path, n=300, edit=None, raw_edit=None):
    src = tmp_path / "synth.json"
    write_synthetic_manifest(str(src), n, seed=3)
    doc = json.loads(src.read_text())
    if edit:
        edit(doc["objects"])
    text = json.dumps(doc, indent=1)
    if raw_edit:
        text = raw_edit(text)
    path = tmp_path / "manifest.json"
    path.write_text(text)
    return path


def test_workers_give_the_same_records_header_and_counts(tmp_path):
    path = _manifest(tmp_path)
    one, lines_one, _ = _ingest(path, 1)
    two, lines_two, _ = _ingest(path, 2)
    assert len(two.raw.spans) > 10  # really cut into many spans
    assert lines_two == lines_one and len(lines_one) == 300
    assert two.header_record() == one.header_record()
    assert two.by_role == one.by_role and two.by_category == one.by_category
    assert [json.loads(line) for line in lines_two] == list(ManifestIngest(str(path)).records())


def test_workers_report_the_same_problems_at_file_wide_indices(tmp_path):
    def edit(objs):
        objs[5]["transform"]["scale"]["y"] = -1.0
        objs[250]["dimensions_est"]["width"] = 0
        objs[200]["id"] = objs[20]["id"]  # duplicate id across spans
        objs[270]["relationships"] = [{"type": "on", "object_id": "nowhere"}]
        objs[100]["colour"] = "red"  # unknown key: a warning, kept under extras
        objs[101]["colour"] = "blue"

    path = _manifest(tmp_path, edit=edit)
    one, _, err_one = _ingest(path, 1)
    two, _, err_two = _ingest(path, 2)
    assert err_one is not None and err_two is not None
    assert [str(p) for p in err_two.problems] == [str(p) for p in err_one.problems]
    paths = [p.path for p in err_two.problems]
    assert "objects[5].transform.scale.y" in paths
    assert "objects[250].dimensions_est.width" in paths
    assert "objects[200].id" in paths
    assert "objects[270].relationships[0].object_id" in paths
    assert two.problems.warnings == one.problems.warnings == ["objects[*].colour: unknown key kept under extras (2 times)"]


def test_duplicate_keys_in_a_late_span_are_found(tmp_path):
    path = _manifest(tmp_path)
    doc_text = path.read_text()
    objs = json.loads(doc_text)["objects"]
    target = json.dumps(objs[280]["id"])
    doc_text = doc_text.replace(f'"id": {target}', f'"id": {target}, "category": "a", "category": "b"', 1)
    path.write_text(doc_text)
    _, _, err_one = _ingest(path, 1)
    _, _, err_two = _ingest(path, 2)
    assert [str(p) for p in err_two.problems] == [str(p) for p in err_one.problems]
    assert any(p.path == "objects[280]" and "duplicate key 'category'" in p.message for p in err_two.problems)


def test_a_syntax_error_in_a_late_span_is_phrased_as_with_one_process(tmp_path):
    def raw_edit(text):
        at = text.index('"x"', int(len(text) * 0.8))
        end = text.index(",", at)
        return text[:at] + '"x": NaN' + text[end:]

    path = _manifest(tmp_path, raw_edit=raw_edit)
    _, _, err_one = _ingest(path, 1)
    _, _, err_two = _ingest(path, 2)
    assert err_one is not None and err_two is not None
    assert str(err_two) == str(err_one)
    assert [str(p) for p in err_two.problems] == [str(p) for p in err_one.problems]
    assert "NaN" in str(err_two.problems[0])


def test_the_problem_cap_counts_the_same_across_spans(tmp_path):
    def edit(objs):
        for o in objs[::2]:
            o["transform"]["position"]["x"] = "far"

    path = _manifest(tmp_path, edit=edit)
    _, _, err_one = _ingest(path, 1)
    _, _, err_two = _ingest(path, 2)
    assert err_one.omitted == err_two.omitted == 50  # 150 problems, 100 kept
    assert [str(p) for p in err_two.problems] == [str(p) for p in err_one.problems]


def test_stopping_early_leaves_no_worker_behind(tmp_path):
    path = _manifest(tmp_path)
    ing = ManifestIngest(str(path), stream_threshold_bytes=0, workers=2, chunk_bytes=CHUNK)
    lines = ing.record_lines()
    assert next(lines)
    lines.close()  # the consumer gave up (e.g. an error while writing)
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("workers", [0, 2])
def test_cli_normalize_with_workers_writes_the_same_file(tmp_path, workers, capsys):
    from blueprint_pipeline.cli import main

    def cli(args):
        with pytest.raises(SystemExit) as info:
            main(args)
        return int(info.value.code or 0), capsys.readouterr()

    path = _manifest(tmp_path, n=1500)  # about 0.75 MB: two spans at the default size
    outs = []
    for w in (1, workers):
        out = tmp_path / f"out_{w}.jsonl"
        code, _ = cli(["normalize", str(path), "-o", str(out), "--stream-threshold-mb", "0", "--workers", str(w)])
        assert code == 0
        outs.append(out.read_text())
    assert outs[0] == outs[1] and outs[0].count("\n") == 1501
    code, (_, err) = cli(["normalize", str(path), "-o", str(tmp_path / "x.jsonl"), "--workers", "9"])
    assert code == 2 and "--workers must be between 0 and 8" in err
    assert not (tmp_path / "x.jsonl").exists()
