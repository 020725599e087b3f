"""A pool of worker processes with a hard per-task deadline and a heartbeat.

    with ProcessPool(workers=2, deadline_s=30, heartbeat_timeout_s=5) as pool:
        for result in pool.imap(simulate_episode, episodes):   # input order
            ...

`fn(item, heartbeat)` must be a picklable top-level function; it calls `heartbeat()` (a store
into shared memory, cheap enough for every simulation step) to show it is making progress.
A task that passes its deadline (counted from when it starts running in its worker, after
unpickling, which may take up to `startup_grace_s`) or goes silent for `heartbeat_timeout_s` is
SIGKILLed, its process replaced, and it alone gets a `timeout` result; a worker that dies (segfault,
os._exit, OOM kill) gives its task a `crashed` result. No signals are used for timing, so
tasks stuck in C code are bounded too and sub-second limits work.

Why hand-rolled: concurrent.futures.ProcessPoolExecutor breaks the whole pool when one worker
dies (BrokenProcessPool) and cannot kill one hung task; multiprocessing.Pool waits forever for
a task whose worker was killed. Both lack per-task kill-and-replace, which is the point here.

Logging: a worker writes nothing to stderr itself. Its root logger has one handler that sends
each record (message rendered, traceback as text) to the parent over the task's pipe, and Python
warnings are logged too; the parent hands each record to its own loggers, so a worker's lines
come out exactly like the parent's: JSON lines under `--log-json`, above the progress display
otherwise, secrets redacted, in the service's job log. The worker's logger levels are the
parent's at the time the worker started.

Affinity: an item may have an `affinity` attribute (any hashable). A free worker takes the next
item with the same affinity as the last one it ran before the first item in line, so work that
shares a per-process cache stays in one worker (the episodes stage: a task's episodes go to the
worker that has its scene compiled and settled). Which worker runs an item never changes its
result; only the order of completion moves.

A worker whose parent is gone (killed, or ended without closing the pool) finds the pipe broken
(BrokenPipeError) when it sends a result or a log record: it ends quietly, with exit code 0 and
no traceback, since nobody is left to read either; its records from then on are dropped. (Before,
the broken pipe escaped as a plain-text traceback on stderr, the only non-JSON lines of a
`--log-json` run that was interrupted.)
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import forkserver, spawn
from typing import Any

from blueprint_pipeline.secrets.redact import redact

OK, ERROR, TIMEOUT, CRASHED = "ok", "error", "timeout", "crashed"
_LOG = "log"  # a worker's message carrying one log record (not a result)
_HEARTBEAT_POLL_S = 0.05
_MAX_MESSAGES_PER_READ = 1000  # a worker flooding its log cannot starve the deadline checks


@dataclass(frozen=True)
class TaskResult:
    index: int
    status: str  # ok | error | timeout | crashed
    value: Any = None
    error_type: str | None = None
    message: str = ""
    traceback: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == OK


Heartbeat = Callable[[], None]


def _portable(record: logging.LogRecord) -> dict[str, Any]:
    """A record's attributes as picklable values: message rendered, traceback as text."""
    doc = dict(vars(record))
    try:
        doc["msg"] = record.getMessage()
    except Exception:  # noqa: BLE001 - arguments that do not fit the format: the format alone
        doc["msg"] = str(record.msg)
    doc["args"] = None
    if record.exc_info:
        if not record.exc_text:
            doc["exc_text"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        doc["exc_info"] = None
    for k, v in doc.items():
        if not isinstance(v, (str, int, float, bool, type(None))):
            doc[k] = repr(v)
    return doc


class _ToParent(logging.Handler):
    """In a worker: every record to the parent, which emits it with its own handlers."""

    def __init__(self, send: Callable[[Any], None]):
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send((_LOG, _portable(record)))
        except Exception:  # noqa: BLE001, S110 - the parent is gone: nobody to show it to
            pass


def _log_to_parent(send: Callable[[Any], None], levels: dict[str, int]) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):  # with the fork start method: the parent's, not ours to use
        root.removeHandler(h)
    root.addHandler(_ToParent(send))
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    logging.captureWarnings(True)


def _parent_log_levels() -> dict[str, int]:
    """The levels set on this process's loggers ("" is the root), for a worker to copy."""
    levels = {"": logging.getLogger().level}
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


def _relay_log(doc: dict[str, Any]) -> None:
    """In the parent: a worker's record through the logger it was logged on."""
    record = logging.makeLogRecord(doc)
    logger = logging.getLogger(record.name)
    if logger.isEnabledFor(record.levelno):
        logger.handle(record)


def _worker_main(conn: multiprocessing.connection.Connection, beat: Any, started: Any,
                 log_levels: dict[str, int] | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    send_lock = threading.RLock()  # results (this thread) and log records (any thread) share the pipe

    def send(message: Any) -> None:
        with send_lock:
            conn.send(message)

    _log_to_parent(send, log_levels or {})

    def heartbeat() -> None:
        beat.value = time.monotonic()

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, payload = message
        try:
            fn, item = pickle.loads(payload)
            started.value = time.monotonic()
            heartbeat()
            reply: tuple = (OK, index, fn(item, heartbeat))
        except BaseException as exc:  # noqa: BLE001 - every task error goes back to the parent
            reply = (ERROR, index, type(exc).__name__, str(exc), traceback.format_exc())
        try:
            send(reply)
        except OSError:  # BrokenPipeError: the parent is gone; nobody to report to
            return
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable return value
            try:
                send((ERROR, index, type(exc).__name__, f"task result could not be sent back: {exc}",
                      traceback.format_exc()))
            except OSError:
                return


MAIN_PATH_ENV = "BLUEPRINT_FORKSERVER_MAIN_PATH"  # for resilience.forkserver_main (BP_* is for settings only)
_PRELOAD: list[str] = ["__main__"]  # multiprocessing's default forkserver preload, and what callers add


def preload_in_workers(*modules: str) -> None:
    """Have the forkserver import `modules` once, when it starts, so that every worker forked
    from it has them already. Without it each worker imports what its task needs when it
    unpickles the first one: for the episodes stage's simulation stack 1.1 s of CPU per worker
    per run, against about 0.13 s for a corpus episode. Call it when the module that submits
    the work is imported (the forkserver starts with the first pool and keeps its list for the
    life of the process; a module that cannot be imported there is skipped by multiprocessing,
    and the worker imports it as before)."""
    for name in modules:
        if name not in _PRELOAD:
            _PRELOAD.append(name)


# The forkserver's environment beyond the parent's (a value the parent has is kept). Workers fork
# from the forkserver, and a BLAS thread pool it had started would be copied into them without its
# threads: a test run's episode workers spun for 15 minutes in OpenBLAS's first matrix product
# (trimesh placing the robot meshes). The workers are one process per core anyway.
FORKSERVER_ENV = {"OPENBLAS_NUM_THREADS": "1"}


def worker_context() -> multiprocessing.context.BaseContext:
    """The start method of every worker process of the package (this pool's, the scene stage's
    shard checkers'): one forkserver per process, started here with the registered preloads and
    FORKSERVER_ENV; spawn where forkserver does not exist."""
    # forkserver: workers fork from a clean server process (no inherited threads or locks),
    # with the preloaded modules imported; spawn where forkserver does not exist.
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    main_path = spawn.get_preparation_data("blueprint-worker").get("init_main_from_path")
    if main_path:  # run the parent's main script in the forkserver once (resilience.forkserver_main)
        os.environ[MAIN_PATH_ENV] = main_path
    ctx.set_forkserver_preload([_PRELOAD[0], "blueprint_pipeline.resilience.forkserver_main", *_PRELOAD[1:]])
    added = {k: v for k, v in FORKSERVER_ENV.items() if k not in os.environ}
    os.environ.update(added)  # the forkserver starts here (once per process) with them
    try:
        forkserver.ensure_running()
    finally:
        for k in added:
            os.environ.pop(k, None)
    return ctx


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext):
        self.conn, child = ctx.Pipe(duplex=True)
        self.beat = ctx.RawValue("d", 0.0)
        self.started = ctx.RawValue("d", 0.0)  # when the worker began running the task
        self.proc = ctx.Process(target=_worker_main, args=(child, self.beat, self.started, _parent_log_levels()),
                                daemon=True, name="blueprint-worker")
        self.proc.start()
        child.close()
        self.index: int | None = None
        self.started_at = 0.0
        self.affinity: Any = None  # the last item's `affinity` (module docstring)

    def assign(self, index: int, payload: bytes) -> None:
        self.index = index
        self.started_at = time.monotonic()  # dispatched
        self.beat.value = self.started.value = 0.0  # set by the worker once it has unpickled the task
        self.conn.send((index, payload))

    def run_started_at(self, startup_grace_s: float) -> float:
        """When the task began to run. Unpickling it in a fresh process imports its module,
        which can take seconds on a busy machine; that time is not the task's, up to the grace."""
        started = self.started.value
        return started if started >= self.started_at else self.started_at + startup_grace_s

    def last_beat(self, startup_grace_s: float) -> float:
        """When the task last showed progress (its start counts as the first beat)."""
        beat = self.beat.value
        return beat if beat >= self.started_at else self.run_started_at(startup_grace_s)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.relay_remaining_logs()
        self.conn.close()

    def relay_remaining_logs(self) -> None:
        """After the process ended: the log records still in the pipe (a result is dropped)."""
        try:
            while self.conn.poll():
                message = self.conn.recv()
                if message[0] == _LOG:
                    _relay_log(message[1])
        except (EOFError, OSError):
            pass

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(timeout=2)
        self.kill()


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        extra = " (killed from outside; possibly out of memory)" if -exitcode == signal.SIGKILL else ""
        return f"worker process died from signal {name}{extra}"
    return f"worker process exited with code {exitcode} without a result"


def _take(todo: deque, affinity: Any) -> tuple[int, Any]:
    """The first (index, item) in `todo` whose item has `affinity`, else the first; removed."""
    if affinity is not None:
        for k, (_, item) in enumerate(todo):
            if getattr(item, "affinity", None) == affinity:
                entry = todo[k]
                del todo[k]
                return entry
    return todo.popleft()


class ProcessPool:
    def __init__(self, workers: int, *, deadline_s: float | None,
                 heartbeat_timeout_s: float | None = None, startup_grace_s: float = 30.0,
                 context: multiprocessing.context.BaseContext | None = None):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.deadline_s = deadline_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.startup_grace_s = startup_grace_s
        self._ctx = context or worker_context()
        self._pool: list[_Worker] = []
        self.replaced = 0  # workers killed or found dead and replaced (for reports and tests)

    def __enter__(self) -> ProcessPool:
        self._pool = [_Worker(self._ctx) for _ in range(self.workers)]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self._pool:
            if w.index is None:
                w.stop()
            else:
                w.kill()
        self._pool = []

    def map(self, fn: Callable[[Any, Heartbeat], Any], items: Iterable[Any]) -> list[TaskResult]:
        return list(self.imap(fn, items))

    def imap(self, fn: Callable[[Any, Heartbeat], Any], items: Iterable[Any]) -> Iterator[TaskResult]:
        """Results in input order, each yielded as soon as it and all before it are done."""
        pending: dict[int, TaskResult] = {}
        next_out = 0
        for result in self.imap_unordered(fn, items):
            pending[result.index] = result
            while next_out in pending:
                yield pending.pop(next_out)
                next_out += 1

    def imap_unordered(self, fn: Callable[[Any, Heartbeat], Any], items: Iterable[Any]) -> Iterator[TaskResult]:
        """Results as tasks finish (`.index` says which input each is for)."""
        if not self._pool:
            raise RuntimeError("use ProcessPool as a context manager")
        todo = deque(enumerate(items))
        remaining = len(todo)
        done: dict[int, TaskResult] = {}
        while remaining:
            self._dispatch(fn, todo, done)
            if not done:
                self._collect(done)
            for index in list(done):
                remaining -= 1
                yield done.pop(index)

    def _dispatch(self, fn: Callable, todo: deque, done: dict[int, TaskResult]) -> None:
        for slot in range(len(self._pool)):
            while self._pool[slot].index is None and todo:
                index, item = _take(todo, self._pool[slot].affinity)
                self._pool[slot].affinity = getattr(item, "affinity", None)
                try:
                    payload = pickle.dumps((fn, item))
                except Exception as exc:  # noqa: BLE001 - reported as this task's error
                    done[index] = TaskResult(index, ERROR, error_type=type(exc).__name__,
                                             message=f"task could not be pickled: {exc}")
                    continue
                try:
                    self._pool[slot].assign(index, payload)
                except OSError:  # the idle worker died (e.g. OOM-killed): replace it, same task
                    self._pool[slot].index = None
                    self._replace(slot)
                    todo.appendleft((index, item))

    def _limit_at(self, w: _Worker) -> float:
        limits = []
        if self.deadline_s is not None:
            limits.append(w.run_started_at(self.startup_grace_s) + self.deadline_s)
        if self.heartbeat_timeout_s is not None:
            limits.append(w.last_beat(self.startup_grace_s) + self.heartbeat_timeout_s)
        return min(limits) if limits else float("inf")

    def _collect(self, done: dict[int, TaskResult]) -> None:
        busy = [w for w in self._pool if w.index is not None]
        if not busy:
            return
        wait_s = max(0.0, min(self._limit_at(w) for w in busy) - time.monotonic())
        # Beats and task starts move the limits (set by the workers): look again soon.
        wait_s = min(wait_s, _HEARTBEAT_POLL_S)
        handles = [w.conn for w in busy] + [w.proc.sentinel for w in busy]
        multiprocessing.connection.wait(handles, timeout=min(wait_s, 3600.0) + 0.001)
        now = time.monotonic()
        for slot, w in enumerate(self._pool):
            if w.index is None:
                continue
            index, elapsed_s = w.index, now - w.started_at
            result = self._read_reply(w, elapsed_s)
            if result is not None:
                done[index] = result
                w.index = None
                if result.status == CRASHED:
                    self._replace(slot)
                continue
            reason = self._overdue(w, now)
            if reason:
                w.kill()
                done[index] = TaskResult(index, TIMEOUT, error_type="TaskTimeoutError",
                                         message=f"task {index} {reason}; its worker was killed",
                                         seconds=elapsed_s)
                self._replace(slot)

    def _read_reply(self, w: _Worker, elapsed_s: float) -> TaskResult | None:
        assert w.index is not None
        try:
            for _ in range(_MAX_MESSAGES_PER_READ):
                if not w.conn.poll():
                    break
                reply = w.conn.recv()
                if reply[0] == _LOG:
                    _relay_log(reply[1])
                    continue
                if reply[0] == OK:
                    return TaskResult(w.index, OK, value=reply[2], seconds=elapsed_s)
                _, _, error_type, message, tb = reply
                return TaskResult(w.index, ERROR, error_type=error_type, message=redact(message),
                                  traceback=redact(tb), seconds=elapsed_s)
            else:
                return None  # more waiting: read on in the next round, after the deadline checks
        except (EOFError, OSError):
            pass  # the pipe broke: the worker died, reported below
        except Exception as exc:  # noqa: BLE001 - e.g. a result class the parent cannot import
            return TaskResult(w.index, ERROR, error_type=type(exc).__name__,
                              message=f"task result could not be read: {exc}", seconds=elapsed_s)
        if w.proc.is_alive():
            return None
        w.proc.join()
        # Killed from outside (SIGKILL: the OOM killer, an operator) says nothing of the task.
        killed = w.proc.exitcode == -signal.SIGKILL
        return TaskResult(w.index, CRASHED, error_type="WorkerKilledError" if killed else "WorkerCrashedError",
                          message=f"task {w.index}: {_death_message(w.proc.exitcode)}", seconds=elapsed_s)

    def _overdue(self, w: _Worker, now: float) -> str | None:
        if self.deadline_s is not None and now - w.run_started_at(self.startup_grace_s) > self.deadline_s:
            return f"exceeded its deadline of {self.deadline_s:g} s"
        if self.heartbeat_timeout_s is not None:
            silent_s = now - w.last_beat(self.startup_grace_s)
            if silent_s > self.heartbeat_timeout_s:
                return f"sent no heartbeat for {silent_s:.2f} s (limit {self.heartbeat_timeout_s:g} s)"
        return None

    def _replace(self, slot: int) -> None:
        old = self._pool[slot]
        if old.proc.is_alive():
            old.kill()
        else:
            old.conn.close()
        self._pool[slot] = _Worker(self._ctx)
        self.replaced += 1
