"""Typed structures that cross stages: videos -> frames -> persons -> body parts.

Coordinates are pixels, boxes are ``(x1, y1, x2, y2)`` corners, inclusive as in Kinetics-TPS
(a box's width is ``x2 - x1 + 1``). Frame keys are the annotation file names of Kinetics-TPS
(``img_00001.json`` is decoded frame 0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

Box = tuple[float, float, float, float]

#: COCO keypoint names, in COCO order (index = keypoint id - 1 in COCO's 1-based skeleton): the keypoints
#: of every pose in partparse (the pose models, the synthetic skeleton, the COCO exports).
COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
NUM_KEYPOINTS = len(COCO_KEYPOINTS)

_FRAME_KEY = re.compile(r"^img_(\d+)\.json$")


def frame_key(frame_index: int) -> str:
    """Kinetics-TPS annotation name of a 0-based decoded frame index: ``0 -> 'img_00001.json'``."""
    if frame_index < 0:
        raise ValueError(f"frame index must be >= 0, got {frame_index}")
    return f"img_{frame_index + 1:05d}.json"


def frame_index(key: str) -> int:
    """0-based decoded frame index of a Kinetics-TPS frame key: ``'img_00001.json' -> 0``."""
    m = _FRAME_KEY.match(key)
    if m is None or int(m.group(1)) < 1:
        raise ValueError(f"not a Kinetics-TPS frame key (img_NNNNN.json, from 1): {key!r}")
    return int(m.group(1)) - 1


def as_box(values: Sequence[float]) -> Box:
    if len(values) != 4:
        raise ValueError(f"a box has 4 numbers (x1, y1, x2, y2), got {len(values)}")
    x1, y1, x2, y2 = (float(v) for v in values)
    return (x1, y1, x2, y2)


@dataclass(frozen=True)
class PartAnnotation:
    """One ground-truth body part: its box and its state (``verb`` in the files)."""

    box: Box
    state: str


@dataclass(frozen=True)
class PartProposal:
    """One predicted box for a body part with its state; ``score`` is optional and not scored."""

    box: Box
    state: str
    score: float | None = None


@dataclass
class PersonAnnotation:
    """A ground-truth person: box, visible body parts (absent = not visible), optional keypoints.

    ``keypoints`` holds the 17 COCO joints as ``[(x, y, visibility), ...]`` when known.
    """

    box: Box
    parts: dict[str, PartAnnotation] = field(default_factory=dict)
    keypoints: list[tuple[float, float, float]] | None = None


@dataclass
class PersonPrediction:
    """A predicted person: box, up to 5 ranked proposals per body part, optional score, keypoints and
    ``track_id`` (the same person in other frames of the video has the same id; ``None``: not tracked)."""

    box: Box
    parts: dict[str, list[PartProposal]] = field(default_factory=dict)
    score: float | None = None
    keypoints: list[tuple[float, float, float]] | None = None
    track_id: int | None = None


@dataclass
class FrameAnnotation:
    key: str
    persons: list[PersonAnnotation] = field(default_factory=list)

    @property
    def index(self) -> int:
        return frame_index(self.key)


@dataclass
class FramePrediction:
    key: str
    persons: list[PersonPrediction] = field(default_factory=list)

    @property
    def index(self) -> int:
        return frame_index(self.key)


@dataclass
class VideoAnnotation:
    """Ground truth of one video: its action and its annotated frames in file order."""

    video_id: str
    action: str
    frames: list[FrameAnnotation] = field(default_factory=list)


@dataclass
class VideoPrediction:
    """A submission entry for one video: predicted action and per-frame persons."""

    video_id: str
    action: str
    frames: list[FramePrediction] = field(default_factory=list)
