"""Policies `blueprint eval` runs in the evaluation environment (evaluate/env.py).

A policy is an object with `name`, `reset(env)` (called after each `env.reset`) and
`act(observation) -> action`. `ScriptedPolicy` is the episodes stage's own planner, acting
through the environment: it validates the harness (same start, same execution, same judge), so
its success rate there must match the episodes stage's on the same tasks.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from blueprint_pipeline.evaluate.env import TaskEnv


class Policy(Protocol):
    name: str

    def reset(self, env: TaskEnv) -> None: ...

    def act(self, observation: dict[str, Any]) -> np.ndarray: ...


def load_policy(spec: str) -> Policy:
    """`--policy`: "scripted", or the folder of a trained LeRobot checkpoint (needs lerobot)."""
    if spec == "scripted":
        return ScriptedPolicy()
    from pathlib import Path

    from blueprint_pipeline.errors import InvalidInputError

    if not (Path(spec) / "config.json").is_file():
        raise InvalidInputError(f"--policy: 'scripted' or a LeRobot checkpoint folder (with config.json), got {spec!r}")
    try:
        from blueprint_pipeline.evaluate.lerobot_policy import LeRobotPolicy
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("lerobot", "torch"):
            raise
        raise InvalidInputError(f"--policy {spec}: a LeRobot checkpoint needs lerobot in this environment "
                                f"(pip install lerobot); not found: {exc.name}") from None
    return LeRobotPolicy(spec)


class ScriptedPolicy:
    """Plans from the episode's start as the episodes stage does (`engine.plan_episode`: its family's
    `plan`, sim/families/, from the nominal start when the drawn one has none) and sends the plan's
    set-points tick by tick, then holds the last one; with no plan it holds the start (the
    episode then fails, as the episodes stage's `ik_failure` / `no_clear_grasp` do)."""

    name = "scripted"

    def __init__(self) -> None:
        self._actions = np.zeros((1, 1))
        self._k = 0
        self.plan_error: str | None = None  # why the planner found no plan for this start
        self.plan_reason: str | None = None  # its failure reason (ik_failure, no_clear_grasp)

    def reset(self, env: TaskEnv) -> None:
        from blueprint_pipeline.sim.engine import plan_episode
        from blueprint_pipeline.sim.families import family_of

        planned = plan_episode(family_of(env.task), env.sim, env.task, env.start)
        plan, reason, message = planned.plan, planned.reason, planned.error
        self.plan_error = None if plan is not None else message
        self.plan_reason = None if plan is not None else reason
        if plan is None:
            self._actions = np.append(env.start.q_home, 0.0)[None, :]
        else:
            self._actions = np.column_stack([plan.q[1:], plan.gripper[:-1]])
        self._k = 0

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        action = self._actions[min(self._k, len(self._actions) - 1)]
        self._k += 1
        return action
