"""Channel-separated 3D ResNets (CSN) for video classification: ir-CSN and ip-CSN, depths 26 to 152.

Tran, Wang, Torresani, Feiszli, "Video Classification with Channel-Separated Convolutional Networks",
ICCV 2019 (arXiv:1904.02811). The layout and hyper-parameters follow the public checkpoints (VMZ,
converted by mmaction2 as ``ResNet3dCSN``), so :mod:`partparse.models.csn_checkpoint` can load them:

- stem: conv 3x7x7, stride (1, 2, 2), BN, ReLU, then max-pool 1x3x3, stride (1, 2, 2);
- four stages of bottleneck blocks (64, 128, 256, 512 inner channels; x4 out); stages 2-4 downsample
  by 2 in time, height and width in the depthwise 3x3x3 convolution of their first block;
- BatchNorm3d with ``eps=1e-3`` (Caffe2's value, which the checkpoints were trained with).

Block kinds (``variant``):

- ``"ir"`` (interaction-reduced): 1x1x1 reduce -> 3x3x3 depthwise -> 1x1x1 expand;
- ``"ip"`` (interaction-preserved): 1x1x1 reduce -> 1x1x1 pointwise (BN, no ReLU) -> 3x3x3 depthwise
  -> 1x1x1 expand.

Tensors: clips are ``float[N, 3, T, H, W]``, RGB, normalised with :data:`CSN_PIXEL_MEAN` /
:data:`CSN_PIXEL_STD` (0-255 scale). The backbone returns ``float[N, 2048, T/8, H/32, W/32]``
(each size rounded up at every stride-2 step).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

# Per-channel RGB mean and std (0-255 scale) the VMZ / IG-65M / Sports-1M CSN checkpoints expect.
CSN_PIXEL_MEAN = (110.2008, 100.63983, 95.99475)
CSN_PIXEL_STD = (58.14765, 56.46975, 55.332195)

# Caffe2's SpatialBN epsilon, which every public CSN checkpoint was trained with.
BN_EPS = 1e-3

# Bottleneck blocks per stage. 26 is VMZ's bottleneck ResNet-26 (2 + 8 blocks x 3 layers).
STAGE_BLOCKS: dict[int, tuple[int, int, int, int]] = {
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
VARIANTS = ("ir", "ip")
EXPANSION = 4
STAGE_WIDTHS = (64, 128, 256, 512)  # inner (bottleneck) channels; outputs are 4x these
STAGE_STRIDES = (1, 2, 2, 2)       # same stride for time, height and width


class ConvBN3d(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d -> optional ReLU. Children ``conv`` and ``bn`` name the checkpoint keys."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int, int] = 1,
                 stride: int | tuple[int, int, int] = 1, padding: int | tuple[int, int, int] = 0,
                 groups: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm3d(out_channels, eps=BN_EPS)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class CSNBottleneck(nn.Module):
    """One channel-separated bottleneck block; the residual sum is followed by ReLU.

    ``stride`` applies to time, height and width, in the depthwise convolution ("pytorch" style) and
    in the 1x1x1 ``shortcut`` projection, which exists when the stride or the channel count changes.
    """

    def __init__(self, in_channels: int, width: int, stride: int = 1, variant: str = "ir") -> None:
        super().__init__()
        out_channels = width * EXPANSION
        self.reduce = ConvBN3d(in_channels, width, 1)
        # ip keeps channel interactions next to the depthwise conv; no ReLU between the two (VMZ).
        self.pointwise = ConvBN3d(width, width, 1, relu=False) if variant == "ip" else None
        self.depthwise = ConvBN3d(width, width, 3, stride=stride, padding=1, groups=width)
        self.expand = ConvBN3d(width, out_channels, 1, relu=False)
        self.shortcut = (ConvBN3d(in_channels, out_channels, 1, stride=stride, relu=False)
                         if stride != 1 or in_channels != out_channels else None)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.reduce(x)
        if self.pointwise is not None:
            out = self.pointwise(out)
        out = self.expand(self.depthwise(out))
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu(out + identity)


class ResNet3dCSN(nn.Module):
    """CSN backbone: ``float[N, 3, T, H, W]`` -> ``float[N, 32 * base_channels, T', H', W']`` (2048 by default;
    see the module docstring).

    Args:
        depth: 26, 50, 101 or 152.
        variant: ``"ir"`` or ``"ip"`` bottlenecks.
        frozen_bn: keep every BatchNorm in eval mode (running statistics fixed, also after
            ``model.train()``) and its affine weights out of the optimiser (``requires_grad=False``).
            What mmaction2's "bnfrozen" CSN fine-tuning recipes do.
        frozen_stages: -1 trains everything; 0 freezes the stem; k >= 1 freezes the stem and
            ``layer1`` .. ``layer{k}`` (parameters fixed, modules kept in eval mode).
        zero_init_residual: start each block's last BN at gamma = 0 (the block starts as identity).
        base_channels: the stem's output channels and ``layer1``'s bottleneck width (64 in every public
            checkpoint); the stages widen from it x2 per stage, as in mmaction2's ``ResNet3d``. A thinner
            network (e.g. 16: ~1/10 of the compute) is what trains from scratch on a CPU in minutes.
        gradient_checkpointing: recompute block activations in the backward pass (less memory,
            ~30% more compute); only active while training with gradients. BNs in train mode then
            update their running statistics twice a step (as with mmaction2's ``with_cp``); with
            ``frozen_bn`` nothing changes.
    """

    def __init__(self, depth: int = 152, variant: str = "ir", *, in_channels: int = 3, frozen_bn: bool = False,
                 frozen_stages: int = -1, zero_init_residual: bool = False,
                 gradient_checkpointing: bool = False, base_channels: int = 64) -> None:
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"CSN depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        if variant not in VARIANTS:
            raise ValueError(f"CSN variant must be 'ir' or 'ip', got {variant!r}")
        if not -1 <= frozen_stages <= 4:
            raise ValueError(f"frozen_stages must be in [-1, 4], got {frozen_stages}")
        if base_channels < 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        self.depth, self.variant = depth, variant
        self.frozen_bn, self.frozen_stages = frozen_bn, frozen_stages
        self.gradient_checkpointing = gradient_checkpointing

        self.stem = nn.Sequential(OrderedDict(
            conv=nn.Conv3d(in_channels, base_channels, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            bn=nn.BatchNorm3d(base_channels, eps=BN_EPS),
            relu=nn.ReLU(inplace=True),
            pool=nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        ))

        channels = base_channels
        widths = [w * base_channels // STAGE_WIDTHS[0] for w in STAGE_WIDTHS]
        for i, (blocks, width, stride) in enumerate(zip(STAGE_BLOCKS[depth], widths, STAGE_STRIDES, strict=True)):
            stage = nn.Sequential(*(CSNBottleneck(channels if b == 0 else width * EXPANSION, width,
                                                  stride if b == 0 else 1, variant) for b in range(blocks)))
            self.add_module(f"layer{i + 1}", stage)
            channels = width * EXPANSION
        self.out_channels = channels

        self._init_weights(zero_init_residual)
        self._freeze()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, CSNBottleneck):
                    nn.init.zeros_(m.expand.bn.weight)

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.stem, *self.stages[:self.frozen_stages]]

    def _freeze(self) -> None:
        for module in self._frozen_modules():
            module.requires_grad_(False)
        if self.frozen_bn:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.requires_grad_(False)

    def train(self, mode: bool = True) -> ResNet3dCSN:
        """Like ``nn.Module.train``, but frozen stages and (with ``frozen_bn``) every BN stay in eval mode."""
        super().train(mode)
        if mode:
            for module in self._frozen_modules():
                module.eval()
            if self.frozen_bn:
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5:
            raise ValueError(f"CSN expects clips of shape [N, C, T, H, W], got {tuple(x.shape)}")
        x = self.stem(x)
        for stage in self.stages:
            for block in stage:
                if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                    x = checkpoint(block, x, use_reentrant=False)
                else:
                    x = block(x)
        return x


class ClassificationHead(nn.Module):
    """Global average pool over (T, H, W) -> dropout -> linear: ``float[N, C, T, H, W]`` -> logits ``[N, K]``.

    mmaction2's ``I3DHead`` (avg pool, dropout 0.5, fc initialised N(0, 0.01), bias 0).
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.5, init_std: float = 0.01) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc.weight, std=init_std)
        nn.init.zeros_(self.fc.bias)

    def forward(self, features: Tensor) -> Tensor:
        return self.fc(self.dropout(self.pool(features).flatten(1)))


class VideoClassifier(nn.Module):
    """A backbone shared by one or several classification heads.

    ``forward(clips)`` returns ``{head name: logits float[N, num_classes]}``: e.g. ``{"action": ...}``,
    or an action head next to one part-state head per body part. Every head sees the same features,
    so several label spaces cost one backbone pass.
    """

    def __init__(self, backbone: nn.Module, heads: Mapping[str, nn.Module]) -> None:
        super().__init__()
        if not heads:
            raise ValueError("VideoClassifier needs at least one head")
        self.backbone = backbone
        self.heads = nn.ModuleDict(heads)

    def forward(self, clips: Tensor) -> dict[str, Tensor]:
        features = self.backbone(clips)
        return {name: head(features) for name, head in self.heads.items()}


def build_csn(variant: str, depth: int, num_classes: int | Mapping[str, int] = 400, *, dropout: float = 0.5,
              **backbone_kwargs) -> VideoClassifier:
    """CSN classifier. ``num_classes``: an int gives one head named ``"action"``; a mapping
    ``{head name: classes}`` gives one head each (in that order). ``backbone_kwargs`` go to
    :class:`ResNet3dCSN` (``frozen_bn``, ``frozen_stages``, ...)."""
    backbone = ResNet3dCSN(depth, variant, **backbone_kwargs)
    sizes = {"action": num_classes} if isinstance(num_classes, int) else dict(num_classes)
    heads = {name: ClassificationHead(backbone.out_channels, n, dropout=dropout) for name, n in sizes.items()}
    return VideoClassifier(backbone, heads)


def ir_csn_26(num_classes: int | Mapping[str, int] = 400, **kwargs) -> VideoClassifier:
    return build_csn("ir", 26, num_classes, **kwargs)


def ip_csn_26(num_classes: int | Mapping[str, int] = 400, **kwargs) -> VideoClassifier:
    return build_csn("ip", 26, num_classes, **kwargs)


def ir_csn_50(num_classes: int | Mapping[str, int] = 400, **kwargs) -> VideoClassifier:
    return build_csn("ir", 50, num_classes, **kwargs)


def ir_csn_152(num_classes: int | Mapping[str, int] = 400, **kwargs) -> VideoClassifier:
    return build_csn("ir", 152, num_classes, **kwargs)


def ip_csn_50(num_classes: int | Mapping[str, int] = 400, **kwargs) -> VideoClassifier:
    return build_csn("ip", 50, num_classes, **kwargs)


def ip_csn_152(num_classes: int | Mapping[str, int] = 400, **kwargs) -> VideoClassifier:
    return build_csn("ip", 152, num_classes, **kwargs)
