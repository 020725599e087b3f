"""run_items: per-item results in input order, success threshold, resumable journal."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from blueprint_pipeline import storage
from blueprint_pipeline.errors import ErrorCategory, TransientError
from blueprint_pipeline.resilience.errors import StageFailedError
from blueprint_pipeline.resilience.journal import Journal
from blueprint_pipeline.resilience.partial import run_items


def square_or_fail(x: int) -> int:
    # Later items finish first, so completion order differs from input order.
    time.sleep(0.002 * (10 - x % 10))
    if x % 5 == 3:
        raise ValueError(f"item {x} is bad")
    return x * x


def test_results_come_back_in_input_order_with_errors_described():
    report = run_items(list(range(10)), square_or_fail, workers=4, stage="squares")
    assert [r.index for r in report.results] == list(range(10))
    assert report.values == [0, 1, 4, None, 16, 25, 36, 49, None, 81]
    bad = report.failures
    assert [r.index for r in bad] == [3, 8]
    assert bad[0].error_type == "ValueError" and bad[0].message == "item 3 is bad"
    assert "square_or_fail" in bad[0].traceback and bad[0].category == "internal"
    assert report.success_rate == 0.8 and report.passed


def test_stage_fails_only_below_the_threshold():
    items = [3, 8, 13, 1, 2]  # three of five fail: 40% < 50%
    with pytest.raises(StageFailedError) as info:
        run_items(items, square_or_fail, stage="squares")
    report = info.value.report
    assert report.ok_count == 2 and report.failed_count == 3
    assert "2 of 5 items succeeded" in str(info.value) and "item 13 is bad" in str(info.value)
    assert info.value.partial["failed"] == 3
    assert run_items(items, square_or_fail, min_success_rate=0.4).ok_count == 2


def test_failure_category_follows_the_items_errors():
    def flaky(x: int) -> int:
        raise TransientError("service busy")

    with pytest.raises(StageFailedError) as info:
        run_items([1, 2], flaky)
    assert info.value.category is ErrorCategory.TRANSIENT and info.value.exit_code == 1


def test_empty_list_is_a_success_with_zero_items():
    report = run_items([], square_or_fail, min_success_rate=1.0)
    assert report.total == 0 and report.passed and report.values == []


def test_keys_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        run_items([1, 2], square_or_fail, key=lambda x: "same")


@pytest.mark.parametrize("root", ["local", "memory"])
def test_journal_skips_done_items_and_reuses_their_values(tmp_path, root):
    url = (str(tmp_path) if root == "local" else f"memory://journal-{uuid.uuid4().hex}") + "/j/items.jsonl"
    calls: list[int] = []
    broken = {2, 4}

    def work(x: int) -> dict:
        calls.append(x)
        if x in broken:
            raise RuntimeError(f"transient glitch on {x}")
        return {"x": x, "pair": (x, x + 1)}

    items = list(range(6))
    first = run_items(items, work, journal_url=url, key=lambda x: f"obj-{x}", workers=3)
    assert sorted(calls) == items and first.failed_count == 2
    # Values went through JSON: the tuple is a list, as it will be when resumed.
    assert first.values[0] == {"x": 0, "pair": [0, 1]}
    lines = storage.read_text(url).splitlines()
    assert len(lines) == 6 and all(json.loads(line)["v"] == 1 for line in lines)

    calls.clear()
    broken.clear()
    second = run_items(items, work, journal_url=url, key=lambda x: f"obj-{x}", workers=3)
    assert sorted(calls) == [2, 4]  # only the failed items ran again
    assert second.resumed_count == 4 and second.failed_count == 0
    assert second.values == [{"x": x, "pair": [x, x + 1]} for x in items]
    # The journal was appended to, never rewritten: the old lines are still first.
    assert storage.read_text(url).splitlines()[:6] == lines


def test_journal_ignores_a_torn_last_line(tmp_path):
    url = str(tmp_path / "items.jsonl")
    run_items([1, 2], lambda x: x * 10, journal_url=url)
    with open(url, "a") as f:
        f.write('{"v": 1, "key": "2", "ok": tr')  # the writer died mid-line
    report = run_items([1, 2, 3], lambda x: x * 10, journal_url=url)
    assert report.values == [10, 20, 30] and report.resumed_count == 2
    entries = Journal(url).load()
    assert entries["2"]["value"] == 30


def test_values_that_are_not_json_safe_fail_their_item_when_journaled(tmp_path):
    report = run_items([1.0, float("nan"), 2.0], lambda x: {"v": x}, journal_url=str(tmp_path / "j.jsonl"),
                       min_success_rate=0.5)
    assert [r.ok for r in report.results] == [True, False, True]
    assert "not JSON-safe" in report.results[1].message


def sleepy_item(x: int, heartbeat) -> int:
    if x == 2:
        while True:  # never heartbeats again
            time.sleep(1)
    heartbeat()
    return x + 100


def test_process_executor_kills_a_hung_item_and_keeps_the_rest():
    report = run_items([1, 2, 3], sleepy_item, executor="process", workers=2, deadline_s=30,
                       heartbeat_timeout_s=2.0, stage="sim")
    assert report.values == [101, None, 103]
    failed = report.results[1]
    assert failed.error_type == "TaskTimeoutError" and failed.category == "timeout"


def test_progress_is_reported_per_item():
    seen = []
    run_items([1, 2, 3], lambda x: x, progress=lambda done, total, what: seen.append((done, total, what)),
              stage="demo")
    assert seen == [(1, 3, "demo"), (2, 3, "demo"), (3, 3, "demo")]


def test_default_threshold_comes_from_the_setting(monkeypatch):
    from blueprint_pipeline import config

    monkeypatch.setattr(config, "_cached", config.load_settings({"BP_MIN_SUCCESS_RATE": "0.9"}))
    with pytest.raises(StageFailedError):
        run_items(list(range(10)), square_or_fail)  # 80% succeed, 90% required
