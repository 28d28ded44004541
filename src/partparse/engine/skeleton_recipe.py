"""Recipe of the skeleton model (``task: skeleton``): action and per-keyframe part states from keypoint
tracks, trained on SynTPS ground-truth keypoints corrupted like predicted ones.

Data: SynTPS roots (``partparse synth`` output) with ``keypoints_{split}.json`` and ``gt_{split}/``; the
label spaces are fitted on the first training root. Every value is written out in ``configs/skeleton/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from partparse.config import NON_EMPTY, at_least, between, each
from partparse.data.skeleton_augment_config import SkeletonAugmentConfig
from partparse.engine.optim import OptimConfig, ScheduleConfig
from partparse.engine.train_config import TrainConfig


@dataclass
class SkeletonModelConfig:
    channels: Annotated[list[int], each(between(1, 4096))] = field(default_factory=lambda: [48, 48, 96, 96])
    kernel_t: Annotated[int, between(1, 63)] = 5          # temporal kernel, in keyframes (odd)
    hidden: Annotated[int, between(1, 4096)] = 128        # width of the per-keyframe part layer
    dropout: Annotated[float, between(0, 0.9)] = 0.1


@dataclass
class SkeletonDataConfig:
    train_roots: Annotated[list[str], NON_EMPTY] = field(default_factory=lambda: ["data/syntps"])
    train_split: str = "train"
    val_root: str | None = None            # None: no validation
    val_split: str = "val"
    max_train_videos: Annotated[int | None, at_least(1)] = None   # per root (smoke runs)
    max_val_videos: Annotated[int | None, at_least(1)] = None


@dataclass
class SkeletonLossConfig:
    action_weight: Annotated[float, at_least(0)] = 1.0
    part_weight: Annotated[float, at_least(0)] = 1.0


@dataclass
class SkeletonRecipe:
    task: str = "skeleton"
    name: str = "skeleton_gcn"
    model: SkeletonModelConfig = field(default_factory=SkeletonModelConfig)
    data: SkeletonDataConfig = field(default_factory=SkeletonDataConfig)
    augment: SkeletonAugmentConfig = field(default_factory=SkeletonAugmentConfig)
    loss: SkeletonLossConfig = field(default_factory=SkeletonLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(name="adamw", lr=2e-3, weight_decay=1e-4))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(epochs=30, policy="cosine",
                                                                            milestones=[]))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(batch_size=64, val_batch_size=256))
