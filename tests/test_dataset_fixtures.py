"""Episodes for the dataset and report tests, produced by a real MuJoCo simulation.

A two-link arm with a slide gripper tracks a minimum-jerk joint trajectory under position
servos while a free box rests on the floor; every array comes from the simulator state, and
camera frames are rendered by mujoco.Renderer (offscreen EGL). Nothing here is random noise.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; read when mujoco sets up GL

import mujoco
import numpy as np

from blueprint_pipeline.sim.camera_model import episode_cameras
from blueprint_pipeline.sim.records import EpisodeRecord, task_state

ARM_XML = """
<mujoco model="two_link_arm">
  <compiler angle="radian"/>
  <option timestep="0.0016666666666666668" integrator="implicitfast"/>
  <visual><quality shadowsize="0"/></visual>
  <worldbody>
    <light pos="0 0 2" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="1 1 0.05" rgba="0.8 0.8 0.75 1"/>
    <camera name="top" pos="0.25 0.1 1.4" xyaxes="1 0 0 0 1 0"/>
    <body name="base" pos="0 0 0.05">
      <joint name="shoulder" type="hinge" axis="0 0 1" range="-2.5 2.5"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" rgba="0.2 0.4 0.8 1"/>
      <body name="forearm" pos="0.3 0 0">
        <joint name="elbow" type="hinge" axis="0 0 1" range="-2.5 2.5"/>
        <geom type="capsule" fromto="0 0 0 0.25 0 0" size="0.025" rgba="0.9 0.5 0.1 1"/>
        <body name="finger" pos="0.25 0 0">
          <joint name="gripper" type="slide" axis="0 1 0" range="0 0.04"/>
          <geom type="box" size="0.01 0.02 0.02" rgba="0.1 0.1 0.1 1"/>
          <site name="tcp" pos="0.02 0 0"/>
        </body>
      </body>
    </body>
    <body name="box" pos="0.35 0.25 0.03">
      <freejoint/>
      <geom type="box" size="0.03 0.03 0.03" rgba="0.8 0.1 0.1 1" mass="0.3"/>
    </body>
  </worldbody>
  <actuator>
    <position joint="shoulder" kp="60" kv="6"/>
    <position joint="elbow" kp="40" kv="4"/>
    <position joint="gripper" kp="200" kv="10"/>
  </actuator>
</mujoco>
"""

FPS = 30
SUBSTEPS = 20  # 20 x (1/600 s) = exactly one frame at 30 fps


def _min_jerk(s: np.ndarray) -> np.ndarray:
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def make_episode(index: int, frames: int = 24, cameras: tuple[str, ...] = (), success: bool = True,
                 task: str = "move the arm over the red box", seed: int = 0, size: int = 64,
                 robot: str = "two_link_arm") -> EpisodeRecord:
    """Simulate one episode; `index` and `seed` pick the target joint configuration."""
    model = mujoco.MjModel.from_xml_string(ARM_XML)
    data = mujoco.MjData(model)
    rng = np.random.default_rng([seed, index])
    start = np.zeros(3)
    goal = np.array([rng.uniform(-1.2, 1.2), rng.uniform(-1.5, 1.5), rng.uniform(0.0, 0.04)])
    renderer = mujoco.Renderer(model, size, size) if cameras else None
    site = model.site("tcp").id
    box_q = model.jnt_qposadr[model.body("box").jntadr[0]]
    rec = {k: [] for k in ("state", "velocity", "ee_pose", "object_poses", "action", "contact")}
    images: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
    quat = np.zeros(4)
    try:
        for k in range(frames):
            target = start + (goal - start) * _min_jerk(np.array(min(1.0, (k + 1) / (0.8 * frames))))
            data.ctrl[:] = target
            # after mj_step the poses describe the previous step: recompute them (and the camera)
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            mujoco.mj_camlight(model, data)
            mujoco.mju_mat2Quat(quat, data.site_xmat[site])
            rec["state"].append(data.qpos[:3].copy())
            rec["velocity"].append(data.qvel[:3].copy())
            rec["ee_pose"].append(np.concatenate([data.site_xpos[site], quat]))
            rec["object_poses"].append(data.qpos[box_q:box_q + 7].copy())
            rec["action"].append(target.copy())
            rec["contact"].append([float(data.ncon > 0)])
            for cam in cameras:
                renderer.update_scene(data, camera=cam)
                images[cam].append(renderer.render().copy())
            if k == 0:
                camera_params = episode_cameras(model, data, {c: model.camera(c).id for c in cameras}, site)
            for _ in range(SUBSTEPS):
                mujoco.mj_step(model, data)
    finally:
        if renderer is not None:
            renderer.close()
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in rec.items()}
    tcp_err = np.linalg.norm(arrays["state"][-1] - goal)
    done = np.zeros(frames, bool)
    done[-1] = True
    flags = np.zeros(frames, bool)
    if success:
        flags[-max(1, frames // 5):] = True
    reward = flags.astype(np.float32)
    return EpisodeRecord(
        episode_index=index, task_id="reach_box", task_description=task, robot=robot, seed=seed, fps=FPS,
        success=success, failure_reason=None if success else "target not reached",
        joint_names=["shoulder", "elbow"], object_ids=["box"], contact_names=["any_contact"],
        state=arrays["state"], velocity=arrays["velocity"], ee_pose=arrays["ee_pose"],
        object_poses=arrays["object_poses"], action=arrays["action"], contact=arrays["contact"],
        reward=reward, done=done, success_flags=flags,
        task_state=task_state(arrays["object_poses"][:, :7], goal),
        images={c: np.asarray(v, dtype=np.uint8) for c, v in images.items()}, cameras=camera_params,
        metrics={"final_joint_error_rad": float(tcp_err)},
    )


def write_dataset_dir(root, episodes, **options):
    """Write `episodes` with DatasetWriter into `root`; returns info."""
    from blueprint_pipeline.dataset.writer import DatasetWriter, WriterOptions

    writer = DatasetWriter(root, WriterOptions(**options))
    for rec in episodes:
        writer.add_episode(rec)
    return writer.finish()
