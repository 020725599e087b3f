"""Figures of the report, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Every function returns PNG bytes. Text from the manifest is drawn with parse_math=False so a
`$` in an object name is shown, not interpreted.

Every figure is drawn on one long-lived thread of this module (`_on_plot_thread`), whichever
thread asks for it. Matplotlib caches its open font files per thread (up to 64 entries keyed by
the thread's id), so the scene threads of a batch, new in every batch, each opened the fonts
again: the driver's open files grew by two whenever a thread id was new (a CI run of the Ray
leak check saw 67, 69, 69, 71). One drawing thread also keeps matplotlib's text layout, which
is not documented as thread-safe, off concurrent threads.
"""

from __future__ import annotations

import functools
import io
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from blueprint_pipeline.sim.records import EpisodeRecord

DPI = 110
_PLOT_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-plots")
_F = TypeVar("_F", bound=Callable[..., bytes])


def _new_plot_thread() -> None:
    """A fresh drawing thread (a forked child inherits the executor but not its thread)."""
    global _PLOT_THREAD
    _PLOT_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-plots")


os.register_at_fork(after_in_child=_new_plot_thread)


def _on_plot_thread(fn: _F) -> _F:
    """Run `fn` on the module's drawing thread and wait for its result (see the module docstring)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        return _PLOT_THREAD.submit(fn, *args, **kwargs).result()

    return wrapper  # type: ignore[return-value]


RELATION_COLOURS = {"on": "tab:green", "on_top_of": "tab:green", "inside": "tab:purple", "in": "tab:purple",
                    "next_to": "tab:blue", "adjacent": "tab:blue", "near": "tab:cyan", "aligned": "tab:gray"}


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _yaw(q: list[float]) -> float:
    w, x, y, z = q
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def _footprint(node: dict[str, Any]) -> np.ndarray | None:
    """Corners (4, 2) of an object's footprint seen from above: its oriented box if the pose and
    size are known, else its world axis-aligned box."""
    pose, size = node.get("pose") or {}, node.get("size_m")
    pos, quat = pose.get("position_m"), pose.get("orientation_wxyz")
    if pos and quat and size:
        c, s = np.cos(_yaw(quat)), np.sin(_yaw(quat))
        hx, hy = size[0] / 2, size[1] / 2
        local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
        return local @ np.array([[c, s], [-s, c]]) + np.array(pos[:2])
    lo, hi = node.get("aabb_min_m"), node.get("aabb_max_m")
    if lo and hi:
        return np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    return None


def _area(corners: np.ndarray) -> float:
    x, y = corners[:, 0], corners[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def place_labels(fig: Figure, ax, labels: list[tuple[np.ndarray, str]], max_labels: int) -> list:
    """Draw at most `max_labels` of (point, text), in the given order (most important first),
    leaving out every label whose box would overlap one already drawn. Returns the texts drawn."""
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    placed, boxes = [], []
    for point, text in labels:
        if len(placed) >= max_labels:
            break
        t = ax.text(point[0], point[1], text, fontsize=7, ha="center", va="center", parse_math=False,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7})
        box = t.get_window_extent(renderer).expanded(1.05, 1.1)
        if any(box.overlaps(b) for b in boxes):
            t.remove()
            continue
        placed.append(t)
        boxes.append(box)
    return placed


@_on_plot_thread
def scene_topdown_png(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], max_labels: int = 30) -> bytes:
    """Object footprints from above (x right, y up, metres) and their relations as lines; labels
    on the largest footprints first, at most `max_labels`, none overlapping another."""
    fig = Figure(figsize=(7.5, 6.5))
    ax = fig.add_subplot()
    centres: dict[str, np.ndarray] = {}
    labels: list[tuple[float, np.ndarray, str]] = []
    for node in nodes:
        corners = _footprint(node)
        if corners is None:
            continue
        role = (node.get("metadata") or {}).get("sim_role", "")
        dynamic = role in ("manipulable_object", "clutter", "interactive")
        ax.add_patch(Polygon(corners, closed=True, fill=True, alpha=0.35 if dynamic else 0.12,
                             facecolor="tab:orange" if dynamic else "tab:blue", edgecolor="black", lw=0.8))
        centre = corners.mean(0)
        centres[str(node.get("asset_id"))] = centre
        labels.append((_area(corners), centre, str(node.get("name") or node.get("asset_id"))[:24]))
    seen: set[str] = set()
    for e in edges:
        a, b = centres.get(str(e.get("source"))), centres.get(str(e.get("target")))
        if a is None or b is None:
            continue
        rel = str(e.get("relation"))
        colour = RELATION_COLOURS.get(rel, "tab:red")
        ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.0, "alpha": 0.8})
        if rel not in seen:
            ax.plot([], [], color=colour, label=rel)
            seen.add(rel)
    if centres:
        pts = np.array(list(centres.values()))
        pad = 0.3 + 0.05 * float(np.ptp(pts, axis=0).max())
        ax.set_xlim(pts[:, 0].min() - pad, pts[:, 0].max() + pad)
        ax.set_ylim(pts[:, 1].min() - pad, pts[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    labels.sort(key=lambda item: -item[0])
    drawn = place_labels(fig, ax, [(c, t) for _, c, t in labels], max_labels)
    named = f"{len(drawn)} of {len(labels)} named" if len(drawn) < len(labels) else "all named"
    ax.set_title(f"Scene from above: footprints (orange: movable) and relations; {named}")
    if seen:
        ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    return _png(fig)


@_on_plot_thread
def success_rates_png(rates: dict[str, tuple[int, int]]) -> bytes:
    """Share of successful episodes per task; `rates` maps task -> (successes, episodes)."""
    names = list(rates)
    fig = Figure(figsize=(7.5, 0.5 + 0.4 * max(1, len(names))))
    ax = fig.add_subplot()
    share = [ok / n if n else 0.0 for ok, n in rates.values()]
    y = np.arange(len(names))
    ax.barh(y, share, color="tab:green")
    ax.set_yticks(y, [n[:40] for n in names])
    for lab in ax.get_yticklabels():
        lab.set_parse_math(False)
    for i, (ok, n) in enumerate(rates.values()):
        ax.text(min(share[i], 0.85) + 0.01, i, f"{ok}/{n}", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("success rate")
    return _png(fig)


@_on_plot_thread
def trajectories_png(rec: EpisodeRecord) -> bytes:
    """Joint positions, end-effector position over time, and the end-effector path from above."""
    t = np.arange(rec.length) / rec.fps
    fig = Figure(figsize=(11, 3.4))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    names = list(rec.joint_names) + ["gripper"]
    for j in range(rec.state.shape[1]):
        ax1.plot(t, rec.state[:, j], lw=1, label=names[j] if j < len(names) else f"q{j}")
    ax1.set_title("joint positions [rad | m]")
    ax1.set_xlabel("time [s]")
    ax1.legend(fontsize=6, ncol=2)
    for k, axis in enumerate("xyz"):
        ax2.plot(t, rec.ee_pose[:, k], lw=1.2, label=axis)
    ax2.set_title("end-effector position [m]")
    ax2.set_xlabel("time [s]")
    ax2.legend(fontsize=7)
    ax3.plot(rec.ee_pose[:, 0], rec.ee_pose[:, 1], lw=1.2, color="tab:purple")
    ax3.plot(rec.ee_pose[0, 0], rec.ee_pose[0, 1], "go", label="start")
    ax3.plot(rec.ee_pose[-1, 0], rec.ee_pose[-1, 1], "rs", label="end")
    lo, hi = workspace_xy(rec)
    if rec.task_state.size:  # the task's object (or a drawer's or door's moving part) and its goal
        ax3.plot(rec.task_state[:, 0], rec.task_state[:, 1], "--", lw=1.2, color="tab:orange", label="target")
        ax3.plot(rec.task_state[0, 7], rec.task_state[0, 8], "x", color="tab:orange", label="goal")
    if rec.object_poses.size:  # the other objects standing in the window, where they started
        xy = rec.object_poses[0].reshape(-1, 7)[:, :2]
        inside = np.all((xy >= lo) & (xy <= hi), axis=1)
        ax3.plot(xy[inside, 0], xy[inside, 1], ".", color="tab:gray", label="objects (start)")
    ax3.set_xlim(lo[0], hi[0])
    ax3.set_ylim(lo[1], hi[1])
    ax3.set_aspect("equal", adjustable="box")  # the limits stay the workspace's
    ax3.set_title("end-effector path from above, its workspace")
    ax3.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


WORKSPACE_MARGIN_M = 0.1


def workspace_xy(rec: EpisodeRecord) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) in x-y of where the episode happened: the end effector's path, the task's object
    and its goal, grown by WORKSPACE_MARGIN_M (not the whole room)."""
    pts = [rec.ee_pose[:, :2]]
    if rec.task_state.size:
        pts += [rec.task_state[:, :2], rec.task_state[:1, 7:9]]
    pts = np.vstack(pts)
    return pts.min(axis=0) - WORKSPACE_MARGIN_M, pts.max(axis=0) + WORKSPACE_MARGIN_M


@_on_plot_thread
def contact_sheet_png(episodes: list[EpisodeRecord], camera: str, per_episode: int = 6) -> bytes:
    """Evenly spaced frames of `camera`, one row per episode."""
    rows = [e for e in episodes if camera in e.images]
    fig = Figure(figsize=(1.6 * per_episode, 1.7 * max(1, len(rows))))
    axes = np.atleast_2d(fig.subplots(max(1, len(rows)), per_episode, squeeze=False))
    for r, rec in enumerate(rows):
        frames = rec.images[camera]
        for c, k in enumerate(np.linspace(0, len(frames) - 1, per_episode).round().astype(int)):
            ax = axes[r, c]
            ax.imshow(frames[k])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"ep {rec.episode_index}  t={k / rec.fps:.2f}s", fontsize=7)
    return _png(fig)


@_on_plot_thread
def keyframes_png(rows: list, names: tuple[str, ...]) -> bytes:
    """One row per task: each camera's frames (`inputs.Keyframes`), titled by camera and moment."""
    cams = sorted({c for r in rows for c in r.frames})
    cols = [(c, i) for c in cams for i in range(len(names))]
    fig = Figure(figsize=(1.5 * max(1, len(cols)), 1.75 * max(1, len(rows))))
    axes = np.atleast_2d(fig.subplots(max(1, len(rows)), max(1, len(cols)), squeeze=False))
    for r, row in enumerate(rows):
        for c, (cam, i) in enumerate(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if cam in row.frames:
                ax.imshow(row.frames[cam][i])
            if r == 0:
                ax.set_title(f"{cam}: {names[i]}", fontsize=7)
            if c == 0:
                state = "ok" if row.success else (row.failure_reason or "failed")
                ax.set_ylabel(f"{row.task_id[:28]}\nep {row.episode_index} ({state})", fontsize=6)
    fig.tight_layout()
    return _png(fig)


@_on_plot_thread
def timings_png(seconds: dict[str, float]) -> bytes:
    names = list(seconds)
    fig = Figure(figsize=(7.5, 0.6 + 0.35 * max(1, len(names))))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, [seconds[n] for n in names], color="tab:blue")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    return _png(fig)
