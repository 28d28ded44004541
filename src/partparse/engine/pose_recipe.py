"""Recipe of a top-down HRNet pose estimator (17 COCO keypoints) trained on person crops.

Data come from ``partparse export-coco`` (``person_keypoints_{split}.json`` + ``images/``). Validation
crops the ground-truth person boxes (mmpose's ``use_gt_bbox``) and reports COCO keypoint AP (OKS).
Every value is written out in the YAML recipes of ``configs/hrnet/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from partparse.config import above, between, each, length, one_of
from partparse.data.syntps_stream_config import SynTPSStreamConfig
from partparse.data.topdown_crop_config import TopDownCropConfig
from partparse.engine.optim import OptimConfig, ScheduleConfig
from partparse.engine.train_config import TrainConfig
from partparse.models.imagenet import IMAGENET_MEAN, IMAGENET_STD


@dataclass
class PoseModelConfig:
    arch: Annotated[str, one_of("hrnet_w18_small", "hrnet_w18", "hrnet_w32", "hrnet_w48")] = "hrnet_w32"
    num_keypoints: Annotated[int, between(1, 1000)] = 17
    heatmap_size: Annotated[list[int], length(2), each(between(1, 1024))] = field(  # (h, w) = input / 4
        default_factory=lambda: [64, 48])
    sigma: Annotated[float, above(0)] = 2.0
    quantize_center: bool = True           # mmpose MSRAHeatmap (unbiased=False); false: DARK encoding
    decode_mode: Annotated[str, one_of("quarter", "dark")] = "quarter"  # quarter (HRNet paper, mmpose default) | dark
    blur_kernel: Annotated[int, between(1, 255)] = 11
    flip_test: bool = True
    shift_heatmap: bool = True
    image_mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    image_std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    backbone_pretrained: str | None = None  # local ImageNet HRNet classifier checkpoint (official / mmpose keys)
    pretrained: str | None = None          # local mmpose HRNet checkpoint (whole model or backbone.*)
    trust_checkpoint: bool = False
    load_from: str | None = None           # a partparse pose run (work dir, .pth or zoo:<name>): every tensor of
                                           # the same name and shape (a second training stage, fine-tuning)


@dataclass
class PoseInputConfig(TopDownCropConfig):
    """Crop geometry and training augmentation (the fields of
    :class:`partparse.data.coco_keypoints.TopDownCropConfig`, defaults of mmpose's 256x192 recipes)."""


@dataclass
class PoseDataConfig:
    root: str = "data/kinetics-tps-coco"   # partparse export-coco --out
    image_dir: str = "images"
    val_image_dir: str | None = None       # None: image_dir (COCO itself: train2017/ and val2017/)
    train_ann: str = "person_keypoints_train.json"
    val_ann: str = "person_keypoints_val.json"
    val_max_images: int | None = None      # validate on this many images, evenly spaced (None: all)
    train_source: str = "coco"             # coco: train_ann + image_dir | syntps_stream: SynTPS rendered on the fly
    stream: SynTPSStreamConfig = field(default_factory=SynTPSStreamConfig)   # train_source syntps_stream only


@dataclass
class PoseRecipe:
    task: str = "pose"
    name: str = "hrnet"
    model: PoseModelConfig = field(default_factory=PoseModelConfig)
    input: PoseInputConfig = field(default_factory=PoseInputConfig)
    data: PoseDataConfig = field(default_factory=PoseDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        # HRNet fuses branches at strides 4, 8, 16 and 32 by upsampling: a side that is not a multiple of 32
        # gives branches that do not line up (a shape error deep in the first training step otherwise), and
        # its heatmaps are the input at stride 4 (mmpose's 256x192 -> 64x48)
        h, w = self.input.input_size
        if h % 32 or w % 32:
            raise ValueError(f"input.input_size must be multiples of 32 for HRNet, got [{h}, {w}]")
        if list(self.model.heatmap_size) != [h // 4, w // 4]:
            raise ValueError(f"model.heatmap_size must be input.input_size / 4 = [{h // 4}, {w // 4}], got "
                             f"{list(self.model.heatmap_size)}")
