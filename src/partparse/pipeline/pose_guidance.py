"""Pose-guided part detection: the person crop, with its keypoints drawn as coloured dots, is the input
of a second YOLOF that finds the 10 body parts; part boxes then go back to the frame.

Each of the 17 COCO keypoints has its own fixed colour, so the part detector learns "the hand is next
to the green dot" rather than having to tell left from right by appearance alone. Whether dots are
drawn (``pose_guidance``) is the caller's switch: without it, :func:`crop_person` alone gives the input.

Conventions: images are ``uint8`` RGB, either numpy ``(H, W, 3)`` or torch ``(3, H, W)``; boxes are
``(x1, y1, x2, y2)`` inclusive pixels (:mod:`partparse.structures`); crop coordinates have their origin
at the crop's top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

# One colour per COCO keypoint (order of partparse.models.keypoint_codec.COCO_KEYPOINTS). Left joints
# take warm colours, right joints cold ones, the head greys and purples: pairwise RGB distance >= 80.
KEYPOINT_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255),  # nose
    (255, 0, 255),    # left_eye
    (128, 0, 128),    # right_eye
    (255, 160, 200),  # left_ear
    (96, 96, 96),     # right_ear
    (255, 0, 0),      # left_shoulder
    (0, 0, 255),      # right_shoulder
    (255, 128, 0),    # left_elbow
    (0, 160, 255),    # right_elbow
    (255, 255, 0),    # left_wrist
    (0, 255, 255),    # right_wrist
    (128, 0, 0),      # left_hip
    (0, 0, 128),      # right_hip
    (160, 96, 0),     # left_knee
    (0, 128, 128),    # right_knee
    (0, 255, 0),      # left_ankle
    (0, 112, 0),      # right_ankle
)


@dataclass(frozen=True)
class CropWindow:
    """Where a crop lies in its frame: its top-left pixel ``(x0, y0)`` and its size."""

    x0: int
    y0: int
    width: int
    height: int


def _hw(image) -> tuple[int, int]:
    if isinstance(image, Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"a tensor image must be (3, H, W), got {tuple(image.shape)}")
        return int(image.shape[1]), int(image.shape[2])
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"a numpy image must be (H, W, 3), got {image.shape}")
    return image.shape[0], image.shape[1]


def crop_person(frame, box, margin: float = 0.0) -> tuple[np.ndarray | Tensor, CropWindow]:
    """Cut ``box`` (grown by ``margin`` x its size on each side, clipped to the frame) out of ``frame``.

    Returns a copy of the pixels (same type and layout as ``frame``) and its :class:`CropWindow`.
    """
    height, width = _hw(frame)
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = margin * (x2 - x1 + 1), margin * (y2 - y1 + 1)
    left, top = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
    right, bottom = min(width - 1, int(np.ceil(x2 + mx))), min(height - 1, int(np.ceil(y2 + my)))
    if right < left or bottom < top:
        raise ValueError(f"box {tuple(box)} lies outside the {width}x{height} frame")
    if isinstance(frame, Tensor):
        crop = frame[:, top:bottom + 1, left:right + 1].clone()
    else:
        crop = frame[top:bottom + 1, left:right + 1].copy()
    return crop, CropWindow(left, top, right - left + 1, bottom - top + 1)


def keypoints_to_crop(keypoints, window: CropWindow):
    """``(K, 2)`` frame coordinates -> coordinates in the crop of ``window``."""
    return keypoints - keypoints.new_tensor([window.x0, window.y0]) if isinstance(keypoints, Tensor) \
        else np.asarray(keypoints, dtype=np.float32) - np.array([window.x0, window.y0], dtype=np.float32)


def dot_radius(height: int, width: int) -> int:
    """Dot radius for a crop: 1.5% of its longer side, at least 2 pixels (visible after resizing)."""
    return max(2, int(round(0.015 * max(height, width))))


def draw_keypoint_dots(crop, keypoints_in_crop, scores=None, score_thr: float = 0.3, radius: int | None = None):
    """A copy of ``crop`` with a filled disc of :data:`KEYPOINT_COLOURS` ``[k]`` at each keypoint ``k``.

    ``keypoints_in_crop (K, 2)`` in crop pixels; keypoints whose ``scores`` are below ``score_thr`` are
    not drawn. Discs are drawn in keypoint order (a later one covers an earlier one).
    """
    height, width = _hw(crop)
    kp = np.asarray(keypoints_in_crop.detach().cpu() if isinstance(keypoints_in_crop, Tensor)
                    else keypoints_in_crop, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 2 or kp.shape[0] > len(KEYPOINT_COLOURS):
        raise ValueError(f"keypoints must be (K, 2) with K <= {len(KEYPOINT_COLOURS)}, got {kp.shape}")
    sc = None if scores is None else np.asarray(scores.detach().cpu() if isinstance(scores, Tensor) else scores)
    r = dot_radius(height, width) if radius is None else radius
    is_tensor = isinstance(crop, Tensor)
    if is_tensor and crop.dtype != torch.uint8:
        raise ValueError(f"tensor images must be uint8, got {crop.dtype}")
    array = crop.permute(1, 2, 0).cpu().numpy() if is_tensor else crop
    canvas = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))
    draw = ImageDraw.Draw(canvas)
    for k, (x, y) in enumerate(kp):
        if (sc is not None and sc[k] < score_thr) or not np.isfinite([x, y]).all():
            continue
        draw.ellipse([x - r, y - r, x + r, y + r], fill=KEYPOINT_COLOURS[k])
    out = np.asarray(canvas)
    return torch.from_numpy(out.copy()).permute(2, 0, 1).to(crop.device) if is_tensor else out.copy()


def parts_to_frame(part_boxes_in_crop, window: CropWindow):
    """``(M, 4)`` xyxy part boxes in crop pixels -> frame pixels (clipped to the crop's extent)."""
    boxes = torch.as_tensor(part_boxes_in_crop, dtype=torch.float32).reshape(-1, 4)
    limit = torch.tensor([window.width - 1, window.height - 1] * 2, dtype=torch.float32)
    boxes = torch.minimum(boxes.clamp(min=0), limit) + torch.tensor([window.x0, window.y0] * 2, dtype=torch.float32)
    return boxes.numpy() if isinstance(part_boxes_in_crop, np.ndarray) else boxes


def select_top1_per_part(detections: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keep the highest-scoring detection of each label (part), sorted by label.

    ``detections``: a detector output dict with ``boxes (N, 4)``, ``scores (N,)``, ``labels (N,)``.
    """
    scores, labels = detections["scores"], detections["labels"]
    if scores.numel() == 0:
        return {k: v[:0] for k, v in detections.items()}
    order = torch.argsort(scores, descending=True, stable=True)
    # After a stable sort by label, the first entry of each label is its best-scoring detection.
    by_label = order[torch.argsort(labels[order], stable=True)]
    sorted_labels = labels[by_label]
    first = torch.ones_like(sorted_labels, dtype=torch.bool)
    first[1:] = sorted_labels[1:] != sorted_labels[:-1]
    keep = by_label[first]
    return {k: v[keep] for k, v in detections.items()}
