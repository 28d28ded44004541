"""Person-centred clips: one square window per video around its most confident person.

An RGB 3D CNN trained from scratch on a few hundred videos memorises their backgrounds; cropping every
frame to the person who acts (and feeding motion, :mod:`partparse.data.clip_modality`) leaves it the
body to look at. The window must be computed the same way in training (from ground-truth boxes) and at
parse time (from the person detector's boxes), so one rule lives here:

1. the anchor is the largest box over every keyframe (:func:`box_areas`; training cuts around the
   ground truth's, the parser around its detector's kept boxes); given scores, the most confident one;
2. the person is followed forwards and backwards through the keyframes by the best-overlapping box
   (IoU >= ``link_iou``); a keyframe with no such box is skipped;
3. the window is the union of the followed boxes, grown by ``margin`` around its centre, made square
   (its longer side), moved inside the frame and clipped to it.

Boxes are continuous pixel corners ``(x1, y1, x2, y2)``; the window is integer ``(x0, y0, x1, y1)`` with
``x1``/``y1`` exclusive, ready for ``frames[:, y0:y1, x0:x1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

Window = tuple[int, int, int, int]


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas of ``(N, 4)`` xyxy boxes (0 for degenerate boxes)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box_areas(box[None])[0] + box_areas(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def follow_main_person(boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray] | None = None,
                       link_iou: float = 0.1) -> list[np.ndarray]:
    """The boxes of the most confident person, one per keyframe where it is found (rules 1-2 above).

    ``boxes[k]``: ``(N_k, 4)`` boxes of keyframe ``k``; ``scores[k]``: ``(N_k,)`` (``None``: areas).
    Returns the followed boxes in keyframe order (empty when no keyframe has a box).
    """
    boxes = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
    scores = [box_areas(b) for b in boxes] if scores is None else [np.asarray(s, np.float64).reshape(-1)
                                                                     for s in scores]
    if len(scores) != len(boxes) or any(len(s) != len(b) for s, b in zip(scores, boxes, strict=True)):
        raise ValueError("follow_main_person: one score per box is needed")
    filled = [k for k, b in enumerate(boxes) if len(b)]
    if not filled:
        return []
    anchor_frame = max(filled, key=lambda k: scores[k].max())
    anchor = boxes[anchor_frame][int(np.argmax(scores[anchor_frame]))]
    chosen = {anchor_frame: anchor}
    for order in (range(anchor_frame + 1, len(boxes)), range(anchor_frame - 1, -1, -1)):
        current = anchor
        for k in order:
            if not len(boxes[k]):
                continue
            overlap = _iou(current, boxes[k])
            best = int(np.argmax(overlap))
            if overlap[best] >= link_iou:
                current = boxes[k][best]
                chosen[k] = current
    return [chosen[k] for k in sorted(chosen)]


def person_window(boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray] | None, width: int, height: int,
                  margin: float = 1.2, link_iou: float = 0.1) -> Window | None:
    """The square window around the video's main person (rules 1-3 above), inside a ``width x height``
    frame; ``None`` when no keyframe has a person (callers then use the whole frame)."""
    followed = follow_main_person(boxes, scores, link_iou)
    if not followed:
        return None
    track = np.stack(followed)
    x1, y1 = track[:, 0].min(), track[:, 1].min()
    x2, y2 = track[:, 2].max(), track[:, 3].max()
    side = min(max(x2 - x1, y2 - y1, 1.0) * margin, float(max(width, height)))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(round(min(max(cx - side / 2, 0.0), max(width - side, 0.0))))
    top = int(round(min(max(cy - side / 2, 0.0), max(height - side, 0.0))))
    size = int(round(side))
    return left, top, min(left + size, width), min(top + size, height)


def crop_to_window(frames: np.ndarray, window: Window | None, size: int) -> np.ndarray:
    """uint8 ``(T, H, W, 3)`` frames cropped to ``window`` (whole frame when ``None``) and resized to
    ``size x size`` (bilinear, antialiased): uint8 ``(T, size, size, 3)``."""
    if window is not None:
        x0, y0, x1, y1 = window
        frames = frames[:, y0:y1, x0:x1]
    if frames.shape[1] < 1 or frames.shape[2] < 1:
        raise ValueError(f"empty person window {window} for frames of shape {frames.shape}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
