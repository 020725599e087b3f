"""The executors that run a stage's per-item tasks: "local" (the default; worker processes on
this machine, no Ray needed) and "ray" (Ray tasks on a local instance or a cluster, from the
`batch` package, which this package never imports: `open_pool` loads it by name when asked).

Both take `fn(item, heartbeat)` and the same per-task deadline and heartbeat limit, and yield
`resilience.pool.TaskResult`s in input order, so the calling stage's journal and partial-failure
rules do not depend on the executor, and the same item gives the same output on either.

Both also measure the CPU time spent inside each task and add it to a per-output tally
(`task_cpu_seconds(out_url)`), which the batch summary uses for its cost figures.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Self

from blueprint_pipeline.contract import check_executor
from blueprint_pipeline.resilience.pool import ProcessPool, TaskResult

# Executors other than "local": the module that provides each one's pool class.
_PLUGINS = {"ray": ("blueprint_pipeline.batch.ray_pool", "RayPool")}

_lock = threading.Lock()
_task_cpu: dict[str, list[float]] = {}  # out_url -> [tasks finished, CPU seconds]
_task_nodes: dict[str, dict[str, int]] = {}  # out_url -> {node id: tasks finished there}


def add_task_cpu(out_url: str | None, cpu_s: float, node: str | None = None) -> None:
    """Count one finished task writing under `out_url`, its CPU seconds, and the node it ran on
    (Ray's node id; None for this machine's worker processes)."""
    if out_url is None:
        return
    with _lock:
        tally = _task_cpu.setdefault(out_url, [0, 0.0])
        tally[0] += 1
        tally[1] += cpu_s
        if node is not None:
            nodes = _task_nodes.setdefault(out_url, {})
            nodes[node] = nodes.get(node, 0) + 1


def pop_task_nodes(out_url: str) -> dict[str, int]:
    """{node id: tasks finished there} for items writing under `out_url`, and forget it."""
    with _lock:
        return dict(_task_nodes.pop(out_url, {}))


def pop_task_cpu_seconds(out_url: str) -> tuple[int, float]:
    """`task_cpu_seconds` and forget the tally, so a long-running driver keeps none per scene."""
    with _lock:
        tasks, cpu_s = _task_cpu.pop(out_url, [0, 0.0])
    return int(tasks), float(cpu_s)


def task_cpu_seconds(out_url: str) -> tuple[int, float]:
    """(tasks finished, CPU seconds inside them) for items writing under `out_url`, this process."""
    with _lock:
        tasks, cpu_s = _task_cpu.get(out_url, [0, 0.0])
    return int(tasks), float(cpu_s)


@dataclasses.dataclass(frozen=True)
class _Metered:
    """Picklable wrapper: run `fn` and return its value with the CPU time it took."""

    fn: Callable[[Any, Callable[[], None]], Any]

    def __call__(self, item: Any, heartbeat: Callable[[], None]) -> tuple[Any, float]:
        cpu0 = time.process_time()
        value = self.fn(item, heartbeat)
        return value, time.process_time() - cpu0


class LocalPool:
    """`ProcessPool` plus CPU accounting; results are exactly the pool's."""

    def __init__(self, workers: int, *, deadline_s: float | None, heartbeat_timeout_s: float | None = None):
        self._pool = ProcessPool(workers, deadline_s=deadline_s, heartbeat_timeout_s=heartbeat_timeout_s)

    def __enter__(self) -> Self:
        self._pool.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.__exit__(*exc)

    @property
    def replaced(self) -> int:
        return self._pool.replaced

    def map(self, fn: Callable, items: Iterable[Any]) -> list[TaskResult]:
        return list(self.imap(fn, items))

    def imap(self, fn: Callable, items: Iterable[Any]) -> Iterator[TaskResult]:
        items = list(items)
        for res in self._pool.imap(_Metered(fn), items):
            yield self._metered(items, res)

    def imap_unordered(self, fn: Callable, items: Iterable[Any]) -> Iterator[TaskResult]:
        """Results as tasks finish (each carries its input index)."""
        items = list(items)
        for res in self._pool.imap_unordered(_Metered(fn), items):
            yield self._metered(items, res)

    @staticmethod
    def _metered(items: list[Any], res: TaskResult) -> TaskResult:
        if res.ok:
            value, cpu_s = res.value
            add_task_cpu(getattr(items[res.index], "out_url", None), cpu_s)
            res = dataclasses.replace(res, value=value)
        return res


def open_pool(executor: str, workers: int, *, deadline_s: float | None,
              heartbeat_timeout_s: float | None = None) -> Any:
    """A context-managed pool with `imap(fn, items)` for `executor` ("local" or "ray")."""
    if check_executor(executor) in _PLUGINS:
        module, name = _PLUGINS[executor]
        pool_class = getattr(importlib.import_module(module), name)
        return pool_class(workers, deadline_s=deadline_s, heartbeat_timeout_s=heartbeat_timeout_s)
    return LocalPool(workers, deadline_s=deadline_s, heartbeat_timeout_s=heartbeat_timeout_s)
