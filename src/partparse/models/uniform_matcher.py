"""YOLOF's uniform matching: every ground-truth box gets the same number of positive anchors.

With a single feature level, max-IoU matching would give large boxes many positives and small boxes
few. YOLOF (Chen et al., CVPR 2021, Sec. 3.3) instead takes, for each ground-truth box, the ``k``
anchors nearest to it *and* the ``k`` anchors whose current predictions are nearest to it (L1
distance between ``(cx, cy, w, h)`` in pixels, as mmdetection's ``UniformAssigner``). Two thresholds
clean the result: a positive whose *anchor* has IoU < ``pos_ignore_thr`` with its box is ignored, and
a negative whose *prediction* already overlaps some box with IoU > ``neg_ignore_thr`` is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.ops import box_convert, box_iou

BACKGROUND = -1
IGNORE = -2


@dataclass
class UniformMatch:
    """Result of :meth:`UniformMatcher.__call__` for one image.

    ``matched_gt (A,)``: index of the matched ground truth per anchor, or ``BACKGROUND`` (-1) or
    ``IGNORE`` (-2). ``pos_anchor (2kG,)`` / ``pos_gt (2kG,)``: every selected (anchor, gt) pair,
    duplicates kept (mmdetection regresses each pair, so an anchor picked twice counts twice);
    ``pos_valid (2kG,)``: pairs that survived ``pos_ignore_thr`` and enter the box loss.
    """

    matched_gt: Tensor
    pos_anchor: Tensor
    pos_gt: Tensor
    pos_valid: Tensor

    @property
    def num_positive_anchors(self) -> int:
        return int((self.matched_gt >= 0).sum())


@dataclass(frozen=True)
class UniformMatcher:
    """``k`` positives per box from anchors and ``k`` from predictions; see the module docstring."""

    match_times: int = 4
    pos_ignore_thr: float = 0.15
    neg_ignore_thr: float = 0.7

    def __call__(self, anchors: Tensor, pred_boxes: Tensor, gt_boxes: Tensor) -> UniformMatch:
        """Match ``anchors (A, 4)`` and their decoded ``pred_boxes (A, 4)`` to ``gt_boxes (G, 4)`` (xyxy)."""
        num_anchors, num_gt = anchors.shape[0], gt_boxes.shape[0]
        device = anchors.device
        matched = torch.full((num_anchors,), BACKGROUND, dtype=torch.long, device=device)
        if num_gt == 0 or num_anchors == 0:
            empty = torch.empty(0, dtype=torch.long, device=device)
            return UniformMatch(matched, empty, empty, torch.empty(0, dtype=torch.bool, device=device))
        k = min(self.match_times, num_anchors)
        gt_cxcywh = box_convert(gt_boxes, "xyxy", "cxcywh")
        cost_pred = torch.cdist(box_convert(pred_boxes, "xyxy", "cxcywh"), gt_cxcywh, p=1)
        cost_anchor = torch.cdist(box_convert(anchors, "xyxy", "cxcywh"), gt_cxcywh, p=1)
        # (k, G) each; concatenated per row as mmdetection does, so pos_gt repeats 0..G-1 2k times.
        idx_pred = cost_pred.topk(k, dim=0, largest=False).indices
        idx_anchor = cost_anchor.topk(k, dim=0, largest=False).indices
        pos_anchor = torch.cat([idx_pred, idx_anchor], dim=1).reshape(-1)
        pos_gt = torch.arange(num_gt, device=device).repeat(2 * k)

        pred_iou = box_iou(pred_boxes, gt_boxes)
        anchor_iou = box_iou(anchors, gt_boxes)
        # Negatives whose prediction already covers an object well are not pushed towards background.
        matched[pred_iou.max(dim=1).values > self.neg_ignore_thr] = IGNORE
        # Selected anchors that hardly overlap their box (odd aspect ratios, tiny objects) are ignored.
        pos_valid = anchor_iou[pos_anchor, pos_gt] >= self.pos_ignore_thr
        matched[pos_anchor] = torch.where(pos_valid, pos_gt, torch.full_like(pos_gt, IGNORE))
        return UniformMatch(matched, pos_anchor, pos_gt, pos_valid)
