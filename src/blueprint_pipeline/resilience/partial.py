"""Run a list of items, tolerating some failures, with an optional resumable journal.

    report = run_items(objects, estimate, workers=10, min_success_rate=0.5,
                       journal_url=stage_journal_url(ctx.out_url, "simready"),
                       key=lambda o: o.id, stage="simready")
    values = report.values          # input order; None where the item failed

One `ItemResult` per item, in input order. The stage fails (`StageFailedError`, carrying the
report, category `below_threshold`) if the share of successful items is below
`min_success_rate` (None: the BP_MIN_SUCCESS_RATE setting, 0.5 by default), and (category
`environment`) if any item failed for a reason of the machine: a full disk, a permission denied,
a killed worker (`errors.is_environment_failure`), whatever the rate, so that such a stage is
never marked complete. An empty list is a success with zero items.

Executors:
- "thread" (default): `fn(item)` runs in a thread pool; good for I/O-bound calls. Threads
  cannot be killed, so `deadline_s` and `heartbeat_timeout_s` are not enforced here.
- "process": `fn(item, heartbeat)` runs in `resilience.pool.ProcessPool` worker processes with
  the per-item `deadline_s` and `heartbeat_timeout_s`; `fn` must be a picklable top-level
  function and should call `heartbeat()` regularly. Use it for native code that can hang.
- "ray": the same as "process", as Ray tasks (`resilience.executors.open_pool`).

A stage that records finished items its own way (the episodes stage: one result file per
episode) passes them as `resumed` (index -> value) and records fresh ones in `on_result`.

Journal: with `journal_url`, each finished item is appended (and fsynced) as one JSON line;
a rerun skips items whose key is recorded as ok and reuses the recorded value. Values must
therefore be JSON-safe (dict/list/str/int/float/bool/None, no NaN); a value that is not
fails its item. With a journal, fresh values are also passed through JSON, so a resumed run
returns exactly what an uninterrupted run returns. Keys default to the item's index.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Literal

from blueprint_pipeline.errors import BlueprintError, ErrorCategory, is_environment_failure
from blueprint_pipeline.resilience.errors import StageFailedError
from blueprint_pipeline.resilience.journal import Journal
from blueprint_pipeline.resilience.policy import is_transient
from blueprint_pipeline.resilience.pool import CRASHED, TIMEOUT, TaskResult
from blueprint_pipeline.secrets.redact import redact

log = logging.getLogger(__name__)
ProgressFn = Callable[[int, int | None, str], None]
_MAX_LISTED_FAILURES = 10


@dataclass(frozen=True)
class ItemResult:
    index: int
    key: str
    ok: bool
    value: Any = None
    error_type: str | None = None
    message: str = ""
    traceback: str = ""
    category: str | None = None  # ErrorCategory value for failures
    resumed: bool = False  # taken from the journal of an earlier run
    status: str | None = None  # process and ray executors: the pool's status (ok, error, timeout, crashed)
    seconds: float = 0.0  # process and ray executors: wall time of the task


@dataclass
class ItemsReport:
    stage: str
    results: list[ItemResult]
    min_success_rate: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def ok_count(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed_count(self) -> int:
        return self.total - self.ok_count

    @property
    def resumed_count(self) -> int:
        return sum(r.resumed for r in self.results)

    @property
    def success_rate(self) -> float:
        return 1.0 if not self.results else self.ok_count / self.total

    @property
    def passed(self) -> bool:
        return self.success_rate >= self.min_success_rate

    @property
    def values(self) -> list[Any]:
        return [r.value if r.ok else None for r in self.results]

    @property
    def failures(self) -> list[ItemResult]:
        return [r for r in self.results if not r.ok]

    @property
    def environment_failures(self) -> list[ItemResult]:
        """Failures of the machine (disk full, killed, ...): never results, so the stage fails
        whatever its success rate, and a rerun retries them (only ok items are resumed)."""
        return [r for r in self.failures if r.category == ErrorCategory.ENVIRONMENT.value]

    def summary(self, max_failures: int = 50) -> dict[str, Any]:
        """JSON-safe digest for markers and reports."""
        return {
            "stage": self.stage, "total": self.total, "ok": self.ok_count,
            "failed": self.failed_count, "resumed": self.resumed_count,
            "success_rate": round(self.success_rate, 6), "min_success_rate": self.min_success_rate,
            "failures": [{"index": r.index, "key": r.key, "error_type": r.error_type,
                          "category": r.category, "message": r.message}
                         for r in self.failures[:max_failures]],
            "failures_omitted": max(0, self.failed_count - max_failures),
        }


def _category_of(exc: BaseException) -> str:
    if is_environment_failure(exc):
        return ErrorCategory.ENVIRONMENT.value
    if isinstance(exc, BlueprintError):
        return str(exc.category)
    if isinstance(exc, TimeoutError):
        return ErrorCategory.TIMEOUT.value
    return (ErrorCategory.TRANSIENT if is_transient(exc) else ErrorCategory.INTERNAL).value


def _failure(index: int, key: str, exc: BaseException) -> ItemResult:
    return ItemResult(index, key, False, error_type=type(exc).__name__, message=redact(str(exc)),
                      traceback=redact(traceback.format_exc()), category=_category_of(exc))


def _from_task(key: str, t: TaskResult) -> ItemResult:
    if t.ok:
        return ItemResult(t.index, key, True, value=t.value, status=t.status, seconds=t.seconds)
    category = {TIMEOUT: ErrorCategory.TIMEOUT, CRASHED: ErrorCategory.INTERNAL}.get(
        t.status, ErrorCategory.INTERNAL)
    if is_environment_failure(error_type=t.error_type, message=t.message):
        category = ErrorCategory.ENVIRONMENT
    return ItemResult(t.index, key, False, error_type=t.error_type, message=t.message,
                      traceback=t.traceback, category=category.value, status=t.status, seconds=t.seconds)


def _as_json_value(value: Any) -> Any:
    """Round-trip through JSON so fresh and resumed values are identical; TypeError/ValueError
    if the value is not JSON-safe."""
    return json.loads(json.dumps(value, allow_nan=False))


def run_items(items: Sequence[Any], fn: Callable[..., Any], *, workers: int = 1,
              executor: Literal["thread", "process", "ray"] = "thread", min_success_rate: float | None = None,
              journal_url: str | None = None, key: Callable[[Any], str] | None = None,
              deadline_s: float | None = None, heartbeat_timeout_s: float | None = None,
              progress: ProgressFn | None = None, stage: str = "items",
              resumed: Mapping[int, Any] | None = None,
              on_result: Callable[[ItemResult], None] | None = None) -> ItemsReport:
    """Run `fn` over `items` (see the module docstring); raise StageFailedError if too few
    succeed."""
    if min_success_rate is None:
        from blueprint_pipeline.config import get_settings

        min_success_rate = get_settings().min_success_rate
    if executor not in ("thread", "process", "ray"):
        raise ValueError(f"executor must be 'thread', 'process' or 'ray', got {executor!r}")
    if not 0.0 <= min_success_rate <= 1.0:
        raise ValueError("min_success_rate must be within [0, 1]")
    items = list(items)
    keys = [str(key(item)) if key else str(i) for i, item in enumerate(items)]
    if len(set(keys)) != len(keys):
        dup = next(k for k, n in Counter(keys).items() if n > 1)
        raise ValueError(f"{stage}: item keys must be unique; {dup!r} repeats")
    total = len(items)
    results: list[ItemResult | None] = [None] * total
    journal = Journal(journal_url) if journal_url else None
    done = 0
    lock = threading.Lock()

    def finish(result: ItemResult) -> None:
        nonlocal done
        if journal is not None and result.ok:
            try:
                result = ItemResult(result.index, result.key, True, value=_as_json_value(result.value))
            except (TypeError, ValueError) as exc:
                result = ItemResult(result.index, result.key, False, error_type=type(exc).__name__,
                                    message=f"value is not JSON-safe, which a journal needs: {exc}",
                                    category=ErrorCategory.INTERNAL.value)
        with lock:
            if journal is not None:
                entry: dict[str, Any] = {"key": result.key, "index": result.index, "ok": result.ok}
                if result.ok:
                    entry["value"] = result.value
                else:
                    entry.update(error_type=result.error_type, message=result.message,
                                 category=result.category)
                journal.append(entry)
            results[result.index] = result
            if on_result is not None:
                on_result(result)
            done += 1
            if progress:
                progress(done, total, stage)

    try:
        recorded = journal.load() if journal else {}
        resumed = resumed or {}
        todo = []
        for i, k in enumerate(keys):
            entry = recorded.get(k)
            if i in resumed:
                results[i] = ItemResult(i, k, True, value=resumed[i], resumed=True)
                done += 1
            elif entry is not None and entry.get("ok"):
                results[i] = ItemResult(i, k, True, value=entry.get("value"), resumed=True)
                done += 1
            else:
                todo.append(i)
        if done:
            log.info("%s: resuming; %d of %d items already done", stage, done, total)
            if progress:
                progress(done, total, stage)
        if executor == "thread":
            _run_threads(items, keys, todo, fn, workers, finish)
        else:
            _run_processes(items, keys, todo, fn, "local" if executor == "process" else executor, workers,
                           deadline_s, heartbeat_timeout_s, finish)
    finally:
        if journal is not None:
            journal.close()

    report = ItemsReport(stage, [r for r in results if r is not None], min_success_rate)
    assert report.total == total
    if not report.passed or report.environment_failures:
        raise _stage_failed(report)
    if report.failed_count:
        log.warning("%s: %d of %d items failed (success rate %.0f%%, required %.0f%%)", stage,
                    report.failed_count, total, 100 * report.success_rate, 100 * min_success_rate)
    return report


def _run_threads(items: list, keys: list[str], todo: list[int], fn: Callable, workers: int,
                 finish: Callable[[ItemResult], None]) -> None:
    def one(i: int) -> ItemResult:
        try:
            return ItemResult(i, keys[i], True, value=fn(items[i]))
        except Exception as exc:  # noqa: BLE001 - an item's failure is recorded, not raised
            return _failure(i, keys[i], exc)

    if workers <= 1:
        for i in todo:
            finish(one(i))
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="items") as pool:
        for future in as_completed([pool.submit(one, i) for i in todo]):
            finish(future.result())


def _run_processes(items: list, keys: list[str], todo: list[int], fn: Callable, pool_executor: str,
                   workers: int, deadline_s: float | None, heartbeat_timeout_s: float | None,
                   finish: Callable[[ItemResult], None]) -> None:
    from blueprint_pipeline.resilience.executors import open_pool

    if not todo:
        return
    with open_pool(pool_executor, max(1, min(workers, len(todo))), deadline_s=deadline_s,
                   heartbeat_timeout_s=heartbeat_timeout_s) as pool:
        # Completion order where the pool offers it, so each finished item is recorded at once.
        imap = getattr(pool, "imap_unordered", pool.imap)
        for task in imap(fn, [items[i] for i in todo]):
            i = todo[task.index]
            finish(dataclasses.replace(_from_task(keys[i], task), index=i))


def _stage_failed(report: ItemsReport) -> StageFailedError:
    env = report.environment_failures
    if report.passed:  # only environment failures stop it
        lines = [(f"{report.stage}: {len(env)} of {report.total} items failed for a reason of the machine "
                  "(disk full, permission, killed); fix it and rerun: the finished items are kept")]
    else:
        lines = [(f"{report.stage}: {report.ok_count} of {report.total} items succeeded "
                  f"({100 * report.success_rate:.0f}%), below the required {100 * report.min_success_rate:.0f}%")]
    for r in report.failures[:_MAX_LISTED_FAILURES]:
        lines.append(f"  item {r.index} ({r.key}): {r.error_type}: {r.message.splitlines()[0] if r.message else ''}")
    if report.failed_count > _MAX_LISTED_FAILURES:
        lines.append(f"  ... and {report.failed_count - _MAX_LISTED_FAILURES} more failures")
    error = StageFailedError("\n".join(lines), report)
    categories = {r.category for r in report.failures}
    if env:
        error.category = ErrorCategory.ENVIRONMENT
    elif len(categories) == 1 and categories <= {ErrorCategory.TRANSIENT, ErrorCategory.TIMEOUT,
                                                   ErrorCategory.DEPENDENCY}:
        error.category = ErrorCategory(categories.pop())  # its recommendations say what to do
    return error
