"""A generated scene's task as a Gymnasium environment: what every task family shares.

    env = make_env("runs/kitchen", "pick_place_mug_to_table", robot="franka")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)   # info["is_success"]

It is the episodes stage's episode with the policy in the loop: the same scene, robot, start (the
stage's own `begin_*` function: the drawn randomisation, arm start and look of (scene, task,
seed, index)), the same servo execution of an action per control tick (30 Hz), the same success
judge and physics health checks. What a policy sees and sends is named as in our datasets:

- `agent_pos` = `observation.state` (arm joints, then the fingers' opening in m);
- `environment_state` = `observation.environment_state` (the task's fixed 12-value layout,
  sim.records.TASK_STATE_NAMES);
- `pixels` = {"scene_cam", "wrist_cam"}: (H, W, 3) uint8, when rendering;
- action = the dataset's `action`: the arm's joint targets for the next tick, then the gripper
  command (fraction of the stroke closed: 1 closed, 0 open). As a robot's controller would, the
  environment moves each joint's target at most its top speed (robots.description
  max_velocity_rad_s) over a tick: a policy's far target is approached, not jumped to.
(LeRobot maps `agent_pos` to observation.state, `environment_state` to
observation.environment_state and `pixels` to observation.images.<camera>.)

Held-out starts: `reset(seed=n)` starts episode index HELD_OUT_FIRST_INDEX + n of the run seed, an
index no dataset holds (the episodes stage numbers episodes from 0 and at most
contract.MAX_EPISODES of them), so an evaluation never replays a training start.

Ends: `terminated` when the family's judge has held success for SUCCESS_HOLD_TICKS ticks (0.5 s)
with the gripper commanded open, or when the physics goes unstable (reason `sim_unstable`);
`truncated` after `max_steps` (default: 20 s), judged once more then. The families
(pick_place_env.py: pick_place and stack; open_close_env.py: drawers and doors; push_env.py: push) judge the live
state with the stage's judge; the checks that need the planner's phases are read as a policy
allows (see each module).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from blueprint_pipeline.contract import MAX_EPISODES
from blueprint_pipeline.sim import health
from blueprint_pipeline.sim.language import instruction
from blueprint_pipeline.sim.episode import CAMERAS, EpisodeOptions, _indices, _pair, advance_tick, servo_command
from blueprint_pipeline.sim.engine import geom_mask
from blueprint_pipeline.sim.judge import Verdict
from blueprint_pipeline.sim.records import TASK_STATE_NAMES
from blueprint_pipeline.sim.scene_builder import FPS

HELD_OUT_FIRST_INDEX = 10**6
assert HELD_OUT_FIRST_INDEX > MAX_EPISODES, "held-out starts must lie beyond any dataset's episode indices"
SUCCESS_HOLD_TICKS = 15  # 0.5 s of success, gripper open, before the episode ends as a success
DEFAULT_MAX_S = 20.0
LIMIT_MARGIN_RAD = 0.01


def make_env(out_dir: str, task_id: str, robot: str = "franka", **kwargs: Any) -> TaskEnv:
    """The environment of `task_id`'s family (pick_place, stack, push or open_close)."""
    from blueprint_pipeline.sim.scenes import sim_for
    from blueprint_pipeline.sim.stage import stage_base

    _, task = sim_for(str(out_dir), robot, task_id, **stage_base(str(out_dir), robot, task_id))
    if task.type == "open_close":
        from blueprint_pipeline.evaluate.open_close_env import OpenCloseEnv

        return OpenCloseEnv(out_dir, task_id, robot, **kwargs)
    if task.type == "push":
        from blueprint_pipeline.evaluate.push_env import PushEnv

        return PushEnv(out_dir, task_id, robot, **kwargs)
    from blueprint_pipeline.evaluate.pick_place_env import PickPlaceEnv

    return PickPlaceEnv(out_dir, task_id, robot, **kwargs)


class TaskEnv(gym.Env):
    """The shared loop; a family implements `_begin`, `_after_tick`, `_judge`, `_environment_state`
    and `_failure_reason`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}
    FAMILIES: tuple[str, ...] = ()
    HOLD_OPEN = True  # success must hold with the gripper commanded open (released); a push holds none

    def __init__(self, out_dir: str, task_id: str, robot: str = "franka", *, seed: int = 0,
                 render: bool = False, image_size: int = 128, max_steps: int | None = None,
                 visual_randomization: bool = True):
        from blueprint_pipeline.config import get_settings
        from blueprint_pipeline.sim.scenes import sim_for
        from blueprint_pipeline.sim.stage import stage_base

        # drawn as the episodes stage draws it (robots/visuals.py), whether or not observations
        # hold images, from the base the stage used (a fallback mount or base pose)
        self.sim, self.task = sim_for(str(out_dir), robot, task_id, robot_meshes=get_settings().robot_meshes,
                                      **stage_base(str(out_dir), robot, task_id))
        if self.task.type not in self.FAMILIES:
            raise ValueError(f"{task_id}: a {self.task.type} task; {type(self).__name__} runs "
                             f"{', '.join(self.FAMILIES)} tasks")
        self.run_seed = int(seed)
        self.options = EpisodeOptions(render=render, image_size=image_size,
                                      visual_randomization=visual_randomization)
        self.render_mode = "rgb_array"  # render(): the scene camera, also when observations carry no pixels
        self.max_steps = int(max_steps or round(DEFAULT_MAX_S * FPS))
        self._ix = _indices(self.sim)
        from blueprint_pipeline.sim.families import family_of

        self._substeps = family_of(self.task).substeps(self.sim, self.task)  # the task's time step, as in the stage
        stroke = self.sim.robot.gripper.stroke_per_finger_m
        state = gym.spaces.Box(np.append(self._ix.lower, 0.0).astype(np.float32),
                               np.append(self._ix.upper, 2 * stroke).astype(np.float32), dtype=np.float32)
        spaces: dict[str, gym.Space] = {
            "agent_pos": state,
            "environment_state": gym.spaces.Box(-np.inf, np.inf, (len(TASK_STATE_NAMES),), np.float32)}
        if render:
            spaces["pixels"] = gym.spaces.Dict({c: gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
                                                for c in CAMERAS})
        self.observation_space = gym.spaces.Dict(spaces)
        # the joint limits widened by LIMIT_MARGIN_RAD: a plan may end a hair past a limit, where
        # MuJoCo's joint limit holds the arm; clipping it to the limit changed the motion (5e-4 rad)
        self._act_low = np.append(self._ix.lower - LIMIT_MARGIN_RAD, 0.0)
        self._act_high = np.append(self._ix.upper + LIMIT_MARGIN_RAD, 1.0)
        self.action_space = gym.spaces.Box(self._act_low.astype(np.float32), self._act_high.astype(np.float32),
                                           dtype=np.float32)
        self._dof, self._stroke = len(self._ix.arm_qadr), stroke
        self._max_step = np.asarray(self.sim.robot.max_velocity_rad_s, dtype=float) / FPS
        self._pad_masks = [self._mask([pad]) for pad in self._ix.pads]
        self._renderer = None
        self._linkage = None  # robots/gripper_meshes.drawn_linkage, made with the renderer
        self.start: Any = None  # the family's start record (sim.engine.Start: sim.families.pick_place.EpisodeStart, ...)
        self.data: mujoco.MjData | None = None
        self.task_description = ""  # the episode's instruction (sim.language), as lerobot's rollout reads it

    # -- a family's part ------------------------------------------------------------------------

    def _begin(self) -> tuple[Any, mujoco.MjData, np.ndarray, dict[str, int]]:
        """Start episode `self.episode_index`: (start record, live data, arm start, warnings before)."""
        raise NotImplementedError

    def _after_tick(self) -> None:
        """Track what the judge needs over the episode (called after every tick)."""

    def _judge(self) -> Verdict:
        raise NotImplementedError

    def _environment_state(self) -> np.ndarray:
        raise NotImplementedError

    def _failure_reason(self, verdict: Verdict) -> str | None:
        return verdict.reason

    # -- Gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        n = int(seed) if seed is not None else getattr(self, "_next", 0)
        self._next = n + 1
        self.episode_index = HELD_OUT_FIRST_INDEX + n
        self.start, self.data, q_home, self._warnings0 = self._begin()
        self.task_description = instruction(self.sim, self.task, self.episode_index, self.run_seed)
        self._q_cmd = q_home.copy()
        self._ticks, self._held = 0, 0
        self._prev_state, self._prev_objects = self._state(), self._objects()
        self._objects0 = self._prev_objects.copy()
        return self._observation(), {"episode_index": self.episode_index, "task_id": self.task.task_id,
                                     "is_success": False}

    def step(self, action):
        if self.data is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=float).reshape(-1)
        if a.shape != self._act_low.shape or not np.all(np.isfinite(a)):
            raise ValueError(f"action: {self._act_low.size} finite values (arm joint targets, then the gripper), "
                             f"got shape {a.shape}")
        a = np.clip(a, self._act_low, self._act_high)
        m, d, ix = self.sim.model, self.data, self._ix
        # a controller's speed limit: the target moves at most the joint's top speed over a tick
        q_next = np.clip(a[:self._dof], self._q_cmd - self._max_step, self._q_cmd + self._max_step)
        advance_tick(m, d, ix, *servo_command(self._q_cmd, q_next, a[self._dof], ix, self._stroke), self._substeps)
        self._q_cmd = q_next
        self._ticks += 1
        mujoco.mj_kinematics(m, d)
        self._after_tick()
        state, objects = self._state(), self._objects()
        unstable = health.unstable_reason(FPS, np.stack([self._prev_state, state]),
                                          np.stack([self._prev_objects, objects]),
                                          health.new_warnings(d, self._warnings0))
        travel = objects.reshape(-1, 7)[:, :3] - self._objects0.reshape(-1, 7)[:, :3]
        if unstable is None and travel.size and float(np.max(np.linalg.norm(travel, axis=1))) > health.MAX_OBJECT_TRAVEL_M:
            unstable = "an object travelled too far"
        self._prev_state, self._prev_objects = state, objects
        verdict = self._judge()
        self._held = self._held + 1 if verdict.success and (a[self._dof] < 0.5 or not self.HOLD_OPEN) else 0
        terminated = unstable is not None or self._held >= SUCCESS_HOLD_TICKS
        truncated = not terminated and self._ticks >= self.max_steps
        success = unstable is None and (self._held >= SUCCESS_HOLD_TICKS or (truncated and verdict.success))
        reward = float(success) if (terminated or truncated) else 0.0
        info = {"is_success": bool(success), "ticks": self._ticks}
        if terminated or truncated:
            reason = health.UNSTABLE if unstable else None if success else self._failure_reason(verdict)
            info.update(failure_reason=reason, checks=dict(verdict.checks), unstable=unstable)
        return self._observation(), reward, terminated, truncated, info

    def render(self):
        """The scene camera's image: the last observed one when observations carry pixels (not
        rendered again), else rendered now (the nominal look: no visual randomisation)."""
        if self.data is None:
            return None
        if self.options.render:
            return self._last_images["scene_cam"]
        return self._images(("scene_cam",))["scene_cam"]

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # -- shared internals ---------------------------------------------------------------------

    def _state(self) -> np.ndarray:
        d, ix = self.data, self._ix
        return np.append(d.qpos[ix.arm_qadr], d.qpos[ix.finger_qadr].sum()).astype(np.float32)

    def _objects(self) -> np.ndarray:
        d, ix = self.data, self._ix
        return d.qpos[ix.dynamic_qadr[:, None] + np.arange(7)].reshape(-1).astype(np.float64)

    def _observation(self) -> dict[str, Any]:
        obs: dict[str, Any] = {"agent_pos": self._state(),
                               "environment_state": self._environment_state().astype(np.float32)}
        if self.options.render:
            obs["pixels"] = self._last_images = self._images()
        return obs

    def _images(self, cameras: tuple[str, ...] = CAMERAS) -> dict[str, np.ndarray]:
        from blueprint_pipeline.robots.gripper_meshes import drawn_linkage, pose_linkage
        from blueprint_pipeline.sim.camera import place_scene_camera
        from blueprint_pipeline.sim.render import FrameRenderer

        m, d = self.sim.model, self.data
        if self._renderer is None:
            self._renderer = FrameRenderer(m, self.options.image_size)
            self._linkage = drawn_linkage(m, self.sim.robot.name, self.sim.names, self.sim.robot_visuals)
        mujoco.mj_comPos(m, d)
        mujoco.mj_camlight(m, d)
        place_scene_camera(m, d)
        pose_linkage(d, self._linkage)  # a drawn gripper linkage where the fingers are
        names = {"scene_cam": "scene_cam", "wrist_cam": self.sim.names.wrist_camera}
        self._renderer.sync_materials()  # a reset's visual randomisation changes texture repeats
        frames = self._renderer.render_views(d, [m.camera(names[cam]).id for cam in cameras])
        return dict(zip(cameras, frames))

    def _mask(self, geoms) -> np.ndarray:
        """A geom mask for `_touching` (as the episodes stage's contact flags use)."""
        return geom_mask(self.sim, geoms)

    def _touching(self, mask_a: np.ndarray, mask_b: np.ndarray) -> bool:
        return _pair(self.data.contact.geom[:self.data.ncon], mask_a, mask_b)

    def _pads_on(self, mask: np.ndarray) -> bool:
        """Both finger pads touch a geom of `mask`."""
        return all(self._touching(self._pad_masks[p], mask) for p in range(len(self._ix.pads)))
