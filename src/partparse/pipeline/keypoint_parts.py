"""The 10 body-part boxes from a person's 17 COCO keypoints, by the geometry SynTPS draws people with.

No part detector is needed: the rule stands in for one (a :class:`~partparse.pipeline.stages.PartDetector`)
when only keypoints are known, e.g. from the pretrained YOLO11n-pose on real footage.

SynTPS (:mod:`partparse.data.synthetic.render`) draws every body part as capsules (segments with a
radius, tapering) between skeleton points, and annotates a part with the tight box of its visible
pixels. The rule draws the same capsules from the keypoints, with the radii and the extra segments of
the default SynTPS body (:class:`~partparse.data.synthetic.skeleton.BodyShape`, neutral pose, read
from there, not copied) in *body units* ``u`` (a standing person is ~0.97 u tall), and takes the box
of each part's circles:

=========  ================================================================================================
part       circles (centre: radius)
=========  ================================================================================================
head       an ellipse with half-axes ``head_rx x head_ry`` (0.05 x 0.064 u) centred on the confident face
           keypoints (nose, eyes, ears: the middle of their x extent, their mean y); without any:
           ``neck + head_ry`` (0.099 u) above the shoulder centre, along the hip-to-shoulder direction
hip        left hip, right hip: ``r_pelvis`` (0.065 u)
arm        shoulder: ``r_upper_arm``, elbow: ``0.9 r_upper_arm``, wrist: ``0.85 r_forearm``
hand       wrist: ``r_hand``, and the hand tip ``hand`` (0.075 u) beyond it along the forearm: ``0.7 r_hand``
leg        the thigh just outside the pelvis, which is drawn over its top (``r_pelvis + r_thigh`` from
           the hip towards the knee): ``r_thigh``, knee: ``0.85 r_thigh``, ankle: ``0.8 r_shin``
foot       ankle, and the toe ``foot * foot_len`` (0.05 u) away at the neutral foot angle (1.2 rad from
           straight down, pointing away from the body's midline; the side is read from the hips and
           fades to straight down when the hips overlap, a person seen from the side): ``r_foot``
=========  ================================================================================================

``u`` in pixels is the median over the person's confident bones (torso = shoulder centre to hip centre,
upper arms, forearms, thighs, shins) of the bone's pixel length over its body-unit length (a bone
pointing at the camera looks short; the median ignores a few), or, with no confident bone, the person
box height over the standing height. A part is left out unless every keypoint it is drawn from scores
at least ``keypoint_score_thr`` (the head: one face keypoint, or both shoulders); its score is the mean
of those keypoints' scores. Boxes are continuous ``xyxy`` frame pixels (the stage Protocols'
convention), clipped to the frame. From the ground-truth keypoints of SynTPS validation the rule's
boxes score 49.1 box AP (80.5 AP50) against the annotated parts (``benchmarks/bench_keypoint_parts.py``,
docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from partparse.data.synthetic.skeleton import NEUTRAL_POSE, BodyShape
from partparse.pipeline.stages import PartDetections
from partparse.structures import NUM_KEYPOINTS

# COCO-17 indices (partparse.structures.COCO_KEYPOINTS)
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16
FACE = (NOSE, L_EYE, R_EYE, L_EAR, R_EAR)

_BODY = BodyShape()
#: Standing height in body units: pelvis above the soles (thigh + shin + sole radius) plus the head top
#: above the pelvis (torso + neck + head height), as skeleton.forward_kinematics stacks them.
STANDING_HEIGHT = (_BODY.thigh + _BODY.shin + _BODY.r_shin) + (_BODY.torso + _BODY.neck + 2 * _BODY.head_ry)
#: Bones that set the scale: (from, to) keypoints (a pair = their midpoint) and length in body units.
_SCALE_BONES: tuple[tuple[tuple[int, ...], tuple[int, ...], float], ...] = (
    ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP), _BODY.torso),
    ((L_SHOULDER,), (L_ELBOW,), _BODY.upper_arm), ((R_SHOULDER,), (R_ELBOW,), _BODY.upper_arm),
    ((L_ELBOW,), (L_WRIST,), _BODY.forearm), ((R_ELBOW,), (R_WRIST,), _BODY.forearm),
    ((L_HIP,), (L_KNEE,), _BODY.thigh), ((R_HIP,), (R_KNEE,), _BODY.thigh),
    ((L_KNEE,), (L_ANKLE,), _BODY.shin), ((R_KNEE,), (R_ANKLE,), _BODY.shin),
)
_FOOT_ANGLE = NEUTRAL_POSE["l_foot"]                       # radians from straight down, away from the midline
_FOOT_LENGTH = _BODY.foot * NEUTRAL_POSE["l_foot_len"]
#: Per side: (shoulder, elbow, wrist, hip, knee, ankle, the other side's hip).
_SIDES = {"left": (L_SHOULDER, L_ELBOW, L_WRIST, L_HIP, L_KNEE, L_ANKLE, R_HIP),
          "right": (R_SHOULDER, R_ELBOW, R_WRIST, R_HIP, R_KNEE, R_ANKLE, L_HIP)}


@dataclass
class KeypointPartsConfig:
    """``keypoint_score_thr``: a part is drawn only from keypoints scoring at least this (COCO
    visibility probabilities of a pose model, in [0, 1])."""

    keypoint_score_thr: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 <= self.keypoint_score_thr <= 1.0:
            raise ValueError(f"keypoint_score_thr must lie in [0, 1], got {self.keypoint_score_thr}")


def _circles_box(centres: Sequence[np.ndarray], radii: Sequence[float]) -> np.ndarray:
    """``xyxy`` of the union of circles (= of the capsules between them)."""
    c = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    r = np.asarray(radii, dtype=np.float64).reshape(-1, 1)
    return np.concatenate([(c - r).min(axis=0), (c + r).max(axis=0)])


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else np.zeros_like(v)


def body_unit(keypoints: np.ndarray, ok: np.ndarray, box: np.ndarray) -> float:
    """Pixels per body unit of one person: ``keypoints (17, 2)``, ``ok (17,)`` confident, ``box (4,)``."""
    ratios = []
    for a, b, length in _SCALE_BONES:
        if ok[list(a)].all() and ok[list(b)].all():
            ratios.append(np.linalg.norm(keypoints[list(a)].mean(axis=0) - keypoints[list(b)].mean(axis=0)) / length)
    if ratios:
        return float(np.median(ratios))
    return float(max(box[3] - box[1], 1.0)) / STANDING_HEIGHT


def _head(kp: np.ndarray, ok: np.ndarray, u: float) -> tuple[np.ndarray, list[int]] | None:
    """Head centre and the keypoints it was read from."""
    face = [j for j in FACE if ok[j]]
    if face:
        # Across, the middle of their extent, not their mean: in a profile the nose and an eye pull a
        # mean to the face, while the ear sits towards the back of the head. Down, their mean.
        x = (kp[face, 0].min() + kp[face, 0].max()) / 2
        return np.array([x, kp[face, 1].mean()]), face
    if not ok[[L_SHOULDER, R_SHOULDER]].all():
        return None
    neck = kp[[L_SHOULDER, R_SHOULDER]].mean(axis=0)
    up = _unit(neck - kp[[L_HIP, R_HIP]].mean(axis=0)) if ok[[L_HIP, R_HIP]].all() else np.zeros(2)
    if not up.any():                                        # no hips (or on the shoulders): image up
        up = np.array([0.0, -1.0])
    return neck + up * (_BODY.neck + _BODY.head_ry) * u, [L_SHOULDER, R_SHOULDER]


def person_part_boxes(keypoints: np.ndarray, scores: np.ndarray, box: np.ndarray,
                      config: KeypointPartsConfig | None = None) -> dict[str, tuple[np.ndarray, float]]:
    """``{part: (xyxy (4,), score)}`` of one person: ``keypoints (17, 2)`` and ``scores (17,)`` frame
    pixels, ``box (4,)`` its person box (continuous xyxy; sets the scale when no bone is confident)."""
    config = config if config is not None else KeypointPartsConfig()
    kp = np.asarray(keypoints, dtype=np.float64).reshape(NUM_KEYPOINTS, 2)
    sc = np.asarray(scores, dtype=np.float64).reshape(NUM_KEYPOINTS)
    ok = sc >= config.keypoint_score_thr
    u = body_unit(kp, ok, np.asarray(box, dtype=np.float64))
    b = _BODY
    parts: dict[str, tuple[list[np.ndarray], list[float], list[int]]] = {}  # centres, radii (px), keypoints
    head = _head(kp, ok, u)
    if head is not None:
        centre, used = head  # the ellipse's box: its corners as circles of radius 0
        parts["head"] = ([centre - [b.head_rx * u, b.head_ry * u], centre + [b.head_rx * u, b.head_ry * u]],
                         [0.0, 0.0], used)
    parts["hip"] = ([kp[L_HIP], kp[R_HIP]], [b.r_pelvis * u] * 2, [L_HIP, R_HIP])
    for side, (shoulder, elbow, wrist, hip, knee, ankle, other_hip) in _SIDES.items():
        parts[f"{side}_arm"] = ([kp[shoulder], kp[elbow], kp[wrist]],
                                [b.r_upper_arm * u, 0.9 * b.r_upper_arm * u, 0.85 * b.r_forearm * u],
                                [shoulder, elbow, wrist])
        tip = kp[wrist] + _unit(kp[wrist] - kp[elbow]) * b.hand * u
        parts[f"{side}_hand"] = ([kp[wrist], tip], [b.r_hand * u, 0.7 * b.r_hand * u], [elbow, wrist])
        # The pelvis (radius r_pelvis) is drawn over the top of the thigh: the first thigh circle that
        # shows lies just outside it, r_pelvis + r_thigh from the hip joint (at most at the knee).
        thigh = kp[knee] - kp[hip]
        thigh_top = kp[hip] + _unit(thigh) * min((b.r_pelvis + b.r_thigh) * u, float(np.linalg.norm(thigh)))
        parts[f"{side}_leg"] = ([thigh_top, kp[knee], kp[ankle]],
                                [b.r_thigh * u, 0.85 * b.r_thigh * u, 0.8 * b.r_shin * u], [hip, knee, ankle])
        # Away from the midline: +1 when this hip is a full hip width right of the other in the image.
        outward = 0.0
        if ok[hip] and ok[other_hip]:
            outward = float(np.clip((kp[hip, 0] - kp[other_hip, 0]) / (2 * b.hip * u), -1.0, 1.0))
        toe = kp[ankle] + np.array([outward * np.sin(_FOOT_ANGLE), np.cos(_FOOT_ANGLE)]) * _FOOT_LENGTH * u
        parts[f"{side}_foot"] = ([kp[ankle], toe], [b.r_foot * u] * 2, [ankle])
    out = {}
    for name, (centres, radii, used) in parts.items():
        if ok[used].all():
            out[name] = (_circles_box(centres, radii).astype(np.float32), float(sc[used].mean()))
    return out


class KeypointPartDetector:
    """:class:`~partparse.pipeline.stages.PartDetector` by the keypoint rule (module docstring).

    It needs the keypoints: in a parser, ``pose_guidance`` must be on (that is what hands them to the
    part stage), and ``keypoints=None`` is an error here rather than a person without parts.
    """

    def __init__(self, config: KeypointPartsConfig | None = None) -> None:
        self.config = config if config is not None else KeypointPartsConfig()

    def detect_parts(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None,
                     keypoint_scores: np.ndarray | None) -> list[PartDetections]:
        """Parts of each person, boxes clipped to ``frame`` (``(H, W, 3)``); ``keypoints (N, 17, 2)``."""
        if keypoints is None or keypoint_scores is None:
            raise ValueError("the keypoint part rule needs keypoints: switch parser.pose_guidance on")
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        height, width = frame.shape[:2]
        limit = np.array([width, height, width, height], np.float32)
        out = []
        for box, kp, ks in zip(boxes, keypoints, keypoint_scores, strict=True):
            parts = person_part_boxes(kp, ks, box, self.config)
            out.append(PartDetections({name: (np.clip(b, 0, limit), s) for name, (b, s) in parts.items()}))
        return out
