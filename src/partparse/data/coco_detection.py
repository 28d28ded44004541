"""COCO detection datasets for the detectors: persons on frames, body parts on person crops.

Item ``i`` is ``{"image": (3, H, W) float RGB in [0, 1], "target": {...}}`` with target ``boxes (G, 4)``
float continuous ``xyxy`` pixels of the returned image (COCO ``[x, y, w, h]`` -> ``[x, y, x + w, y + h]``),
``labels (G,)`` int64 indices into ``class_names``, ``image_id`` (the COCO id) and ``orig_size`` ``(H, W)``
of the file. :func:`detection_collate` batches items as the torchvision-style detectors want them: a
list of images and a list of targets.

Training (``DetectionTransformConfig.train``): horizontal flip (boxes mirrored; ``left_*`` and
``right_*`` classes swap, as do the 17 COCO keypoints used for pose guidance), resize keeping the aspect
ratio (shorter side ``min_size``, longer at most ``max_size``: the detector's own resize then changes
nothing) and mmdetection's ``RandomShift``. Evaluation returns the image as stored: the detector
resizes it itself and maps its boxes back, as it does at inference.

``pose_guidance``: each image entry must hold the person's ``keypoints`` ``[x, y, v] * 17`` in its
pixels (``partparse export-coco`` writes them for the part export); joints with ``v > 0`` are drawn as
coloured dots (:func:`~partparse.data.keypoint_dots.draw_keypoint_dots`, the drawing the parser
applies to estimated keypoints) on the stored image, after the flip and before the resize, so dots
have the radius they get at inference. ``keypoint_noise`` jitters the drawn joints (Gaussian, standard
deviation as a fraction of the image's longer side) so the detector learns to live with a pose
estimator's errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from partparse.data.keypoint_dots import draw_keypoint_dots
from partparse.io import InputError, read_json
from partparse.structures import COCO_KEYPOINTS


@dataclass
class DetectionTransformConfig:
    train: bool = True
    min_size: int = 800                # shorter side after resizing (training only)
    max_size: int = 1333               # longer side at most
    flip_prob: float = 0.5
    shift_prob: float = 0.5            # mmdetection RandomShift (YOLOF recipe): prob 0.5, 32 px
    max_shift_px: int = 32


def left_right_permutation(names: Sequence[str]) -> list[int]:
    """Index map of a horizontal flip: ``left_x`` <-> ``right_x``, other names stay (``perm[i]`` = new index)."""
    index = {n: i for i, n in enumerate(names)}
    perm = list(range(len(names)))
    for i, n in enumerate(names):
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if n.startswith(a) and b + n[len(a):] in index:
                perm[i] = index[b + n[len(a):]]
    return perm


_KEYPOINT_FLIP = left_right_permutation(COCO_KEYPOINTS)


def flip_boxes(boxes: Tensor, width: int) -> Tensor:
    """Mirror continuous ``xyxy`` boxes in an image ``width`` pixels wide: ``x -> width - x``."""
    return torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1)


def flip_keypoints(keypoints: Tensor, width: int, perm: Sequence[int]) -> Tensor:
    """Mirror ``(..., K, 3)`` keypoints (pixel-index ``x``: ``x -> width - 1 - x``) and swap left/right joints.

    Joints with ``v == 0`` stay at ``(0, 0, 0)``. ``perm`` (:func:`left_right_permutation`) is its own
    inverse, so joint ``j`` of the flipped image is joint ``perm[j]`` of the original.
    """
    out = keypoints.clone()
    out[..., 0] = torch.where(keypoints[..., 2] > 0, width - 1 - keypoints[..., 0], keypoints[..., 0])
    return out[..., list(perm), :]


def resize_scale(height: int, width: int, min_size: int, max_size: int) -> float:
    """torchvision ``GeneralizedRCNNTransform``'s factor: shorter side to ``min_size``, longer <= ``max_size``."""
    return min(min_size / min(height, width), max_size / max(height, width))


def resize_image_and_boxes(image: Tensor, boxes: Tensor, min_size: int, max_size: int) -> tuple[Tensor, Tensor]:
    """Bilinear resize as torchvision's detection transform does it (same sizes, so it is then a no-op)."""
    h, w = image.shape[-2:]
    scale = resize_scale(h, w, min_size, max_size)
    out = F.interpolate(image[None], scale_factor=scale, mode="bilinear", recompute_scale_factor=True,
                        align_corners=False)[0]
    ratio = torch.tensor([out.shape[-1] / w, out.shape[-2] / h] * 2, dtype=boxes.dtype)
    return out, boxes * ratio


def random_shift(image: Tensor, boxes: Tensor, labels: Tensor, max_shift: int,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Translate the image by up to ``max_shift`` px on each axis (zeros fill), clip the boxes and drop
    those left under one pixel wide or high (mmdetection ``RandomShift``). A shift beyond the image's size
    (a crop a few pixels wide) moves it out entirely: an empty image without boxes."""
    dx, dy = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator))
    h, w = image.shape[-2:]
    dx, dy = max(-w, min(dx, w)), max(-h, min(dy, h))       # (past the edge, the slices below would wrap)
    out = torch.zeros_like(image)
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    moved = boxes + torch.tensor([dx, dy, dx, dy], dtype=boxes.dtype)
    moved[:, 0::2] = moved[:, 0::2].clamp(0, w)
    moved[:, 1::2] = moved[:, 1::2].clamp(0, h)
    keep = ((moved[:, 2] - moved[:, 0]) >= 1) & ((moved[:, 3] - moved[:, 1]) >= 1)
    return out, moved[keep], labels[keep]


class COCODetectionDataset(Dataset):
    """Images of a COCO detection file with their boxes; see the module docstring.

    Args:
        ann_file: COCO JSON (``persons_{split}.json`` / ``parts_{split}.json`` of ``partparse export-coco``).
        image_dir: folder of its ``file_name`` images.
        class_names: the detector's classes; label ``i`` is the category named ``class_names[i]``.
            Annotations of other categories are left out. ``None``: every category, sorted by id.
        transform: training augmentation or evaluation (see :class:`DetectionTransformConfig`).
        pose_guidance: draw the ``keypoints`` of each image entry as coloured dots.
        keypoint_noise: jitter of the drawn keypoints (fraction of the longer image side, training only).
        max_images: keep at most this many images, evenly spaced over the file's order (a quicker
            validation; COCO AP is then computed on those images only). ``None``: every image.
    """

    def __init__(self, ann_file: str | Path, image_dir: str | Path, class_names: Sequence[str] | None = None,
                 transform: DetectionTransformConfig | None = None, pose_guidance: bool = False,
                 keypoint_noise: float = 0.0, max_images: int | None = None):
        self.ann_file, self.image_dir = Path(ann_file), Path(image_dir)
        self.transform = transform or DetectionTransformConfig(train=False)
        self.pose_guidance, self.keypoint_noise = pose_guidance, keypoint_noise
        coco = read_json(self.ann_file)
        if not isinstance(coco, dict) or not {"images", "annotations", "categories"} <= set(coco):
            raise InputError(f"{self.ann_file}: not a COCO file (needs images, annotations and categories)")
        cats = sorted(coco["categories"], key=lambda c: c["id"])
        by_name = {c["name"]: c["id"] for c in cats}
        self.class_names = list(class_names) if class_names is not None else [c["name"] for c in cats]
        missing = [n for n in self.class_names if n not in by_name]
        if missing:
            raise InputError(f"{self.ann_file}: no category {missing[0]!r} (has: {', '.join(by_name)})")
        label_of = {by_name[n]: i for i, n in enumerate(self.class_names)}
        self.flip_perm = left_right_permutation(self.class_names)
        self.images = list(coco["images"])
        if max_images is not None:
            if max_images < 1:
                raise ValueError(f"max_images must be >= 1, got {max_images}")
            if max_images < len(self.images):
                keep = np.linspace(0, len(self.images) - 1, max_images).round().astype(int)
                self.images = [self.images[k] for k in keep]
        if pose_guidance:
            bare = [img["file_name"] for img in self.images
                    if len(img.get("keypoints") or []) != 3 * len(COCO_KEYPOINTS)]
            if bare:
                raise InputError(f"{self.ann_file}: image {bare[0]} has no 'keypoints' for pose guidance "
                                 "(re-export the parts with partparse export-coco)")
        self.targets: dict[int, tuple[list, list]] = {img["id"]: ([], []) for img in self.images}
        for ann in coco["annotations"]:
            if ann.get("iscrowd", 0) or ann["category_id"] not in label_of or ann["image_id"] not in self.targets:
                continue
            x, y, w, h = ann["bbox"]
            if w > 0 and h > 0:
                self.targets[ann["image_id"]][0].append([x, y, x + w, y + h])
                self.targets[ann["image_id"]][1].append(label_of[ann["category_id"]])

    def __len__(self) -> int:
        return len(self.images)

    def read_rgb(self, index: int) -> np.ndarray:
        """The stored image ``(H, W, 3)`` uint8 RGB."""
        path = self.image_dir / self.images[index]["file_name"]
        try:
            with Image.open(path) as im:
                return np.array(im.convert("RGB"))  # writable: torch.from_numpy shares it
        except OSError as err:
            raise InputError(f"{path}: cannot read image ({err})") from None

    def __getitem__(self, index: int) -> dict[str, Any]:
        info = self.images[index]
        box_list, label_list = self.targets[info["id"]]
        boxes = torch.tensor(box_list, dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor(label_list, dtype=torch.int64)
        keypoints = (torch.tensor(info["keypoints"], dtype=torch.float32).view(-1, 3)
                     if self.pose_guidance else None)
        return detection_sample(self.read_rgb(index), boxes, labels, int(info["id"]), self.transform,
                                self.flip_perm, keypoints, self.keypoint_noise)


def detection_sample(rgb: np.ndarray, boxes: Tensor, labels: Tensor, image_id: int,
                     cfg: DetectionTransformConfig, flip_perm: Sequence[int], keypoints: Tensor | None = None,
                     keypoint_noise: float = 0.0) -> dict[str, Any]:
    """One dataset item (see the module docstring) from a stored image and its annotation.

    ``rgb (H, W, 3)`` uint8; ``boxes (G, 4)`` continuous xyxy pixels of ``rgb``; ``labels (G,)``; ``flip_perm``
    the class permutation of a horizontal flip (:func:`left_right_permutation`); ``keypoints (17, 3)``
    ``[x, y, v]`` in ``rgb`` pixels to draw as dots (None: no pose guidance), jittered in training by
    ``keypoint_noise`` times the longer image side. Training augments (flip, resize, shift) with the
    torch RNG; evaluation returns the image as stored.
    """
    h, w = rgb.shape[:2]
    if cfg.train and cfg.flip_prob > 0 and float(torch.rand(())) < cfg.flip_prob:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
        boxes = flip_boxes(boxes, w)
        labels = torch.tensor(flip_perm, dtype=torch.int64)[labels]
        if keypoints is not None:
            keypoints = flip_keypoints(keypoints, w, _KEYPOINT_FLIP)
    if keypoints is not None:
        xy, visible = keypoints[:, :2], keypoints[:, 2] > 0
        if cfg.train and keypoint_noise > 0:
            xy = xy + torch.randn(xy.shape) * keypoint_noise * max(h, w)
        rgb = draw_keypoint_dots(rgb, xy, visible.float(), score_thr=0.5)
    image = torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255)
    if cfg.train:
        image, boxes = resize_image_and_boxes(image, boxes, cfg.min_size, cfg.max_size)
        if cfg.shift_prob > 0 and float(torch.rand(())) < cfg.shift_prob:
            image, boxes, labels = random_shift(image, boxes, labels, cfg.max_shift_px)
    return {"image": image, "target": {"boxes": boxes, "labels": labels, "image_id": image_id, "orig_size": (h, w)}}


def detection_collate(batch: list[dict[str, Any]]) -> tuple[list[Tensor], list[dict[str, Any]]]:
    """``(images, targets)`` lists, the torchvision detection calling convention."""
    return [b["image"] for b in batch], [b["target"] for b in batch]
