"""Pick-and-place plan: waypoints -> joint set-points at the control rate.

Waypoints: pre-grasp (reached by a joint-space move from home), grasp, close, lift (straight up to the carry height), transport (at the carry
height, which clears every object in the corridor by 5 cm), pre-place, place (object 5 mm above
its goal surface), release, retreat, then a still phase in which the scene settles before it is
judged. The place spot is the point of the goal region farthest from the other objects.

On a shelf (`ceiling_z`): the hand first stops STAGING_M in front of the pre-grasp (nearer,
STAGING_NEAR_M, when the arm cannot reach that far out), lifts at most to CEILING_CLEARANCE_M under
the board above, and when the object cannot pass over its neighbours there (a book in a row) it is
slid out towards the open front until its far end clears the row (`_pull_distance`), carried along
in front of the row and slid back in above its goal: straight lines, a joint-space move along the
front only when the line is out of reach. When the scene check refuses that approach, it is
planned once more out of the furniture's front first (FRONT_CLEAR_M).
The gripper command is the fraction of the stroke closed: 0 fully open, 1 closed; a pre-shaped
grasp (sim/grasp.py) holds its own opening while approaching and after the release.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from blueprint_pipeline.geniesim.records import GoalRegion
from blueprint_pipeline.sim.grasp import (
    GraspCandidate,
    antipodal_candidates,
    branch_variant,
    check_reachable,
    grasp_candidates,
    rank_grasps,
    rim_candidates,
)
from blueprint_pipeline.sim.ik import ArmIK
from blueprint_pipeline.simready.records import AntipodalGrasp, RimRecord
from blueprint_pipeline.sim.trajectory import (
    IKFailure,
    Pose,
    SegmentMemo,
    joint_segment,
    nominal_ticks,
)

GRIPPER_TICKS = 12  # 0.4 s at 30 Hz to close or open
SETTLE_TICKS = 15  # 0.5 s still at the end
LIFT_M = 0.12
CARRY_CLEARANCE_M = 0.05
PLACE_DROP_M = 0.005
SHELF_LIFT_M = 0.02  # on a shelf the object is lifted at least this much (and at most up to the board above)
CEILING_CLEARANCE_M = 0.02
STAGING_M = 0.15  # on a shelf, the hand first stops this far in front of the pre-grasp (horizontally)
STAGING_NEAR_M = (0.08, 0.04)  # nearer staging distances when the arm cannot reach that far out
# When the scene check refuses that approach and the furniture's front is known (`front`), it is
# planned again: a hand that starts inside the front is lifted this much and drawn out to this far
# in front of it (a UR10 shouldered at a gondola's bottom board starts with its fingers 1 cm above
# the next board, one beside a kids' cubby 1 cm above its top), and the staging pose is at least
# this far in front of it too (a can 30 cm in: STAGING_M in front of its pre-grasp is still
# inside); a top grasp is staged level in front of its pre-grasp. About the open hand's half width
# across its fingers, so the whole hand is out.
FRONT_CLEAR_M = 0.10
BRANCH_CANDIDATES = 8  # the other IK branches are tried for this many of the best-ranked grasps
# A plan with a straight segment slowed down more than SLOW_STRETCH times is kept only when none of
# the next SLOW_MORE_TRIES grasps tried plans without one: with its wrist near a joint limit the
# arm follows the line by swinging through its null space (a Franka lifting a bowl 27 cm by its
# rim turned its shoulder and upper arm 1.3 rad either way, and the lift took 20 s).
SLOW_STRETCH = 8.0
SLOW_MORE_TRIES = 8


@dataclass
class Plan:
    q: np.ndarray  # (N+1, dof) set-points at ticks 0..N
    gripper: np.ndarray  # (N+1,) command held from tick k to k+1: fraction of the stroke closed (1 closed, 0 open)
    phase: list[str]  # (N+1,) phase of each tick
    grasp: GraspCandidate
    place_object_pos_m: np.ndarray
    carry_tcp_z_m: float
    candidates_tried: int = 0
    slide_out_m: float = 0.0  # on a shelf: how far the object was slid out of its row and back in
    phase_ticks: dict[str, tuple[int, int]] = field(default_factory=dict)
    # open_close: the drawer's or door's joint position planned at each tick (the scene check
    # moves the part with the hand)
    part_q: np.ndarray | None = None
    # the closed fingers hold the target (or a handle): the scene check skips those ticks of a
    # free target (a drawer or door is checked as it swings); a push closes them only to push
    # with (sim/families/push.py), and every tick is checked
    holds: bool = True
    # ticks 0..checked_through already passed the scene check (the planners' early check of the
    # approach, `_plan_with_grasp`'s `refuse`): SceneCheck.plan starts after them
    checked_through: int = -1
    # the most a straight segment was slowed down to keep the joints within their limits (its
    # ticks / trajectory.nominal_ticks): above SLOW_STRETCH the arm swings through its null space
    stretch: float = 1.0

    @property
    def n_ticks(self) -> int:
        return len(self.q) - 1


def from_start(plan: Plan, q_start: np.ndarray, desc, dt_tick_s: float) -> Plan:
    """`plan`, made from another start configuration, preceded by a jerk-limited joint move from
    `q_start` to its first configuration: more ticks of its "approach" (the hand open, touching
    nothing), every later tick and phase span shifted by the move's length."""
    seg = joint_segment(q_start, plan.q[0], desc, dt_tick_s)
    n = len(seg)
    spans = {k: (a + n, b + n) for k, (a, b) in plan.phase_ticks.items()}
    spans["approach"] = (1, spans["approach"][1]) if "approach" in spans else (1, n)
    part_q = None if plan.part_q is None else np.concatenate([np.full(n, plan.part_q[0]), plan.part_q])
    return replace(plan, q=np.vstack([q_start[None, :], seg, plan.q[1:]]),
                   gripper=np.concatenate([np.full(n, plan.gripper[0]), plan.gripper]),
                   phase=[plan.phase[0]] + ["approach"] * n + list(plan.phase[1:]), phase_ticks=spans, part_q=part_q,
                   checked_through=-1)


class SceneChecker(Protocol):
    """Whole-arm checks against the scene (sim/scene_check.py SceneCheck): why a grasp candidate or a
    plan would collide, or None."""

    def hand_at_grasp(self, cand: GraspCandidate) -> str | None: ...

    def grasp(self, cand: GraspCandidate) -> str | None: ...

    def plan(self, plan: Plan) -> str | None: ...


class BlockedGrasps(IKFailure):
    """Every grasp candidate not out of reach would put the hand or arm into the scene (a
    neighbour, a shelf board, a container wall): planning refused them rather than let physics
    sort it out. A candidate whose hand alone meets the scene is refused before its IK is solved,
    so it counts here even where the arm could not have reached it."""

    reason = "no_clear_grasp"


@dataclass(frozen=True)
class ObjectBox:
    id: str
    pos_m: np.ndarray
    rot: np.ndarray
    size_m: np.ndarray
    round_xy: bool = False  # circular horizontal cross-section (cylinder, sphere, capsule)
    rim: RimRecord | None = None  # an open-top hollow mesh's rim (simready/rims.py): rim grasps
    antipodal: tuple[AntipodalGrasp, ...] = ()  # a mesh's antipodal grasps (simready/antipodal.py)

    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        half = np.abs(self.rot) @ (0.5 * self.size_m)
        return self.pos_m - half, self.pos_m + half


def _tops_along(others: list[ObjectBox], a: np.ndarray, b: np.ndarray, pad: float) -> list[float]:
    """Top heights of the objects whose xy box comes within `pad` of the xy segment a-b (sampled at
    1 cm steps; all boxes against all samples in one array comparison)."""
    if not others:
        return []
    n = max(2, int(np.linalg.norm(b - a) / 0.01))
    pts = a[None, :] + (b - a)[None, :] * np.linspace(0, 1, n)[:, None]  # (n, 2)
    boxes = [o.aabb() for o in others]
    lo, hi = np.array([bx[0] for bx in boxes]), np.array([bx[1] for bx in boxes])  # (k, 3)
    near = np.all((pts[:, None] >= lo[None, :, :2] - pad) & (pts[:, None] <= hi[None, :, :2] + pad), axis=2)
    return hi[near.any(axis=0), 2].tolist()


def choose_place_xy(goal: GoalRegion, target: ObjectBox, others: list[ObjectBox]) -> np.ndarray:
    """Grid point of the goal region with the largest xy gap to the other objects (ties: nearer centre)."""
    half = np.abs(target.rot[:2, :2]) @ (0.5 * target.size_m[:2])
    cx, cy = goal.center_m[0], goal.center_m[1]
    sx, sy = max(0.0, goal.size_m[0] / 2 - half[0]), max(0.0, goal.size_m[1] / 2 - half[1])
    boxes = [o.aabb() for o in others]
    boxes = [(lo[:2], hi[:2]) for lo, hi in boxes if hi[2] >= goal.surface_z_m - 0.01]
    xs, ys = np.linspace(cx - sx, cx + sx, 5), np.linspace(cy - sy, cy + sy, 5)
    grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)  # x outer, y inner
    gaps = np.full(len(grid), np.inf)
    if boxes:  # (points, boxes): the larger of the x and y gaps to each box, then the nearest box
        lo, hi = np.array([b[0] for b in boxes]), np.array([b[1] for b in boxes])
        gap = np.maximum(lo[None] - (grid[:, None] + half), (grid[:, None] - half) - hi[None]).max(axis=2)
        gaps = gap.min(axis=1)
    # the first point with the largest (gap up to 5 cm, nearness to the centre)
    gap_key, near_key = np.minimum(gaps, 0.05).tolist(), (-np.hypot(grid[:, 0] - cx, grid[:, 1] - cy)).tolist()
    return grid[max(range(len(grid)), key=lambda i: (gap_key[i], near_key[i]))].copy()


def plan_pick_place(ik: ArmIK, target: ObjectBox, others: list[ObjectBox], goal: GoalRegion,
                    q_home: np.ndarray, dt_tick_s: float, on_segment: Callable[[], None] = lambda: None,
                    check: SceneChecker | None = None, ceiling_z: float | None = None,
                    turn_back_rad: float = 0.0, q_seed: np.ndarray | None = None,
                    rim_z: float | None = None, front: tuple[np.ndarray, float] | None = None) -> Plan:
    """Raises IKFailure when no grasp candidate gives a feasible plan (BlockedGrasps when every
    reachable one was refused by `check`: the hand alone at the grasp, before its IK, then the
    whole arm at the grasp and then along the whole plan against the scene; a candidate refused
    at the hand counts as reachable); `on_segment` is called after every planned segment (the worker's
    heartbeat). Candidates are tried in rank order: planning retries, never recorded ones. When
    none gives a plan, those of the BRANCH_CANDIDATES best-ranked ones the hand alone does not
    refuse (when it refuses them all, the best-ranked one it admits) are solved again from the
    arm's branch seeds (`ArmIK.branch_seeds`: its other postures at the same
    grasp, around the one solved from `q_seed`) and planned from each posture whose grasp and
    joint-space approach the check admits; the reasons reported are those of the first round.
    `ceiling_z`: the underside of the board above a target on a shelf: the hand stays
    CEILING_CLEARANCE_M below it while lifting and carrying (objects above it are not in the way).
    `turn_back_rad`: when the object cannot be placed as it was grasped (the check refuses the
    plan), it is placed turned by this much about the vertical (the start-pose randomisation's
    yaw, negated), so it lands in the orientation its goal region was sized for; turning in the
    hand is the second choice because a box can twist between the pads while the wrist turns.
    `q_seed`: where the grasps' IK starts from (default `q_home`, where the plan starts): the
    nominal start, so a randomised start changes the approach, not the arm's posture at the grasp.
    `rim_z`: into a container: its rim, which the carried object clears by CARRY_CLEARANCE_M.
    `front`: on a shelf, its furniture's open front (SimScene.shelf_front): a round object is
    also offered a side grasp straight in through it (grasp_candidates' `front_m`), and an
    approach the check refuses is planned once more out of it (FRONT_CLEAR_M)."""
    home_pos, home_rot = ik.tcp_pose(q_home)
    seed = q_home if q_seed is None else q_seed
    seed_rot = ik.tcp_pose(seed)[1]
    obstacles = [o.aabb() for o in others]
    stroke = 2 * ik.desc.gripper.stroke_per_finger_m
    cands = grasp_candidates(target.pos_m, target.rot, target.size_m, stroke,
                             ik.base_pos_m, seed_rot[:, 1], round_xy=target.round_xy,
                             pad_reach_m=ik.desc.gripper.pad_half_size_m[2],
                             pad_half_height_m=ik.desc.gripper.pad_half_size_m[0],
                             front_m=None if front is None else front[0])
    if target.rim is not None:
        cands += rim_candidates(target.pos_m, target.rot, target.rim, stroke, ik.base_pos_m)
    if target.antipodal:
        cands += antipodal_candidates(target.pos_m, target.rot, target.antipodal, stroke, ik.base_pos_m)
    if not cands:
        raise IKFailure("no grasp fits the gripper stroke")
    ranked = rank_grasps(cands, ik, seed, obstacles)
    half_height = 0.5 * float(np.abs(target.rot[2, :]) @ target.size_m)
    yaws = [0.0, turn_back_rad] if abs(turn_back_rad) > 1e-6 else [0.0]
    passes = []  # placings (turn, object position at the place): as grasped first, then turned back
    # ... and only when no grasp gives a plan that way, each turned half a turn more: a box or a
    # cylinder has the same footprint so, and the wrist reaches the place from its other side (a
    # UR10 on its pedestal missed a place 30 cm from its base by 3-14 mm in 7 of 40 episodes)
    for turns in (yaws, [y + np.pi for y in yaws]):
        placings = []
        for yaw in turns:
            c, s_ = np.cos(yaw), np.sin(yaw)
            turn = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
            place_xy = choose_place_xy(goal, ObjectBox(target.id, target.pos_m, turn @ target.rot, target.size_m), others)
            placings.append((turn, np.array([place_xy[0], place_xy[1], goal.surface_z_m + half_height + PLACE_DROP_M])))
        passes.append(placings)
    stroke = ik.desc.gripper.stroke_per_finger_m
    narrowed = {id(c): c.preshaped(stroke) if check is not None else None for c in ranked}
    checked: dict[int, tuple[bool, str | None]] = {}  # per variant: reachable, and why the scene refuses it
    # per variant: why the scene refused its approach. The approach (and its check) is the same
    # whatever the placing, so a variant refused there is not planned again for another placing
    # or pass (a laundry shelf's box: 250 plans, half of them approaches refused before)
    approach_refused: dict[int, str] = {}
    at_hand: set[int] = set()  # variants the hand alone refused (no arm posture helps them)
    # a segment planned again with the same inputs (another placing or pass) is not solved again,
    # nor a plan (an approach) checked again
    segments = SegmentMemo()
    check_plan = None if check is None else _CheckMemo(check)

    def variants(cand: GraspCandidate) -> list[GraspCandidate]:
        # fully open first; pre-shaped (opened just past the object's width) when that is
        # unreachable next to a wall or refused by the scene check
        narrow = narrowed[id(cand)]
        return [cand] + ([narrow] if narrow is not None else [])

    def attempt(variant: GraspCandidate, placings, tried: int) -> tuple[Plan | None, str | None, Exception | None]:
        """Plan `variant` with each placing: the plan, or why the scene refused it, or the IK's error."""
        if id(variant) in approach_refused:
            return None, approach_refused[id(variant)], None
        why: str | None = None
        error: Exception | None = None
        for turn, place_obj in placings:
            try:
                with ik.fingers_open(variant.open_m):
                    plan = _plan_with_grasp(ik, variant, target, others, place_obj, q_home,
                                            Pose(home_pos, home_rot), dt_tick_s, on_segment, ceiling_z, turn,
                                            rim_z, check_plan, front, segments)
            except ApproachRefused as refused_early:
                approach_refused[id(variant)] = refused_early.why
                return None, refused_early.why, None
            except IKFailure as exc:
                error, why = exc, None
                continue
            why = check_plan(plan) if check_plan is not None else None
            if why is None:
                plan.candidates_tried = tried
                return plan, None, None
        return None, why, error

    errors: list[Exception] = []  # each pass's last error; the first pass's is reported
    slow: Plan | None = None  # the first plan with a segment slowed down more than SLOW_STRETCH
    tries_after_slow = 0
    for placings in passes:
        last_error: Exception = IKFailure("no reachable grasp candidate")
        refused: list[str] = []
        for tried, cand in enumerate(ranked, start=1):
            why: str | None = None
            for variant in variants(cand):
                if id(variant) not in checked:  # the hand alone first: it needs no IK
                    blocked = check.hand_at_grasp(variant) if check is not None else None
                    if blocked is not None:
                        at_hand.add(id(variant))
                    ok = blocked is not None or check_reachable(variant, ik, seed)
                    checked[id(variant)] = (ok, blocked or (check.grasp(variant) if ok and check is not None else None))
                reachable, why = checked[id(variant)]
                if not reachable:
                    if not refused:
                        last_error = IKFailure(f"{variant.kind} grasp unreachable")
                    continue
                if why is None:
                    if slow is not None:
                        tries_after_slow += 1
                        if tries_after_slow > SLOW_MORE_TRIES:
                            return slow
                    plan, why, error = attempt(variant, placings, tried)
                    if plan is not None and plan.stretch <= SLOW_STRETCH:
                        return plan
                    if plan is not None:
                        slow = slow or plan
                        continue
                    if error is not None:
                        last_error = error
                if why is not None:
                    refused.append(f"{variant.kind}{'' if variant.open_m is None else ' pre-shaped'}: {why}")
                    last_error = BlockedGrasps("every grasp not out of reach collides (" + "; ".join(refused[-3:]) + ")")
        errors.append(last_error)
        if slow is not None:
            return slow
    # Other IK branches: no grasp gave a plan with the arm posture solved from the seed, so each
    # grasp the hand alone does not refuse is solved again from the arm's branch seeds
    # (ArmIK.branch_seeds) and planned from each distinct posture found
    if check is not None:
        branched: dict[int, list[GraspCandidate]] = {}  # per variant: its postures on other branches the scene admits
        # of the best-ranked candidates, those the hand alone does not refuse (the hand is where
        # it is on every branch); when it refuses them all, the best one it admits: a UR10's only
        # such grasp of a lemon in a salad bowl ranked 17th of 48. (The 8 best it admits cost the
        # corpus's episodes stage 10-15% more CPU, for this lemon alone.)
        admitted = [(k, c) for k, c in enumerate(ranked, start=1) if any(id(v) not in at_hand for v in variants(c))]
        clear = [(k, c) for k, c in admitted if k <= BRANCH_CANDIDATES] or admitted[:1]
        for placings in passes:
            for tried, cand in clear:
                for variant in variants(cand):
                    if id(variant) in at_hand:
                        continue
                    if id(variant) not in branched:
                        postures = [variant.q_pre] if variant.q_pre is not None else []
                        around = variant.q_pre if variant.q_pre is not None else seed
                        alts = [branch_variant(variant, ik, b, q_home, postures) for b in ik.branch_seeds(around)]
                        branched[id(variant)] = [a for a in alts if a is not None and check.grasp(a) is None
                                                 and (ceiling_z is not None or _approach_clear(a, q_home, ik, dt_tick_s, check))]
                    for alt in branched[id(variant)]:
                        plan, _, _ = attempt(alt, placings, tried)
                        if plan is not None:
                            return plan
    last_error = errors[0]
    if isinstance(last_error, BlockedGrasps):
        raise last_error
    raise IKFailure(f"no feasible plan: {last_error}")


class _CheckMemo:
    """`check.plan`'s answers by what it reads of a plan: the set-points, gripper commands, phases
    and their spans, the ticks already checked, whether the fingers hold the target and a held
    part's path. The check depends on nothing else while a planning call runs (the scene it
    checks against is the episode's start), so an answer given again is the one it would give. A
    grasp's approach is checked before the rest is planned, again for its second placing and in
    the half-turn pass: on the meshed kitchen with the Franka, 36 of 92 such checks were repeats."""

    def __init__(self, check: SceneChecker):
        self.check = check
        self._answers: dict[tuple, str | None] = {}

    def __call__(self, plan: Plan) -> str | None:
        key = (plan.q.tobytes(), plan.q.shape, plan.gripper.tobytes(), tuple(plan.phase),
               tuple(sorted(plan.phase_ticks.items())), plan.checked_through, plan.holds,
               None if plan.part_q is None else plan.part_q.tobytes())
        if key not in self._answers:
            self._answers[key] = self.check.plan(plan)
        return self._answers[key]


def _approach_clear(cand: GraspCandidate, q_home: np.ndarray, ik: ArmIK, dt_tick_s: float,
                    check: SceneChecker) -> bool:
    """Whether the joint-space approach from `q_home` to the candidate's pre-grasp posture passes
    the scene check: the first part of its plan, checked before the rest is planned (most postures
    on other IK branches sweep the arm through the furniture on the way)."""
    seg = joint_segment(q_home, cand.q_pre, ik.desc, dt_tick_s, 0.4)
    n = len(seg)
    opened = cand.open_command(ik.desc.gripper.stroke_per_finger_m)
    approach = Plan(q=np.vstack([q_home[None, :], seg]), gripper=np.full(n + 1, opened),
                    phase=["start"] + ["approach"] * n, grasp=cand, place_object_pos_m=cand.tcp.pos_m,
                    carry_tcp_z_m=float(cand.tcp.pos_m[2]), phase_ticks={"approach": (1, n)})
    return check.plan(approach) is None


class ApproachRefused(Exception):
    """The scene check refused a plan's approach (`_plan_with_grasp`'s `refuse`): why."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


SLIDE_CLEARANCE_M = 0.02  # slid out of a shelf's row, the object's far end clears the row's near faces by this
ROW_DEPTH_M = 0.1  # a neighbour in the row reaches at most this much further out than the object
SLIDE_S = 0.5  # each leg out, along and in lasts at least this long


def _out_of_shelf(cand: GraspCandidate, target: ObjectBox, base_pos_m: np.ndarray) -> np.ndarray:
    """Horizontal unit vector from the object towards the open front: against a side grasp's
    approach, else towards the robot's base."""
    d = -cand.approach[:2]
    if np.linalg.norm(d) < 0.3:
        d = base_pos_m[:2] - target.pos_m[:2]
    return d / max(float(np.linalg.norm(d)), 1e-9)


def _pull_distance(target: ObjectBox, others: list[ObjectBox], out_dir: np.ndarray, a: np.ndarray,
                   b: np.ndarray) -> float:
    """How far to slide the object out (along `out_dir`) so that its far end passes in front of
    every object standing on its board within the lateral corridor between its start `a` and goal `b`."""
    side = np.array([-out_dir[1], out_dir[0]])

    def spans(o: ObjectBox, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = np.abs(o.rot[:2, :2]) @ (0.5 * o.size_m[:2])
        corners = at + np.array([[sx, sy] for sx in (-1, 1) for sy in (-1, 1)]) * half
        return corners @ out_dir, corners @ side

    t_out, t_side = spans(target, target.pos_m[:2])
    far = float(t_out.min()) - float(target.pos_m[:2] @ out_dir)  # the far end, relative to the centre
    half_w = 0.5 * float(t_side.max() - t_side.min())
    lo = min(a @ side, b @ side) - half_w - SLIDE_CLEARANCE_M
    hi = max(a @ side, b @ side) + half_w + SLIDE_CLEARANCE_M
    bottom = target.aabb()[0][2]
    pull = SLIDE_CLEARANCE_M
    for o in others:
        o_lo, o_hi = o.aabb()
        if abs(o_lo[2] - bottom) > 0.03:  # not on the same board
            continue
        o_out, o_side = spans(o, o.pos_m[:2])
        if o_side.max() <= lo or o_side.min() >= hi or o_out.max() > float(t_out.max()) + ROW_DEPTH_M:
            continue  # beside the corridor, or out in front of the shelf (on the floor), not in the row
        # the object's far end (from wherever it is on the way) must pass the other's near face
        for at in (a, b):
            pull = max(pull, float(o_out.max()) - (float(at @ out_dir) + far) + SLIDE_CLEARANCE_M)
    return pull


def _shelf_route(cand: GraspCandidate, home: Pose, front: tuple[np.ndarray, float] | None,
                 ) -> tuple[np.ndarray, float, float] | None:
    """The approach into a shelf (`_plan_with_grasp`): the horizontal direction in, how far out of
    the pre-grasp the hand stages (STAGING_M) and how far it is first drawn out of the furniture
    (0: not). With the furniture's `front` (n.x = c, n outward), out of it (FRONT_CLEAR_M): a
    hand starting inside is drawn out, the staging pose is in front of it, and a top grasp is
    staged level in front of its pre-grasp; None when nothing of that applies (the route
    without it: the caller plans no second, identical one)."""
    out = np.array([cand.approach[0], cand.approach[1], 0.0])
    level = float(np.linalg.norm(out))
    out /= max(level, 1e-9)
    plain = (out, STAGING_M, 0.0)
    if front is None:
        return plain
    n, c = front
    if level < 0.3:  # a top grasp: in level through the front, then down
        out = -n
    drawn_m = max(0.0, c + FRONT_CLEAR_M - float(n @ home.pos_m))
    staging_m = STAGING_M
    if float(n @ out) < -0.3:
        staging_m = max(staging_m, (c + FRONT_CLEAR_M - float(n @ cand.pre_grasp.pos_m)) / -float(n @ out))
    if level >= 0.3 and drawn_m == 0.0 and staging_m == STAGING_M:
        return None
    return out, staging_m, drawn_m


def _plan_with_grasp(ik: ArmIK, cand: GraspCandidate, target: ObjectBox, others: list[ObjectBox],
                     place_obj: np.ndarray, q_home: np.ndarray, home: Pose, dt: float,
                     on_segment: Callable[[], None], ceiling_z: float | None = None,
                     turn: np.ndarray | None = None, rim_z: float | None = None,
                     refuse: Callable[[Plan], str | None] | None = None,
                     front: tuple[np.ndarray, float] | None = None, segments: SegmentMemo | None = None) -> Plan:
    """The plan with this grasp (module docstring). `segments`: the planning call's memo of
    Cartesian segments (a new one when None). `refuse`: the scene check of a plan, asked
    of the approach as soon as it is planned (`ApproachRefused` when it refuses): most refused
    candidates are refused there, and the check of a plan's first phases is the check of the
    whole plan's up to their end (the same ticks, in the same order), so the answer is the same
    without planning the rest (a candidate whose later segments have no IK solution is now
    reported refused, by the check's reason, rather than by the IK's)."""
    grasp = cand.tcp
    turn = np.eye(3) if turn is None else turn
    segments = SegmentMemo() if segments is None else segments
    offset = grasp.pos_m - target.pos_m  # TCP relative to the object, kept while carrying (turned)
    place = Pose(place_obj + turn @ offset, turn @ grasp.rot)
    tcp_above_bottom = grasp.pos_m[2] - (target.pos_m[2] - 0.5 * float(np.abs(target.rot[2, :]) @ target.size_m))
    a, b = target.pos_m[:2], place_obj[:2]
    if ceiling_z is not None:  # on a shelf: what stands on other shelves is not in the way
        others = [o for o in others if o.aabb()[0][2] < ceiling_z and o.aabb()[1][2] > target.aabb()[0][2] + 0.005]
    # the corridor: the carried object's own horizontal radius (it turns on the way) and 3 cm
    tops = _tops_along(others, a, b, pad=max(0.08, 0.5 * float(np.linalg.norm(target.size_m[:2])) + 0.03))
    tops += [] if rim_z is None else [rim_z]  # into a container: over its rim
    over_neighbours = max(tops, default=-np.inf) + CARRY_CLEARANCE_M + tcp_above_bottom
    carry_z = max(grasp.pos_m[2] + LIFT_M, place.pos_m[2] + LIFT_M, over_neighbours)
    via: list[np.ndarray] = []  # on a shelf, when the object cannot pass over its neighbours: out and back in
    pull = 0.0
    if ceiling_z is not None:
        room = ceiling_z - CEILING_CLEARANCE_M - cand.headroom_m  # the highest TCP under the board above
        low = max(grasp.pos_m[2], place.pos_m[2]) + SHELF_LIFT_M
        if room < low:
            raise IKFailure(f"{cand.kind} grasp: no room under the shelf above to lift and carry "
                            f"({100 * (low - room):.0f} cm short)")
        carry_z = min(carry_z, room)
        if room < over_neighbours:  # slide it out in front of the row, along, and back in
            out_dir = _out_of_shelf(cand, target, ik.base_pos_m)
            pull = _pull_distance(target, others, out_dir, a, b)
            carry_z = min(room, max(grasp.pos_m[2], place.pos_m[2]) + LIFT_M)
            out = np.array([*(pull * out_dir), 0.0])
            via = [np.array([*(p[:2] + out[:2]), carry_z]) for p in (grasp.pos_m, place.pos_m)]
    lift = Pose(np.array([grasp.pos_m[0], grasp.pos_m[1], carry_z]), grasp.rot.copy())
    above_place = Pose(np.array([place.pos_m[0], place.pos_m[1], carry_z]), place.rot.copy())
    retreat = place.moved(-0.12 * cand.approach)

    opened = cand.open_command(ik.desc.gripper.stroke_per_finger_m)  # 0: fully open; pre-shaped: more
    qs, grips, phases = [q_home[None, :]], [np.full(1, opened)], ["start"]
    spans: dict[str, tuple[int, int]] = {}
    q, pose, gripper, tick = q_home, home, opened, 0
    stretch = 1.0

    def move(name: str, goal_pose: Pose, min_s: float = 0.4, joint_space: str = "never",
             q_goal: np.ndarray | None = None) -> None:
        """joint_space: "never" (Cartesian line), "always" (ruckig), "fallback" (ruckig if the line fails);
        `q_goal`: the joints at `goal_pose` when already solved (for a joint-space move)."""
        nonlocal q, pose, tick, stretch
        seg = None
        if joint_space != "always":
            try:
                seg = segments.plan_segment(ik, pose, goal_pose, q, dt, min_s, cand.needs_collision_avoidance)
                stretch = max(stretch, len(seg) / nominal_ticks(pose, goal_pose, dt, min_s))
            except IKFailure:
                if joint_space == "never":
                    raise
        if seg is None:
            if q_goal is None:
                res = ik.solve(goal_pose.pos_m, goal_pose.rot, q, avoid_obstacles=cand.needs_collision_avoidance)
                if not res.ok():
                    raise IKFailure(f"{name}: goal pose unreachable ({res.position_error_m * 1000:.1f} mm)")
                q_goal = res.q_rad
            seg = joint_segment(q, q_goal, ik.desc, dt, min_s)
        on_segment()
        qs.append(seg)
        grips.append(np.full(len(seg), gripper))
        phases.extend([name] * len(seg))
        spans[name] = (spans[name][0] if name in spans else tick + 1, tick + len(seg))  # repeated: one span
        tick += len(seg)
        q, pose = seg[-1], goal_pose

    def hold(name: str, ticks: int, new_gripper: float) -> None:
        nonlocal gripper, tick
        gripper = new_gripper
        grips[-1][-1] = new_gripper  # the command changes at the start of the hold
        qs.append(np.repeat(q[None, :], ticks, axis=0))
        grips.append(np.full(ticks, gripper))
        phases.extend([name] * ticks)
        spans[name] = (tick + 1, tick + ticks)
        tick += ticks

    def shelf_approach(route: tuple[np.ndarray, float, float]) -> None:
        """Into a shelf: in front of it first, then straight in under the board above, by `route`
        (`_shelf_route`): the staging pose's direction and distance out of the pre-grasp, and how
        far the hand is first drawn out of the furniture, after a lift (0: neither)."""
        out, staging_m, drawn_m = route
        if drawn_m > 0.0:  # up, then out
            lift = np.array([0.0, 0.0, FRONT_CLEAR_M])
            move("approach", Pose(pose.pos_m + lift, pose.rot), joint_space="fallback")
            move("approach", Pose(pose.pos_m + drawn_m * front[0], pose.rot), joint_space="fallback")
        staging = cand.pre_grasp.moved(-staging_m * out)
        try:
            move("approach", staging, joint_space="fallback")
        except IKFailure:  # no staging pose from the start: one on the line out of the pre-grasp, nearer
            q_stage = None  # (the hand pitched down cannot come close to the base)
            for dist in (staging_m, *STAGING_NEAR_M):
                staging = cand.pre_grasp.moved(-dist * out)
                try:
                    q_stage = segments.plan_segment(ik, cand.pre_grasp, staging, cand.q_pre, dt, 0.4,
                                                    cand.needs_collision_avoidance)[-1]
                    break
                except IKFailure:
                    continue
            if q_stage is None:
                raise
            move("approach", staging, joint_space="always", q_goal=q_stage)
        move("approach", cand.pre_grasp, 0.4, joint_space="fallback", q_goal=cand.q_pre)

    def approach_refused() -> str | None:
        return None if refuse is None else refuse(
            Plan(q=np.vstack(qs), gripper=np.concatenate(grips), phase=list(phases), grasp=cand,
                 place_object_pos_m=place_obj, carry_tcp_z_m=float(carry_z), phase_ticks=dict(spans),
                 slide_out_m=float(pull)))

    if ceiling_z is None:
        move("approach", cand.pre_grasp, joint_space="always", q_goal=cand.q_pre)  # check_reachable solved it from home
        why = approach_refused()
    else:
        shelf_approach(_shelf_route(cand, home, None))
        why = approach_refused()
        outside = _shelf_route(cand, home, front) if why is not None and front is not None else None
        if outside is not None:  # once more from out of the furniture's front, when that differs
            del qs[1:], grips[1:], phases[1:]
            spans.clear()
            q, pose, tick, stretch = q_home, home, 0, 1.0
            try:
                shelf_approach(outside)
            except IKFailure:
                raise ApproachRefused(why) from None
            if approach_refused() is None:
                why = None  # else the first route's reason is reported
    checked = -1
    if refuse is not None:
        if why is not None:
            raise ApproachRefused(why)
        checked = tick
    move("descend", grasp, 0.6)
    hold("close", GRIPPER_TICKS, 1.0)
    move("lift", lift, 0.6)
    if via:  # out and back in along straight lines; along the front, a joint-space move if need be
        move("transport", Pose(via[0], grasp.rot.copy()), SLIDE_S)
        move("transport", Pose(via[1], place.rot.copy()), SLIDE_S, joint_space="fallback")
        move("transport", above_place, SLIDE_S)
    else:
        move("transport", above_place, joint_space="fallback")
    move("lower", place, 0.6)
    hold("release", GRIPPER_TICKS, opened)
    move("retreat", retreat, 0.5)
    hold("settle", SETTLE_TICKS, opened)
    return Plan(q=np.vstack(qs), gripper=np.concatenate(grips), phase=phases, grasp=cand,
                place_object_pos_m=place_obj, carry_tcp_z_m=float(carry_z), phase_ticks=spans, slide_out_m=float(pull),
                checked_through=checked, stretch=stretch)
