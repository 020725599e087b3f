"""pick_place and stack tasks in the evaluation environment (evaluate/env.py).

Start: `sim.families.pick_place.begin_pick_place`. Judge: `sim.judge.judge_pick_place` on the live state,
with the grip checks as a policy allows them: "lifted with the gripper" is that the target rose
LIFT_M while both pads touched it at some tick; "held until release" cannot be told without the
planner's phases, so a target dropped onto its goal counts if it lands upright and at rest.
Objects resting against the target at the start (fruit in a bowl) may move, as in the stage.
`environment_state`: target pose, goal point, 0, 0. Failure reasons: the judge's (grasp_slip,
collision, placement_miss), and `not_lifted` when the target was never lifted with both pads on
it (a policy that never grasped).
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.evaluate.env import TaskEnv
from blueprint_pipeline.sim.families.pick_place import _moves_with_goal, _resting_against, begin_pick_place, judged_goal_size
from blueprint_pipeline.sim.judge import Verdict, judge_pick_place
from blueprint_pipeline.sim.records import TASK_STATE_NAMES
from blueprint_pipeline.simready.records import ColliderShape

LIFT_M = 0.02
NOT_LIFTED = "not_lifted"


class PickPlaceEnv(TaskEnv):
    FAMILIES = ("pick_place", "stack")

    def _begin(self):
        sim, task = self.sim, self.task
        st = begin_pick_place(sim, task, self.run_seed, self.episode_index, self.options)
        d, target = st.data, task.target_object_id
        self._tb = sim.body_id(target)
        self._start_pos = d.xpos[self._tb].copy()
        self._start_z = d.xmat[self._tb].reshape(3, 3)[:, 2].copy()
        leaning = _resting_against(sim, d, target)
        others = [o for o in sim.dynamic_ids if o != target and o not in leaning
                  and not (_moves_with_goal(sim, task) and o == task.goal.support_object_id)]
        self._other_adr = np.array([sim.free_qpos_adr(o) for o in others], dtype=int)
        self._others_start = d.qpos[self._other_adr[:, None] + np.arange(3)].copy()
        self._target_geoms = self._mask(sim.object_geom_ids(target))
        self._support_geoms = self._mask(sim.object_geom_ids(task.goal.support_object_id))
        self._lifted = self._pads = False
        return st, d, st.q_home, st.warnings0

    def _after_tick(self) -> None:
        self._pads = self._pads_on(self._target_geoms)
        if self._pads and self.data.xpos[self._tb][2] - self._start_pos[2] >= LIFT_M:
            self._lifted = True

    def _judge(self) -> Verdict:
        sim, task, d, goal = self.sim, self.task, self.data, self.start.goal
        vadr = sim.free_qvel_adr(task.target_object_id)
        centre = (d.xpos[sim.body_id(task.goal.support_object_id)][:2] if _moves_with_goal(sim, task)
                  else np.asarray(goal.center_m[:2]))
        moved = (np.linalg.norm(d.qpos[self._other_adr[:, None] + np.arange(3)] - self._others_start, axis=1)
                 if len(self._other_adr) else np.zeros(0))
        return judge_pick_place(
            start_pos=self._start_pos, final_pos=d.xpos[self._tb].copy(), start_zaxis=self._start_z,
            final_zaxis=d.xmat[self._tb].reshape(3, 3)[:, 2].copy(), final_lin_vel=d.qvel[vadr:vadr + 3],
            final_ang_vel=d.qvel[vadr + 3:vadr + 6], lifted_with_gripper=self._lifted,
            lost_grip_before_release=False,
            touches_goal_support=self._touching(self._target_geoms, self._support_geoms) and not self._pads,
            goal_center=np.asarray(centre), goal_size=judged_goal_size(sim, task, goal),
            max_other_displacement_m=float(np.max(moved, initial=0.0)),
            has_up=sim.physics[task.target_object_id].collider is not ColliderShape.SPHERE)

    def _environment_state(self) -> np.ndarray:
        d, goal = self.data, self.start.goal
        env = np.zeros(len(TASK_STATE_NAMES))
        env[:3] = d.xpos[self._tb]
        env[3:7] = d.xquat[self._tb]
        env[7:10] = (*goal.center_m[:2], goal.surface_z_m)
        return env

    def _failure_reason(self, verdict: Verdict) -> str | None:
        return verdict.reason if self._lifted else NOT_LIFTED

