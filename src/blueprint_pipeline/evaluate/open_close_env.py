"""open_close tasks (drawers and hinged doors, opening or closing) in the evaluation environment
(evaluate/env.py).

Start: `sim.families.open_close.begin_open_close` (a closing task starts with the part open). Judge:
`sim.judge.judge_open_close` on the live state: the joint past the task's target (within the
stage's tolerance) and at rest, the handle grasped with both pads at some tick, other objects
undisturbed (those standing on the part ride along); "stays past the target after the release"
is the environment's 0.5 s hold of success with the gripper open; "held during the pull" needs the
planner's phases and is not judged. `environment_state`: the part's pose, the handle's position at
the target opening, the joint's position and its target (as in the dataset). Failure reasons:
the judge's, and `not_grasped` when the handle never had both pads on it.
"""

from __future__ import annotations

import numpy as np

from blueprint_pipeline.evaluate.env import TaskEnv
from blueprint_pipeline.sim.judge import Verdict, judge_open_close
from blueprint_pipeline.sim.families.open_close import begin_open_close
from blueprint_pipeline.sim.records import task_state
from blueprint_pipeline.sim.scene_builder import SimScene

NOT_GRASPED = "not_grasped"


class OpenCloseEnv(TaskEnv):
    FAMILIES = ("open_close",)

    def _begin(self):
        sim, task, m = self.sim, self.task, self.sim.model
        st = begin_open_close(sim, task, self.run_seed, self.episode_index, self.options)
        d, target = st.data, task.target_object_id
        self._handle = self._mask([m.geom(SimScene.handle_geom_name(target)).id])
        self._part_body = sim.body_id(target)
        riders = {o for o, s in sim.support_of.items() if s == target}
        self._others = np.array([sim.body_id(o) for o in sim.dynamic_ids if o not in riders], dtype=int)
        self._others_start = d.xpos[self._others].copy()
        self._q_start = float(d.qpos[st.jq])
        self._sign = 1.0 if st.q_target >= self._q_start else -1.0
        self._grasped = False
        return st, d, st.q_home, st.warnings0

    def _after_tick(self) -> None:
        if not self._grasped and self._pads_on(self._handle):
            self._grasped = True

    def _judge(self) -> Verdict:
        st, d = self.start, self.data
        moved = np.linalg.norm(d.xpos[self._others] - self._others_start, axis=1) if len(self._others) else [0.0]
        return judge_open_close(joint_q=np.array([self._sign * float(d.qpos[st.jq])]),
                                target_q=self._sign * st.q_target, joint_range=st.hi - st.lo,
                                after_release_frame=0, final_joint_speed=abs(float(d.qvel[st.jv])),
                                grasped_handle=self._grasped, lost_grip_during_pull=False,
                                max_other_displacement_m=float(np.max(moved)))

    def _environment_state(self) -> np.ndarray:
        st, d, b = self.start, self.data, self._part_body
        pose = np.concatenate([d.xpos[b], d.xquat[b]])[None, :]
        return task_state(pose, st.op.handle_at(1.0), np.array([d.qpos[st.jq]]), st.q_target)[0]

    def _failure_reason(self, verdict: Verdict) -> str | None:
        return verdict.reason if self._grasped else NOT_GRASPED
