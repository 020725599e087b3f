"""Checking the spans of a large manifest's objects array in worker processes.

The fast scan (`reader._scan`) cuts the objects array between elements into spans of about
half a megabyte. Each worker parses a span with ijson, validates and normalises its objects
(`check.ObjectChecker`) and returns the records already as JSON lines, the facts the
cross-object checks need, and its problems and warnings. The ingest consumes the results in
file order, so records, problems and their order are the same as with one process; a span's
object indices are local to the span, and the ingest shifts them (`objects[3]` of a span that
starts at object 2000 is `objects[2003]`).

Why processes: parsing, pydantic and the arithmetic are all CPU-bound Python, and one process
does about 16,000 objects per second here. `concurrent.futures` rather than the resilience pool:
these tasks are pure functions over bytes, with no deadline to enforce (a bad span is a syntax
error, not a hang), and the executor's in-order futures fit a stream. At most `2 x workers`
spans are in flight, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import ijson

from blueprint_pipeline.errors import InvalidInputError, Problem
from blueprint_pipeline.resilience.pool import worker_context
from blueprint_pipeline.scene import reader
from blueprint_pipeline.scene.check import ObjectChecker, ObjectFacts, record_line
from blueprint_pipeline.scene.normalise import FrameConversion
from blueprint_pipeline.scene.problems import ProblemCollector

MAX_WORKERS = 8


def default_workers() -> int:
    """Worker processes when BP_INGEST_WORKERS is 0 (auto): the usable cores, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


@dataclass
class SpanResult:
    """One span, checked. `lines[i]` is None when object i has a problem (or the header did)."""

    count: int
    lines: list[str | None]
    facts: list[ObjectFacts | None]
    problem_counts: list[int]  # problems found in each object (kept or not)
    problems: list[Problem]  # the first MAX_PROBLEMS of the span, paths with span-local indices
    warnings: Counter[str]
    syntax_error: tuple[str, int] | None = None  # (the parser's message, objects parsed before it)
    warning_names: dict[str, list[str]] | None = None  # objects named by each warning (the first few)


_checker_args: tuple[FrameConversion | None, bool, str | None] | None = None


def _init_worker(frame: FrameConversion | None, strict: bool, asset_root: str | None = None) -> None:
    global _checker_args
    _checker_args = (frame, strict, asset_root)


def check_span(data: bytes, frame: FrameConversion | None, strict: bool, asset_root: str | None = None) -> SpanResult:
    """Parse, validate and normalise one span (in a worker, or in-process for tests)."""
    collector = ProblemCollector()
    checker = ObjectChecker(collector, frame, strict, asset_root)
    lines: list[str | None] = []
    facts: list[ObjectFacts | None] = []
    counts: list[int] = []
    try:
        for index, (raw, dups) in enumerate(reader.parse_span(data)):
            before = collector.total
            record, fact = checker.check(index, raw, dups)
            lines.append(record_line(record) if record is not None else None)
            facts.append(fact)
            counts.append(collector.total - before)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        return SpanResult(0, [], [], [], [], Counter(), syntax_error=(str(exc), len(lines)))
    return SpanResult(len(lines), lines, facts, counts, collector.problems, collector.warning_counts,
                      warning_names=collector.warning_names)


def _check_span_in_worker(data: bytes) -> SpanResult:
    assert _checker_args is not None
    return check_span(data, *_checker_args)


def _context() -> Any:
    # fork is fast and safe while this process has a single thread; with other threads alive
    # (a progress bar, a server) a lock held by one of them would stay held in the child.
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return worker_context()


def check_spans(raw: reader.RawManifest, frame: FrameConversion | None, strict: bool,
                workers: int, asset_root: str | None = None) -> Iterator[SpanResult]:
    """SpanResults in file order, `workers` processes checking ahead of the consumer."""
    assert raw.spans is not None and raw.open_bytes is not None
    spans = deque(raw.spans)
    pending: deque[Future[SpanResult]] = deque()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_init_worker,
                               initargs=(frame, strict, asset_root))
    try:
        with raw.open_bytes() as f:
            at = 0

            def submit() -> None:
                nonlocal at
                start, end = spans.popleft()
                if start != at:
                    f.seek(start)
                data = f.read(end - start)
                at = end
                pending.append(pool.submit(_check_span_in_worker, data))

            while spans and len(pending) < 2 * workers:
                submit()
            while pending:
                result = pending.popleft().result()
                if spans:
                    submit()
                yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_OBJECT_INDEX = re.compile(r"^objects\[(\d+)\]")


def shifted(problem: Problem, offset: int) -> Problem:
    """A span's problem with its object index made file-wide."""
    if not offset:
        return problem
    path = _OBJECT_INDEX.sub(lambda m: f"objects[{int(m.group(1)) + offset}]", problem.path, count=1)
    return Problem(path, problem.message)


def raise_syntax_error(raw: reader.RawManifest, result: SpanResult, offset: int) -> None:
    """Phrase a span's syntax error as the one-process reader does; always raises."""
    assert result.syntax_error is not None
    message, before = result.syntax_error
    reader.raise_stream_error(raw.open_bytes, ijson.JSONError(message), offset + before)
    raise InvalidInputError("manifest is not valid JSON")  # unreachable: the reader raises

