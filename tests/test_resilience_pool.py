"""ProcessPool: hung native code, endless loops and crashing workers are killed and reported
while the other tasks' results are kept."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

from blueprint_pipeline.resilience.pool import CRASHED, ERROR, OK, TIMEOUT, ProcessPool


def run_case(case: tuple, heartbeat) -> object:
    kind = case[0]
    if kind == "ok":
        heartbeat()
        return {"value": case[1] * 2, "pid": os.getpid()}
    if kind == "native_sleep":
        ctypes.CDLL(None).sleep(60)  # blocks inside libc: no Python signal handler can run
    if kind == "loop":
        while True:
            pass
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "exit":
        os._exit(3)
    if kind == "sigkill":  # what the kernel's OOM killer does
        os.kill(os.getpid(), 9)
    if kind == "raise":
        raise ValueError(f"bad item {case[1]}")
    if kind == "busy_with_heartbeat":
        end = time.monotonic() + case[1]
        while time.monotonic() < end:
            heartbeat()
            time.sleep(0.005)
        return "finished"
    if kind == "unpicklable_result":
        return lambda: None
    raise AssertionError(kind)


def test_hung_looping_and_crashing_tasks_are_killed_and_the_rest_kept():
    cases = [("ok", 1), ("native_sleep",), ("ok", 2), ("loop",), ("segfault",), ("exit",),
             ("ok", 3), ("raise", 7), ("unpicklable_result",), ("ok", 4)]
    # The heartbeat limit is generous so that healthy tasks on a busy machine are never killed.
    with ProcessPool(2, deadline_s=60.0, heartbeat_timeout_s=2.0) as pool:
        results = pool.map(run_case, cases)
        replaced = pool.replaced
    assert [r.index for r in results] == list(range(len(cases)))
    statuses = [r.status for r in results]
    assert statuses == [OK, TIMEOUT, OK, TIMEOUT, CRASHED, CRASHED, OK, ERROR, ERROR, OK]
    assert [r.value["value"] for r in results if r.ok] == [2, 4, 6, 8]
    assert "no heartbeat" in results[1].message and results[1].error_type == "TaskTimeoutError"
    assert "SIGSEGV" in results[4].message
    assert "code 3" in results[5].message
    assert results[7].error_type == "ValueError" and "bad item 7" in results[7].message
    assert "ValueError" in results[7].traceback
    assert "could not be sent back" in results[8].message
    assert replaced == 4
    # Every worker that ran a task is gone after the pool closes.
    for r in results:
        if r.ok:
            with pytest.raises(ProcessLookupError):
                os.kill(r.value["pid"], 0)


def test_sub_second_deadline_kills_a_task_that_keeps_heartbeating():
    with ProcessPool(1, deadline_s=0.3, heartbeat_timeout_s=5.0) as pool:
        results = pool.map(run_case, [("busy_with_heartbeat", 60.0), ("ok", 5)])
    assert results[0].status == TIMEOUT and "deadline of 0.3 s" in results[0].message
    assert results[1].ok and results[1].value["value"] == 10


def test_heartbeating_task_outlives_the_heartbeat_timeout():
    with ProcessPool(1, deadline_s=60.0, heartbeat_timeout_s=1.0) as pool:
        results = pool.map(run_case, [("busy_with_heartbeat", 2.5)])
    assert results[0].ok and results[0].value == "finished"


def test_native_sleep_with_deadline_only():
    with ProcessPool(2, deadline_s=0.4) as pool:
        results = list(pool.imap(run_case, [("native_sleep",), ("ok", 1), ("ok", 2)]))
    assert [r.status for r in results] == [TIMEOUT, OK, OK]


def test_unpicklable_task_is_an_error_for_that_task_only():
    with ProcessPool(1, deadline_s=10.0) as pool:
        results = pool.map(run_case, [("ok", 1), ("ok", lambda: 1), ("ok", 2)])
    assert [r.status for r in results] == [OK, ERROR, OK]
    assert "could not be pickled" in results[1].message


def test_empty_input_and_usage_errors():
    with ProcessPool(1, deadline_s=1.0) as pool:
        assert pool.map(run_case, []) == []
    with pytest.raises(RuntimeError):
        ProcessPool(1, deadline_s=1.0).map(run_case, [("ok", 1)])
    with pytest.raises(ValueError):
        ProcessPool(0, deadline_s=1.0)


def test_an_idle_worker_that_died_is_replaced_before_it_gets_a_task():
    import signal

    with ProcessPool(1, deadline_s=30.0) as pool:
        first = pool.map(run_case, [("ok", 1)])[0]
        os.kill(first.value["pid"], signal.SIGKILL)  # dies while idle, as an OOM kill would do
        pool._pool[0].proc.join()
        second = pool.map(run_case, [("ok", 2)])[0]
    assert second.ok and second.value["value"] == 4 and second.value["pid"] != first.value["pid"]


def test_imap_unordered_yields_each_task_once_with_its_index():
    cases = [("busy_with_heartbeat", 0.5), ("ok", 1), ("ok", 2), ("raise", 3)]
    with ProcessPool(2, deadline_s=60.0) as pool:
        results = list(pool.imap_unordered(run_case, cases))
    assert sorted(r.index for r in results) == [0, 1, 2, 3]
    by_index = {r.index: r for r in results}
    assert by_index[0].value == "finished" and by_index[2].value["value"] == 4
    assert by_index[3].status == ERROR


def test_a_worker_killed_mid_task_like_an_oom_kill_is_reported():
    with ProcessPool(1, deadline_s=60.0) as pool:
        results = pool.map(run_case, [("sigkill",), ("ok", 1)])
    assert results[0].status == CRASHED and "SIGKILL" in results[0].message
    assert "out of memory" in results[0].message
    assert results[1].ok


def log_and_warn(item: int, heartbeat) -> int:
    import warnings

    log = logging.getLogger("blueprint_pipeline.test_pool")
    log.warning("task %d working", item)
    try:
        raise ValueError("inner trouble")
    except ValueError:
        log.exception("task %d caught", item)
    warnings.warn(f"library warning {item}", UserWarning, stacklevel=1)
    return item


def test_worker_log_records_and_warnings_are_emitted_by_the_parents_loggers(caplog):
    caplog.set_level(logging.INFO)
    with ProcessPool(2, deadline_s=None) as pool:
        results = pool.map(log_and_warn, [0, 1])
    assert [r.value for r in results] == [0, 1]
    from_workers = [r for r in caplog.records if r.processName == "blueprint-worker"]
    messages = sorted(r.getMessage() for r in from_workers)
    assert [m for m in messages if m.startswith("task")] == ["task 0 caught", "task 0 working",
                                                              "task 1 caught", "task 1 working"]
    caught = next(r for r in from_workers if r.getMessage() == "task 0 caught")
    assert caught.levelno == logging.ERROR and "ValueError: inner trouble" in caught.exc_text
    warned = [r for r in from_workers if r.name == "py.warnings"]
    assert len(warned) == 2 and all("UserWarning: library warning" in r.getMessage() for r in warned)


_ORPHAN_SCRIPT = """
import logging
import pathlib
import sys
import time

from blueprint_pipeline.logs import setup_logging
from blueprint_pipeline.resilience.pool import ProcessPool


def wait_for_go(folder, heartbeat):
    log = logging.getLogger("blueprint_pipeline.orphan")
    log.warning("worker started")
    while not (pathlib.Path(folder) / "go").exists():
        time.sleep(0.01)
    log.warning("worker still here after its parent died")
    return "done"


if __name__ == "__main__":
    setup_logging(json_lines=True)
    with ProcessPool(2, deadline_s=None) as pool:
        pool.map(wait_for_go, [sys.argv[1]] * 2)
"""


def test_workers_of_a_killed_parent_end_quietly_and_stderr_holds_only_json_lines(tmp_path):
    """The parent (logging JSON lines, as under --log-json) is killed while both workers run a
    task; the workers then finish theirs and find the pipe to the parent broken. Every line on the
    shared stderr, the workers' included, must be a JSON object."""
    script = tmp_path / "orphan.py"
    script.write_text(textwrap.dedent(_ORPHAN_SCRIPT))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines, started = [], 0
    for line in proc.stderr:  # until both workers are running their task
        lines.append(line)
        started += "worker started" in line
        if started == 2:
            break
    proc.kill()
    proc.wait()
    (tmp_path / "go").touch()
    lines += proc.stderr.read().splitlines(keepends=True)  # until the workers (and helpers) have ended
    assert started == 2
    docs = []
    for line in lines:
        try:
            docs.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line on stderr: {line!r}\n{''.join(lines)}") from None
    assert all(isinstance(d, dict) for d in docs)
    started_docs = [d for d in docs if d["message"] == "worker started"]
    assert len(started_docs) == 2 and all(d["logger"] == "blueprint_pipeline.orphan" for d in started_docs)


PRELOAD_SCRIPT = """
import sys


def loaded(name, heartbeat):
    return name in sys.modules


if __name__ == "__main__":
    if sys.argv[1] == "register":
        import blueprint_pipeline.sim.stage  # noqa: F401  (registers itself with preload_in_workers)
    from blueprint_pipeline.resilience.pool import ProcessPool

    with ProcessPool(1, deadline_s=60, heartbeat_timeout_s=60) as pool:
        (result,) = list(pool.imap_unordered(loaded, ["blueprint_pipeline.sim.stage"]))
    print(result.value)
"""


def test_workers_fork_with_the_registered_modules_imported(tmp_path):
    """The episodes stage registers its module (resilience.pool.preload_in_workers): the
    forkserver imports it once and every worker has it before its first task; without the
    registration a worker has not imported it."""
    script = tmp_path / "preload_case.py"
    script.write_text(PRELOAD_SCRIPT)
    seen = {}
    for mode in ("register", "plain"):
        run = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        seen[mode] = run.stdout.strip().splitlines()[-1]
    assert seen == {"register": "True", "plain": "False"}


BLAS_SCRIPT = """
import os


def blas_threads(_item, heartbeat):
    return os.environ.get("OPENBLAS_NUM_THREADS")


if __name__ == "__main__":
    from blueprint_pipeline.resilience.pool import ProcessPool

    with ProcessPool(1, deadline_s=60, heartbeat_timeout_s=60) as pool:
        (result,) = list(pool.imap_unordered(blas_threads, [0]))
    print(result.value, os.environ.get("OPENBLAS_NUM_THREADS"))
"""


def test_workers_start_with_single_threaded_blas_unless_the_user_set_it(tmp_path):
    """Workers fork from the forkserver, and a BLAS thread pool copied into them without its
    threads spun forever in OpenBLAS (FORKSERVER_ENV): the forkserver starts with
    OPENBLAS_NUM_THREADS=1, a value the user set is kept, and the parent's environment is left
    as it was."""
    script = tmp_path / "blas_case.py"
    script.write_text(BLAS_SCRIPT)
    seen = {}
    for user in (None, "3"):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        if user is not None:
            env["OPENBLAS_NUM_THREADS"] = user
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
        seen[user] = run.stdout.strip().splitlines()[-1]
    assert seen == {None: "1 None", "3": "3 3"}


MAIN_SCRIPT = """
import os
from dataclasses import dataclass

with open(os.environ["RAN_FILE"], "a") as f:  # one line per process that runs this script's body
    f.write(f"{os.getpid()}\\n")


def pid(_item, _heartbeat):
    return os.getpid()


if __name__ == "__main__":
    from blueprint_pipeline.resilience.pool import ProcessPool

    for _ in range(2):  # two pools: four workers forked from one forkserver
        with ProcessPool(2, deadline_s=60, heartbeat_timeout_s=60) as pool:
            print(sorted({r.value for r in pool.imap_unordered(pid, range(8))}))
"""


def test_workers_do_not_run_the_main_script_again(tmp_path):
    """multiprocessing preloads '__main__' in the forkserver in name only (Python 3.11 never hands
    it the script's path), so every worker ran the caller's main script again before its first
    task; resilience.forkserver_main runs it once, in the forkserver."""
    script, ran = tmp_path / "main_case.py", tmp_path / "ran.txt"
    script.write_text(MAIN_SCRIPT)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "RAN_FILE": str(ran)})
    assert run.returncode == 0, run.stderr[-2000:]
    workers = {int(p) for line in run.stdout.split() if (p := line.strip("[],"))}
    runs = [int(p) for p in ran.read_text().split()]
    assert len(workers) >= 2  # the pools' workers answered
    assert len(runs) == 2 and not set(runs) & workers  # this process and the forkserver, no worker


def test_a_main_script_that_fails_in_the_forkserver_is_left_to_the_workers(tmp_path):
    """The forkserver has no command-line arguments: a script reading them at import fails there,
    and the workers run it as they always did (the forkserver must not die of it)."""
    script, ran = tmp_path / "argv_case.py", tmp_path / "ran.txt"
    script.write_text(MAIN_SCRIPT.replace('os.environ["RAN_FILE"]', "__import__('sys').argv[1]"))
    run = subprocess.run([sys.executable, str(script), str(ran)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    workers = {int(p) for line in run.stdout.split() if (p := line.strip("[],"))}
    assert len(workers) >= 2 and workers <= {int(p) for p in ran.read_text().split()}


@dataclass(frozen=True)
class _Keyed:
    affinity: str
    n: int


def _echo(item, _heartbeat):
    return item.n


def test_a_free_worker_takes_the_next_item_of_its_last_items_affinity():
    """Items sharing an `affinity` go to the worker that ran the last of them (its caches are
    warm); with one worker the completion order shows it: a0 a1 a2 before b0 b1 b2."""
    items = [_Keyed(k, n) for n in range(3) for k in ("a", "b")]  # a0 b0 a1 b1 a2 b2
    with ProcessPool(1, deadline_s=60) as pool:
        order = [r.value for r in pool.imap_unordered(_echo, items)]
    assert order == [0, 1, 2, 0, 1, 2]
    with ProcessPool(1, deadline_s=60) as pool:  # results still come back in input order from imap
        assert [r.value for r in pool.imap(_echo, items)] == [0, 0, 1, 1, 2, 2]
