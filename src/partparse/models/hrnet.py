"""HRNet top-down pose estimation (Sun et al., CVPR 2019) with mmpose's module layout.

The backbone keeps a stride-4 branch through four stages while adding 8x, 16x, 32x branches that
exchange information in every module; the head is a 1x1 conv on the stride-4 branch giving one heatmap
per keypoint (mmpose ``TopdownHeatmapSimpleHead`` with no deconvolutions). Names of modules are
mmpose's, so its checkpoints load by a prefix map (:func:`mmpose_hrnet_key`).

Calling convention (like torchvision's detection models): ``model(images, targets)`` with ``images``
``(N, 3, H, W)`` float RGB crops in ``[0, 1]`` (from :func:`~partparse.models.keypoint_codec.crop_boxes`;
normalisation with ``image_mean/std`` happens inside). Training mode needs ``targets``: one dict per
crop with ``keypoints (K, 3)`` = crop pixels ``(x, y, visibility)``; it returns ``{"heatmap": loss}``.
Eval mode returns one dict per crop: ``keypoints (K, 2)`` in crop pixels, ``scores (K,)`` (heatmap
peaks), with flip test if ``config.flip_test``. :func:`estimate_poses` does boxes -> image keypoints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from partparse.models.imagenet import IMAGENET_MEAN, IMAGENET_STD
from partparse.models.keypoint_codec import HeatmapCodec, crop_boxes, flip_back, keypoint_mse_loss
from partparse.models.weights import LoadReport, load_mapped

_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


@dataclass(frozen=True)
class StageSpec:
    """One HRNet stage: ``num_modules`` HR modules, each branch ``num_blocks[i]`` blocks of ``num_channels[i]``."""

    num_modules: int
    num_blocks: tuple[int, ...]
    num_channels: tuple[int, ...]
    block: str = "basic"


@dataclass(frozen=True)
class HRNetConfig:
    """Architecture, codec and test-time settings of a top-down HRNet."""

    stages: tuple[StageSpec, StageSpec, StageSpec, StageSpec]
    num_keypoints: int = 17
    codec: HeatmapCodec = field(default_factory=HeatmapCodec)
    image_mean: Sequence[float] = IMAGENET_MEAN
    image_std: Sequence[float] = IMAGENET_STD
    flip_test: bool = True
    shift_heatmap: bool = True


def _hrnet_stages(width: int, blocks: int = 4, modules: tuple[int, int, int] = (1, 4, 3)) -> tuple:
    c = (width, 2 * width, 4 * width, 8 * width)
    return (StageSpec(1, (blocks,), (64,), "bottleneck"),
            StageSpec(modules[0], (blocks,) * 2, c[:2]),
            StageSpec(modules[1], (blocks,) * 3, c[:3]),
            StageSpec(modules[2], (blocks,) * 4, c))


HRNET_STAGES = {
    "w18": _hrnet_stages(18),
    "w32": _hrnet_stages(32),
    "w48": _hrnet_stages(48),
    # HRNetV2-W18-Small-v1's layout (16..128 channels, 1-2 blocks, one module a stage): for CPU tests.
    "w18_small": (StageSpec(1, (1,), (32,), "bottleneck"), StageSpec(1, (2, 2), (16, 32)),
                  StageSpec(1, (2, 2, 2), (16, 32, 64)), StageSpec(1, (2, 2, 2, 2), (16, 32, 64, 128))),
}


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


def _make_blocks(block: str, cin: int, channels: int, num: int) -> nn.Sequential:
    """``num`` torchvision residual blocks turning ``cin`` into ``channels * expansion`` channels."""
    cls = _BLOCKS[block]
    cout = channels * cls.expansion
    down = _conv_bn(cin, cout, 1, relu=False) if cin != cout else None
    layers = [cls(cin, channels, downsample=down)] + [cls(cout, channels) for _ in range(1, num)]
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """Parallel branches, then every output branch sums all inputs resampled to its resolution."""

    def __init__(self, spec: StageSpec, in_channels: Sequence[int], multiscale_output: bool) -> None:
        super().__init__()
        n = len(spec.num_channels)
        self.branches = nn.ModuleList(_make_blocks(spec.block, in_channels[i], spec.num_channels[i],
                                                   spec.num_blocks[i]) for i in range(n))
        ch = [c * _BLOCKS[spec.block].expansion for c in spec.num_channels]
        self.out_channels = ch
        self.fuse_layers = nn.ModuleList() if n > 1 else None
        num_outputs = (n if multiscale_output else 1) if n > 1 else 0
        for i in range(num_outputs):
            row = nn.ModuleList()
            for j in range(n):
                if j > i:  # lower resolution: 1x1 conv, then nearest upsampling
                    row.append(nn.Sequential(*_conv_bn(ch[j], ch[i], 1, relu=False),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:  # higher resolution: i - j stride-2 3x3 convs, ReLU between them
                    steps = [_conv_bn(ch[j], ch[j], 3, 2) for _ in range(i - j - 1)]
                    row.append(nn.Sequential(*steps, _conv_bn(ch[j], ch[i], 3, 2, relu=False)))
            self.fuse_layers.append(row)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.fuse_layers is None:
            return xs
        return [self.relu(sum(x if layer is None else layer(x) for layer, x in zip(row, xs, strict=True)))
                for row in self.fuse_layers]


class HRNet(nn.Module):
    """``(N, 3, H, W)`` -> the stride-4 feature ``(N, C0, H/4, W/4)`` (only the highest resolution)."""

    def __init__(self, stages: Sequence[StageSpec]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        s1 = stages[0]
        self.layer1 = _make_blocks(s1.block, 64, s1.num_channels[0], s1.num_blocks[0])
        prev = [s1.num_channels[0] * _BLOCKS[s1.block].expansion]
        for k, spec in enumerate(stages[1:], start=1):
            cur = [c * _BLOCKS[spec.block].expansion for c in spec.num_channels]
            setattr(self, f"transition{k}", self._transition(prev, cur))
            modules = []
            for m in range(spec.num_modules):
                last_of_net = k == len(stages) - 1 and m == spec.num_modules - 1
                modules.append(HRModule(spec, cur, multiscale_output=not last_of_net))
                cur = modules[-1].out_channels
            setattr(self, f"stage{k + 1}", nn.Sequential(*modules))
            prev = cur
        self.out_channels = prev[0]
        self.num_stages = len(stages)
        for m in self.modules():  # mmpose's init: N(0, 0.001) convs, unit BN
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)

    @staticmethod
    def _transition(prev: list[int], cur: list[int]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, c in enumerate(cur):
            if i < len(prev):
                layers.append(_conv_bn(prev[i], c, 3) if prev[i] != c else None)
            else:  # a new, coarser branch from the coarsest existing one
                steps = [_conv_bn(prev[-1], prev[-1], 3, 2) for _ in range(i - len(prev))]
                layers.append(nn.Sequential(*steps, _conv_bn(prev[-1], c, 3, 2)))
        return layers

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        ys = [self.layer1(x)]
        for k in range(1, self.num_stages):
            transition = getattr(self, f"transition{k}")
            xs = [ys[i] if t is None else t(ys[min(i, len(ys) - 1)]) for i, t in enumerate(transition)]
            ys = getattr(self, f"stage{k + 1}")(xs)
        return ys[0]


class PoseHRNet(nn.Module):
    """HRNet + 1x1 heatmap head; see the module docstring for inputs and outputs."""

    def __init__(self, config: HRNetConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = HRNet(config.stages)
        self.final_layer = nn.Conv2d(self.backbone.out_channels, config.num_keypoints, 1)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)
        self.register_buffer("image_mean", torch.tensor(config.image_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("image_std", torch.tensor(config.image_std).view(1, 3, 1, 1), persistent=False)

    def heatmaps(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` crops in ``[0, 1]`` -> raw heatmaps ``(N, K, H/4, W/4)``."""
        return self.final_layer(self.backbone((images - self.image_mean) / self.image_std))

    def forward(self, images: Tensor, targets: list[dict[str, Tensor]] | None = None
                ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        expected = tuple(self.config.codec.input_size)
        if images.ndim != 4 or tuple(images.shape[-2:]) != expected:
            raise ValueError(f"images must be (N, 3, {expected[0]}, {expected[1]}), got {tuple(images.shape)}")
        if self.training:
            if targets is None or len(targets) != images.shape[0]:
                raise ValueError("training mode needs one target dict with 'keypoints' (K, 3) per crop")
            gt, weights = self.config.codec.encode(torch.stack([t["keypoints"] for t in targets]))
            return {"heatmap": keypoint_mse_loss(self.heatmaps(images), gt, weights)}
        heatmaps = self.heatmaps(images)
        if self.config.flip_test:
            flipped = self.heatmaps(images.flip(-1))
            heatmaps = (heatmaps + flip_back(flipped, shift=self.config.shift_heatmap)) / 2
        keypoints, scores = self.config.codec.decode(heatmaps)
        return [{"keypoints": k, "scores": s} for k, s in zip(keypoints, scores, strict=True)]


@torch.no_grad()
def estimate_poses(model: PoseHRNet, image: Tensor, boxes: Tensor, padding: float = 1.25) -> tuple[Tensor, Tensor]:
    """Top-down inference: ``image (3, H, W)`` in ``[0, 1]``, person ``boxes (N, 4)`` xyxy ->
    image-pixel ``keypoints (N, K, 2)`` and ``scores (N, K)``. The model must be in eval mode."""
    k = model.config.num_keypoints
    if boxes.shape[0] == 0:
        return image.new_zeros((0, k, 2)), image.new_zeros((0, k))
    crops, transform = crop_boxes(image, boxes, model.config.codec.input_size, padding)
    out = model(crops)
    keypoints = torch.stack([o["keypoints"] for o in out])
    return transform.to_image(keypoints), torch.stack([o["scores"] for o in out])


# ---- mmpose checkpoints -----------------------------------------------------------------------------

_HEAD = re.compile(r"^(?:keypoint_head|head)\.final_layer\.(weight|bias)$")


def mmpose_hrnet_key(key: str) -> str | None:
    """Our name for an mmpose top-down HRNet key (0.x ``keypoint_head.*`` or 1.x ``head.*``), else None."""
    if key.startswith("backbone."):
        return key
    m = _HEAD.match(key)
    return f"final_layer.{m.group(1)}" if m else None


def load_mmpose_hrnet(model: PoseHRNet, state_dict: Mapping[str, Tensor]) -> LoadReport:
    """Load an mmpose HRNet state dict (e.g. ``hrnet_w32_coco_256x192``) through the key map."""
    return load_mapped(model, state_dict, mmpose_hrnet_key)


# ---- builders ------------------------------------------------------------------------------------------

def _build(name: str, num_keypoints: int, **kwargs) -> PoseHRNet:
    return PoseHRNet(HRNetConfig(stages=HRNET_STAGES[name], num_keypoints=num_keypoints, **kwargs))


def hrnet_w18(num_keypoints: int = 17, **kwargs) -> PoseHRNet:
    return _build("w18", num_keypoints, **kwargs)


def hrnet_w32(num_keypoints: int = 17, **kwargs) -> PoseHRNet:
    """HRNet-W32 at 256x192: the layout of mmpose's ``td-hm_hrnet-w32_8xb64-210e_coco-256x192``."""
    return _build("w32", num_keypoints, **kwargs)


def hrnet_w48(num_keypoints: int = 17, **kwargs) -> PoseHRNet:
    return _build("w48", num_keypoints, **kwargs)


def hrnet_w18_small(num_keypoints: int = 17, **kwargs) -> PoseHRNet:
    """A small HRNet (HRNetV2-W18-Small-v1 layout) for CPU tests and quick experiments."""
    return _build("w18_small", num_keypoints, **kwargs)
