"""A gripper's visual meshes from another package than its arm's: the UR10's Robotiq 2F-85.

Source: the `airo-models` package (MIT; the URDFs and meshes Ghent University's AI and Robotics
lab keeps for its UR arms and their 2F-85), installed by the `robot-meshes` extra with
example-robot-data. Its files are found through the installed distribution's file list
(`importlib.metadata`); none of its code is imported. The URDF is read with yourdfpy
(kinematics only), its OBJ meshes with trimesh; a mesh path that leaves the package is refused.

Placement. Our gripper is two slide fingers on a hand the Franka Hand's size (robots/builder.py:
pads 10.34 cm past the flange); the 2F-85 closes by a four-bar linkage: its knuckles turn and its
pads move on an arc, parallel to themselves, about 14 cm past its base. So:
- its base is fixed on the hand, turned about the approach axis so that its left pad is on our
  left finger's side (+y), and moved along the axis so that its pads' centres are at ours with
  the fingers half open (`REFERENCE_OPENING`). Its base then sits about 4 cm into the arm's
  wrist: the drawing keeps the pads where the physics grips, not the gripper's length;
- every link that moves with the fingers is drawn at the joint angle at which its pad's inner
  face is where our finger's is (`pose_linkage`, before every render): the drawn pads are on our
  pads across the stroke (down to 0.8 mm a finger, where the URDF's joint range ends); their
  height follows the arc: 1.1 cm below ours fully open, within 0.4 cm from a quarter to three
  quarters of the stroke.
Those links are drawn only: their geoms' poses are written before a render and recomputed by the
next mj_kinematics; the physics, its geoms and masses are unchanged.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blueprint_pipeline.robots.description import FingerLinkage, GripperMeshes, RobotDescription, VisualPart

TRIANGLES_PER_GRIPPER = 1_500  # the 2F-85's meshes hold 15,800 (renders on a CPU pay per triangle)
REFERENCE_OPENING = 0.5  # of the stroke: where the drawn pads' centres are at ours in height
_ANGLES = 161  # the finger joint's range is sampled this finely (0.005 rad for the 2F-85)
OPENING_STEP_M = 5e-5  # the links' poses are tabled at openings this far apart (linear between angles)


def urdf_file(g: GripperMeshes) -> Path | None:
    """The URDF in the installed distribution, None when it is not installed."""
    try:
        files = importlib.metadata.files(g.package) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f) == g.urdf:
            path = Path(str(f.locate()))
            return path if path.is_file() else None
    return None


def source_of(g: GripperMeshes) -> str | None:
    """The package, its version and the URDF; None when it is not installed (cheap: no mesh read)."""
    if urdf_file(g) is None:
        return None
    version = importlib.metadata.version(g.package)
    return f"{g.package} {version} ({g.license}): {g.urdf}, decimated to {TRIANGLES_PER_GRIPPER} triangles"


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    t = np.eye(4)
    t[:2, :2] = [[c, -s], [s, c]]
    return t


def _link_meshes(urdf, link: str, urdf_path: Path, root: Path) -> list[tuple[object, tuple[float, ...]]]:
    """The link's visual meshes in its own frame (trimesh, metres) with their colours."""
    import trimesh

    out = []
    for visual in urdf.link_map[link].visuals:
        geometry = visual.geometry
        if geometry.mesh is not None:
            path = (urdf_path.parent / geometry.mesh.filename).resolve()
            if not path.is_relative_to(root):
                raise ValueError(f"mesh {geometry.mesh.filename!r} leaves the package")
            scene = trimesh.load(str(path), force="scene")
            mesh = trimesh.util.concatenate([trimesh.Trimesh(m.vertices, m.faces, process=False) for m in scene.dump()])
            if geometry.mesh.scale is not None:
                mesh.apply_scale(np.broadcast_to(np.asarray(geometry.mesh.scale, dtype=float), (3,)))
        elif geometry.box is not None:
            mesh = trimesh.creation.box(extents=np.asarray(geometry.box.size, dtype=float))
        else:
            continue
        if visual.origin is not None:
            mesh.apply_transform(visual.origin)
        colour = visual.material.color.rgba if visual.material is not None and visual.material.color is not None else None
        rgba = tuple(float(c) for c in colour) if colour is not None else (0.1, 0.1, 0.1, 1.0)
        out.append((mesh, rgba))
    return out


@functools.cache
def load_parts(desc: RobotDescription, hand_body: str) -> tuple[VisualPart, ...]:
    """The gripper's drawn parts on `hand_body` (module docstring); raises when the package's
    files cannot be read (robots/visuals.py then draws the primitives and says why)."""
    import yourdfpy

    assert desc.visual_meshes is not None and desc.visual_meshes.gripper is not None
    g = desc.visual_meshes.gripper
    path = urdf_file(g)
    if path is None:
        raise FileNotFoundError(f"{g.package} is not installed")
    root = path.parents[len(Path(g.urdf).parts) - 2].resolve()  # the distribution's top folder
    quiet = logging.getLogger("yourdfpy")  # its first XML parser refuses the file's drake: tags, then
    level = quiet.level  # another one reads it; that is logged as an error
    quiet.setLevel(logging.CRITICAL)
    try:
        urdf = yourdfpy.URDF.load(str(path), load_meshes=False, build_scene_graph=True)
    finally:
        quiet.setLevel(level)
    joint = urdf.joint_map[g.finger_joint]
    angles = np.linspace(float(joint.limit.lower), float(joint.limit.upper), _ANGLES)
    links = [name for name, link in urdf.link_map.items() if link.visuals]
    fk = {name: np.empty((_ANGLES, 4, 4)) for name in links}
    for i, a in enumerate(angles):
        urdf.update_cfg({g.finger_joint: float(a)})
        for name in links:
            fk[name][i] = urdf.get_transform(name, urdf.base_link)
    meshes = {name: _link_meshes(urdf, name, path, root) for name in links}

    def pad_points(side: int, i: int) -> np.ndarray:
        pts = np.concatenate([np.asarray(m.vertices) for m, _ in meshes[g.pads[side]]])
        return pts @ fk[g.pads[side]][i][:3, :3].T + fk[g.pads[side]][i][:3, 3]

    mid = _ANGLES // 2
    lateral = pad_points(0, mid).mean(axis=0) - pad_points(1, mid).mean(axis=0)
    turn = _rot_z(np.pi / 2 - np.arctan2(lateral[1], lateral[0]))  # the left pad to our +y
    # each pad's inner face per joint angle: its distance from our centre plane, as our finger's
    # slide joint measures it (the left pad's lowest y, the right one's highest, in the turned frame)
    inner = np.array([[(pad_points(s, i) @ turn[:3, :3].T)[:, 1].min() if s == 0 else
                       -(pad_points(s, i) @ turn[:3, :3].T)[:, 1].max() for i in range(_ANGLES)] for s in (0, 1)])
    reference = REFERENCE_OPENING * desc.gripper.stroke_per_finger_m
    at = int(np.argmin(np.abs(inner[0] - reference)))
    pad_z = float((pad_points(0, at) @ turn[:3, :3].T)[:, 2].mean())
    mount = turn.copy()
    mount[2, 3] = desc.gripper.tcp_offset_m - pad_z  # our pads' centres are tcp_offset_m past the flange
    total = sum(len(m.faces) for ms in meshes.values() for m, _ in ms)
    keep = min(1.0, TRIANGLES_PER_GRIPPER / max(total, 1))
    grid = np.arange(0.0, float(inner.max()) + OPENING_STEP_M, OPENING_STEP_M)
    parts = []
    for name in links:
        poses = mount @ fk[name]
        moving = not np.allclose(poses, poses[0], atol=1e-9)
        for mesh, rgba in meshes[name]:
            m = mesh.copy()
            m.merge_vertices()
            budget = max(12, int(len(m.faces) * keep))
            if budget < len(m.faces):
                m = m.simplify_quadric_decimation(face_count=budget)
            linkage = None
            if moving:  # its side: where it is at mid-stroke
                side = 0 if float((poses[mid] @ np.append(np.asarray(m.vertices).mean(axis=0), 1.0))[1]) > 0 else 1
                linkage = FingerLinkage(side=side, step_m=OPENING_STEP_M, poses=_tabled(inner[side], poses, grid))
            else:
                m.apply_transform(poses[0])
            parts.append(VisualPart(body=hand_body, vertices=np.asarray(m.vertices, dtype=float),
                                    faces=np.asarray(m.faces, dtype=np.int32), rgba=rgba, linkage=linkage))  # type: ignore[arg-type]
    return tuple(parts)


def _tabled(openings: np.ndarray, poses: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """`poses` sampled at `openings` (one per joint angle), linear between them, at the `grid`'s
    openings (those past the sampled range at its ends)."""
    order = np.argsort(openings)
    o, p = openings[order], poses[order]
    i = np.clip(np.searchsorted(o, grid), 1, len(o) - 1)
    w = np.clip((grid - o[i - 1]) / np.maximum(o[i] - o[i - 1], 1e-12), 0.0, 1.0)[:, None, None]
    return (1.0 - w) * p[i - 1] + w * p[i]


@dataclass(frozen=True)
class DrawnLinkage:
    """A compiled model's linked gripper parts (`drawn_linkage`), for `pose_linkage`: each
    geom's pose in the hand's frame at finger openings `step_m` apart from 0."""

    geoms: np.ndarray  # (n,) geom ids
    qpos_adr: np.ndarray  # (n,) each one's finger's slide joint
    hand: int  # the hand's body
    step_m: float
    poses: np.ndarray  # (n, k, 4, 4)


def drawn_linkage(model, robot: str, names, visuals) -> DrawnLinkage | None:
    """The model's linked parts of `visuals` (robots/builder._add_visuals names their geoms), or
    None when it draws none (no meshes, or a gripper without a linkage): their tabled poses
    (FingerLinkage) with each geom's pose in its link's frame (MuJoCo moves a mesh's frame to
    its centroid), so that posing them per frame is one lookup (`pose_linkage`)."""
    from blueprint_pipeline.rotations import matrix_np

    linked = [(k, part.linkage) for k, part in enumerate(visuals.parts if visuals is not None else ())
              if part.linkage is not None]
    if not linked:
        return None
    geoms, adr, tables = [], [], []
    for k, linkage in linked:
        g = model.geom(f"{robot}_visual{k}").id
        placed = np.eye(4)
        placed[:3, :3] = matrix_np(model.geom_quat[g])
        placed[:3, 3] = model.geom_pos[g]
        tables.append(linkage.poses @ (np.linalg.inv(linkage.poses[-1]) @ placed))  # the builder placed it at poses[-1]
        geoms.append(g)
        adr.append(int(model.jnt_qposadr[model.joint(names.finger_joints[linkage.side]).id]))
    return DrawnLinkage(geoms=np.array(geoms), qpos_adr=np.array(adr), hand=model.body(names.hand_body).id,
                        step_m=linked[0][1].step_m, poses=np.stack(tables))


def pose_linkage(data, drawn: DrawnLinkage | None) -> None:
    """Draw the linked parts where their fingers are (module docstring): their geoms' poses at
    the nearest tabled opening; call after mj_kinematics, before rendering."""
    if drawn is None:
        return
    k = drawn.poses.shape[1]
    i = np.clip(np.rint(data.qpos[drawn.qpos_adr] / drawn.step_m).astype(int), 0, k - 1)
    hand = np.eye(4)
    hand[:3, :3] = data.xmat[drawn.hand].reshape(3, 3)
    hand[:3, 3] = data.xpos[drawn.hand]
    world = hand @ drawn.poses[np.arange(len(i)), i]
    data.geom_xpos[drawn.geoms] = world[:, :3, 3]
    data.geom_xmat[drawn.geoms] = world[:, :3, :3].reshape(-1, 9)
