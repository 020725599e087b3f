"""Connecting to Ray: a local instance on this machine or an existing cluster.

`connect(address)` is idempotent. Without an address Ray's own rules apply: RAY_ADDRESS if
set, else a cluster started on this machine with `ray start --head`, else a private local
instance. Ray is an optional extra; without it the error says how to install it.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from blueprint_pipeline.contract import EXECUTORS, check_executor  # noqa: F401 - used by the CLI
from blueprint_pipeline.errors import DependencyError


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DependencyError("the ray executor needs Ray: pip install 'blueprint-pipeline[ray]'") from None
    return ray


REACH_TIMEOUT_S = 5.0
_connect_lock = threading.Lock()


def check_reachable(address: str) -> None:
    """Fail fast on a HOST:PORT nobody listens on: ray.init would retry for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://..." and other forms are left to Ray
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as exc:
        raise DependencyError(f"--ray-address: nothing answers at {address} ({exc.strerror or exc}); "
                              "start the head with `ray start --head --port PORT` or fix the address") from None


def connect(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Initialise Ray once per process and return the module. Thread-safe: the scenes of a batch
    run in threads and each opens its own pool; without the lock, two of them calling `ray.init`
    at once made all but one fail ("Perhaps you called ray.init twice by accident?"). Call it from
    a thread that lives as long as Ray is used: a local instance's processes die with the thread
    that started them (`batch.runner.run_batch` connects before it starts the scene threads)."""
    ray = require_ray()
    with _connect_lock:
        if ray.is_initialized():
            return ray
        return _init(ray, address, num_cpus)


def _init(ray: Any, address: str | None, num_cpus: int | None) -> Any:
    if address:
        check_reachable(address)
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                              "configure_logging": True, "log_to_driver": False}
    if address:
        kwargs["address"] = address
    elif num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        raise DependencyError(f"--ray-address: cannot reach a Ray cluster at {address!r} ({exc})") from None
    return ray


def shutdown() -> None:
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()


def cluster_cpus() -> int:
    ray = require_ray()
    return int(ray.cluster_resources().get("CPU", 0))
