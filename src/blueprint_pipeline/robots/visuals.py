"""The robots' real visual meshes, drawn in renders over the collision primitives.

Source: the `example-robot-data` package (BSD-3-Clause; the URDFs and meshes of the Franka Panda
and the Universal Robots arms kept by the Gepetto team), installed by the optional extra
`robot-meshes`. Its files are found through the installed distribution's file list
(`importlib.metadata`); nothing of it is imported. The URDF is read with yourdfpy (kinematics
only), the COLLADA meshes with trimesh (pycollada).

Placement. A URDF's link frames are not our bodies' frames (the UR's ROS frames are not its DH
frames), so each link's meshes are fixed to the body its joint moves, by where both models put
them at the home pose: the URDF's root is placed in the arm's base so that its first two joint
axes lie on ours (`_axes_frame`: the first axis, and the common normal towards the second), and
each link's pose in its body's frame is then read off. tests/test_robot_visuals.py checks at
random joint angles and finger openings that every link stays where its body is: that checks the
package's kinematics against the published DH tables the bodies are built from.

Meshes are split by material colour (one geom per colour of a link) and decimated together to
`TRIANGLES_PER_ROBOT` (renders on a CPU pay per triangle; the packages' meshes hold 116,000 and
134,000). The package has no model of the UR10's Robotiq 2F-85: it comes from another package
(`VisualMeshes.gripper`, robots/gripper_meshes.py) and takes its TRIANGLES_PER_GRIPPER of the
robot's budget; without that package the gripper stays drawn as its primitives. The UR10's upper arm and forearm capsules lie where
its tubes are, off the DH line (`RobotDescription.link_axis_offset_m`), so its meshes are drawn
where its physics is. The physics is unchanged: the capsules and pads stay what contacts and the planner
see; they are hidden from renders and from the camera's ray casts while the meshes are drawn.
Without the extra, or with `BP_ROBOT_MESHES=false`, renders show the primitives
(`PRIMITIVES_SOURCE`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import posixpath
from pathlib import Path

import numpy as np

from blueprint_pipeline.robots import gripper_meshes
from blueprint_pipeline.robots.description import RobotDescription, RobotVisuals, VisualPart

log = logging.getLogger(__name__)

PACKAGE = "example-robot-data"
PACKAGE_URL = f"package://{PACKAGE}/"
TRIANGLES_PER_ROBOT = 8_000
PRIMITIVES_SOURCE = "collision primitives of robots/builder.py (capsules, cylinders, boxes); no visual meshes"
# The home pose's finger opening the fingers' meshes are placed at (any opening gives the same).
_PLACEMENT_OPENING = 0.5


def share_folder() -> Path | None:
    """The package's share folder (`.../share/example-robot-data`), None when it is not installed."""
    try:
        files = importlib.metadata.files(PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        parts = Path(str(f)).parts
        for i in range(len(parts) - 2):
            if parts[i:i + 2] == ("share", PACKAGE):  # .../share/example-robot-data/robots/...
                base = Path(str(f.locate()))
                for _ in range(len(parts) - i - 2):
                    base = base.parent
                return base
    return None


def source_of(desc: RobotDescription, enabled: bool = True) -> str:
    """What renders of `desc` show: the package, its version and the URDF, or PRIMITIVES_SOURCE.
    Cheap (no mesh is read): part of the episodes stage's fingerprint and its items' keys."""
    if not enabled or desc.visual_meshes is None or not _loaders_present():
        return PRIMITIVES_SOURCE
    share = share_folder()
    if share is None or not (share / desc.visual_meshes.urdf).is_file():
        return PRIMITIVES_SOURCE
    version = importlib.metadata.version(PACKAGE)
    gripper = gripper_meshes.source_of(desc.visual_meshes.gripper) if desc.visual_meshes.gripper else None
    source = (f"{PACKAGE} {version} (BSD-3-Clause): {desc.visual_meshes.urdf}, "
              f"decimated to {_arm_triangles(gripper is not None)} triangles")
    if desc.visual_meshes.gripper is not None:
        source += f"; gripper: {gripper}" if gripper else "; gripper: its primitives"
    return source


def _arm_triangles(gripper_drawn: bool) -> int:
    """The arm's share of TRIANGLES_PER_ROBOT: the rest of it when a gripper package draws the hand."""
    return TRIANGLES_PER_ROBOT - (gripper_meshes.TRIANGLES_PER_GRIPPER if gripper_drawn else 0)


NOT_RENDERED = "not rendered"


def rendered_model(robot_name: str, render: bool, enabled: bool) -> str:
    """What a run's images draw the robot with (`source_of`), NOT_RENDERED for a run without
    images: the episodes stage's `@robot-model` input (runner.py) and its episodes' keys."""
    from blueprint_pipeline.robots.description import robot_by_name

    return source_of(robot_by_name(robot_name), enabled) if render else NOT_RENDERED


def _loaders_present() -> bool:
    try:
        import collada  # noqa: F401  (trimesh reads .dae files with it)
        import yourdfpy  # noqa: F401
    except ImportError:
        return False
    return True


def robot_visuals(desc: RobotDescription, enabled: bool = True) -> RobotVisuals | None:
    """The robot's visual meshes placed on its bodies, once per process; None when `source_of`
    says primitives, or when the package's files cannot be read (logged once)."""
    if source_of(desc, enabled) == PRIMITIVES_SOURCE:
        return None
    return _load(desc)


@functools.cache
def _load(desc: RobotDescription) -> RobotVisuals | None:
    import yourdfpy

    assert desc.visual_meshes is not None
    share = share_folder()
    assert share is not None
    try:
        urdf = yourdfpy.URDF.load(str(share / desc.visual_meshes.urdf), load_meshes=False,
                                  build_scene_graph=True)
        placed = _placements(desc, urdf)
        gripper = desc.visual_meshes.gripper
        gripper_drawn = gripper is not None and gripper_meshes.source_of(gripper) is not None
        parts = _parts(share, urdf, placed, _arm_triangles(gripper_drawn))
        if gripper_drawn:
            from blueprint_pipeline.robots.builder import names_for

            parts += gripper_meshes.load_parts(desc, names_for(desc).hand_body)
    except Exception as exc:  # a broken or changed package: draw the primitives, say why once
        log.warning("robot meshes of %s not used (%s: %s); renders show its primitives",
                    desc.name, type(exc).__name__, str(exc)[:200])
        return None
    return RobotVisuals(parts=parts, source=source_of(desc),
                        draws_gripper=desc.visual_meshes.hand_links is not None or gripper_drawn)


# --- placement -----------------------------------------------------------------------------------

def _axes_frame(p1: np.ndarray, a1: np.ndarray, p2: np.ndarray, a2: np.ndarray) -> np.ndarray:
    """A frame from two joint axes (points and directions): z along the first, x along their
    common normal (a1 x a2), origin where the normal meets the first axis."""
    z = a1 / np.linalg.norm(a1)
    v = a2 / np.linalg.norm(a2)
    x = np.cross(z, v)
    x /= np.linalg.norm(x)
    b = float(z @ v)
    w = p1 - p2
    s = (b * float(v @ w) - float(z @ w)) / (1.0 - b * b)
    t = np.eye(4)
    t[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    t[:3, 3] = p1 + s * z
    return t


def _body_links(desc: RobotDescription) -> list[tuple[str, str]]:
    """(our body, URDF link) pairs."""
    from blueprint_pipeline.robots.builder import names_for

    vm = desc.visual_meshes
    assert vm is not None
    names = names_for(desc)
    pairs = list(zip([names.base_body, *(f"{desc.name}_link{i + 1}" for i in range(desc.dof))], vm.links, strict=True))
    if vm.hand_links is not None:
        bodies = (names.hand_body, f"{desc.name}_finger_left_body", f"{desc.name}_finger_right_body")
        pairs += list(zip(bodies, vm.hand_links, strict=True))
    return pairs


def link_poses(desc: RobotDescription, urdf, q_rad: np.ndarray, opening: float) -> dict[str, np.ndarray]:
    """Each URDF link's pose in its body's frame at joint angles `q_rad` and the fingers'
    `opening` (a fraction of their stroke), with the URDF's root placed by the first two joint
    axes. Constant in q for a URDF whose kinematics are ours (the test checks that)."""
    import mujoco

    from blueprint_pipeline.robots.builder import robot_spec

    spec, names = robot_spec(desc)
    model = spec.compile()
    data = mujoco.MjData(model)
    stroke = desc.gripper.stroke_per_finger_m
    for jn, v in zip(names.joints, q_rad, strict=True):
        data.qpos[model.joint(jn).qposadr[0]] = v
    for jn in names.finger_joints:
        data.qpos[model.joint(jn).qposadr[0]] = opening * stroke
    mujoco.mj_kinematics(model, data)
    cfg = dict(zip(urdf.actuated_joint_names, q_rad, strict=False))
    if desc.visual_meshes is not None and desc.visual_meshes.hand_links is not None:
        finger = urdf.actuated_joint_names[desc.dof]
        cfg[finger] = opening * float(urdf.joint_map[finger].limit.upper)
    urdf.update_cfg(np.array([cfg[j] for j in urdf.actuated_joint_names]))

    def ours(k: int) -> tuple[np.ndarray, np.ndarray]:
        j = model.joint(names.joints[k]).id
        return data.xanchor[j].copy(), data.xaxis[j].copy()

    def theirs(k: int) -> tuple[np.ndarray, np.ndarray]:
        joint = urdf.joint_map[urdf.actuated_joint_names[k]]
        t = urdf.get_transform(joint.parent, urdf.base_link) @ joint.origin
        return t[:3, 3].copy(), t[:3, :3] @ np.asarray(joint.axis, dtype=float)

    root = _axes_frame(*ours(0), *ours(1)) @ np.linalg.inv(_axes_frame(*theirs(0), *theirs(1)))
    out = {}
    for body, link in _body_links(desc):
        b = model.body(body).id
        world = np.eye(4)
        world[:3, :3] = data.xmat[b].reshape(3, 3)
        world[:3, 3] = data.xpos[b]
        out[link] = np.linalg.inv(world) @ root @ urdf.get_transform(link, urdf.base_link)
    return out


def _placements(desc: RobotDescription, urdf) -> dict[str, tuple[str, np.ndarray]]:
    """URDF link -> (our body, the link's pose in the body's frame), at the home pose."""
    poses = link_poses(desc, urdf, np.asarray(desc.home_rad), _PLACEMENT_OPENING)
    return {link: (body, poses[link]) for body, link in _body_links(desc)}


# --- meshes --------------------------------------------------------------------------------------

def _mesh_file(share: Path, filename: str) -> Path:
    """A URDF mesh reference (`package://example-robot-data/...`) as a file under `share`."""
    if not filename.startswith(PACKAGE_URL):
        raise ValueError(f"mesh {filename!r} is not in {PACKAGE}")
    rel = posixpath.normpath(filename[len(PACKAGE_URL):])
    if rel.startswith(("..", "/")):
        raise ValueError(f"mesh {filename!r} leaves {PACKAGE}")
    return share / rel


def _colour(mesh) -> tuple[float, float, float, float]:
    visual = mesh.visual
    material = getattr(visual, "material", None)
    rgba = material.main_color if material is not None else visual.main_color
    return tuple(float(c) / 255.0 for c in rgba)  # type: ignore[return-value]


def _parts(share: Path, urdf, placed: dict[str, tuple[str, np.ndarray]], triangles: int) -> tuple[VisualPart, ...]:
    """Every placed link's meshes in its body's frame, one part per colour, decimated together."""
    import trimesh

    pieces: dict[tuple[str, tuple], list[trimesh.Trimesh]] = {}
    for link, (body, pose) in placed.items():
        for visual in urdf.link_map[link].visuals:
            if visual.geometry.mesh is None:
                continue
            scene = trimesh.load(str(_mesh_file(share, visual.geometry.mesh.filename)), force="scene")
            local = pose @ (visual.origin if visual.origin is not None else np.eye(4))
            scale = visual.geometry.mesh.scale
            for mesh in scene.dump():
                m = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
                if scale is not None:
                    m.apply_scale(np.broadcast_to(np.asarray(scale, dtype=float), (3,)))
                m.apply_transform(local)
                pieces.setdefault((body, tuple(round(c, 3) for c in _colour(mesh))), []).append(m)
    total = sum(len(m.faces) for ms in pieces.values() for m in ms)
    keep = min(1.0, triangles / max(total, 1))
    parts = []
    for (body, rgba), meshes in pieces.items():
        m = trimesh.util.concatenate(meshes)
        m.merge_vertices()  # COLLADA files repeat a vertex per face: the decimation needs them shared
        budget = max(12, int(len(m.faces) * keep))
        if budget < len(m.faces):
            m = m.simplify_quadric_decimation(face_count=budget)
        if len(m.faces):
            parts.append(VisualPart(body=body, vertices=np.asarray(m.vertices, dtype=float),
                                    faces=np.asarray(m.faces, dtype=np.int32), rgba=rgba))  # type: ignore[arg-type]
    return tuple(parts)
