"""Recipe of a YOLOF detector: persons on frames, or body parts on person crops (pose-guided or not).

Data come from ``partparse export-coco`` (``persons_{split}.json`` + ``images/``, ``parts_{split}.json`` +
``crops/``). Every value is written out in the YAML recipes of ``configs/yolof/``; one file per table row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from partparse.data.syntps_stream import SynTPSStreamConfig
from partparse.engine.optim import OptimConfig, ScheduleConfig
from partparse.engine.trainer import TrainConfig
from partparse.models.yolof import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class DetectionModelConfig:
    """YOLOF settings (:class:`partparse.models.yolof.YOLOFConfig`) and where its weights start from."""

    class_names: list[str] = field(default_factory=lambda: ["person"])  # label i = class_names[i]
    depth: int = 50                        # ResNet 18 | 50 | 101
    style: str = "pytorch"                 # caffe: mmdetection's YOLOF checkpoints
    frozen_stages: int = 1                 # 1: stem + layer1 fixed (mmdetection); 0: the stem; -1: nothing
    backbone_width: int = 64               # ResNet stem/layer1 channels (64: torchvision's; thinner: depth 18 only)
    backbone_norm: str = "frozen_bn"       # frozen_bn (mmdetection, ImageNet starts) | bn (trained, from scratch)
    backbone_stride: int = 32              # 32 (YOLOF's C5) | 16 (layer4 without downsampling: small parts)
    encoder_channels: int = 512
    encoder_mid_channels: int = 128
    dilations: list[int] = field(default_factory=lambda: [2, 4, 6, 8])
    anchor_sizes: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512])
    image_mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    image_std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    score_thresh: float = 0.05
    nms_thresh: float = 0.6
    detections_per_img: int = 100
    backbone_pretrained: str | None = None  # local torchvision ResNet state dict (ImageNet)
    pretrained: str | None = None          # local mmdetection YOLOF checkpoint (whole detector)
    pretrained_classes: list[int] | None = None  # keep these checkpoint classes (COCO person: [0])
    load_from: str | None = None           # a partparse detection run (work dir or .pth): every tensor of the
                                           # same name and shape (all but the class scores of other classes)
    trust_checkpoint: bool = False         # unpickle non-tensor metadata of the checkpoints


@dataclass
class DetectionInputConfig:
    """Image size (the detector's and the training resize's) and training augmentation."""

    min_size: int = 800                    # shorter side
    max_size: int = 1333                   # longer side at most
    flip_prob: float = 0.5
    shift_prob: float = 0.5                # mmdetection RandomShift
    max_shift_px: int = 32


@dataclass
class DetectionDataConfig:
    root: str = "data/kinetics-tps-coco"   # partparse export-coco --out
    image_dir: str = "images"              # images/ (persons) or crops/ (parts), under root
    val_image_dir: str | None = None       # None: image_dir
    train_ann: str = "persons_train.json"
    val_ann: str = "persons_val.json"
    val_max_images: int | None = None      # validate on this many images, evenly spaced (None: all)
    pose_guidance: bool = False            # draw the person's keypoints as dots (part detector)
    keypoint_noise: float = 0.0            # jitter of the drawn keypoints, fraction of the crop's longer side
    train_source: str = "coco"             # coco: train_ann + image_dir | syntps_stream: SynTPS rendered on the fly
    stream: SynTPSStreamConfig = field(default_factory=SynTPSStreamConfig)   # train_source syntps_stream only
    stream_view: str = "persons"           # persons (whole frames) | parts (person crops), syntps_stream only
    crop_margin: float = 0.15              # parts view: person box enlarged by this on each side (export-coco's)
    crop_jitter: float = 0.0               # parts view: each box side moved by up to this x its size (detector error)


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
