"""YOLOF's decoder: a classification branch (2 convs) and a regression branch (4 convs) with implicit
objectness, on the one stride-32 feature map.

Layout and initialisation follow mmdetection's ``YOLOFHead`` (its keys map onto ours in
:func:`partparse.models.yolof.mmdet_yolof_key`). Outputs are flattened in the order torchvision's
``AnchorGenerator`` lays anchors out: location-major ``(y, x, anchor)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchvision.ops.misc import Conv2dNormActivation


def _flatten(t: Tensor, num_anchors: int, per_anchor: int) -> Tensor:
    """``(B, A*K, H, W) -> (B, H*W*A, K)``: the anchor order of ``AnchorGenerator``."""
    b, _, h, w = t.shape
    return t.view(b, num_anchors, per_anchor, h, w).permute(0, 3, 4, 1, 2).reshape(b, h * w * num_anchors, per_anchor)


class YOLOFHead(nn.Module):
    """``(B, C, H, W)`` feature -> ``cls_logits (B, HWA, num_classes)``, ``box_deltas (B, HWA, 4)``.

    ``cls_logits`` already include the implicit objectness: they are ``cls + obj - log(1 + exp(cls) +
    exp(obj))``, whose sigmoid is exactly ``sigmoid(cls) * sigmoid(obj)``. mmdetection computes it with
    ``exp`` clamped at 1e8; ``logsumexp`` here cannot overflow and agrees for logits below ~18.
    """

    def __init__(self, in_channels: int, num_classes: int, num_anchors: int = 5,
                 num_cls_convs: int = 2, num_reg_convs: int = 4, prior_prob: float = 0.01) -> None:
        super().__init__()
        self.num_classes, self.num_anchors = num_classes, num_anchors
        self.cls_subnet = nn.Sequential(*(Conv2dNormActivation(in_channels, in_channels, 3)
                                          for _ in range(num_cls_convs)))
        self.bbox_subnet = nn.Sequential(*(Conv2dNormActivation(in_channels, in_channels, 3)
                                           for _ in range(num_reg_convs)))
        self.cls_score = nn.Conv2d(in_channels, num_anchors * num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, 3, padding=1)
        self.object_pred = nn.Conv2d(in_channels, num_anchors, 3, padding=1)
        self.reset_parameters(prior_prob)

    def reset_parameters(self, prior_prob: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # Focal-loss prior: every anchor starts at foreground probability ~prior_prob.
        nn.init.constant_(self.cls_score.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feature: Tensor) -> tuple[Tensor, Tensor]:
        cls = self.cls_score(self.cls_subnet(feature))
        reg = self.bbox_subnet(feature)
        deltas = self.bbox_pred(reg)
        obj = self.object_pred(reg)
        b, _, h, w = cls.shape
        cls = cls.view(b, self.num_anchors, self.num_classes, h, w)
        obj = obj.view(b, self.num_anchors, 1, h, w).expand_as(cls)
        zero = torch.zeros_like(cls)
        logits = cls + obj - torch.logsumexp(torch.stack([zero, cls, obj]), dim=0)
        logits = logits.reshape(b, self.num_anchors * self.num_classes, h, w)
        return _flatten(logits, self.num_anchors, self.num_classes), _flatten(deltas, self.num_anchors, 4)
