"""Tasks on a Ray cluster with the contract of `resilience.pool.ProcessPool`.

    with RayPool(workers=2, deadline_s=80, heartbeat_timeout_s=20) as pool:
        for result in pool.imap(simulate_item, items):   # input order, TaskResult each
            ...

`fn(item, heartbeat)` runs as a Ray task (one CPU, never retried by Ray: a crash is reported
as `crashed`, like a dead local worker). Up to twice the cluster's CPU count of tasks are in
flight, so a cluster's cores stay busy even for one scene; queued tasks do not count against
their deadline. Each task reports its start and (at most once a second) its heartbeat to a small
per-pool actor that measures ages on its own clock, so no clocks are compared across nodes. The
driver waits with `ray.wait(timeout=...)`; a task past its deadline or silent for longer than
`heartbeat_timeout_s` is cancelled with `ray.cancel(ref, force=True)`, which kills its worker
process (Ray starts a fresh one for later tasks), and gets a `timeout` result.

A node that dies (its raylet killed, the machine lost) takes its running tasks with it. Those
tasks are submitted again, up to `MAX_NODE_RESUBMITS` times each, and run on the nodes that are
left; only a task whose worker died on a node that is still alive (a segfault, an OOM kill) is
reported as `crashed`, as with the local pool. A task counts as lost with its node when Ray
says so (`NodeDiedError`), when it never reported its start, or when the node it reported
starting on is declared dead by the cluster within `NODE_DEATH_WAIT_S` (Ray's health checks
take about 15 s by default to declare a node dead). The progress actor is placed on the head
node (`board_node`), so losing another node never loses it. `nodes` counts finished tasks by node id
and `resubmitted` the tasks run again.

Large data never passes through the driver: the task writes its arrays to the shared output
(fsspec URL) itself and returns a small result through Ray's object store.

Test hook (tests only): BLUEPRINT_TEST_RAY_HANG_EPISODES="1,4" makes the Ray tasks of the items
whose `episode_index` is listed sleep forever without heartbeats before doing any work, to exercise the
cancel-and-replace path. It is read by the driver when `imap` starts. (Not a BP_* name: the
settings reject unknown BP_* variables.)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Self

from blueprint_pipeline.batch.executors import add_task_cpu
from blueprint_pipeline.resilience.pool import CRASHED, ERROR, OK, TIMEOUT, TaskResult
from blueprint_pipeline.secrets.redact import redact

HANG_HOOK_ENV = "BLUEPRINT_TEST_RAY_HANG_EPISODES"
log = logging.getLogger(__name__)
_BEAT_EVERY_S = 1.0
_MAX_POLL_S = 0.5
MAX_NODE_RESUBMITS = 3
NODE_DEATH_WAIT_S = 30.0


class _ProgressBoard:
    """Per-pool actor: when each running task started and last beat (its own monotonic clock)."""

    def __init__(self) -> None:
        self._started: dict[int, float] = {}
        self._beat: dict[int, float] = {}
        self._node: dict[int, str] = {}

    def started(self, index: int, node_id: str | None = None) -> None:
        self._started[index] = self._beat[index] = time.monotonic()
        if node_id:
            self._node[index] = node_id

    def node_of(self, index: int) -> str | None:
        """The node the task last reported starting on (None if it never did)."""
        return self._node.get(index)

    def beat(self, index: int) -> None:
        if index in self._started:
            self._beat[index] = time.monotonic()

    def forget(self, index: int, node_too: bool = True) -> None:
        self._started.pop(index, None)
        self._beat.pop(index, None)
        if node_too:
            self._node.pop(index, None)

    def ages(self) -> dict[int, tuple[float, float]]:
        """index -> (seconds since start, seconds since last beat)."""
        now = time.monotonic()
        return {i: (now - t, now - self._beat[i]) for i, t in self._started.items()}


def _run_task(fn: Callable[[Any, Callable[[], None]], Any], item: Any, index: int, board: Any,
              hang_indices: frozenset[int], beat_every_s: float) -> dict[str, Any]:
    """Body of every Ray task: report the start, throttle heartbeats to the board, run `fn`."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    board.started.remote(index, node_id)
    last_beat = [time.monotonic()]

    def heartbeat() -> None:
        now = time.monotonic()
        if now - last_beat[0] >= beat_every_s:
            last_beat[0] = now
            board.beat.remote(index)

    if getattr(item, "episode_index", None) in hang_indices:
        while True:  # the documented test hook: a hang with no heartbeat
            time.sleep(3600)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    value = fn(item, heartbeat)
    return {"value": value, "seconds": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
            "node": node_id}


def hang_indices_from_env() -> frozenset[int]:
    raw = os.environ.get(HANG_HOOK_ENV, "")
    return frozenset(int(p) for p in raw.replace(" ", "").split(",") if p.lstrip("-").isdigit())


_defs_lock = threading.Lock()
_defs: tuple[Any, Any] | None = None


def _remote_defs(ray: Any) -> tuple[Any, Any]:
    """The task function and the board actor class, wrapped by `ray.remote` once per process.

    Wrapping them for every pool made Ray build a new actor class (with signatures and tracing
    wrappers) for each scene, which the driver kept for good: its heap grew with every scene.
    Ray re-exports the same definitions by itself after a `ray.shutdown()` and a new `ray.init()`."""
    global _defs
    with _defs_lock:
        if _defs is None:
            # num_cpus=0: the bookkeeping actor must never take a core from the episodes
            _defs = (ray.remote(num_cpus=1, max_retries=0)(_run_task),
                     ray.remote(num_cpus=0, max_restarts=0)(_ProgressBoard))
        return _defs


HEAD_RESOURCE = "node:__internal_head__"  # the resource Ray gives the head node only


def board_node(ray: Any) -> str:
    """Where the progress actor goes: the head node (the cluster's control store is there, so no
    other node's loss takes it), else the driver's node. The driver's node alone was not enough:
    with two nodes on one machine the driver may attach to either, and losing the one it attached
    to took the actor with it (tests/test_ray_cluster.py)."""
    for node in ray.nodes():
        if node.get("Alive") and HEAD_RESOURCE in (node.get("Resources") or {}):
            return str(node["NodeID"])
    return str(ray.get_runtime_context().get_node_id())


class RayPool:
    """Same constructor and `imap`/`map` contract as `ProcessPool`; needs `ray` (the `ray` extra)
    and connects with `ray.init()` (honouring RAY_ADDRESS) unless Ray is already initialised."""

    def __init__(self, workers: int, *, deadline_s: float | None, heartbeat_timeout_s: float | None = None,
                 startup_grace_s: float = 30.0):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.deadline_s = deadline_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.startup_grace_s = startup_grace_s  # kept for signature parity; the board starts the clock
        self.replaced = 0  # tasks whose worker was killed by a forced cancel
        self.cpu_s = 0.0  # CPU seconds measured inside finished tasks
        self.resubmitted = 0  # tasks run again because their node died
        self.nodes: dict[str, int] = {}  # node id -> tasks finished there
        self._board: Any = None
        self._out_urls: dict[int, str | None] = {}
        self._resubmits: dict[int, int] = {}
        self._suspects: dict[int, tuple[float, str, TaskResult]] = {}  # index -> (deadline, node, crash)

    def __enter__(self) -> Self:
        from blueprint_pipeline.batch.cluster import connect

        ray = connect()
        self._ray = ray
        self._task, board_class = _remote_defs(ray)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(node_id=board_node(ray), soft=False)  # soft: seen on another node
        self._board = board_class.options(scheduling_strategy=here).remote()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._board is not None:
            self._ray.kill(self._board)
            self._board = None

    def in_flight_limit(self, total: int) -> int:
        """Twice the cluster's CPUs: a queued task is ready the moment a worker frees up (queued
        tasks have not started, so their deadline is not running)."""
        cluster_cpus = int(self._ray.cluster_resources().get("CPU", 1))
        return max(1, min(total, max(self.workers, 2 * cluster_cpus)))

    def map(self, fn: Callable[[Any, Callable[[], None]], Any], items: Iterable[Any]) -> list[TaskResult]:
        return list(self.imap(fn, items))

    def imap(self, fn: Callable[[Any, Callable[[], None]], Any], items: Iterable[Any]) -> Iterator[TaskResult]:
        """Results in input order, each yielded as soon as it and all before it are done."""
        if self._board is None:
            raise RuntimeError("use RayPool as a context manager")
        todo = deque(enumerate(items))
        self._out_urls = {i: getattr(item, "out_url", None) for i, item in todo}
        self._items = dict(todo)
        self._resubmits, self._suspects = {}, {}
        total = len(todo)
        limit = self.in_flight_limit(total) if total else 1
        self._hang = hang_indices_from_env()
        # a beat per second is cheap (one actor message); short limits need more
        self._beat_every_s = min(_BEAT_EVERY_S, (self.heartbeat_timeout_s or _BEAT_EVERY_S * 4) / 4)
        self._fn = fn
        pending: dict[Any, int] = {}
        done: dict[int, TaskResult] = {}
        next_out = 0
        while next_out < total:
            while todo and len(pending) < limit:
                index, _ = todo.popleft()
                pending[self._submit(index)] = index
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if next_out >= total:
                break
            self._collect(pending, done)

    def _submit(self, index: int) -> Any:
        return self._task.remote(self._fn, self._items[index], index, self._board, self._hang, self._beat_every_s)

    def _poll_s(self) -> float:
        limits = [_MAX_POLL_S] + [x / 4 for x in (self.deadline_s, self.heartbeat_timeout_s) if x]
        return max(0.01, min(limits))

    def _collect(self, pending: dict[Any, int], done: dict[int, TaskResult]) -> None:
        ray = self._ray
        if pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=self._poll_s())
            if ready:  # take every other finished task too
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
        else:  # only tasks whose node may have died: wait for the cluster's verdict
            ready = []
            time.sleep(self._poll_s())
        for ref in ready:
            index = pending.pop(ref)
            result, exc = self._result_of(ref, index)
            if result.status == CRASHED and self._resubmits.get(index, 0) < MAX_NODE_RESUBMITS:
                self._triage_crash(index, exc, result, pending, done)
            else:
                done[index] = result
                self._board.forget.remote(index)
        if self._suspects:
            self._settle_suspects(pending, done)
        if pending:
            self._cancel_overdue(pending, done)

    def _resubmit(self, index: int, pending: dict[Any, int], why: str) -> None:
        self._resubmits[index] = self._resubmits.get(index, 0) + 1
        self.resubmitted += 1
        self._board.forget.remote(index)
        log.warning("task %d: %s; running it again (attempt %d)", index, why, self._resubmits[index] + 1)
        pending[self._submit(index)] = index

    def _triage_crash(self, index: int, exc: BaseException | None, result: TaskResult,
                      pending: dict[Any, int], done: dict[int, TaskResult]) -> None:
        """A task whose worker died: run it again if its node died, else report it crashed."""
        ray = self._ray
        if isinstance(exc, ray.exceptions.NodeDiedError):
            self._resubmit(index, pending, "its node died")
            return
        node = ray.get(self._board.node_of.remote(index))
        if node is None:
            self._resubmit(index, pending, "its worker was lost before the task started")
            return
        if not self._node_alive(node):
            self._resubmit(index, pending, f"node {node[:12]} died")
            return
        # the node may be on its way out: the cluster declares it dead after its health checks fail
        self._suspects[index] = (time.monotonic() + NODE_DEATH_WAIT_S, node, result)

    def _settle_suspects(self, pending: dict[Any, int], done: dict[int, TaskResult]) -> None:
        alive = self._alive_nodes()
        for index, (deadline, node, result) in list(self._suspects.items()):
            if node not in alive:
                del self._suspects[index]
                self._resubmit(index, pending, f"node {node[:12]} died")
            elif time.monotonic() > deadline:  # the node lives: the task itself crashed its worker
                del self._suspects[index]
                done[index] = result
                self._board.forget.remote(index)

    def _alive_nodes(self) -> set[str]:
        return {n["NodeID"] for n in self._ray.nodes() if n.get("Alive")}

    def _node_alive(self, node: str) -> bool:
        return node in self._alive_nodes()

    def _result_of(self, ref: Any, index: int) -> tuple[TaskResult, BaseException | None]:
        ray = self._ray
        try:
            reply = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # fn raised: report its own exception
            cause = exc.cause if exc.cause is not None else exc
            return TaskResult(index, ERROR, error_type=type(cause).__name__, message=redact(str(cause)),
                              traceback=redact(str(exc))), exc
        except ray.exceptions.RayError as exc:  # worker or node died, object lost
            return TaskResult(index, CRASHED, error_type=type(exc).__name__,
                              message=redact(f"task {index}: Ray worker died without a result: "
                                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")), exc
        self.cpu_s += reply["cpu_s"]
        node = reply.get("node") or "?"
        self.nodes[node] = self.nodes.get(node, 0) + 1
        add_task_cpu(self._out_urls.get(index), reply["cpu_s"], node)
        return TaskResult(index, OK, value=reply["value"], seconds=reply["seconds"]), None

    def _cancel_overdue(self, pending: dict[Any, int], done: dict[int, TaskResult]) -> None:
        ray = self._ray
        ages = ray.get(self._board.ages.remote())
        for ref, index in list(pending.items()):
            if index not in ages:
                continue  # still queued or not yet reported as started
            running_s, silent_s = ages[index]
            reason = None
            if self.deadline_s is not None and running_s > self.deadline_s:
                reason = f"exceeded its deadline of {self.deadline_s:g} s"
            elif self.heartbeat_timeout_s is not None and silent_s > self.heartbeat_timeout_s:
                reason = f"sent no heartbeat for {silent_s:.2f} s (limit {self.heartbeat_timeout_s:g} s)"
            if reason is None:
                continue
            ray.cancel(ref, force=True)
            del pending[ref]
            self._board.forget.remote(index)
            self.replaced += 1
            done[index] = TaskResult(index, TIMEOUT, error_type="TaskTimeoutError",
                                     message=f"task {index} {reason}; its Ray worker was killed (forced cancel)",
                                     seconds=running_s)
