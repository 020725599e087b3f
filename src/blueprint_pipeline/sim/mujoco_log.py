"""MuJoCo's warnings into Python logging instead of `MUJOCO_LOG.TXT` in the working directory.

MuJoCo's default handler appends every warning (an unstable simulation, a full contact buffer,
...) to `MUJOCO_LOG.TXT` in whatever directory the process happens to run in, and prints it on
stderr as plain text (even under `--log-json`). `install()` replaces that handler, once per
process, with one that logs the warning at WARNING level on the logger
`blueprint_pipeline.sim.mujoco` (extra `source="mujoco"`), so it goes where the process's logs
go: the console or JSON lines, with secrets redacted; in a worker process of
`resilience.pool.ProcessPool`, to the parent's log. Where the bindings expose MuJoCo's log
configuration (`MjLogConfig`), its default handler's log file is switched off as well, so nothing
it reports can land in the working directory. Errors need nothing: the bindings turn them into
Python exceptions.

The handler is process-wide (MuJoCo keeps one), so `install()` is called where models are built
(`sim.scene_builder.build_sim_scene`, `robots.builder.robot_spec`): every process that builds a
model, including each episode worker, has it before the first step.
"""

from __future__ import annotations

import logging
import threading

import mujoco

log = logging.getLogger("blueprint_pipeline.sim.mujoco")
_lock = threading.Lock()


def _on_warning(message: str) -> None:
    # Called from MuJoCo's C code: must not raise.
    try:
        log.warning("MuJoCo warning: %s", str(message).strip(), extra={"source": "mujoco"})
    except Exception:  # noqa: BLE001, S110 - a failing log call must not become a MuJoCo error
        pass


def install() -> None:
    """Route MuJoCo's warnings into logging in this process (cheap and idempotent)."""
    if mujoco.get_mju_user_warning() is _on_warning:
        return
    with _lock:
        mujoco.set_mju_user_warning(_on_warning)
        config_type = getattr(mujoco, "MjLogConfig", None)
        if config_type is not None:
            config = config_type.get()
            config.logto_file = False
            config.set()
