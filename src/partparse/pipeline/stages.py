"""The interfaces between the parser's stages, so that trained and pretrained models are interchangeable.

Coordinates: frames are uint8 RGB numpy arrays ``(H, W, 3)``; boxes are float ``xyxy`` in *continuous*
frame pixels (``x2 = x1 + width``), keypoints ``(x, y)`` in the same frame; the parser converts to the
Kinetics-TPS inclusive-pixel boxes only when it writes a submission. Keypoints follow the COCO 17 order
(:data:`partparse.structures.COCO_KEYPOINTS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class PersonDetections:
    """The persons of one frame: ``boxes (N, 4)`` float32 xyxy, ``scores (N,)`` in [0, 1], and optionally
    ``keypoints (N, 17, 2)`` with ``keypoint_scores (N, 17)`` (a detector that also estimates pose)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None = None
    keypoint_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")
        if (self.keypoints is None) != (self.keypoint_scores is None):
            raise ValueError("keypoints and keypoint_scores come together")
        if self.keypoints is not None:
            keypoints = np.asarray(self.keypoints, dtype=np.float32)
            keypoint_scores = np.asarray(self.keypoint_scores, dtype=np.float32)
            # A frame without persons has (0, K, 2) keypoints: reshape(0, -1, 2) cannot infer K there.
            self.keypoints = keypoints if keypoints.ndim == 3 else keypoints.reshape(len(self.boxes), -1, 2)
            self.keypoint_scores = (keypoint_scores if keypoint_scores.ndim == 2
                                    else keypoint_scores.reshape(len(self.boxes), -1))
            if self.keypoints.shape[0] != len(self.boxes) or self.keypoints.shape[2] != 2 \
                    or self.keypoint_scores.shape != self.keypoints.shape[:2]:
                raise ValueError(f"{len(self.boxes)} boxes need keypoints (N, K, 2) and scores (N, K), got "
                                 f"{self.keypoints.shape} and {self.keypoint_scores.shape}")

    def __len__(self) -> int:
        return len(self.boxes)

    def top(self, k: int) -> PersonDetections:
        """The ``k`` highest-scoring persons, best first."""
        order = np.argsort(-self.scores, kind="stable")[:k]
        kp = None if self.keypoints is None else self.keypoints[order]
        ks = None if self.keypoint_scores is None else self.keypoint_scores[order]
        return PersonDetections(self.boxes[order], self.scores[order], kp, ks)


@dataclass
class PartDetections:
    """The parts of one person, ``{body part name: (box xyxy (4,), score)}`` in frame coordinates, at most
    one box per part (the report keeps the top-1)."""

    parts: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)


@runtime_checkable
class PersonDetector(Protocol):
    """Finds persons in a batch of frames."""

    def detect(self, frames: Sequence[np.ndarray]) -> list[PersonDetections]: ...


@runtime_checkable
class PoseEstimator(Protocol):
    """Estimates the 17 COCO keypoints of given person boxes in one frame: ``(keypoints (N, 17, 2),
    scores (N, 17))``."""

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class PartDetector(Protocol):
    """Finds the body parts of given persons in one frame (keypoints may guide it; ``None`` = no guidance)."""

    def detect_parts(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None,
                     keypoint_scores: np.ndarray | None) -> list[PartDetections]: ...


#: Per keyframe, in frame order: person boxes ``(N, 4)`` continuous xyxy pixels and their scores ``(N,)``.
KeyframePersons = Sequence[tuple[np.ndarray, np.ndarray]]


@runtime_checkable
class VideoScorer(Protocol):
    """Video-level class scores: ``{head: (num_classes,) probabilities}`` for the heads it was trained for
    (``action`` and/or coarse parts), with :attr:`class_names` ``{head: label names}``."""

    class_names: Mapping[str, Sequence[str]]

    def score(self, video_path: str, persons: KeyframePersons | None = None) -> dict[str, np.ndarray]:
        """``persons``: the parser's person boxes and scores of each keyframe, for scorers that cut clips
        around the main person (ignored by the others)."""
        ...


def estimate_frames(estimator: PoseEstimator, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:meth:`PoseEstimator.estimate` of each frame; through the estimator's ``estimate_frames`` (the
    crops of all frames batched together) where it has one."""
    batched = getattr(estimator, "estimate_frames", None)
    if batched is not None:
        return batched(frames, boxes)
    return [estimator.estimate(f, b) for f, b in zip(frames, boxes, strict=True)]

