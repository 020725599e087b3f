"""A generated scene's pick_place (or stack) task as a Gymnasium environment.

    env = PickPlaceEnv("runs/kitchen", "task_0003", robot="franka")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)   # info["is_success"]

It is the episodes stage's episode with the policy in the loop: the same scene, robot, start
(`sim.episode.begin_pick_place`: the drawn target pose, arm start and look of (scene, task,
seed, index)), the same servo execution of an action per control tick (30 Hz), the same success
judge and physics health checks. What a policy sees and sends is named as in our datasets:

- `agent_pos` = `observation.state` (arm joints, then the fingers' opening in m);
- `environment_state` = `observation.environment_state` (target pose, goal point, 0, 0);
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

Ends: `terminated` when the judge has held success for SUCCESS_HOLD_TICKS ticks (0.5 s) with the
gripper commanded open, or when the physics goes unstable (reason `sim_unstable`); `truncated`
after `max_steps` (default: 20 s). Judging: `sim.judge.judge_pick_place` on the live state, with
the grip checks as a policy allows them: "lifted with the gripper" is that the target rose 2 cm
while both pads touched it at some tick; "held until release" cannot be told without the
planner's phases, so a target dropped onto its goal counts if it lands upright and at rest.
Failure reasons are the judge's (grasp_slip, collision, placement_miss), `sim_unstable`, and
`not_lifted` when the target was never lifted with both pads on it (a policy that never grasped).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from blueprint_pipeline.contract import MAX_EPISODES
from blueprint_pipeline.sim import health
from blueprint_pipeline.sim.episode import (
    CAMERAS,
    EpisodeOptions,
    EpisodeStart,
    _indices,
    _moves_with_goal,
    _resting_against,
    advance_tick,
    begin_pick_place,
)
from blueprint_pipeline.sim.judge import judge_pick_place
from blueprint_pipeline.sim.records import TASK_STATE_NAMES
from blueprint_pipeline.sim.scene_builder import FPS
from blueprint_pipeline.simready.records import ColliderShape

HELD_OUT_FIRST_INDEX = 10**6
assert HELD_OUT_FIRST_INDEX > MAX_EPISODES, "held-out starts must lie beyond any dataset's episode indices"
SUCCESS_HOLD_TICKS = 15  # 0.5 s of success, gripper open, before the episode ends as a success
DEFAULT_MAX_S = 20.0
LIFT_M = 0.02
LIMIT_MARGIN_RAD = 0.01
NOT_LIFTED = "not_lifted"  # the policy never lifted the target with both pads on it


class PickPlaceEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(self, out_dir: str, task_id: str, robot: str = "franka", *, seed: int = 0,
                 render: bool = False, image_size: int = 128, max_steps: int | None = None,
                 visual_randomization: bool = True):
        from blueprint_pipeline.sim.stage import sim_for

        self.sim, self.task = sim_for(str(out_dir), robot, task_id)
        if self.task.type not in ("pick_place", "stack") or self.task.goal is None:
            raise ValueError(f"{task_id}: a {self.task.type} task; the environment runs pick_place and stack tasks")
        self.run_seed = int(seed)
        self.options = EpisodeOptions(render=render, image_size=image_size,
                                      visual_randomization=visual_randomization)
        self.render_mode = "rgb_array"  # render(): the scene camera, also when observations carry no pixels
        self.max_steps = int(max_steps or round(DEFAULT_MAX_S * FPS))
        self._ix = _indices(self.sim)
        dof = len(self._ix.arm_qadr)
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
        self._dof, self._stroke = dof, stroke
        self._max_step = np.asarray(self.sim.robot.max_velocity_rad_s, dtype=float) / FPS
        self._renderer = None
        self.start: EpisodeStart | None = None

    # -- Gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        n = int(seed) if seed is not None else getattr(self, "_next", 0)
        self._next = n + 1
        self.episode_index = HELD_OUT_FIRST_INDEX + n
        sim, task = self.sim, self.task
        self.start = st = begin_pick_place(sim, task, self.run_seed, self.episode_index, self.options)
        d, target = st.data, task.target_object_id
        self._tb = sim.body_id(target)
        self._start_pos = d.xpos[self._tb].copy()
        self._start_z = d.xmat[self._tb].reshape(3, 3)[:, 2].copy()
        self._leaning = _resting_against(sim, d, target)
        others = [o for o in sim.dynamic_ids if o != target and o not in self._leaning
                  and not (_moves_with_goal(sim, task) and o == task.goal.support_object_id)]
        self._other_adr = np.array([sim.free_qpos_adr(o) for o in others], dtype=int)
        self._others_start = d.qpos[self._other_adr[:, None] + np.arange(3)].copy()
        self._target_geoms = set(int(g) for g in sim.object_geom_ids(target))
        self._support_geoms = set(int(g) for g in sim.object_geom_ids(task.goal.support_object_id))
        self._q_cmd = st.q_home.copy()
        self._ticks, self._held, self._lifted = 0, 0, False
        self._prev_state = self._state()
        self._prev_objects = self._objects()
        self._objects0 = self._prev_objects.copy()
        self.last_verdict = None
        obs = self._observation()
        return obs, {"episode_index": self.episode_index, "task_id": task.task_id, "is_success": False}

    def step(self, action):
        if self.start is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=float).reshape(-1)
        if a.shape != self._act_low.shape or not np.all(np.isfinite(a)):
            raise ValueError(f"action: {self._act_low.size} finite values (arm joint targets, then the gripper), "
                             f"got shape {a.shape}")
        a = np.clip(a, self._act_low, self._act_high)
        m, d, ix = self.sim.model, self.start.data, self._ix
        # a controller's speed limit: the target moves at most the joint's top speed over a tick
        q_next = np.clip(a[:self._dof], self._q_cmd - self._max_step, self._q_cmd + self._max_step)
        velocity = (q_next - self._q_cmd) * FPS
        advance_tick(m, d, ix, self._q_cmd + ix.lag_s * velocity, velocity, self._stroke * (1.0 - a[self._dof]))
        self._q_cmd = q_next
        self._ticks += 1
        mujoco.mj_kinematics(m, d)
        pads = self._pads_touching()
        if pads and d.xpos[self._tb][2] - self._start_pos[2] >= LIFT_M:
            self._lifted = True
        state, objects = self._state(), self._objects()
        unstable = health.unstable_reason(FPS, np.stack([self._prev_state, state]),
                                          np.stack([self._prev_objects, objects]),
                                          health.new_warnings(d, self.start.warnings0))
        travel = objects.reshape(-1, 7)[:, :3] - self._objects0.reshape(-1, 7)[:, :3]
        if unstable is None and travel.size and float(np.max(np.linalg.norm(travel, axis=1))) > health.MAX_OBJECT_TRAVEL_M:
            unstable = "an object travelled too far"
        self._prev_state, self._prev_objects = state, objects
        verdict = self._judge(pads)
        self._held = self._held + 1 if verdict.success and a[self._dof] < 0.5 else 0
        terminated = unstable is not None or self._held >= SUCCESS_HOLD_TICKS
        truncated = not terminated and self._ticks >= self.max_steps
        success = unstable is None and self._held >= SUCCESS_HOLD_TICKS
        if truncated:
            success = verdict.success
        reason = health.UNSTABLE if unstable else None if success else \
            NOT_LIFTED if not self._lifted else verdict.reason
        self.last_verdict = verdict
        reward = float(success) if (terminated or truncated) else 0.0
        info = {"is_success": bool(success), "ticks": self._ticks}
        if terminated or truncated:
            info.update(failure_reason=reason, checks=dict(verdict.checks), unstable=unstable)
        return self._observation(), reward, terminated, truncated, info

    def render(self):
        """The scene camera's image: the last observed one when observations carry pixels (not
        rendered again), else rendered now (the nominal look: no visual randomisation)."""
        if self.start is None:
            return None
        if self.options.render:
            return self._last_images["scene_cam"]
        return self._images(("scene_cam",))["scene_cam"]

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # -- internals ----------------------------------------------------------------------------

    def _state(self) -> np.ndarray:
        d, ix = self.start.data, self._ix
        return np.append(d.qpos[ix.arm_qadr], d.qpos[ix.finger_qadr].sum()).astype(np.float32)

    def _objects(self) -> np.ndarray:
        d, ix = self.start.data, self._ix
        return d.qpos[ix.dynamic_qadr[:, None] + np.arange(7)].reshape(-1).astype(np.float64)

    def _observation(self) -> dict[str, Any]:
        d, goal = self.start.data, self.start.goal
        env = np.zeros(len(TASK_STATE_NAMES), np.float32)
        env[:3] = d.xpos[self._tb]
        env[3:7] = d.xquat[self._tb]
        env[7:10] = (*goal.center_m[:2], goal.surface_z_m)
        obs: dict[str, Any] = {"agent_pos": self._state(), "environment_state": env}
        if self.options.render:
            obs["pixels"] = self._last_images = self._images()
        return obs

    def _images(self, cameras: tuple[str, ...] = CAMERAS) -> dict[str, np.ndarray]:
        from blueprint_pipeline.sim.camera import place_scene_camera
        from blueprint_pipeline.sim.render import make_renderer

        m, d = self.sim.model, self.start.data
        if self._renderer is None:
            self._renderer = make_renderer(m, self.options.image_size, self.options.image_size)
        mujoco.mj_comPos(m, d)
        mujoco.mj_camlight(m, d)
        place_scene_camera(m, d)
        out = {}
        names = {"scene_cam": "scene_cam", "wrist_cam": self.sim.names.wrist_camera}
        for cam in cameras:
            self._renderer.update_scene(d, camera=m.camera(names[cam]).id)
            out[cam] = self._renderer.render().copy()
        return out

    def _pads_touching(self) -> bool:
        d = self.start.data
        touching = [False] * len(self._ix.pads)
        for i in range(d.ncon):
            g1, g2 = int(d.contact.geom[i][0]), int(d.contact.geom[i][1])
            for p, pad in enumerate(self._ix.pads):
                if (g1 == pad and g2 in self._target_geoms) or (g2 == pad and g1 in self._target_geoms):
                    touching[p] = True
        return all(touching)

    def _touches_support(self) -> bool:
        d = self.start.data
        for i in range(d.ncon):
            g1, g2 = int(d.contact.geom[i][0]), int(d.contact.geom[i][1])
            if (g1 in self._target_geoms and g2 in self._support_geoms) or \
                    (g2 in self._target_geoms and g1 in self._support_geoms):
                return True
        return False

    def _judge(self, pads: bool):
        sim, task, d, goal = self.sim, self.task, self.start.data, self.start.goal
        vadr = sim.free_qvel_adr(task.target_object_id)
        centre = (d.xpos[sim.body_id(task.goal.support_object_id)][:2] if _moves_with_goal(sim, task)
                  else np.asarray(goal.center_m[:2]))
        moved = (np.linalg.norm(d.qpos[self._other_adr[:, None] + np.arange(3)] - self._others_start, axis=1)
                 if len(self._other_adr) else np.zeros(0))
        return judge_pick_place(
            start_pos=self._start_pos, final_pos=d.xpos[self._tb].copy(), start_zaxis=self._start_z,
            final_zaxis=d.xmat[self._tb].reshape(3, 3)[:, 2].copy(), final_lin_vel=d.qvel[vadr:vadr + 3],
            final_ang_vel=d.qvel[vadr + 3:vadr + 6], lifted_with_gripper=self._lifted,
            lost_grip_before_release=False, touches_goal_support=self._touches_support() and not pads,
            goal_center=np.asarray(centre), goal_size=np.asarray(goal.size_m),
            max_other_displacement_m=float(np.max(moved, initial=0.0)),
            has_up=sim.physics[task.target_object_id].collider is not ColliderShape.SPHERE)
