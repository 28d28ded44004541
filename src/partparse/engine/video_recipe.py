"""Recipe of a video classifier (CSN): the action and/or the 6 coarse part-state heads.

Every value is written out in the YAML recipes of ``configs/csn/``; one file per table row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from partparse.config import MAX_SIDE, NON_EMPTY, UNIQUE, above, between, each, length, one_of
from partparse.data.video_transforms import CSN_MEAN, CSN_STD
from partparse.data.vocabulary import COARSE_PARTS
from partparse.engine.optim import OptimConfig, ScheduleConfig
from partparse.engine.train_config import TrainConfig


@dataclass
class CSNModelConfig:
    variant: Annotated[str, one_of("ir", "ip")] = "ir"
    depth: Annotated[int, one_of(26, 50, 101, 152)] = 152
    dropout: Annotated[float, between(0, 0.99)] = 0.5
    frozen_bn: bool = True                 # the report fine-tunes with BatchNorm frozen
    frozen_stages: Annotated[int, between(-1, 4)] = -1
    gradient_checkpointing: bool = False
    zero_init_residual: bool = False       # from scratch: True (first-step grad norm 14 instead of ~225)
    base_channels: Annotated[int, between(1, 1024)] = 64   # stem / layer1 width; 64 = every public checkpoint;
                                                           # 16 = ~1/10 compute
    pretrained: str | None = None          # local mmaction2 ResNet3dCSN checkpoint (IG-65M / Sports-1M) or a
                                           # partparse video checkpoint / work dir (its backbone is loaded)
    trust_checkpoint: bool = False         # unpickle non-tensor metadata of `pretrained`
    load_from: str | None = None           # a partparse video run (work dir, .pth, zoo:<name>): its backbone and,
                                           # class by class (matched by name), its heads; fine-tuning from the zoo


@dataclass
class ClipConfig:
    clip_len: Annotated[int, between(1, 1024)] = 32  # T
    frame_interval: Annotated[int, between(1, 1024)] = 2  # tau
    num_test_clips: Annotated[int, between(1, 1024)] = 7
    short_side: Annotated[int, between(8, MAX_SIDE)] = 256
    crop_size: Annotated[int, between(8, MAX_SIDE)] = 224
    # random_resized (mmaction2's CSN recipe) | random (plain crop)
    train_crop: Annotated[str, one_of("random_resized", "random")] = "random_resized"
    area_range: Annotated[list[float], length(2), each(between(0.0001, 1))] = field(  # of random_resized
        default_factory=lambda: [0.08, 1.0])
    flip_prob: Annotated[float, between(0, 1)] = 0.5
    test_crop: Annotated[str, one_of("center", "three")] = "three"
    test_crop_size: Annotated[int, between(8, MAX_SIDE)] = 256
    mean: Annotated[list[float], length(3)] = field(default_factory=lambda: list(CSN_MEAN))
    std: Annotated[list[float], length(3), each(above(0))] = field(default_factory=lambda: list(CSN_STD))
    modality: Annotated[str, one_of("rgb", "rgb_diff")] = "rgb"  # rgb_diff: TSN's RGB difference (motion)
    diff_offset: Annotated[int, between(1, 64)] = 2  # rgb_diff: x[t + offset] - x[t]
    diff_scale: Annotated[float, above(0)] = 3.0  # rgb_diff: multiplies the (normalised) difference
    # crop every frame to the main person's square window, resized to short_side (data/person_window.py)
    person_centred: bool = False
    person_margin: Annotated[float, between(0.5, 10)] = 1.2  # window side = margin x the person's extent


@dataclass
class VideoDataConfig:
    root: str = "data/kinetics-tps"        # <root>/{split}_videos/<class>/<video>.mp4 + annotations
    train_split: str = "train"
    val_split: str = "val"                 # Kinetics-TPS: "test"
    val_root: str | None = None            # validation videos from another dataset (None: root)
    heads: Annotated[list[Annotated[str, one_of("action", *COARSE_PARTS)]], NON_EMPTY, UNIQUE] = field(
        default_factory=lambda: ["action", *COARSE_PARTS])
    cache_frames: bool = False             # keep decoded videos in memory (small, short videos: SynTPS on CPU)


@dataclass
class FusionConfig:
    """Ensemble of this recipe with others (``partparse fuse`` fills ``weights``)."""

    score_files: list[str] = field(default_factory=list)
    weights: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class VideoRecipe:
    task: str = "video"                    # which trainer `partparse train` runs
    name: str = "csn"
    model: CSNModelConfig = field(default_factory=CSNModelConfig)
    clips: ClipConfig = field(default_factory=ClipConfig)
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
