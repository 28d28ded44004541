"""Keypoints from a trained pose model, for the dots a pose-guided part detector trains on.

The parser draws the dots of its pose model's estimates (``parts.keypoint_score_thr`` and up), which go
wrong where the ground truth cannot: on a person another one overlaps, a top-down pose model puts joints
on the neighbour. A part detector trained on ground-truth dots learns to follow the dots and follows them
there too (bench val, crowded crops, second stage: AP50 80.5 with ground-truth dots, 60.9 with estimated
ones, below the 66.0 of the detector without dots; docs/benchmarks.md). ``data.dots_from: pose_model``
trains on the estimates instead: :class:`PoseModelKeypoints` is the stream's ``keypoint_source``.
"""

from __future__ import annotations

import numpy as np
import torch

from partparse.engine.trained_models import load_trained
from partparse.models.hrnet import estimate_poses


class PoseModelKeypoints:
    """``(frame (H, W, 3) uint8, box xyxy) -> (17, 3)`` keypoints ``[x, y, v]`` in frame pixels, estimated by
    the pose model of ``source`` (a pose run, checkpoint or ``zoo:NAME``) on the box; ``v`` is 1 for joints
    scoring at least ``score_thr`` and 0 (not drawn) for the rest.

    :meth:`check` loads the model up front (a bad source is reported before training starts); a
    DataLoader worker receives the source without the model (:meth:`__getstate__`) and loads it on its
    first call.
    """

    def __init__(self, source: str, score_thr: float = 0.3):
        self.source, self.score_thr = source, score_thr
        self._model = None
        self._padding = 1.25

    def check(self) -> None:
        """Load the model now: a missing, corrupt or non-pose source raises its one-line error here."""
        self._load()

    def _load(self) -> None:
        trained = load_trained(self.source)
        if trained.recipe.task != "pose":
            raise ValueError(f"{self.source}: a {trained.recipe.task} model, not a pose model")
        self._model, self._padding = trained.model.eval(), trained.recipe.input.padding

    def __call__(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        if self._model is None:
            self._load()
        image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div_(255)
        with torch.no_grad():
            keypoints, scores = estimate_poses(self._model, image, torch.tensor([box], dtype=torch.float32),
                                               self._padding)
        drawn = (scores[0] >= self.score_thr).float()
        return torch.cat([keypoints[0] * drawn[:, None], drawn[:, None]], dim=1).numpy()

    def __getstate__(self) -> dict:             # what a DataLoader worker receives: the source, not the model
        return {**self.__dict__, "_model": None}
