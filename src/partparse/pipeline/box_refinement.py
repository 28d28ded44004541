"""Grow detected person boxes so that they contain the person's confident keypoints.

Detectors cut off stretched arms and legs; the parts there (hands, feet) would then fall outside the
person crop of the part detector. The pose estimator sees a padded crop (1.25x) and so can place
keypoints outside the detected box: every confident keypoint is pulled inside, with a margin.

Boxes follow partparse's convention (:mod:`partparse.structures`): ``(x1, y1, x2, y2)`` inclusive
pixels, so a refined box is clipped to ``[0, width - 1] x [0, height - 1]``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor


def refine_person_box(boxes, keypoints, scores, score_thr: float = 0.3, margin: float = 0.05,
                      margin_mode: Literal["fraction", "pixels"] = "fraction",
                      image_size: tuple[int, int] | None = None):
    """Smallest growth of each box that holds its keypoints scoring ``>= score_thr`` plus a margin.

    Args:
        boxes: ``(N, 4)`` xyxy person boxes (torch tensor or numpy array; the result has the same type).
        keypoints: ``(N, K, 2)`` keypoints ``(x, y)`` in the same image frame.
        scores: ``(N, K)`` keypoint confidences; keypoints below ``score_thr`` are ignored.
        margin: space kept between a keypoint and the box edge: a fraction of the box's width
            (horizontally) and height (vertically) with ``margin_mode="fraction"``, else pixels.
        image_size: ``(height, width)``; when given the result is clipped to the image.

    A box never shrinks (other than by clipping), and a person with no confident keypoint keeps its box.
    """
    as_numpy = isinstance(boxes, np.ndarray)
    b = torch.as_tensor(boxes, dtype=torch.float32)
    kp = torch.as_tensor(keypoints, dtype=torch.float32)
    sc = torch.as_tensor(scores, dtype=torch.float32)
    if b.ndim != 2 or b.shape[1] != 4 or kp.shape[:1] != b.shape[:1] or kp.shape[-1] != 2 or sc.shape != kp.shape[:2]:
        raise ValueError(f"expected boxes (N, 4), keypoints (N, K, 2), scores (N, K); got "
                         f"{tuple(b.shape)}, {tuple(kp.shape)}, {tuple(sc.shape)}")
    if margin_mode not in ("fraction", "pixels"):
        raise ValueError(f"margin_mode must be 'fraction' or 'pixels', got {margin_mode!r}")
    if margin_mode == "fraction":
        pad = margin * torch.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], dim=1)  # (N, 2) = (x, y)
    else:
        pad = torch.full((b.shape[0], 2), float(margin))
    confident = (sc >= score_thr)[..., None]
    inf = torch.tensor(float("inf"))
    low = torch.where(confident, kp, inf).amin(dim=1) - pad    # (N, 2); +inf where none is confident
    high = torch.where(confident, kp, -inf).amax(dim=1) + pad
    out = torch.cat([torch.minimum(b[:, :2], low), torch.maximum(b[:, 2:], high)], dim=1)
    if image_size is not None:
        height, width = image_size
        limit = torch.tensor([width - 1, height - 1, width - 1, height - 1], dtype=torch.float32)
        out = torch.minimum(out.clamp(min=0), limit)
    if as_numpy:
        return out.numpy()
    return out.to(boxes.dtype) if isinstance(boxes, Tensor) and boxes.is_floating_point() else out
