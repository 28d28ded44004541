"""Joint-motion primitives that action programs compose into pose tracks.

A motion is a callable ``motion(track, frames, t, duration)`` that writes pose parameters of
:mod:`~partparse.data.synthetic.skeleton` for the integer frame indices ``frames`` of one phase; ``t`` holds
the seconds since the phase began and ``duration`` its length in seconds. Angles in radians (see the
skeleton module for the conventions). Parameters not written keep the neutral pose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from partparse.data.synthetic.skeleton import NEUTRAL_POSE, PARAM_INDEX, neutral_track


class PoseTrack:
    """Target pose parameters ``values`` ``(T, P)`` and the horizontal speed ``velocity`` ``(T,)``
    (body heights per second, + = image right) of one person over one video."""

    def __init__(self, n_frames: int):
        self.values = neutral_track(n_frames)
        self.velocity = np.zeros(n_frames)

    def set(self, name: str, frames: np.ndarray, values) -> None:
        self.values[frames, PARAM_INDEX[name]] = values


Motion = Callable[[PoseTrack, np.ndarray, np.ndarray, float], None]

ARM_RAISED = {"arm": 2.75, "elbow": 0.1}
ARM_STRETCHED = {"arm": 1.5, "elbow": 0.0}
ARM_GUARD = {"arm": 0.35, "elbow": -2.4, "fist": 1.0}
ARM_CLAP = {"arm": 0.15, "elbow": -2.09, "wrist": -1.06}
ARM_CLAP_OVERHEAD = {"arm": 2.85, "elbow": 0.83, "wrist": 0.3}
LEG_SQUAT = {"leg": 0.55, "knee": -0.75, "thigh_len": 0.7}
LEG_STANCE = {"leg": 0.3, "knee": -0.35, "thigh_len": 0.9}
LEG_CHAMBER = {"leg": 0.15, "knee": -0.1, "thigh_len": 0.35, "foot": 0.5, "foot_len": 0.6}
LEG_KICK = {"leg": 1.35, "knee": 0.0, "thigh_len": 1.0, "foot": 1.45, "foot_len": 1.0}
FOOT_TIPTOE = {"foot": 0.15, "foot_len": 0.85}


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _side_params(sides: str, params: Mapping[str, float]) -> dict[str, float]:
    """``('lr', {'arm': 1})`` -> ``{'l_arm': 1, 'r_arm': 1}``; names without a side pass unchanged."""
    out: dict[str, float] = {}
    for name, v in params.items():
        if f"l_{name}" in PARAM_INDEX:
            out.update({f"{s}_{name}": v for s in sides})
        else:
            out[name] = v
    return out


def hold(sides: str = "", **params: float) -> Motion:
    """Hold parameters at fixed values for the whole phase (``sides`` expands limb names)."""
    values = _side_params(sides, params)

    def motion(track, frames, t, duration):
        for name, v in values.items():
            track.set(name, frames, v)
    return motion


def ramp(sides: str = "", reverse: bool = False, **params: float) -> Motion:
    """Move from the neutral pose to ``params`` over the phase (or back, with ``reverse``)."""
    values = _side_params(sides, params)

    def motion(track, frames, t, duration):
        w = smoothstep(t / max(duration, 1e-6))
        if reverse:
            w = 1.0 - w
        for name, v in values.items():
            track.set(name, frames, NEUTRAL_POSE[name] + (v - NEUTRAL_POSE[name]) * w)
    return motion


def blend(start: Mapping[str, float], end: Mapping[str, float], sides: str) -> Motion:
    """Move from ``start`` to ``end`` (limb names expanded over ``sides``); missing keys are neutral."""
    a, b = _side_params(sides, start), _side_params(sides, end)

    def motion(track, frames, t, duration):
        w = smoothstep(t / max(duration, 1e-6))
        for name in set(a) | set(b):
            va, vb = a.get(name, NEUTRAL_POSE[name]), b.get(name, NEUTRAL_POSE[name])
            track.set(name, frames, va + (vb - va) * w)
    return motion


def oscillate(name: str, centre: float, amplitude: float, freq: float, phase: float = 0.0) -> Motion:
    """``name = centre + amplitude * sin(2 pi freq t + phase)``."""
    def motion(track, frames, t, duration):
        track.set(name, frames, centre + amplitude * np.sin(2 * np.pi * freq * t + phase))
    return motion


def wave_hand(side: str, freq: float) -> Motion:
    """Forearm raised and swinging side to side, wrist flapping: a greeting wave."""
    def motion(track, frames, t, duration):
        s = np.sin(2 * np.pi * freq * t)
        track.set(f"{side}_arm", frames, 2.0)
        track.set(f"{side}_elbow", frames, 0.7 + 0.45 * s)
        track.set(f"{side}_wrist", frames, 0.35 * np.sin(2 * np.pi * freq * t + 0.6))
        track.set(f"{side}_fist", frames, 0.0)
    return motion


def swing_arms(freq: float, amplitude: float = 0.4, sides: str = "lr") -> Motion:
    """Arms swinging in opposite phase, as in walking or marching."""
    def motion(track, frames, t, duration):
        for k, side in enumerate(sides):
            s = np.sin(2 * np.pi * freq * t + np.pi * k)
            track.set(f"{side}_arm", frames, 0.2 + amplitude * s)
            track.set(f"{side}_elbow", frames, 0.25 + 0.2 * s)
    return motion


def walk_legs(freq: float) -> Motion:
    """Alternating steps seen from the front: knees come up and in, the body bobs."""
    def motion(track, frames, t, duration):
        for k, side in enumerate("lr"):
            lift = np.clip(np.sin(2 * np.pi * freq * t + np.pi * k), 0.0, None)
            track.set(f"{side}_thigh_len", frames, 1.0 - 0.3 * lift)
            track.set(f"{side}_knee", frames, -0.35 * lift)
            track.set(f"{side}_leg", frames, 0.05 + 0.07 * lift)
            track.set(f"{side}_foot", frames, 1.2 - 0.6 * lift)
        track.set("root_up", frames, 0.012 * np.abs(np.sin(2 * np.pi * freq * t)))
    return motion


def jumping_jack(freq: float, tiptoe: bool, clap: bool = False) -> Motion:
    """Arms from the sides to overhead (hands meeting there with ``clap``) while the legs spread and
    the body leaves the ground."""
    top = ARM_CLAP_OVERHEAD if clap else {"arm": 2.7, "elbow": 0.3}

    def motion(track, frames, t, duration):
        opening = 0.5 - 0.5 * np.cos(2 * np.pi * freq * t)          # 0 closed .. 1 open
        for side in "lr":
            track.set(f"{side}_arm", frames, 0.15 + (top["arm"] - 0.15) * opening)
            track.set(f"{side}_elbow", frames, 0.1 + (top["elbow"] - 0.1) * opening)
            track.set(f"{side}_leg", frames, 0.05 + 0.35 * opening)
            if tiptoe:
                track.set(f"{side}_foot", frames, 0.15 + 0.5 * (1 - opening))
                track.set(f"{side}_foot_len", frames, 0.85)
        track.set("root_up", frames, 0.07 * np.abs(np.sin(2 * np.pi * freq * t)))
    return motion


def clap_hands(freq: float, overhead: bool) -> Motion:
    """Hands meeting at the chest (or above the head) and parting again."""
    pose = ARM_CLAP_OVERHEAD if overhead else ARM_CLAP
    apart = 0.45 if overhead else 0.5

    def motion(track, frames, t, duration):
        gap = 0.5 - 0.5 * np.cos(2 * np.pi * freq * t)
        for side in "lr":
            track.set(f"{side}_arm", frames, pose["arm"])
            sign = -1.0 if overhead else 1.0
            track.set(f"{side}_elbow", frames, pose["elbow"] + sign * apart * gap)
            track.set(f"{side}_wrist", frames, pose["wrist"])
    return motion


def nod(freq: float) -> Motion:
    return oscillate("head_pitch", 0.45, 0.45, freq, -np.pi / 2)


def turn_head(direction: float) -> Motion:
    """Head turns to one side (``direction`` -1..1 in face-shift units) and stays there."""
    def motion(track, frames, t, duration):
        track.set("head_yaw", frames, direction * smoothstep(t / 0.35))
    return motion


def twist_torso(freq: float) -> Motion:
    """Shoulders rotating about the spine: their projected width shrinks, the head follows."""
    def motion(track, frames, t, duration):
        s = np.sin(2 * np.pi * freq * t)
        track.set("shoulder_w", frames, 0.8 + 0.2 * np.cos(4 * np.pi * freq * t))
        track.set("head_yaw", frames, 0.35 * s)
        track.set("lean", frames, 0.04 * s)
    return motion


def translate(speed: float) -> Motion:
    """Move across the ground at ``speed`` body heights per second (+ = image right)."""
    def motion(track, frames, t, duration):
        track.velocity[frames] = speed
    return motion


def lift_leg(side: str) -> Motion:
    """One knee rises toward the camera and comes down again (half a sine over the phase)."""
    def motion(track, frames, t, duration):
        w = np.sin(np.pi * np.clip(t / max(duration, 1e-6), 0, 1))
        for name, v in LEG_CHAMBER.items():
            neutral = NEUTRAL_POSE[f"{side}_{name}"]
            track.set(f"{side}_{name}", frames, neutral + (v - neutral) * w)
    return motion


def lift_arm(side: str, amplitude: float) -> Motion:
    """One arm swings out and back (half a sine over the phase), as in marching."""
    def motion(track, frames, t, duration):
        w = np.sin(np.pi * np.clip(t / max(duration, 1e-6), 0, 1))
        track.set(f"{side}_arm", frames, 0.15 + amplitude * w)
        track.set(f"{side}_elbow", frames, 0.1 + 0.3 * w)
    return motion
