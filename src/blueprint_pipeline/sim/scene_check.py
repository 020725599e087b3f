"""Whole-arm checks of grasps, plans and start poses against the scene (`SceneCheck`), with
MuJoCo's own collision detection: every family's planner asks it before a plan is accepted."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import mujoco
import numpy as np

from blueprint_pipeline.sim.episode import _Indices, _scratch_data
from blueprint_pipeline.sim.grasp import GraspCandidate
from blueprint_pipeline.sim.ik import ACCEPT_M, ACCEPT_RAD
from blueprint_pipeline.sim.margins import raised_margins
from blueprint_pipeline.sim.planner import Plan
from blueprint_pipeline.sim.scene_builder import SimScene

START_TARGET_CLEARANCE_M = 0.02  # a drawn start keeps the hand this far from the target (SceneCheck.start_pose)
GRASP_CLEARANCE_M = 0.003  # at pre-grasp and grasp the hand and arm keep this far from everything but the target
PLAN_CLEARANCE_M = 0.001  # and along the planned motion (placing next to a neighbour is close work)
SUPPORT_TOLERANCE_M = 0.002  # finger tips (and the carried object) may touch a support this deep
PLAN_CHECK_EVERY = 3  # ticks between the planned configurations checked against the scene
# ... unless a joint's path between two of them, times the arm's reach, is longer than this (every
# tick between them is then checked)
PLAN_SWEEP_M = 0.02
_CARRIED = ("lift", "transport", "lower")


# `SceneCheck._hit`'s rule for one contact depends on what each of its two geoms is and how deep
# it is: a geom's class is a set of these bits, a contact's depth class a set of the next three
_ROBOT, _MOVING, _ON_FLOOR, _FLOOR, _TARGET, _SUPPORT, _ARM = _CLASS_BITS = tuple(1 << k for k in range(7))
_DEEPER_THAN_TOL, _PENETRATING, _PAST_TOL = 1, 2, 4  # dist <= -SUPPORT_TOLERANCE_M, dist < 0, dist < -SUPPORT_TOLERANCE_M


def _refused(c1, c2, depth, part: bool, carried: bool, placed: bool):
    """Whether a contact between geoms of classes `c1` and `c2` (robot, moving link, link that may
    sit on the floor, the floor, target, target's support, arm but hand) at depth class `depth`
    refuses a posed state (arrays broadcast): the robot against anything but the target (its
    supports within SUPPORT_TOLERANCE_M), but its base link (and a floor-mounted shoulder on the
    floor); with a held part (`part`) or a carried object, the arm but its hand touching the target;
    before the grasp and after the release (`placed`), the robot touching the target; a carried
    target sunk more than the tolerance into anything but the robot and its supports."""
    def has(c, bit):
        return (c & bit) != 0

    r1, r2 = has(c1, _ROBOT), has(c2, _ROBOT)
    tolerated = ~has(depth, _DEEPER_THAN_TOL)
    base_link = (r1 & ~has(c1, _MOVING)) | (r2 & ~has(c2, _MOVING))
    base_link |= (has(c1, _FLOOR) & has(c2, _ON_FLOOR)) | (has(c2, _FLOOR) & has(c1, _ON_FLOOR))
    other = np.where(r1, c2, c1)
    bad = (r1 != r2) & ~base_link & ~has(other, _TARGET) & ~(has(other, _SUPPORT) & tolerated)
    if part or carried:
        bad |= ((has(c1, _ARM) & has(c2, _TARGET)) | (has(c2, _ARM) & has(c1, _TARGET))) & has(depth, _PENETRATING)
    if placed:
        bad |= ((r1 & has(c2, _TARGET)) | (r2 & has(c1, _TARGET))) & has(depth, _PENETRATING)
    if carried:
        t1, t2 = has(c1, _TARGET), has(c2, _TARGET)
        other_t = np.where(t1, c2, c1)
        bad |= (t1 != t2) & ~has(other_t, _ROBOT) & has(depth, _PAST_TOL) & ~has(other_t, _SUPPORT)
    return bad


def _colliding(contype1, conaffinity1, contype2, conaffinity2) -> np.ndarray:
    """Whether MuJoCo's contype/conaffinity rule lets geoms 1 and 2 collide (arrays broadcast):
    the one place this module writes the rule."""
    return ((contype1 & conaffinity2) != 0) | ((contype2 & conaffinity1) != 0)


def _pairs(contype: np.ndarray, conaffinity: np.ndarray) -> np.ndarray:
    """`_colliding` for every pair of geoms: [ngeom, ngeom] booleans."""
    return _colliding(contype[:, None], conaffinity[:, None], contype[None, :], conaffinity[None, :])


def _held_bits(contype: np.ndarray, conaffinity: np.ndarray, hand: np.ndarray,
               target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Collision bits, from those of a check (`contype`, `conaffinity`), under which no geom of
    the hand meets the target and every other pair is as before: (geoms, their contype, their
    conaffinity). The target's geoms collide through a bit no geom uses: it is their contype, and
    it joins their conaffinity and that of every geom but the hand's that met them (the arm's
    links among them); their conaffinity loses the hand's contype bits. None when no bit is free
    or any other pair would change (verified pair by pair; MuJoCo's filter by bodies, compiled
    from the geoms' own bits, only lets through what it did)."""
    used = int(np.bitwise_or.reduce(np.concatenate([contype, conaffinity])))
    free = [b for b in range(31) if not used >> b & 1]
    if not free or not target.any() or not len(hand):
        return None
    bit = np.array(1 << free[0], dtype=contype.dtype)
    is_hand = np.zeros(len(contype), bool)
    is_hand[hand] = True
    before = _pairs(contype, conaffinity)
    ct, aff = contype.copy(), conaffinity.copy()
    met = before[target].any(axis=0) & ~is_hand  # what met the target, but the hand
    ct[target] = bit
    aff[target] &= ~np.bitwise_or.reduce(contype[hand])
    aff[met | target] |= bit
    want = before.copy()
    want[np.ix_(is_hand, target)] = want[np.ix_(target, is_hand)] = False
    if not np.array_equal(_pairs(ct, aff), want):
        return None
    changed = np.flatnonzero((ct != contype) | (aff != conaffinity))
    return changed, ct[changed], aff[changed]


class _Switch:
    """Collision bits (`_held_bits`: geoms, contype, conaffinity) set while `set(True)` and the
    model's own back on `set(False)` and on leaving the block; nothing with None."""

    def __init__(self, model: mujoco.MjModel, bits: tuple[np.ndarray, np.ndarray, np.ndarray] | None):
        self.model, self.bits = model, bits
        self.saved: tuple[np.ndarray, np.ndarray] | None = None

    def set(self, on: bool) -> None:
        if self.bits is None or on == (self.saved is not None):
            return
        m, (geoms, contype, conaffinity) = self.model, self.bits
        if on:
            self.saved = m.geom_contype[geoms].copy(), m.geom_conaffinity[geoms].copy()
            m.geom_contype[geoms], m.geom_conaffinity[geoms] = contype, conaffinity
        else:
            m.geom_contype[geoms], m.geom_conaffinity[geoms] = self.saved
            self.saved = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.set(False)


@functools.cache
def _rule_table(part: bool, carried: bool, placed: bool) -> np.ndarray:
    """`_refused` for every pair of geom classes and every depth class: [128, 128, 8] booleans."""
    classes, depths = np.arange(1 << len(_CLASS_BITS)), np.arange(8)
    return _refused(classes[:, None, None], classes[None, :, None], depths[None, None, :], part, carried, placed)


class SceneCheck:
    """Whole-arm checks of grasps and plans against the scene as it is now (`d`), with MuJoCo's own
    collision detection on a scratch copy and the robot geoms' margin raised to
    GRASP_CLEARANCE_M (PLAN_CLEARANCE_M for plans) for the duration of a check (restored after):
    - `grasp(candidate)`: the arm at the pre-grasp and the grasp (fingers open) against every geom
      but the target's (the target's supports within SUPPORT_TOLERANCE_M); also records how far the
      hand rises above the TCP there (`headroom_m`, for lifting under a shelf), and on a shelf
      how far the arm's links inside the furniture's front do (`_links_top_inside`);
    - `plan(plan)`: every PLAN_CHECK_EVERY-th planned configuration, with the target carried
      rigidly by the hand from lift to lower; neither arm nor carried object may meet anything
      but the target and, within the tolerance, its start and goal supports; a free target may
      not be touched during the joint-space approach and after the release either (an open
      finger sweeping a placed box into its neighbour blew the kitchen's spoon box up). A drawer
      or door moves with the plan (`Plan.part_q`), and only the hand may touch it;
    - `start_pose(q)`: the arm at a drawn start touches nothing, the target included.
    Each returns why it refuses (the object met, by id) or None."""

    def __init__(self, sim: SimScene, d: mujoco.MjData, ix: _Indices, target: str, goal_support: str | None):
        # what the checks know of the scene depends on the target and the goal's support only:
        # laid out once per scene and pair (the episodes' planners ask for a check twice an
        # episode, and laying it out took 0.8 ms on the meshed kitchen), shared read-only
        layouts = sim.__dict__.setdefault("_scene_check_layouts", {})
        if (target, goal_support) not in layouts:
            self._lay_out(sim, ix, target, goal_support)
            for v in self.__dict__.values():
                if isinstance(v, np.ndarray):
                    v.flags.writeable = False
            layouts[target, goal_support] = dict(self.__dict__)
        self.__dict__.update(layouts[target, goal_support])
        self.sim, self.d, self.ix, self.target = sim, d, ix, target

    def _lay_out(self, sim: SimScene, ix: _Indices, target: str, goal_support: str | None) -> None:
        m = sim.model
        self.target_mask = np.zeros(m.ngeom, bool)
        self.target_mask[sim.object_geom_ids(target)] = True
        try:  # a drawer's or door's handle is part of what the hand is meant to touch, its carcass is not
            self.target_mask[m.geom(SimScene.handle_geom_name(target)).id] = True
            self.target_mask[m.geom(SimScene.carcass_name(target)).id] = False
        except KeyError:
            pass
        self.support_mask = np.zeros(m.ngeom, bool)
        for sup in {sim.support_of.get(target), goal_support} - {None}:
            self.support_mask[sim.object_geom_ids(sup)] = True
        self.owner = {g: oid for oid in sim.dynamic_ids + sim.fixed_ids + sim.articulated_ids
                      for g in sim.object_geom_ids(oid)}
        # the robot's geoms, but its fixed base link (which stands on the floor or its pedestal)
        self.moving = ix.robot_geom & (m.geom_bodyid != m.body(sim.names.base_body).id)
        self.floor = m.geom("floor").id
        # what of the robot may touch the floor plane: its base and the link its first joint turns
        # (an arm mounted on the floor sits on it); the upper arm, forearm and hand may not (a
        # UR10's upper arm planned 23 cm into the floor on its way to a bottom shelf had passed)
        shoulder = m.jnt_bodyid[m.joint(sim.names.joints[0]).id]
        self.on_floor = ix.robot_geom & np.isin(m.geom_bodyid, [m.body(sim.names.base_body).id, shoulder])
        # what the hand alone may meet at a grasp (`hand_at_grasp`): everything but the robot and the target
        self._scene_geoms = np.flatnonzero(~ix.robot_geom & ~self.target_mask)
        self.robot = np.flatnonzero(ix.robot_geom)
        hand_bodies = [m.body(b).id for b in (sim.names.hand_body, f"{sim.robot.name}_finger_left_body",
                                              f"{sim.robot.name}_finger_right_body")]
        self.hand = np.flatnonzero(np.isin(m.geom_bodyid, hand_bodies))
        # on a shelf: its open front, the board above, and the arm's links (`_links_top_inside`)
        level = sim.shelf_level(target) if target in sim.dynamic_ids else None
        self.front = sim.shelf_front(target) if level is not None else None
        self.ceiling = level.ceiling_m if level is not None else np.inf
        self.links = np.flatnonzero(self.moving & (m.geom_type == mujoco.mjtGeom.mjGEOM_CAPSULE))
        self._arm = ix.robot_geom.copy()  # the robot but its hand: what may not touch a held part
        self._arm[self.hand] = False
        # geoms that are neither the robot's nor the target's: what they meet among themselves
        # (the clutter on its supports) is never a reason to refuse, so `_checking` keeps MuJoCo
        # from computing it (`_idle`); only those whose pairs with the robot and the target stay
        # as they are with their contype 0
        idle = np.flatnonzero(~ix.robot_geom & ~self.target_mask & (m.geom_contype != 0))
        kept = np.flatnonzero(ix.robot_geom | self.target_mask)
        ct, aff = m.geom_contype, m.geom_conaffinity
        lost = ((ct[idle][:, None] & aff[kept][None, :]) != 0) & ((ct[kept][None, :] & aff[idle][:, None]) == 0)
        self._idle = idle[~lost.any(axis=1)]
        # the target's supports (where it stands and where it goes): `_hit` never refuses a
        # contact between the target and one of them (`_refused`; tests/test_episodes.py), so
        # `_checking` also takes the target's collision bits out of their conaffinity (`_quiet`)
        # wherever that changes no pair but theirs with the target: a meshed mug's 22 pieces on
        # the counter were 10-16 us of a check's 15-24 us of mj_collision
        checked_ct = ct.copy()
        checked_ct[self._idle] = 0
        target_bits = int(np.bitwise_or.reduce(ct[self.target_mask])) if self.target_mask.any() else 0
        quiet, quiet_aff = [], []
        for g in np.flatnonzero(self.support_mask & ~self.target_mask & ~ix.robot_geom):
            new = int(aff[g]) & ~target_bits
            before = _colliding(checked_ct[g], aff[g], checked_ct, aff)
            after = _colliding(checked_ct[g], new, checked_ct, aff)
            if new != aff[g] and np.array_equal(before[~self.target_mask], after[~self.target_mask]):
                quiet.append(g)
                quiet_aff.append(new)
        self._quiet, self._quiet_aff = np.array(quiet, dtype=int), np.array(quiet_aff, dtype=aff.dtype)
        # the hand's pairs with the target: `_hit` refuses them only where the robot may not touch
        # the target (`placed`: on the approach and after the release), so `plan` switches them off
        # at its other ticks (`_Switch`). A carried meshed mug's pieces against the closed fingers
        # were 14 contacts at every carried tick, most of such a tick's 35 us
        checked_aff = aff.copy()
        checked_aff[self._quiet] = self._quiet_aff
        self._held = _held_bits(checked_ct, checked_aff, self.hand, self.target_mask)
        self.tqadr = sim.free_qpos_adr(target)
        # a drawer or door: its joint moves with the plan, and only the hand may touch it
        self.part_qadr = self.tqadr if target in sim.articulated_ids else None
        floor = np.zeros(m.ngeom, bool)
        floor[self.floor] = True
        self._geom_class = np.zeros(m.ngeom, np.uint8)  # `_hit`'s classes of the geoms (_CLASS_BITS)
        for bit, mask in zip(_CLASS_BITS, (ix.robot_geom, self.moving, self.on_floor, floor, self.target_mask,
                                           self.support_mask, self._arm), strict=True):
            self._geom_class[mask] |= bit

    def _pose(self, scratch: mujoco.MjData, q_arm: np.ndarray, fingers_m: float, part_q: float | None = None) -> None:
        qpos = scratch.qpos
        qpos[:] = self.d.qpos
        qpos[self.ix.arm_qadr_at] = q_arm
        qpos[self.ix.finger_qadr_at] = fingers_m
        if part_q is not None and self.part_qadr is not None:
            qpos[self.part_qadr] = part_q
        mujoco.mj_kinematics(self.sim.model, scratch)

    def _hit(self, scratch: mujoco.MjData, carried: bool, placed: bool = False) -> str | None:
        """What the robot (or the carried object) meets at the posed state, by `_refused`'s rule,
        or None. The rule is looked up per contact in a table of geom classes and depth classes
        (`_rule_table`): the same answers as evaluating it contact by contact with two dozen array
        operations, which this replaces (UR10 corpus, 211,603 calls in one process, all answers
        equal: 4.3 s before, 3.3 s after, mj_collision included)."""
        m = self.sim.model
        mujoco.mj_collision(m, scratch)
        n = scratch.ncon
        if n == 0:
            return None
        g1, g2 = scratch.contact.geom[:n, 0], scratch.contact.geom[:n, 1]
        dist = scratch.contact.dist[:n]
        depth = ((dist <= -SUPPORT_TOLERANCE_M) * _DEEPER_THAN_TOL | (dist < 0.0) * _PENETRATING
                 | (dist < -SUPPORT_TOLERANCE_M) * _PAST_TOL)
        bad = _rule_table(self.part_qadr is not None, carried, placed)[self._geom_class[g1], self._geom_class[g2], depth]
        if not bad.any():
            return None
        k = int(np.flatnonzero(bad)[0])
        a, b = int(g1[k]), int(g2[k])
        g = b if self.ix.robot_geom[a] else a  # what the robot met
        if carried and self.target_mask[a] != self.target_mask[b]:
            g = b if self.target_mask[a] else a  # what the carried object met
        if self.ix.robot_geom[g]:
            return f"the robot's {m.body(int(m.geom_bodyid[g])).name}"
        return self.owner.get(g, m.geom(g).name)

    @contextmanager
    def _checking(self, clearance_m: float = GRASP_CLEARANCE_M) -> Iterator[None]:
        """For the duration of a check: the robot geoms' margin raised to `clearance_m`, and the
        contype of every geom neither the robot's nor the target's set to 0 (its conaffinity
        kept; `_idle`: those whose pairs with the robot and the target stay), so mj_collision
        computes the pairs with the robot or the target in them as before and skips the pairs
        `_hit` never counts: the meshed
        kitchen's bowl, 32 convex pieces resting on the counter, was 32 narrow-phase pairs at
        every checked tick; and the target's supports' conaffinity without the target's bits
        (`_quiet`: their pairs with the target, which `_hit` never counts, are skipped too).
        All restored after."""
        m = self.sim.model
        contype = m.geom_contype[self._idle].copy()
        affinity = m.geom_conaffinity[self._quiet].copy()
        m.geom_contype[self._idle] = 0
        m.geom_conaffinity[self._quiet] = self._quiet_aff
        try:
            with raised_margins(m, self.robot, clearance_m):
                yield
        finally:
            m.geom_contype[self._idle] = contype
            m.geom_conaffinity[self._quiet] = affinity

    def start_pose(self, q_arm: np.ndarray) -> str | None:
        """Why the arm at `q_arm` (fingers open) would not do as a start, or None: it meets
        something (the target too), or the hand is within START_TARGET_CLEARANCE_M of the target
        (a closing starts 10 cm off its handle: a start drawn closer swings the fingers onto it)."""
        m, scratch = self.sim.model, _scratch_data(self.sim)
        with self._checking():
            self._pose(scratch, q_arm, self.sim.robot.gripper.stroke_per_finger_m)
            hit = self._hit(scratch, carried=False, placed=True)
        if hit is not None:
            return f"the hand or arm meets {hit}"
        near = START_TARGET_CLEARANCE_M
        for g in self.hand:
            for t in np.flatnonzero(self.target_mask):
                if mujoco.mj_geomDistance(m, scratch, int(g), int(t), near, None) < near:
                    return f"the hand is within {near * 100:.0f} cm of {self.target}"
        return None

    def hand_at_grasp(self, cand: GraspCandidate) -> str | None:
        """Why the hand alone, at the candidate's pre-grasp and grasp poses with its fingers open
        as the candidate holds them, would meet the scene (as `grasp` judges the hand), or None:
        `hand_at` with GRASP_CLEARANCE_M. A candidate blocked at the hand (a book in a row, a can
        under a board) is refused before its IK is solved."""
        opening = self.sim.robot.gripper.stroke_per_finger_m if cand.open_m is None else cand.open_m
        return self.hand_at((cand.pre_grasp, cand.tcp), opening, GRASP_CLEARANCE_M)

    def hand_at(self, poses, opening_m: float, clearance_m: float = PLAN_CLEARANCE_M) -> str | None:
        """Why the hand alone, its TCP at each of `poses` and each finger `opening_m` open, would
        meet anything but the target (its supports within SUPPORT_TOLERANCE_M), or None. Needs no
        IK: the hand's geoms are placed at the poses directly (its shape about the TCP does not
        depend on the arm). The clearance is `clearance_m` (the check the plan will face: `grasp`'s
        or `plan`'s) less the most an accepted IK solution can move a point of the hand
        (ik.ACCEPT_M, plus ik.ACCEPT_RAD times the hand's farthest reach from the TCP; negative:
        an overlap that deep), so it refuses only what that check would refuse once the arm is
        there. The geoms so placed are measured pair by pair (`mj_geomDistance`, after a
        bounding-sphere sieve): MuJoCo's broad phase keeps the bodies' boxes from the last
        kinematics and would miss them."""
        m, scratch, ix = self.sim.model, _scratch_data(self.sim), self.ix
        self._pose(scratch, self.d.qpos[ix.arm_qadr], opening_m)
        tcp_pos, tcp_rot = scratch.site_xpos[ix.tcp].copy(), scratch.site_xmat[ix.tcp].reshape(3, 3).copy()
        rel_pos = (scratch.geom_xpos[self.hand] - tcp_pos) @ tcp_rot  # each geom in the TCP's frame
        rel_rot = np.einsum("ji,njk->nik", tcp_rot, scratch.geom_xmat[self.hand].reshape(-1, 3, 3))
        lever = float(np.max(np.linalg.norm(rel_pos, axis=1) + m.geom_rbound[self.hand]))
        clearance = clearance_m - ACCEPT_M - ACCEPT_RAD * lever
        others = self._scene_geoms
        centres = scratch.geom_xpos[others]
        reach = m.geom_rbound[others] + max(clearance, 0.0)
        for pose in poses:
            scratch.geom_xpos[self.hand] = pose.pos_m + rel_pos @ pose.rot.T
            scratch.geom_xmat[self.hand] = np.einsum("ij,njk->nik", pose.rot, rel_rot).reshape(-1, 9)
            for h in self.hand:
                gap = np.linalg.norm(centres - scratch.geom_xpos[h], axis=1) - reach - m.geom_rbound[h]
                near = others[(gap < 0.0) | (m.geom_rbound[others] == 0.0)]  # planes have no bound
                for g in near[self._collides(h, near)]:
                    dist = mujoco.mj_geomDistance(m, scratch, int(h), int(g), max(clearance, 0.0) + 0.01, None)
                    if dist >= clearance or (self.support_mask[g] and dist > min(-SUPPORT_TOLERANCE_M, clearance)):
                        continue
                    return f"the hand meets {self.owner.get(int(g), m.geom(int(g)).name)}"
        return None

    def _collides(self, g: int, others: np.ndarray) -> np.ndarray:
        """Which of `others` geom `g` collides with (MuJoCo's contype/conaffinity rule)."""
        m = self.sim.model
        return _colliding(m.geom_contype[g], m.geom_conaffinity[g],
                          m.geom_contype[others], m.geom_conaffinity[others])

    def _links_top_inside(self, scratch: mujoco.MjData) -> float:
        """The highest point of the arm's capsules (its links) inside the open front of the
        furniture the target stands in and under the board above it (-inf: none): a UR10's
        forearm lies level over its wrist at a top grasp, and lifting the hand lifts it too.
        Each capsule is cut where its surface leaves the furniture: at the front plane moved
        out by its radius."""
        m = self.sim.model
        n, c = self.front
        best = -np.inf
        for g in self.links:
            r, half = m.geom_size[g, 0], m.geom_size[g, 1]
            axis = scratch.geom_xmat[g].reshape(3, 3)[:, 2] * half
            p0, p1 = scratch.geom_xpos[g] - axis, scratch.geom_xpos[g] + axis
            d0, d1 = float(n @ p0) - (c + r), float(n @ p1) - (c + r)
            if d0 > 0 and d1 > 0:
                continue  # wholly in front of the furniture
            if d0 > 0 or d1 > 0:  # cut at the front plane
                cut = p0 + (d0 / (d0 - d1)) * (p1 - p0)
                p0, p1 = (cut, p1) if d0 > 0 else (p0, cut)
            low, high = min(p0[2], p1[2]) - r, max(p0[2], p1[2]) + r
            if low < self.ceiling:
                best = max(best, high)
        return best

    def grasp(self, cand: GraspCandidate) -> str | None:
        m, scratch = self.sim.model, _scratch_data(self.sim)
        with self._checking():
            opening = self.sim.robot.gripper.stroke_per_finger_m if cand.open_m is None else cand.open_m
            for q in (cand.q_pre, cand.q_grasp):
                self._pose(scratch, q, opening)
                hit = self._hit(scratch, carried=False)
                if hit is not None:
                    return f"the hand or arm meets {hit}"
            rot = scratch.geom_xmat[self.hand].reshape(-1, 3, 3)  # at the grasp: the hand's top
            centre = scratch.geom_xpos[self.hand] + np.einsum("nij,nj->ni", rot, m.geom_aabb[self.hand, :3])
            top = centre[:, 2] + np.einsum("nj,nj->n", np.abs(rot[:, 2, :]), m.geom_aabb[self.hand, 3:])
            if self.front is not None:  # and of the arm's links inside the furniture, under the board above
                top = np.append(top, self._links_top_inside(scratch))
            cand.headroom_m = float(np.max(top) - scratch.site_xpos[self.ix.tcp][2])
        return None

    def plan(self, plan: Plan) -> str | None:
        m, scratch, ix = self.sim.model, _scratch_data(self.sim), self.ix
        stroke = self.sim.robot.gripper.stroke_per_finger_m
        carried = np.isin(np.array(plan.phase), _CARRIED)
        rel_pos, rel_rot = np.zeros(3), np.eye(3)
        if carried.any():  # the carried object's pose in the hand (pick_place)
            self._pose(scratch, plan.q[plan.phase_ticks["close"][1]], stroke)
            tcp_pos, tcp_rot = scratch.site_xpos[ix.tcp].copy(), scratch.site_xmat[ix.tcp].reshape(3, 3).copy()
            obj_pos = self.d.qpos[self.tqadr:self.tqadr + 3].copy()
            obj_rot = np.zeros(9)
            mujoco.mju_quat2Mat(obj_rot, self.d.qpos[self.tqadr + 3:self.tqadr + 7])
            rel_pos = tcp_rot.T @ (obj_pos - tcp_pos)
            rel_rot = tcp_rot.T @ obj_rot.reshape(3, 3)
        last_carried = int(np.flatnonzero(carried)[-1]) if carried.any() and self.part_qadr is None else None
        placed: np.ndarray | None = None  # the target's qpos where the plan lets go of it
        # every PLAN_CHECK_EVERY-th tick of the plan and, counted from its start, of each phase,
        # plus each phase's end: a phase is checked at the same ticks whatever precedes it (a plan
        # moved behind a return from a drawn start, planner.from_start, was checked at other ticks
        # than the probe's, and an opening whose hand grazed a dresser between the probe's ticks
        # passed the probe and then failed every episode)
        ticks = set(range(0, plan.n_ticks + 1, PLAN_CHECK_EVERY)) | {plan.n_ticks}
        ticks |= {last_carried} if last_carried is not None else set()
        for a, b in plan.phase_ticks.values():
            ticks |= set(range(a, min(b, plan.n_ticks) + 1, PLAN_CHECK_EVERY)) | {min(b, plan.n_ticks)}
        ticks = sorted(ticks)
        # where the arm moves fast (a joint-space move), every tick between two checked ones too:
        # a UR10 finger passed a shelf's corner 3 mm deep at a tick between two checked ones, and
        # the shelf then held the wrist back until it broke free at 30 rad/s (sim_unstable)
        # (gaps wholly within the part checked already add nothing)
        reach = self.sim.robot.reach_m
        step = np.abs(np.diff(plan.q, axis=0))  # each joint's change from tick to tick
        gaps = np.array([(a, b) for a, b in zip(ticks, ticks[1:]) if b - a > 1 and b - 1 > plan.checked_through],
                        dtype=int).reshape(-1, 2)
        fast: list[int] = []
        for n in np.unique(gaps[:, 1] - gaps[:, 0]):  # the gaps of each length together
            starts = gaps[gaps[:, 1] - gaps[:, 0] == n, 0]
            swept = step[starts].copy()  # step[a:b].sum(axis=0): its rows added in order
            for j in range(1, n):
                swept += step[starts + j]
            moved = starts[reach * swept.max(axis=1) > PLAN_SWEEP_M].tolist()
            fast += [k for a in moved for k in range(a + 1, a + int(n))]
        ticks = [k for k in sorted(set(ticks) | set(fast)) if k > plan.checked_through]  # the rest passed already
        held = _Switch(m, self._held)  # the hand's pairs with the target, where `_hit` never counts them
        with self._checking(PLAN_CLEARANCE_M), held:
            for k in ticks:
                closed = plan.gripper[k] > 0.5 or carried[k]
                shut = carried[k] or (closed and plan.holds)  # on the target: posed closed
                self._pose(scratch, plan.q[k], 0.0 if shut else stroke * (1.0 - float(plan.gripper[k])),
                           None if plan.part_q is None else float(plan.part_q[k]))
                if carried[k]:
                    r = scratch.site_xmat[ix.tcp].reshape(3, 3)
                    quat = np.zeros(4)
                    mujoco.mju_mat2Quat(quat, (r @ rel_rot).reshape(9))
                    scratch.qpos[self.tqadr:self.tqadr + 3] = scratch.site_xpos[ix.tcp] + r @ rel_pos
                    scratch.qpos[self.tqadr + 3:self.tqadr + 7] = quat
                    mujoco.mj_kinematics(m, scratch)
                    if k == last_carried:
                        placed = scratch.qpos[self.tqadr:self.tqadr + 7].copy()
                elif closed and plan.holds and self.part_qadr is None:
                    continue  # closing on a free target: the fingers are meant to touch it
                # (a drawer or door is checked while held: the arm must clear the swinging part)
                elif placed is not None:
                    scratch.qpos[self.tqadr:self.tqadr + 7] = placed
                    mujoco.mj_kinematics(m, scratch)
                # a free target is not touched before the grasp or after the release (a drawer's or
                # door's handle may be brushed on the way: the part's own motion is checked above)
                untouched = self.part_qadr is None and (plan.phase[k] == "approach" or (placed is not None
                                                                                         and not carried[k]))
                held.set(not untouched)
                hit = self._hit(scratch, carried=bool(carried[k]), placed=untouched)
                if hit is not None:
                    what = "the carried object or the arm" if carried[k] else "the hand or arm"
                    return f"{what} meets {hit} while {plan.phase[k]}"
        return None
