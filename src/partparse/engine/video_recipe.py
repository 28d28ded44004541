"""Recipe of a video classifier (CSN): the action and/or the 6 coarse part-state heads.

Every value is written out in the YAML recipes of ``configs/csn/``; one file per table row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from partparse.data.video_transforms import CSN_MEAN, CSN_STD
from partparse.data.vocabulary import COARSE_PARTS
from partparse.engine.optim import OptimConfig, ScheduleConfig
from partparse.engine.trainer import TrainConfig


@dataclass
class CSNModelConfig:
    variant: str = "ir"                    # ir | ip
    depth: int = 152                       # 26 | 50 | 101 | 152
    dropout: float = 0.5
    frozen_bn: bool = True                 # the report fine-tunes with BatchNorm frozen
    frozen_stages: int = -1
    gradient_checkpointing: bool = False
    zero_init_residual: bool = False       # from scratch: True (first-step grad norm 14 instead of ~225)
    base_channels: int = 64                # stem / layer1 width; 64 = every public checkpoint; 16 = ~1/10 compute
    pretrained: str | None = None          # local mmaction2 ResNet3dCSN checkpoint (IG-65M / Sports-1M) or a
                                           # partparse video checkpoint / work dir (its backbone is loaded)
    trust_checkpoint: bool = False         # unpickle non-tensor metadata of `pretrained`


@dataclass
class ClipConfig:
    clip_len: int = 32                     # T
    frame_interval: int = 2                # tau
    num_test_clips: int = 7
    short_side: int = 256
    crop_size: int = 224
    train_crop: str = "random_resized"     # random_resized (mmaction2's CSN recipe) | random (plain crop)
    area_range: list[float] = field(default_factory=lambda: [0.08, 1.0])   # of random_resized
    flip_prob: float = 0.5
    test_crop: str = "three"               # center | three
    test_crop_size: int = 256
    mean: list[float] = field(default_factory=lambda: list(CSN_MEAN))
    std: list[float] = field(default_factory=lambda: list(CSN_STD))
    modality: str = "rgb"                  # rgb (the report) | rgb_diff (TSN's RGB difference: motion)
    diff_offset: int = 2                   # rgb_diff: x[t + offset] - x[t]
    diff_scale: float = 3.0                # rgb_diff: multiplies the (normalised) difference
    person_centred: bool = False           # crop every frame to the main person's square window, resized
                                           # to short_side (data/person_window.py); the report: full frame
    person_margin: float = 1.2             # window side = margin x the person's extent over the video


@dataclass
class VideoDataConfig:
    root: str = "data/kinetics-tps"        # <root>/{split}_videos/<class>/<video>.mp4 + annotations
    train_split: str = "train"
    val_split: str = "val"                 # Kinetics-TPS: "test"
    val_root: str | None = None            # validation videos from another dataset (None: root)
    heads: list[str] = field(default_factory=lambda: ["action", *COARSE_PARTS])
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
