"""Our evaluation environment for LeRobot's own `lerobot-eval` (importable only where lerobot is
installed; nothing else in the project imports it). A package, not a module: lerobot's
plugin loader walks the package it is given.

    lerobot-eval --env.discover_packages_path=blueprint_pipeline.evaluate.lerobot_plugin \\
        --env.type=blueprint --env.out_dir=runs/kitchen --env.task=pick_place_mug_to_table \\
        --policy.path=outputs/train/act_kitchen/checkpoints/last/pretrained_model \\
        --eval.n_episodes=50 --eval.batch_size=1

`--env.discover_packages_path` makes lerobot import this module before it parses the command line
(lerobot 0.4 and 0.6; lerobot 0.6 also imports installed distributions named `lerobot_env_*` by
itself, which this project is not). Importing it registers:

- the Gymnasium id `gym_blueprint/Task-v0` (evaluate.env.make_env: the task's family's
  environment, with a time limit; its `task_description` is the episode's instruction);
- the `EnvConfig` subclass `blueprint`: `out_dir` (a pipeline output folder), `task` (a
  pick_place, stack or open_close task id of it), `robot`, `seed` (the run seed of the held-out starts),
  `use_images` (render the cameras; must match the policy's inputs), `image_size`,
  `episode_length` (ticks, default 600 = 20 s at 30 Hz). Its `features` and `features_map` name
  our dataset's features: `agent_pos` -> observation.state, `environment_state` ->
  observation.environment_state, `pixels/<camera>` -> observation.images.<camera>, `action`.

lerobot counts an episode a success when a step's info says `is_success` (the environment ends
the episode then); `lerobot-eval` resets its environments with seeds it draws, which select held-out
starts as `reset(seed=n)` does for `blueprint eval`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig

from blueprint_pipeline.evaluate.env import DEFAULT_MAX_S
from blueprint_pipeline.robots.description import robot_by_name
from blueprint_pipeline.sim.episode import CAMERAS
from blueprint_pipeline.sim.records import TASK_STATE_NAMES
from blueprint_pipeline.sim.scene_builder import FPS

GYM_ID = "gym_blueprint/Task-v0"
DEFAULT_EPISODE_LENGTH = round(DEFAULT_MAX_S * FPS)


if GYM_ID not in gym.registry:
    gym.register(id=GYM_ID, entry_point="blueprint_pipeline.evaluate.env:make_env",
                 max_episode_steps=DEFAULT_EPISODE_LENGTH)


@EnvConfig.register_subclass("blueprint")
@dataclass
class BlueprintEnvConfig(EnvConfig):
    task: str | None = None  # a pick_place, stack or open_close task id of `out_dir`
    fps: int = FPS
    out_dir: str = ""
    robot: str = "franka"
    seed: int = 0
    use_images: bool = False
    image_size: int = 128
    episode_length: int = DEFAULT_EPISODE_LENGTH
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        joints = len(robot_by_name(self.robot).lower_rad) + 1  # arm joints, then the gripper
        self.features = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(joints,)),
                         "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(joints,)),
                         "environment_state": PolicyFeature(type=FeatureType.ENV, shape=(len(TASK_STATE_NAMES),))}
        self.features_map = {"action": "action", "agent_pos": "observation.state",
                             "environment_state": "observation.environment_state"}
        if self.use_images:
            for cam in CAMERAS:
                self.features[f"pixels/{cam}"] = PolicyFeature(type=FeatureType.VISUAL,
                                                              shape=(self.image_size, self.image_size, 3))
                self.features_map[f"pixels/{cam}"] = f"observation.images.{cam}"

    @property
    def package_name(self) -> str:
        return __name__

    @property
    def gym_id(self) -> str:
        return GYM_ID

    @property
    def gym_kwargs(self) -> dict[str, Any]:
        if not self.out_dir or not self.task:
            raise ValueError("--env.out_dir (a pipeline output folder) and --env.task (a task id) are required")
        return {"out_dir": self.out_dir, "task_id": self.task, "robot": self.robot, "seed": self.seed,
                "render": self.use_images, "image_size": self.image_size, "max_steps": self.episode_length,
                "max_episode_steps": self.episode_length}
