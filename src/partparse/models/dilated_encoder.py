"""YOLOF's dilated encoder: widen the receptive field of the single C5 feature map.

A projector (1x1 conv + BN, 3x3 conv + BN, no activation) reduces C5 to ``out_channels``, then residual
bottlenecks with growing dilation (2, 4, 6, 8) mix receptive fields so one level can see objects of
all sizes (YOLOF paper, Sec. 3.2). Layout and defaults follow mmdetection's ``DilatedEncoder``; its
checkpoint keys map onto ours in :func:`partparse.models.yolof.mmdet_yolof_key`.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torchvision.ops.misc import Conv2dNormActivation


class DilatedBottleneck(nn.Module):
    """1x1 reduce -> 3x3 dilated -> 1x1 expand (each conv + BN + ReLU), plus the identity; shape kept."""

    def __init__(self, channels: int, mid_channels: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = Conv2dNormActivation(channels, mid_channels, kernel_size=1)
        self.conv2 = Conv2dNormActivation(mid_channels, mid_channels, kernel_size=3, dilation=dilation)
        self.conv3 = Conv2dNormActivation(mid_channels, channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv3(self.conv2(self.conv1(x)))


class DilatedEncoder(nn.Module):
    """``(B, in_channels, H, W) -> (B, out_channels, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int = 512, mid_channels: int = 128,
                 dilations: Sequence[int] = (2, 4, 6, 8)) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.lateral = Conv2dNormActivation(in_channels, out_channels, kernel_size=1, bias=True,
                                            activation_layer=None)
        self.fpn = Conv2dNormActivation(out_channels, out_channels, kernel_size=3, bias=True,
                                        activation_layer=None)
        self.blocks = nn.Sequential(*(DilatedBottleneck(out_channels, mid_channels, d) for d in dilations))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As mmdetection: Caffe2 Xavier for the projector, N(0, 0.01) inside the residual blocks.
        for conv in (self.lateral[0], self.fpn[0]):
            nn.init.kaiming_uniform_(conv.weight, a=1)
            nn.init.zeros_(conv.bias)
        for m in self.blocks.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)

    def forward(self, c5: Tensor) -> Tensor:
        return self.blocks(self.fpn(self.lateral(c5)))
