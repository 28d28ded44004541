"""2-D articulated body: 17 COCO joints, bone lengths, pose parameters and forward kinematics.

Units: a body is built in *body units* (standing height ~ 1.0), y pointing down, x pointing right in the
image; :func:`forward_kinematics` puts the soles on ``y = 0`` (minus the jump height) and the pelvis at
``x = root_x``. The renderer scales body units to pixels.

A pose is a float vector over :data:`POSE_PARAMS`; a pose *track* is a ``(T, P)`` array, and every
function here works on a whole track at once (NumPy over time), so one call per person and video does
the kinematics.

Limb angles are in radians, measured from "straight down" and positive *away from the body's midline*
(abduction), in the image plane. The anatomical side that appears on the image's right depends on the
facing: a person facing the camera shows their left side on the image's right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: COCO's person skeleton (1-based keypoint ids), as in ``person_keypoints_*.json``.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)
#: Face keypoints (hidden behind the head when a person faces away).
FACE_KEYPOINTS = (0, 1, 2)

#: Pose parameters. ``l_``/``r_`` are the person's anatomical left/right.
POSE_PARAMS: tuple[str, ...] = (
    "root_x", "root_up", "lean", "torso_len", "shoulder_w", "head_yaw", "head_pitch", "head_roll",
    "l_arm", "l_elbow", "l_wrist", "l_fist", "r_arm", "r_elbow", "r_wrist", "r_fist",
    "l_leg", "l_knee", "l_thigh_len", "l_foot", "l_foot_len",
    "r_leg", "r_knee", "r_thigh_len", "r_foot", "r_foot_len",
)
PARAM_INDEX: dict[str, int] = {name: i for i, name in enumerate(POSE_PARAMS)}

#: Relaxed standing pose. Elbow/knee/wrist angles are relative to the parent segment; feet absolute.
NEUTRAL_POSE: dict[str, float] = {
    "root_x": 0.0, "root_up": 0.0, "lean": 0.0, "torso_len": 1.0, "shoulder_w": 1.0,
    "head_yaw": 0.0, "head_pitch": 0.0, "head_roll": 0.0,
    "l_arm": 0.12, "l_elbow": 0.1, "l_wrist": 0.0, "l_fist": 0.0,
    "r_arm": 0.12, "r_elbow": 0.1, "r_wrist": 0.0, "r_fist": 0.0,
    "l_leg": 0.05, "l_knee": 0.0, "l_thigh_len": 1.0, "l_foot": 1.2, "l_foot_len": 0.45,
    "r_leg": 0.05, "r_knee": 0.0, "r_thigh_len": 1.0, "r_foot": 1.2, "r_foot_len": 0.45,
}


def neutral_track(n_frames: int) -> np.ndarray:
    """A ``(n_frames, P)`` pose track holding the neutral pose in every frame."""
    row = np.array([NEUTRAL_POSE[p] for p in POSE_PARAMS], dtype=np.float64)
    return np.tile(row, (n_frames, 1))


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and radii of one person, in body units (height ~ 1)."""

    head_rx: float = 0.05
    head_ry: float = 0.064
    neck: float = 0.035
    torso: float = 0.30
    shoulder: float = 0.11       # half width
    hip: float = 0.065           # half width
    upper_arm: float = 0.17
    forearm: float = 0.145
    hand: float = 0.075
    thigh: float = 0.235
    shin: float = 0.235
    foot: float = 0.11
    r_torso_top: float = 0.095
    r_torso_bottom: float = 0.08
    r_pelvis: float = 0.065
    r_upper_arm: float = 0.034
    r_forearm: float = 0.028
    r_hand: float = 0.024
    r_thigh: float = 0.052
    r_shin: float = 0.04
    r_foot: float = 0.028

    @classmethod
    def sample(cls, rng: np.random.Generator) -> BodyShape:
        """A random build: every length and radius scaled by a shared and a per-field factor."""
        base = cls()
        girth = rng.uniform(0.85, 1.25)
        values = {}
        for name, value in base.__dict__.items():
            scale = girth if name.startswith("r_") or name in ("shoulder", "hip") else 1.0
            values[name] = value * scale * rng.uniform(0.92, 1.08)
        return cls(**values)


@dataclass
class BodyPoints:
    """Forward kinematics of a pose track, in body units (soles at y = 0, y down). Arrays over T frames.

    ``keypoints``: ``(T, 17, 2)`` COCO joints; ``neck``/``pelvis``/``head``: ``(T, 2)`` shoulder centre,
    hip centre and head centre; ``hand_tip``/``toe``: ``(T, 2, 2)`` indexed ``[t, side]`` with side
    0 = anatomical left; ``head_roll``: ``(T,)`` radians; ``shoulder_w``: ``(T,)`` width scale.
    """

    keypoints: np.ndarray
    neck: np.ndarray
    pelvis: np.ndarray
    head: np.ndarray
    hand_tip: np.ndarray
    toe: np.ndarray
    head_roll: np.ndarray
    shoulder_w: np.ndarray
    fist: np.ndarray            # (T, 2) 0..1 per side


def _direction(angle: np.ndarray, out: float) -> np.ndarray:
    """Unit vectors ``(T, 2)`` of limb angles measured from down, positive toward ``out`` (+1/-1 in x)."""
    return np.stack([out * np.sin(angle), np.cos(angle)], axis=-1)


def forward_kinematics(track: np.ndarray, shape: BodyShape, facing: int = 1) -> BodyPoints:
    """Joint positions of a ``(T, P)`` pose track. ``facing`` +1: towards the camera, -1: away.

    Returns body-unit coordinates with the lowest sole point at ``y = -root_up`` and the pelvis at
    ``x = root_x``.
    """
    p = {name: track[:, i] for name, i in PARAM_INDEX.items()}
    t_len = track.shape[0]
    out = {"l": float(facing), "r": float(-facing)}   # image-x sign of each anatomical side
    lean = p["lean"]
    up = np.stack([np.sin(lean), -np.cos(lean)], axis=-1)
    across = np.stack([np.cos(lean), np.sin(lean)], axis=-1)
    pelvis = np.zeros((t_len, 2))
    neck = pelvis + up * (shape.torso * p["torso_len"])[:, None]
    head_lift = shape.neck + shape.head_ry * (1.0 - 0.35 * np.clip(p["head_pitch"], 0, None))
    head = neck + up * head_lift[:, None]

    kp = np.zeros((t_len, 17, 2))
    hand_tip = np.zeros((t_len, 2, 2))
    toe = np.zeros((t_len, 2, 2))
    for si, side in enumerate("lr"):
        o = out[side]
        shoulder = neck + across * (o * shape.shoulder * p["shoulder_w"])[:, None]
        a = p[f"{side}_arm"]
        elbow = shoulder + _direction(a, o) * shape.upper_arm
        b = a + p[f"{side}_elbow"]
        wrist = elbow + _direction(b, o) * shape.forearm
        c = b + p[f"{side}_wrist"]
        hand_len = shape.hand * (1.0 - 0.55 * p[f"{side}_fist"])
        hand_tip[:, si] = wrist + _direction(c, o) * hand_len[:, None]
        hip = pelvis + np.array([o * shape.hip, 0.0])
        la = p[f"{side}_leg"]
        knee = hip + _direction(la, o) * (shape.thigh * p[f"{side}_thigh_len"])[:, None]
        lb = la + p[f"{side}_knee"]
        ankle = knee + _direction(lb, o) * shape.shin
        toe[:, si] = ankle + _direction(p[f"{side}_foot"], o) * (shape.foot * p[f"{side}_foot_len"])[:, None]
        kp[:, 5 + si], kp[:, 7 + si], kp[:, 9 + si] = shoulder, elbow, wrist
        kp[:, 11 + si], kp[:, 13 + si], kp[:, 15 + si] = hip, knee, ankle

    yaw, pitch = p["head_yaw"], np.clip(p["head_pitch"], 0, None)
    face_dy = (0.45 * pitch - 0.1) * shape.head_ry
    kp[:, 0] = head + np.stack([yaw * 0.6 * shape.head_rx, face_dy + 0.3 * shape.head_ry], axis=-1)
    for si, side in enumerate("lr"):
        o = out[side]
        kp[:, 1 + si] = head + np.stack([(o * 0.4 + 0.5 * yaw) * shape.head_rx, face_dy], axis=-1)
        kp[:, 3 + si] = head + np.stack([(o * 0.95 + 0.2 * yaw) * shape.head_rx,
                                         np.full(t_len, 0.05 * shape.head_ry)], axis=-1)

    # Ground contact: the lowest point of ankles and toes (with their radii) touches y = 0.
    sole = np.maximum(np.max(kp[:, 15:17, 1], axis=1) + shape.r_shin,
                      np.max(toe[:, :, 1], axis=1) + shape.r_foot)
    shift = np.stack([p["root_x"], -sole - p["root_up"]], axis=-1)
    kp += shift[:, None, :]
    hand_tip += shift[:, None, :]
    toe += shift[:, None, :]
    fist = np.stack([p["l_fist"], p["r_fist"]], axis=-1)
    return BodyPoints(kp, neck + shift, pelvis + shift, head + shift, hand_tip, toe, p["head_roll"].copy(),
                      p["shoulder_w"].copy(), fist)
