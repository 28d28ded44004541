"""Memoised parser stages: ablations that share a stage (same frames, same boxes) compute it once.

Each wrapper keeps the wrapped stage's Protocol (:mod:`partparse.pipeline.stages`) and caches its
outputs under a digest of the inputs' bytes, so a cached answer is exactly what the stage would return.
Memory grows with what is parsed: use them for one evaluation run (the demo's Table 1), not a server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from partparse.pipeline.stages import (
    KeyframePersons,
    PartDetections,
    PartDetector,
    PersonDetections,
    PersonDetector,
    PoseEstimator,
    VideoScorer,
)


def digest(*items: Any) -> str:
    """A digest of arrays (dtype, shape and bytes), strings and ``None``s."""
    h = hashlib.blake2b(digest_size=16)
    for item in items:
        if item is None:
            h.update(b"<none>")
        elif isinstance(item, str):
            h.update(item.encode())
        else:
            a = np.ascontiguousarray(item)
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


class CachedPersonDetector:
    def __init__(self, stage: PersonDetector) -> None:
        self.stage, self.cache, self.hits = stage, {}, 0

    def detect(self, frames: Sequence[np.ndarray]) -> list[PersonDetections]:
        keys = [digest(f) for f in frames]
        todo = [i for i, k in enumerate(keys) if k not in self.cache]
        if todo:
            for i, det in zip(todo, self.stage.detect([frames[i] for i in todo]), strict=True):
                self.cache[keys[i]] = det
        self.hits += len(frames) - len(todo)
        return [self.cache[k] for k in keys]


class CachedPoseEstimator:
    def __init__(self, stage: PoseEstimator) -> None:
        self.stage, self.cache, self.hits = stage, {}, 0

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = digest(frame, boxes)
        if key in self.cache:
            self.hits += 1
        else:
            self.cache[key] = self.stage.estimate(frame, boxes)
        return self.cache[key]


class CachedPartDetector:
    def __init__(self, stage: PartDetector) -> None:
        self.stage, self.cache, self.hits = stage, {}, 0

    def detect_parts(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None,
                     keypoint_scores: np.ndarray | None) -> list[PartDetections]:
        key = digest(frame, boxes, keypoints, keypoint_scores)
        if key in self.cache:
            self.hits += 1
        else:
            self.cache[key] = self.stage.detect_parts(frame, boxes, keypoints, keypoint_scores)
        return self.cache[key]


class CachedVideoScorer:
    """Caches by video path and person boxes (a video file is assumed not to change during the run)."""

    def __init__(self, stage: VideoScorer) -> None:
        self.stage, self.cache, self.hits = stage, {}, 0
        self.class_names = stage.class_names

    def score(self, video_path: str, persons: KeyframePersons | None = None) -> dict[str, np.ndarray]:
        key = (video_path, None if persons is None else digest(*(a for pair in persons for a in pair)))
        if key in self.cache:
            self.hits += 1
        else:
            self.cache[key] = self.stage.score(video_path, persons)
        return self.cache[key]
