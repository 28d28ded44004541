"""Action programs: joint motion over time plus the per-part states that describe it.

An action is a program that appends *phases* to a person's timeline until the video is full. A phase
has a random duration, the motions that drive the skeleton (:mod:`~partparse.data.synthetic.motions`)
and the state of each body part while it lasts (parts left out are ``none``). Programs draw
per-person *variants* (which hand waves, whether the feet go on tiptoe, whether the hips twist), so
the video-level majority state of a part varies between videos of one action, and states are shared
between actions: the part states are not the action renamed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from partparse.data.synthetic import motions as m
from partparse.data.synthetic.motions import Motion, PoseTrack
from partparse.data.vocabulary import BODY_PARTS, NO_STATE, coarse_part

#: States of each coarse part ("none" = no movement first).
PART_STATES: dict[str, tuple[str, ...]] = {
    "head": ("none", "nod", "turn", "lower"),
    "hand": ("none", "wave", "clap", "fist"),
    "arm": ("none", "raise", "swing", "bend", "stretch"),
    "hip": ("none", "bend", "twist", "lower"),
    "leg": ("none", "bend", "lift", "kick", "step", "jump"),
    "foot": ("none", "step_on", "kick", "tiptoe", "lift"),
}
_SIDE = {"l": "left", "r": "right"}
_PART_COLUMN = {name: i for i, name in enumerate(BODY_PARTS)}
#: Time constant of the joints' lag behind the programmed targets (seconds): softens phase changes.
JOINT_LAG_S = 0.05


def all_states() -> tuple[str, ...]:
    """Every part state, ``none`` first then alphabetical (the ``list/part_stat.txt`` order)."""
    names = {s for states in PART_STATES.values() for s in states}
    return (NO_STATE,) + tuple(sorted(names - {NO_STATE}))


@dataclass
class Schedule:
    """One person's programme over a video: ``pose`` ``(T, P)`` (see skeleton.POSE_PARAMS) and
    ``states`` ``(T, 10)`` part states in BODY_PARTS order."""

    pose: np.ndarray
    states: np.ndarray


def _expand(states: Mapping[str, str]) -> dict[str, str]:
    """State keys are body parts, coarse parts (both sides) or ``l_arm``-style side prefixes."""
    out: dict[str, str] = {}
    for key, state in states.items():
        if key[:2] in ("l_", "r_"):
            names = [f"{_SIDE[key[0]]}_{key[2:]}"]
        elif key in _PART_COLUMN:
            names = [key]
        else:
            names = [p for p in BODY_PARTS if coarse_part(p) == key]
        for name in names:
            if name not in _PART_COLUMN or state not in PART_STATES[coarse_part(name)]:
                raise ValueError(f"bad part state {key}={state!r}")
            out[name] = state
    return out


def limb(sides: str, coarse: str, state: str) -> dict[str, str]:
    """``limb('lr', 'arm', 'raise')`` -> ``{'l_arm': 'raise', 'r_arm': 'raise'}``."""
    return {f"{s}_{coarse}": state for s in sides}


class Program:
    """Builds one person's :class:`Schedule`; action functions call :meth:`phase` while :attr:`open`.

    Variant choices (:meth:`flag`, :meth:`side`, :meth:`choice`) draw from ``variant_rng``, timing from
    ``rng``: people of one video given the same variant generator do the same variant of the action
    (a group doing the same exercise) on their own timing.
    """

    def __init__(self, rng: np.random.Generator, n_frames: int, fps: float,
                 variant_rng: np.random.Generator | None = None):
        self.rng, self.n_frames, self.fps = rng, n_frames, fps
        self.vrng = variant_rng if variant_rng is not None else rng
        self.track = PoseTrack(n_frames)
        self.states = np.full((n_frames, len(BODY_PARTS)), NO_STATE, dtype="<U8")
        self.tempo = rng.uniform(0.85, 1.15)                 # person-specific speed of every phase
        self.cursor = -rng.uniform(0.0, 1.2) * fps           # start mid-programme

    @property
    def open(self) -> bool:
        return self.cursor < self.n_frames

    def flag(self, p: float) -> bool:
        return bool(self.vrng.random() < p)

    def side(self) -> str:
        return "l" if self.vrng.random() < 0.5 else "r"

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def choice(self, options: Sequence[str], p: Sequence[float]) -> str:
        return options[int(self.vrng.choice(len(options), p=p))]

    def phase(self, seconds: tuple[float, float], motions: Iterable[Motion] = (),
              states: Mapping[str, str] | None = None, p: float = 1.0) -> None:
        """Append a phase lasting ``uniform(*seconds) * tempo`` seconds (skipped with prob. ``1 - p``)."""
        if p < 1.0 and not self.rng.random() < p:
            return
        duration = self.uniform(*seconds) * self.tempo
        start, end = self.cursor, self.cursor + duration * self.fps
        frames = np.arange(max(math.ceil(start), 0), min(math.ceil(end), self.n_frames))
        self.cursor = end
        if frames.size == 0:
            return
        t = (frames - start) / self.fps
        for motion in motions:
            motion(self.track, frames, t, duration)
        for name, state in _expand(states or {}).items():
            self.states[frames, _PART_COLUMN[name]] = state

    def finish(self) -> Schedule:
        """Smooth the targets with a first-order lag and integrate the walking speed into ``root_x``."""
        alpha = 1.0 - math.exp(-1.0 / (self.fps * JOINT_LAG_S))
        values = self.track.values
        zi = (1.0 - alpha) * values[0:1]
        pose, _ = lfilter([alpha], [1.0, alpha - 1.0], values, axis=0, zi=zi)
        pose[:, 0] = values[:, 0] + np.cumsum(self.track.velocity) / self.fps
        return Schedule(pose, self.states)


# ------------------------------------------------------------------------------------- the actions
def _other(side: str) -> str:
    return "r" if side == "l" else "l"


Habit = tuple[list[Motion], dict[str, str]]


def head_habit(p: Program, none: float = 0.35, lower: float = 0.2) -> Habit:
    """What the head does during the main phases: still, nodding, turned aside or lowered."""
    rest = 1.0 - none
    kind = p.choice(["none", "nod", "turn", "lower"],
                    [none, rest * (1 - lower) / 2, rest * (1 - lower) / 2, rest * lower])
    motions = {"none": [], "nod": [m.nod(p.uniform(1.2, 2.0))],
               "turn": [m.turn_head(0.8 if p.flag(0.5) else -0.8)], "lower": [m.hold(head_pitch=0.9)]}[kind]
    return motions, {"head": kind}


def legs_habit(p: Program, none: float = 0.45, step: float = 0.55) -> Habit:
    """What the legs do under an upper-body action: stand, step in place or stand with knees bent
    (``step`` is the stepping share of the non-standing cases)."""
    kind = p.choice(["none", "step", "bend"], [none, (1 - none) * step, (1 - none) * (1 - step)])
    if kind == "step":
        return [m.walk_legs(p.uniform(1.4, 2.0))], {"leg": "step", "foot": "step_on"}
    if kind == "bend":
        return [m.hold("lr", **m.LEG_STANCE)], {"leg": "bend"}
    return [], {}


def hip_habit(p: Program, none: float = 0.7) -> Habit:
    """What the hips do: nothing, twist (shoulders turning about the spine) or bend sideways."""
    kind = p.choice(["none", "twist", "bend"], [none, (1 - none) * 0.6, (1 - none) * 0.4])
    if kind == "twist":
        return [m.twist_torso(p.uniform(0.6, 1.0))], {"hip": "twist"}
    if kind == "bend":
        return [m.oscillate("lean", 0.0, 0.22, p.uniform(0.4, 0.7))], {"hip": "bend"}
    return [], {}


def habits(*items: Habit) -> Habit:
    motions: list[Motion] = []
    states: dict[str, str] = {}
    for mo, st in items:
        motions += mo
        states.update(st)
    return motions, states


def wave(p: Program) -> None:
    sides = p.choice(["l", "r", "lr"], [0.45, 0.45, 0.1])
    freq = p.uniform(1.8, 2.8)
    extra, extra_states = habits(head_habit(p, lower=0.0), legs_habit(p), hip_habit(p))
    start = {"arm": 2.0, "elbow": 0.7}
    while p.open:
        p.phase((0.3, 1.2), p=0.6)
        p.phase((0.25, 0.45), [m.ramp(sides, **start)], limb(sides, "arm", "raise"))
        p.phase((1.0, 2.5), [m.wave_hand(s, freq) for s in sides] + extra,
                {**limb(sides, "arm", "raise"), **limb(sides, "hand", "wave"), **extra_states})
        p.phase((0.25, 0.45), [m.ramp(sides, reverse=True, **start)])


def walk(p: Program) -> None:
    speed = p.uniform(0.25, 0.45) * (1 if p.flag(0.5) else -1)
    freq = p.uniform(1.6, 2.2)
    waving, hand, swinging, fist = p.flag(0.3), p.side(), p.flag(0.65), p.flag(0.3)
    legs = [m.translate(speed), m.walk_legs(freq)] + ([m.hold("lr", fist=1.0)] if fist else [])
    extra, extra_states = habits(head_habit(p, lower=0.15), hip_habit(p, none=0.55))
    base = {"leg": "step", "foot": "step_on", "hand": "fist" if fist else "none", **extra_states}
    arms = [m.swing_arms(freq)] if swinging else []
    while p.open:
        p.phase((1.5, 3.0), legs + arms + extra, {**base, "arm": "swing" if swinging else "none"})
        p.phase((0.4, 1.0), p=0.35)
        if waving:
            p.phase((1.0, 2.0), legs + [m.swing_arms(freq, sides=_other(hand)), m.wave_hand(hand, 2.2)] + extra,
                    {**base, **limb(_other(hand), "arm", "swing"), **limb(hand, "arm", "raise"),
                     **limb(hand, "hand", "wave")})


def jumping_jacks(p: Program) -> None:
    tiptoe, clap = p.flag(0.55), p.flag(0.45)
    freq = p.uniform(1.2, 1.8)
    head, head_states = habits(head_habit(p, none=0.5, lower=0.0), hip_habit(p, none=0.6))
    motions = [m.jumping_jack(freq, tiptoe, clap)] + head
    states = {"arm": "raise", "leg": "jump", "foot": "tiptoe" if tiptoe else "none",
              "hand": "clap" if clap else "none", **head_states}
    while p.open:
        p.phase((0.3, 1.0), p=0.5)
        p.phase((1.5, 3.5), motions, states)
        p.phase((0.3, 0.8))


def kick(p: Program) -> None:
    side, guard = p.side(), p.flag(0.5)
    head, head_states = habits(head_habit(p, none=0.5), hip_habit(p, none=0.55))
    arms = ([m.hold("lr", **m.ARM_GUARD)] if guard else []) + head
    arm_states = ({"arm": "bend", "hand": "fist"} if guard else {}) | head_states
    while p.open:
        p.phase((0.3, 1.0), arms, arm_states, p=0.6)
        lifted = {**arm_states, f"{side}_leg": "lift", f"{side}_foot": "lift"}
        kicked = {**arm_states, f"{side}_leg": "kick", f"{side}_foot": "kick"}
        p.phase((0.25, 0.45), [m.blend({}, m.LEG_CHAMBER, side)] + arms, lifted)
        p.phase((0.3, 0.6), [m.blend(m.LEG_CHAMBER, m.LEG_KICK, side)] + arms, kicked)
        p.phase((0.25, 0.45), [m.blend(m.LEG_KICK, m.LEG_CHAMBER, side)] + arms, lifted)
        p.phase((0.2, 0.4), [m.blend(m.LEG_CHAMBER, {}, side)] + arms, lifted)
        if p.flag(0.25):
            side = _other(side)


_HANDS_ON_HIPS = {"arm": 0.55, "elbow": -1.5}


def squat(p: Program) -> None:
    arms = p.choice(["stretch", "bend", "none"], [0.45, 0.35, 0.2])
    arm_pose = {"stretch": m.ARM_STRETCHED, "bend": _HANDS_ON_HIPS, "none": {}}[arms]
    tiptoe, fist = p.flag(0.35), p.flag(0.4)
    down_pose = {**m.LEG_SQUAT, **arm_pose, **(m.FOOT_TIPTOE if tiptoe else {}), **({"fist": 1.0} if fist else {})}
    head, head_states = head_habit(p, none=0.45, lower=0.5)
    states = {"leg": "bend", "hip": "lower", "arm": arms, "foot": "tiptoe" if tiptoe else "none",
              "hand": "fist" if fist else "none", **head_states}
    while p.open:
        p.phase((0.4, 1.2), p=0.7)
        p.phase((0.5, 0.9), [m.blend({}, down_pose, "lr")] + head, states)
        p.phase((0.3, 1.0), [m.hold("lr", **down_pose)] + head, states, p=0.5)
        p.phase((0.5, 0.9), [m.blend(down_pose, {}, "lr")] + head, states)


def punch(p: Program) -> None:
    lead, twist = p.side(), p.flag(0.5)
    legs, guard_states = habits(head_habit(p, none=0.5, lower=0.3), legs_habit(p, none=0.4, step=0.4))
    guard_states = {"arm": "bend", "hand": "fist", **guard_states}
    hit = {**m.ARM_STRETCHED, "fist": 1.0}
    while p.open:
        p.phase((0.3, 1.0), [m.hold("lr", **m.ARM_GUARD)] + legs, guard_states)
        for k in range(int(p.rng.integers(2, 7))):
            s = lead if k % 2 == 0 else _other(lead)
            body = [m.hold(shoulder_w=0.7, lean=0.05 if s == "l" else -0.05)] if twist else []
            guard_other = [m.hold(_other(s), **m.ARM_GUARD)] + legs + body
            extended = {**guard_states, f"{s}_arm": "stretch", **({"hip": "twist"} if twist else {})}
            p.phase((0.15, 0.3), [m.blend(m.ARM_GUARD, hit, s)] + guard_other, extended)
            p.phase((0.15, 0.3), [m.blend(hit, m.ARM_GUARD, s)] + guard_other,
                    {**guard_states, **({"hip": "twist"} if twist else {})})
        p.phase((0.3, 0.8), p=0.4)


def clap(p: Program) -> None:
    overhead = p.flag(0.35)
    freq = p.uniform(1.8, 2.6)
    extra, extra_states = habits(head_habit(p, none=0.45), legs_habit(p, none=0.5), hip_habit(p, none=0.75))
    motions = [m.clap_hands(freq, overhead)] + extra
    states = {"hand": "clap", "arm": "raise" if overhead else "bend", **extra_states}
    while p.open:
        p.phase((0.3, 1.0), p=0.5)
        p.phase((1.2, 3.0), motions, states)


_BOW = {"torso_len": 0.55, "head_pitch": 1.0}


def bow(p: Program) -> None:
    greet, side, joined, head_down = p.flag(0.35), p.side(), p.flag(0.45), p.flag(0.6)
    legs, leg_states = legs_habit(p, none=0.55, step=0.0)
    arms = ([m.hold("lr", **m.ARM_CLAP)] if joined else []) + legs
    bowed = {**_BOW, "head_pitch": 1.0 if head_down else 0.0}
    states = {"hip": "bend", "head": "lower" if head_down else "none", **({"arm": "bend"} if joined else {}),
              **leg_states}
    while p.open:
        p.phase((0.4, 1.2))
        if greet:
            p.phase((1.0, 1.8), [m.wave_hand(side, 2.2)], {f"{side}_arm": "raise", f"{side}_hand": "wave"}, p=0.7)
        p.phase((0.4, 0.7), [m.blend({}, bowed, "")] + arms, states)
        p.phase((0.3, 1.0), [m.hold(**bowed)] + arms, states)
        p.phase((0.4, 0.7), [m.blend(bowed, {}, "")] + arms, states)


def reach_up(p: Program) -> None:
    tiptoe, hands = p.flag(0.5), p.choice(["none", "wave", "clap"], [0.4, 0.3, 0.3])
    top = {"none": [m.hold("lr", **m.ARM_RAISED)], "wave": [m.wave_hand(s, 2.4) for s in "lr"],
           "clap": [m.clap_hands(p.uniform(1.8, 2.6), overhead=True)]}[hands]
    extra, extra_states = habits(head_habit(p, none=0.5, lower=0.0), hip_habit(p, none=0.45),
                                 legs_habit(p, none=0.55, step=0.0))
    top += ([m.hold("lr", **m.FOOT_TIPTOE)] if tiptoe else []) + extra
    states = {"arm": "raise", "foot": "tiptoe" if tiptoe else "none", "hand": hands, **extra_states}
    while p.open:
        p.phase((0.3, 1.0), p=0.6)
        p.phase((0.4, 0.8), [m.blend({}, m.ARM_RAISED, "lr")], {"arm": "raise"})
        p.phase((0.8, 2.0), top, states)
        p.phase((0.4, 0.8), [m.blend(m.ARM_RAISED, {}, "lr")])


def march(p: Program) -> None:
    arms, fist = p.choice(["swing", "bend"], [0.65, 0.35]), p.flag(0.4)
    head, head_states = habits(head_habit(p, none=0.5), hip_habit(p, none=0.6))
    step = p.uniform(0.3, 0.45)
    hands = {"fist": 1.0} if fist else {}
    while p.open:
        for k in range(int(p.rng.integers(4, 11))):
            s = "l" if k % 2 == 0 else "r"
            if arms == "swing":
                arm_motion = [m.lift_arm(_other(s), 0.5), m.hold("lr", **hands)]
            else:
                arm_motion = [m.hold("lr", **{**m.ARM_GUARD, "fist": 1.0 if fist else 0.0})]
            p.phase((0.9 * step, 1.1 * step), [m.lift_leg(s)] + arm_motion + head,
                    {f"{s}_leg": "lift", f"{s}_foot": "lift", f"{_other(s)}_foot": "step_on", "arm": arms,
                     "hand": "fist" if fist else "none", **head_states})
        p.phase((0.3, 1.0), p=0.5)


#: The action programs, in label order.
ACTIONS: dict[str, Callable[[Program], None]] = {
    "bow": bow, "clap": clap, "jumping_jacks": jumping_jacks, "kick": kick, "march": march,
    "punch": punch, "reach_up": reach_up, "squat": squat, "walk": walk, "wave": wave,
}


def sample_schedule(action: str, rng: np.random.Generator, n_frames: int, fps: float,
                    variant_rng: np.random.Generator | None = None) -> Schedule:
    """Run the programme of ``action`` for one person over ``n_frames`` frames at ``fps``
    (variants drawn from ``variant_rng``, default ``rng``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown synthetic action {action!r}; known: {', '.join(ACTIONS)}")
    program = Program(rng, n_frames, fps, variant_rng)
    ACTIONS[action](program)
    return program.finish()
