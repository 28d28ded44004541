"""A light spatio-temporal graph convolution network (the ST-GCN family) over the 17 COCO joints.

Input ``(B, C, T, 17)`` person tracks (:func:`partparse.data.skeleton_features.track_features`) with a
mask ``(B, T)`` of the keyframes the person was seen in. Each block mixes joints along the skeleton
(a normalised COCO adjacency plus a learned correction, as in 2s-AGCN) and then mixes time with a
temporal convolution; padding and unseen keyframes are zeroed after every block so they never leak.
Two kinds of heads read the features:

- ``action``: the masked mean over time of the joint-pooled features -> one action per track;
- one head per body part: each keyframe's features of all joints -> the part's state in that keyframe
  (a part's state is a motion of that part, seen over the neighbouring keyframes by the temporal
  convolutions).

Small enough to train in minutes on two CPU cores (about 0.37 M parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

#: COCO skeleton edges, 0-based joint indices.
COCO_EDGES = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
              (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))


def normalised_adjacency(num_joints: int = 17, edges: Sequence[tuple[int, int]] = COCO_EDGES) -> Tensor:
    """``D^-1/2 (A + I) D^-1/2`` of the skeleton graph."""
    a = torch.eye(num_joints)
    for i, j in edges:
        a[i, j] = a[j, i] = 1.0
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class GraphBlock(nn.Module):
    """Spatial graph convolution, then a temporal convolution, with a residual connection."""

    def __init__(self, cin: int, cout: int, adjacency: Tensor, kernel_t: int = 5, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("adjacency", adjacency)
        self.learned = nn.Parameter(torch.zeros_like(adjacency))
        self.spatial = nn.Conv2d(cin, cout, 1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.temporal = nn.Conv2d(cout, cout, (kernel_t, 1), padding=(kernel_t // 2, 0))
        self.bn2 = nn.BatchNorm2d(cout)
        self.drop = nn.Dropout(dropout)
        self.residual = nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        a = self.adjacency + self.learned
        y = torch.einsum("bctv,vw->bctw", self.spatial(x), a)
        y = self.relu(self.bn1(y)) * mask
        y = self.drop(self.bn2(self.temporal(y)))
        return self.relu(y + self.residual(x)) * mask


class SkeletonGCN(nn.Module):
    """Action + per-keyframe body-part states from a keypoint track (see the module docstring).

    Args:
        num_actions: classes of the action head.
        part_states: number of states of each body part's head, in head order.
        in_channels: input channels per joint; ``channels``: the blocks' widths; ``kernel_t``: the
        temporal kernel (keyframes); ``hidden``: width of the per-keyframe part layer.
    """

    def __init__(self, num_actions: int, part_states: Sequence[int], in_channels: int = 5, num_joints: int = 17,
                 channels: Sequence[int] = (48, 48, 96, 96), kernel_t: int = 5, hidden: int = 128,
                 dropout: float = 0.1):
        super().__init__()
        self.part_states = list(part_states)
        adjacency = normalised_adjacency(num_joints)
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        widths = [in_channels, *channels]
        self.blocks = nn.ModuleList(GraphBlock(a, b, adjacency, kernel_t, dropout) for a, b in pairwise(widths))
        c = widths[-1]
        self.action_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c, num_actions))
        self.part_trunk = nn.Sequential(nn.Linear(c * num_joints + c, hidden), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout))
        self.part_head = nn.Linear(hidden, sum(self.part_states))

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``x (B, C, T, V)``, ``mask (B, T)`` -> ``(action logits (B, A), [part logits (B, T, S_p)])``."""
        b, c, t, v = x.shape
        m = mask.to(x.dtype)[:, None, :, None]
        x = self.data_bn(x.permute(0, 1, 3, 2).reshape(b, c * v, t)).reshape(b, c, v, t).permute(0, 1, 3, 2) * m
        for block in self.blocks:
            x = block(x, m)
        pooled = x.mean(3)                                                   # (B, C, T)
        weight = mask.to(x.dtype)
        clip = (pooled * weight[:, None]).sum(2) / weight.sum(1).clamp(min=1)[:, None]
        action = self.action_head(clip)
        per_frame = torch.cat([x.permute(0, 2, 1, 3).reshape(b, t, -1),
                               clip[:, None, :].expand(b, t, clip.shape[1])], dim=2)
        parts = self.part_head(self.part_trunk(per_frame))
        return action, list(parts.split(self.part_states, dim=2))
