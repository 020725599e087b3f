"""A Ray cluster as users start it: `ray start --head` and a second node (`ray start --address`)
on this machine, the batch driver connecting with --ray-address; episodes spread over both nodes;
the second node's raylet killed in the middle of a batch loses no episode, and the datasets equal
a local run's.

Ray 2.5x turns on token authentication for clusters started with `ray start`; the nodes here are
on one machine and started with RAY_AUTH_MODE=disabled (docs/cluster.md says how to keep tokens on
a real cluster). The head's health checks run every second and declare a node dead after 3
missed ones, so the test does not wait Ray's default 15 s for the verdict. Every Ray process the
test started is found by its session folder and killed at the end: `ray stop` would also stop a
cluster the user runs on this machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray")

from blueprint_pipeline.batch.runner import read_batch_marker
from blueprint_pipeline.scene.synth import write_synthetic_manifest

pytestmark = [pytest.mark.slow, pytest.mark.ray]

EPISODES = 40
# The second node's address: another loopback address, as a second machine has an address of its
# own. With both raylets on the machine's address, the driver attached to either of them, and when
# it was the second node's, the pool's progress actor (placed on the driver's node) died with it.
SECOND_NODE_IP = "127.0.0.2"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ours(temp: str, node_manager_port: int) -> list[psutil.Process]:
    """Ray processes of this test's cluster: their command line names its session folder or the
    second node's port."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if temp in cmd or f"--node_manager_port={node_manager_port}" in cmd:
            found.append(p)
    return found


@pytest.fixture(scope="module")
def cluster():
    temp = tempfile.mkdtemp(prefix="bpray", dir="/tmp")  # short: Ray's socket paths live under it
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_health_check_period_ms": "1000",
           "RAY_health_check_failure_threshold": "3", "RAY_USAGE_STATS_ENABLED": "0"}
    port, node_port = _free_port(), _free_port()
    address = f"127.0.0.1:{port}"
    try:
        for cmd in ([str(BIN / "ray"), "start", "--head", f"--port={port}", "--num-cpus=1",
                     "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                    [str(BIN / "ray"), "start", f"--address={address}", "--num-cpus=2",
                     f"--node-manager-port={node_port}", f"--node-ip-address={SECOND_NODE_IP}",
                     "--disable-usage-stats"]):
            run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
            assert run.returncode == 0, run.stderr[-2000:]
        yield address, node_port, env
    finally:
        for p in _ours(temp, node_port):
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass


def _tables(dataset: Path) -> dict[str, object]:
    return {str(p.relative_to(dataset)): pq.read_table(p) for p in sorted(dataset.rglob("*.parquet"))}


def _raylet(node_port: int) -> psutil.Process:
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "raylet" in (p.info["name"] or "") and f"--node_manager_port={node_port}" in cmd:
            return p
    raise AssertionError(f"no raylet with node manager port {node_port}")


LEAK_CHECK = """
import sys
from blueprint_pipeline.batch.cluster import connect
from blueprint_pipeline.batch.leakcheck import judge, run_rounds, table
from blueprint_pipeline.batch.scenes import list_scenes
from blueprint_pipeline.contract import RunOptions

ray = connect(sys.argv[1])
alive = [n for n in ray.nodes() if n["Alive"]]
assert len(alive) == 2, f"{len(alive)} nodes alive, want the head and the second node"
rounds = run_rounds(list_scenes(sys.argv[2]), sys.argv[3], RunOptions(episodes=1, executor="ray"), rounds=4)
verdict = judge(rounds)
print(table(rounds))
ok = verdict.ok and [r.scenes_ok for r in rounds[1:]] == [10] * 4 and all(r.after.boards == 0 for r in rounds[1:])
print("LEAK CHECK", "PASSED" if ok else "FAILED: " + "; ".join(verdict.reasons))
"""


def _running_a_task(node_port: int) -> bool:
    try:
        workers = _raylet(node_port).children(recursive=True)
        return any(" ".join(w.cmdline()).startswith("ray::_run_task") for w in workers)
    except psutil.Error:
        return False


def test_the_driver_leaks_nothing_round_after_round_on_the_cluster(cluster, tmp_path):
    """The Ray issue's leak check (batch/leakcheck.py: 10 scenes in parallel, a warm-up round and
    3 judged rounds) in a driver connected to the two-node cluster. It runs before the node-loss
    test below, which leaves the cluster with one node."""
    address, _, env = cluster
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for seed in range(1, 11):
        write_synthetic_manifest(str(scenes / f"scene_{seed}.json"), 10, seed)
    run = subprocess.run([sys.executable, "-c", LEAK_CHECK, address, str(scenes), str(tmp_path / "out")], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0 and "LEAK CHECK PASSED" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]


def test_a_node_lost_mid_batch_loses_no_episode_and_the_datasets_equal_a_local_run(cluster, tmp_path):
    address, node_port, env = cluster
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    write_synthetic_manifest(str(scenes / "scene_1.json"), 10, 1)
    batch = [str(BIN / "blueprint"), "batch", str(scenes), "--episodes", str(EPISODES), "--parallel", "1"]
    local = subprocess.run([*batch, "--out", str(tmp_path / "local")], env=env, capture_output=True, text=True,
                           timeout=900)
    assert local.returncode == 0, local.stderr[-2000:]

    out = tmp_path / "cluster"
    proc = subprocess.Popen([*batch, "--out", str(out), "--executor", "ray", "--ray-address", address], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        # the stage is under way and the second node is running an episode right now (a Ray worker
        # names its process after the task it runs)
        while len(list(out.glob("*/episodes/results/*.json"))) < 4 or not _running_a_task(node_port):
            assert proc.poll() is None, f"batch ended before the node could be lost: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        done_before = len(list(out.glob("*/episodes/results/*.json")))
        raylet = _raylet(node_port)  # the second node dies: its raylet and the workers it started
        lost = [raylet, *raylet.children(recursive=True)]
        for p in lost:
            p.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert done_before < EPISODES, "every episode had finished before the node was lost"
    # the pool saw tasks die with their node and ran them again on the head (ray_pool.py)
    assert "its node died; running it again" in stderr, stderr[-3000:]

    record = read_batch_marker(str(out))
    assert record["status"] == "finished" and record["totals"]["scenes_ok"] == 1
    scene = record["scenes"][0]
    nodes = scene.get("task_nodes") or {}
    assert len(nodes) == 2 and sum(nodes.values()) == EPISODES, nodes  # both nodes ran episodes
    summary = json.loads((out / scene["scene_id"] / "episodes/summary.json").read_text())
    assert summary["episodes"] == EPISODES
    a, b = _tables(tmp_path / "local" / scene["scene_id"] / "dataset"), _tables(out / scene["scene_id"] / "dataset")
    assert a and sorted(a) == sorted(b)
    for name in a:
        assert a[name].equals(b[name]), f"{name} differs from the local run's"
    stats = [json.loads((d / scene["scene_id"] / "dataset/meta/stats.json").read_text())
             for d in (tmp_path / "local", out)]
    assert stats[0] == stats[1]
