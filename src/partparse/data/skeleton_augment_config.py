"""The recipe section that says how the skeleton task corrupts ground-truth keypoints (a config module of
its own: a recipe is read to load a trained model, and that must not import the training dataset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from partparse.config import between


@dataclass
class SkeletonAugmentConfig:
    """How ground-truth keypoints are corrupted into what a pose estimator gives (training only).

    ``jitter``/``covered_jitter``: the largest standard deviation (a fraction of the person's size, drawn
    per track) of the noise on visible / covered joints; ``confidence``: the range confidences of known
    joints are drawn from (covered joints: its lower half); ``drop_joint``/``drop_frame``: probability that
    a joint / a whole keyframe is lost; ``scale``: person size and position scaled by ``1 +- scale`` per
    frame; ``flip``: probability of mirroring the person."""

    enabled: bool = True
    jitter: Annotated[float, between(0, 1)] = 0.03
    covered_jitter: Annotated[float, between(0, 1)] = 0.08
    confidence: list[float] = field(default_factory=lambda: [0.3, 1.0])
    drop_joint: Annotated[float, between(0, 1)] = 0.08
    drop_frame: Annotated[float, between(0, 1)] = 0.05
    scale: Annotated[float, between(0, 0.9)] = 0.1
    flip: Annotated[float, between(0, 1)] = 0.5
