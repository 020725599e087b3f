"""push tasks in the evaluation environment (evaluate/env.py).

Start: the push family's (`sim.families.push.Push.begin`: as pick_place, the target's start drawn
within the push's narrower ranges); the goal is the episode's (`push.push_geometry`: the task's
side and distance on the target as it stands). Judge: `sim.judge.judge_push` on the live state:
touched by a robot geom at some tick, never risen more than 2 cm, and at the end on its support,
centred in the goal square, upright, at rest, others undisturbed. It steps at the family's finer
time step (`physics_substeps`), as the episodes stage does. `environment_state`: target pose, goal
point, 0, 0. Failure reasons: the judge's (`not_pushed`, collision, placement_miss).
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.evaluate.env import TaskEnv
from blueprint_pipeline.sim.families.push import Push, push_geometry
from blueprint_pipeline.sim.judge import Verdict, judge_push
from blueprint_pipeline.sim.records import TASK_STATE_NAMES


class PushEnv(TaskEnv):
    FAMILIES = ("push",)
    HOLD_OPEN = False  # the push's fingers keep their opening throughout (closed for a round object)

    def _begin(self):
        sim, task = self.sim, self.task
        st = Push().begin(sim, task, self.run_seed, self.episode_index, self.options, lambda: None)
        d, target = st.data, task.target_object_id
        self._tb = sim.body_id(target)
        self._start_pos = d.xpos[self._tb].copy()
        self._start_z = d.xmat[self._tb].reshape(3, 3)[:, 2].copy()
        self._goal = push_geometry(sim, task, st.target_box)[2]
        others = [o for o in sim.dynamic_ids if o != target]
        self._other_adr = np.array([sim.free_qpos_adr(o) for o in others], dtype=int)
        self._others_start = d.qpos[self._other_adr[:, None] + np.arange(3)].copy()
        self._target_geoms = self._mask(sim.object_geom_ids(target))
        self._support_geoms = self._mask(sim.object_geom_ids(task.goal.support_object_id))
        self._touched, self._rise = False, 0.0
        return st, d, st.q_home, st.warnings0

    def _after_tick(self) -> None:
        self._touched = self._touched or self._touching(self._ix.robot_geom, self._target_geoms)
        self._rise = max(self._rise, float(self.data.xpos[self._tb][2] - self._start_pos[2]))

    def _judge(self) -> Verdict:
        sim, task, d = self.sim, self.task, self.data
        vadr = sim.free_qvel_adr(task.target_object_id)
        moved = (np.linalg.norm(d.qpos[self._other_adr[:, None] + np.arange(3)] - self._others_start, axis=1)
                 if len(self._other_adr) else np.zeros(0))
        return judge_push(start_pos=self._start_pos, final_pos=d.xpos[self._tb].copy(), start_zaxis=self._start_z,
                          final_zaxis=d.xmat[self._tb].reshape(3, 3)[:, 2].copy(),
                          final_lin_vel=d.qvel[vadr:vadr + 3], final_ang_vel=d.qvel[vadr + 3:vadr + 6],
                          max_rise_m=self._rise, touched_by_hand=self._touched,
                          touches_goal_support=self._touching(self._target_geoms, self._support_geoms),
                          goal_center=self._goal[:2], goal_size=np.asarray(task.goal.size_m),
                          max_other_displacement_m=float(np.max(moved, initial=0.0)))

    def _environment_state(self) -> np.ndarray:
        d = self.data
        env = np.zeros(len(TASK_STATE_NAMES))
        env[:3] = d.xpos[self._tb]
        env[3:7] = d.xquat[self._tb]
        env[7:10] = self._goal
        return env
