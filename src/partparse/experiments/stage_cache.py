"""Memoised parser stages: ablations that share a stage (same frames, same boxes) compute it once.

Each wrapper keeps the wrapped stage's Protocol (:mod:`partparse.pipeline.stages`) and caches its
outputs under a digest of the inputs' bytes, so a cached answer is exactly what the stage would return,
and the seconds each answer took, so that a run can count what its reused answers would have cost
(``reused_seconds``). Memory grows with what is parsed: use them for one evaluation run (the demo's
Table 1), not a server.
"""

from __future__ import annotations

import hashlib
import time
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


class _Memo:
    """A cache that also keeps what each entry cost to compute, and sums what its hits saved
    (``reused_seconds``): a run that reuses a stage can say what it would have taken on its own."""

    def __init__(self) -> None:
        self.cache: dict = {}
        self.cost: dict = {}
        self.hits = 0
        self.reused_seconds = 0.0

    def get(self, key, compute):
        if not self.reuse(key):
            t0 = time.perf_counter()
            self.cache[key] = compute()
            self.cost[key] = time.perf_counter() - t0
        return self.cache[key]

    def reuse(self, key) -> bool:
        """Whether ``key`` is cached; if so, count the hit and what it saved."""
        if key not in self.cache:
            return False
        self.hits += 1
        self.reused_seconds += self.cost[key]
        return True


class CachedPersonDetector(_Memo):
    def __init__(self, stage: PersonDetector) -> None:
        super().__init__()
        self.stage = stage

    def detect(self, frames: Sequence[np.ndarray]) -> list[PersonDetections]:
        keys = [digest(f) for f in frames]
        todo = [i for i, k in enumerate(keys) if not self.reuse(k)]
        if todo:
            t0 = time.perf_counter()
            detections = self.stage.detect([frames[i] for i in todo])
            share = (time.perf_counter() - t0) / len(todo)      # (a batch's time, split evenly over its frames)
            for i, det in zip(todo, detections, strict=True):
                self.cache[keys[i]], self.cost[keys[i]] = det, share
        return [self.cache[k] for k in keys]


class CachedPoseEstimator(_Memo):
    def __init__(self, stage: PoseEstimator) -> None:
        super().__init__()
        self.stage = stage

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.get(digest(frame, boxes), lambda: self.stage.estimate(frame, boxes))


class CachedPartDetector(_Memo):
    def __init__(self, stage: PartDetector) -> None:
        super().__init__()
        self.stage = stage

    def detect_parts(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None,
                     keypoint_scores: np.ndarray | None) -> list[PartDetections]:
        return self.get(digest(frame, boxes, keypoints, keypoint_scores),
                        lambda: self.stage.detect_parts(frame, boxes, keypoints, keypoint_scores))


class CachedVideoScorer(_Memo):
    """Caches by video path and person boxes (a video file is assumed not to change during the run)."""

    def __init__(self, stage: VideoScorer) -> None:
        super().__init__()
        self.stage = stage
        self.class_names = stage.class_names

    def score(self, video_path: str, persons: KeyframePersons | None = None) -> dict[str, np.ndarray]:
        key = (video_path, None if persons is None else digest(*(a for pair in persons for a in pair)))
        return self.get(key, lambda: self.stage.score(video_path, persons))
