"""Recipe of a YOLOF detector: persons on frames, or body parts on person crops (pose-guided or not).

Data come from ``partparse export-coco`` (``persons_{split}.json`` + ``images/``, ``parts_{split}.json`` +
``crops/``). Every value is written out in the YAML recipes of ``configs/yolof/``; one file per table row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from partparse.config import MAX_SIDE, NON_EMPTY, UNIQUE, at_least, between, each, one_of
from partparse.data.syntps_stream_config import SynTPSStreamConfig
from partparse.engine.optim import OptimConfig, ScheduleConfig
from partparse.engine.train_config import TrainConfig
from partparse.models.imagenet import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class DetectionModelConfig:
    """YOLOF settings (:class:`partparse.models.yolof.YOLOFConfig`) and where its weights start from."""

    class_names: Annotated[list[str], NON_EMPTY, UNIQUE] = field(  # label i = class_names[i]
        default_factory=lambda: ["person"])
    depth: Annotated[int, one_of(18, 50, 101)] = 50  # ResNet
    style: Annotated[str, one_of("pytorch", "caffe")] = "pytorch"  # caffe: mmdetection's YOLOF checkpoints
    frozen_stages: Annotated[int, between(-1, 4)] = 1  # 1: stem + layer1 fixed (mmdetection); 0: the stem; -1: nothing
    # stem/layer1 channels (64: torchvision's; thinner: depth 18 only)
    backbone_width: Annotated[int, between(1, 512)] = 64
    backbone_norm: Annotated[str, one_of("frozen_bn", "bn")] = "frozen_bn"  # bn: trained, from scratch
    backbone_stride: Annotated[int, one_of(16, 32)] = 32  # 32 (YOLOF's C5) | 16 (layer4 without downsampling)
    encoder_channels: Annotated[int, between(1, 8192)] = 512
    encoder_mid_channels: Annotated[int, between(1, 8192)] = 128
    dilations: Annotated[list[int], NON_EMPTY, each(between(1, 64))] = field(default_factory=lambda: [2, 4, 6, 8])
    anchor_sizes: Annotated[list[int], NON_EMPTY, each(between(1, MAX_SIDE))] = field(
        default_factory=lambda: [32, 64, 128, 256, 512])
    image_mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    image_std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    score_thresh: Annotated[float, between(0, 1)] = 0.05
    nms_thresh: Annotated[float, between(0, 1)] = 0.6
    detections_per_img: Annotated[int, between(1, 10000)] = 100
    backbone_pretrained: str | None = None  # local torchvision ResNet state dict (ImageNet)
    pretrained: str | None = None          # local mmdetection YOLOF checkpoint (whole detector)
    pretrained_classes: list[int] | None = None  # keep these checkpoint classes (COCO person: [0])
    load_from: str | None = None           # a partparse detection run (work dir or .pth): every tensor of the
                                           # same name and shape (all but the class scores of other classes)
    trust_checkpoint: bool = False         # unpickle non-tensor metadata of the checkpoints


@dataclass
class DetectionInputConfig:
    """Image size (the detector's and the training resize's) and training augmentation."""

    min_size: Annotated[int, between(8, MAX_SIDE)] = 800  # shorter side
    max_size: Annotated[int, between(8, MAX_SIDE)] = 1333  # longer side at most
    flip_prob: Annotated[float, between(0, 1)] = 0.5
    shift_prob: Annotated[float, between(0, 1)] = 0.5  # mmdetection RandomShift
    max_shift_px: Annotated[int, between(0, MAX_SIDE)] = 32


@dataclass
class DetectionDataConfig:
    root: str = "data/kinetics-tps-coco"   # partparse export-coco --out
    image_dir: str = "images"              # images/ (persons) or crops/ (parts), under root
    val_image_dir: str | None = None       # None: image_dir
    train_ann: str = "persons_train.json"
    val_ann: str = "persons_val.json"
    val_max_images: Annotated[int | None, at_least(1)] = None  # validate on this many images, evenly spaced
                                                               # (None: all)
    pose_guidance: bool = False            # draw the person's keypoints as dots (part detector)
    # jitter of the drawn keypoints, fraction of the crop's longer side
    keypoint_noise: Annotated[float, between(0, 1)] = 0.0
    # where a parts stream's training dots come from: the ground truth, or a pose model's estimates on the
    # person's box (dots_pose_model: a pose run, checkpoint or zoo:NAME; joints scoring dots_score_thr or
    # more are drawn, as the parser's parts.keypoint_score_thr). Validation draws the ground truth.
    dots_from: Annotated[str, one_of("ground_truth", "pose_model")] = "ground_truth"
    dots_pose_model: str | None = None
    dots_score_thr: Annotated[float, between(0, 1)] = 0.3
    train_source: Annotated[str, one_of("coco", "syntps_stream")] = "coco"  # syntps_stream: SynTPS rendered on the fly
    stream: SynTPSStreamConfig = field(default_factory=SynTPSStreamConfig)   # train_source syntps_stream only
    stream_view: Annotated[str, one_of("persons", "parts")] = "persons"  # parts: person crops (syntps_stream only)
    crop_margin: Annotated[float, between(0, 10)] = 0.15  # parts view: person box enlarged by this on each side
    crop_jitter: Annotated[float, between(0, 1)] = 0.0  # parts view: each box side moved by up to this x its size


@dataclass
class DetectionRecipe:
    task: str = "detection"
    name: str = "yolof"
    model: DetectionModelConfig = field(default_factory=DetectionModelConfig)
    input: DetectionInputConfig = field(default_factory=DetectionInputConfig)
    data: DetectionDataConfig = field(default_factory=DetectionDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
