"""Anchor-relative box deltas (R-CNN ``dx, dy, dw, dh``) with YOLOF's clamp on the centre shift.

Boxes are ``(x1, y1, x2, y2)`` in continuous pixel coordinates (width ``x2 - x1``), as in torchvision's
detection models. torchvision's own ``BoxCoder`` (``models.detection._utils``) is private and has no
centre clamp, which YOLOF needs: with only one feature level a far-away anchor may be matched to a
box, and an unbounded shift makes early training unstable. mmdetection's ``DeltaXYWHBBoxCoder`` with
``add_ctr_clamp=True, ctr_clamp=32`` is the reference this module reproduces (means 0, stds 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class DeltaBoxCoder:
    """Encode boxes as deltas to anchors and decode them back.

    ``ctr_clamp``: largest centre shift in pixels at decoding (``None`` = no clamp, then ``dw, dh`` are
    clamped on both sides as in Faster R-CNN). ``wh_ratio_clip``: smallest/largest scale change,
    ``|dw|, |dh| <= log(1 / wh_ratio_clip)`` (YOLOF clamps only from above, as mmdetection does).
    """

    ctr_clamp: float | None = 32.0
    wh_ratio_clip: float = 16 / 1000

    def encode(self, anchors: Tensor, boxes: Tensor) -> Tensor:
        """Deltas ``(N, 4)`` that turn ``anchors (N, 4)`` into ``boxes (N, 4)`` (both xyxy, positive size)."""
        anchors, boxes = anchors.float(), boxes.float()
        pw, ph = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
        px, py = anchors[:, 0] + 0.5 * pw, anchors[:, 1] + 0.5 * ph
        gw, gh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        gx, gy = boxes[:, 0] + 0.5 * gw, boxes[:, 1] + 0.5 * gh
        return torch.stack([(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw), torch.log(gh / ph)], dim=1)

    def decode(self, anchors: Tensor, deltas: Tensor, image_size: tuple[int, int] | None = None) -> Tensor:
        """Boxes ``(..., 4)`` from ``anchors (..., 4)`` and ``deltas (..., 4)``.

        ``image_size = (height, width)`` clips the result to ``[0, width] x [0, height]``.
        """
        pwh = anchors[..., 2:] - anchors[..., :2]
        pxy = anchors[..., :2] + 0.5 * pwh
        shift = pwh * deltas[..., :2]
        max_log = abs(math.log(self.wh_ratio_clip))
        if self.ctr_clamp is not None:
            shift = shift.clamp(min=-self.ctr_clamp, max=self.ctr_clamp)
            dwh = deltas[..., 2:].clamp(max=max_log)
        else:
            dwh = deltas[..., 2:].clamp(min=-max_log, max=max_log)
        cxy = pxy + shift
        wh = pwh * dwh.exp()
        boxes = torch.cat([cxy - 0.5 * wh, cxy + 0.5 * wh], dim=-1)
        if image_size is not None:
            height, width = image_size
            boxes = torch.stack([boxes[..., 0].clamp(0, width), boxes[..., 1].clamp(0, height),
                                 boxes[..., 2].clamp(0, width), boxes[..., 3].clamp(0, height)], dim=-1)
        return boxes
