"""A trained LeRobot checkpoint as a `blueprint eval` policy (importable only where lerobot is
installed; `policies.load_policy` imports it for `--policy CHECKPOINT`).

The checkpoint folder is what `lerobot-train` saves (`.../checkpoints/<step>/pretrained_model`:
config.json, model.safetensors and the pre/post-processor files with the dataset's
normalisation statistics). Each step does what `lerobot-eval`'s rollout does: the environment's
observation through lerobot's `preprocess_observation` (agent_pos -> observation.state,
environment_state -> observation.environment_state, pixels -> observation.images.<camera>), the
task text, the checkpoint's preprocessor, `select_action`, its postprocessor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.envs.utils import preprocess_observation
from lerobot.policies.factory import get_policy_class, make_pre_post_processors

from blueprint_pipeline.evaluate.env import TaskEnv


class LeRobotPolicy:
    def __init__(self, path: str, device: str = "cpu"):
        cfg = PreTrainedConfig.from_pretrained(path)
        cfg.pretrained_path = path
        cfg.device = device
        self.policy = get_policy_class(cfg.type).from_pretrained(path, config=cfg)
        self.policy.eval()
        self.pre, self.post = make_pre_post_processors(
            policy_cfg=cfg, pretrained_path=path, preprocessor_overrides={"device_processor": {"device": device}})
        self.name = f"lerobot {cfg.type} ({Path(path).name})"
        self._task = ""

    def reset(self, env: TaskEnv) -> None:
        self.policy.reset()
        self._task = env.task_description

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        batched = {k: ({c: im[None] for c, im in v.items()} if isinstance(v, dict) else v[None])
                   for k, v in observation.items()}
        batch = preprocess_observation(batched)
        batch["task"] = [self._task]
        batch = self.pre(batch)
        with torch.inference_mode():
            action = self.policy.select_action(batch)
        return self.post(action).to("cpu").numpy()[0].astype(float)
