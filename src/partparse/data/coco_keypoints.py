"""Top-down pose training data: one person crop per COCO keypoint annotation (mmpose's ``TopdownAffine``).

Item ``i`` is ``{"image": (3, H, W) float RGB in [0, 1], "keypoints": (K, 3) float, "image_id": int}``:
the person of annotation ``i`` cut out at the model's ``input_size = (H, W)`` and its keypoints
``(x, y, v)`` in crop pixels (a pixel index is its centre). The crop follows
:func:`partparse.models.keypoint_codec.box_crop_transform` (the box grown to the input aspect ratio,
times ``padding``): crop pixel ``u`` samples the image at ``center + scale * R(angle) (u - (W/2, H/2))``,
with no augmentation exactly the crops the pose model sees at inference.

Augmentation (training; mmpose 1.x ``RandomFlip`` + ``RandomBBoxTransform`` defaults): horizontal flip
(left/right joints swap), box centre shifted by up to ``shift_factor`` of its size with probability
``shift_prob``, box scaled in ``scale_range``, rotated by up to ``rotate_factor`` degrees with
probability ``rotate_prob`` (truncated normals, as mmpose), and mmpose's ``RandomHalfBody`` with
probability ``half_body_prob`` (0: off): the box becomes the upper or the lower body's labelled joints.
Persons without a labelled joint (``num_keypoints == 0``) or crowd annotations are left out.
"""

from __future__ import annotations

import math
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

from partparse.data.coco_detection import flip_keypoints, left_right_permutation
from partparse.data.topdown_crop_config import TopDownCropConfig
from partparse.io import InputError, read_json


@dataclass
class TopDownTransformConfig(TopDownCropConfig):
    """A crop config plus ``train``: augment (training) or only crop (evaluation, inference)."""

    train: bool = True


def _truncated_normal() -> float:
    return float(torch.randn(()).clamp(-1.0, 1.0))


def affine_crop(image: Tensor, center: Tensor, scale: float, angle_deg: float,
                input_size: tuple[int, int]) -> Tensor:
    """Bilinear crop ``(C, H, W)`` of ``image (C, H_img, W_img)``: crop pixel ``u`` samples
    ``center + scale * R(angle) (u - (W/2, H/2))`` (image pixel indices; zeros outside)."""
    in_h, in_w = input_size
    img_h, img_w = image.shape[-2:]
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    v, u = torch.meshgrid(torch.arange(in_h, dtype=torch.float32) - in_h / 2,
                          torch.arange(in_w, dtype=torch.float32) - in_w / 2, indexing="ij")
    x = center[0] + scale * (cos * u - sin * v)
    y = center[1] + scale * (sin * u + cos * v)
    grid = torch.stack([(2 * x + 1) / img_w - 1, (2 * y + 1) / img_h - 1], dim=-1)
    return F.grid_sample(image[None].float(), grid[None], mode="bilinear", padding_mode="zeros",
                         align_corners=False)[0]


def image_to_crop(points: Tensor, center: Tensor, scale: float, angle_deg: float,
                  input_size: tuple[int, int]) -> Tensor:
    """``(K, 2)`` image pixels -> crop pixels of :func:`affine_crop` (its inverse map)."""
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    d = (points - center) / scale
    u = cos * d[:, 0] + sin * d[:, 1]
    v = -sin * d[:, 0] + cos * d[:, 1]
    return torch.stack([u + input_size[1] / 2, v + input_size[0] / 2], dim=1)


class COCOTopDownDataset(Dataset):
    """Person crops of a COCO person-keypoints file; see the module docstring.

    Args:
        ann_file: ``person_keypoints_{split}.json`` (its category lists the joint names, which give the
            left/right pairs of the flip).
        image_dir: folder of its ``file_name`` images.
        transform: augmentation and crop geometry.
    """

    def __init__(self, ann_file: str | Path, image_dir: str | Path, transform: TopDownTransformConfig | None = None):
        self.ann_file, self.image_dir = Path(ann_file), Path(image_dir)
        self.transform = transform or TopDownTransformConfig()
        coco = read_json(self.ann_file)
        if not isinstance(coco, dict) or not {"images", "annotations", "categories"} <= set(coco):
            raise InputError(f"{self.ann_file}: not a COCO file (needs images, annotations and categories)")
        names = next((c.get("keypoints") for c in coco["categories"] if c.get("keypoints")), None)
        if not names:
            raise InputError(f"{self.ann_file}: no category lists its 'keypoints' (not a person-keypoints file)")
        self.keypoint_names = list(names)
        self.flip_perm = left_right_permutation(self.keypoint_names)
        files = {img["id"]: img["file_name"] for img in coco["images"]}
        self.instances = [a for a in coco["annotations"] if not a.get("iscrowd", 0) and a["bbox"][2] > 0
                          and a["bbox"][3] > 0 and any(v > 0 for v in a["keypoints"][2::3])]
        for a in self.instances:
            if len(a["keypoints"]) != 3 * len(names):
                raise InputError(f"{self.ann_file}: annotation {a['id']} has {len(a['keypoints']) // 3} keypoints, "
                                 f"the category {len(names)}")
        self.files = files

    def __len__(self) -> int:
        return len(self.instances)

    def _read(self, image_id: int) -> Tensor:
        path = self.image_dir / self.files[image_id]
        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
        except OSError as err:
            raise InputError(f"{path}: cannot read image ({err})") from None
        return torch.from_numpy(rgb.copy()).permute(2, 0, 1).float().div_(255)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ann = self.instances[index]
        kps = torch.tensor(ann["keypoints"], dtype=torch.float32).view(-1, 3)
        return topdown_sample(self._read(ann["image_id"]), [float(v) for v in ann["bbox"]], kps,
                              int(ann["image_id"]), self.transform, self.flip_perm)


UPPER_BODY = tuple(range(11))          # COCO nose .. right_wrist
LOWER_BODY = tuple(range(11, 17))      # hips, knees, ankles


def half_body_box(keypoints: Tensor, cfg: TopDownCropConfig) -> tuple[float, float, float, float] | None:
    """mmpose ``RandomHalfBody``: with probability ``half_body_prob``, the ``[x, y, w, h]`` box of the
    labelled joints of the upper body (chosen first with ``half_body_upper_prob``, if it has >= 2) or of
    the lower body (if it has >= 3); None (keep the person box) when the draw fails, the person has
    fewer than ``half_body_min_keypoints`` labelled joints, or the chosen half too few. 17 COCO joints."""
    if keypoints.shape[0] != 17 or float(torch.rand(())) >= cfg.half_body_prob:
        return None
    labelled = keypoints[:, 2] > 0
    if int(labelled.sum()) < cfg.half_body_min_keypoints:
        return None
    upper = [j for j in UPPER_BODY if labelled[j]]
    lower = [j for j in LOWER_BODY if labelled[j]]
    prefer_upper = float(torch.rand(())) < cfg.half_body_upper_prob
    chosen = upper if (prefer_upper and len(upper) >= 2) or len(lower) < 3 else lower
    if len(chosen) < (2 if chosen is upper else 3):
        return None
    xy = keypoints[chosen, :2]
    (x1, y1), (x2, y2) = xy.min(0).values.tolist(), xy.max(0).values.tolist()
    return x1, y1, max(x2 - x1, 1.0), max(y2 - y1, 1.0)


def topdown_sample(image: Tensor, bbox_xywh: Sequence[float], keypoints: Tensor, image_id: int,
                   cfg: TopDownTransformConfig, flip_perm: Sequence[int]) -> dict[str, Any]:
    """One dataset item (see the module docstring): the crop of the person box ``bbox_xywh`` (COCO
    ``[x, y, w, h]`` pixels of ``image (3, H, W)`` float) and its ``keypoints (K, 3)`` ``[x, y, v]`` moved
    into crop pixels (``v == 0`` joints at 0); training augments with the torch RNG."""
    size = (int(cfg.input_size[0]), int(cfg.input_size[1]))
    x, y, w, h = (float(v) for v in bbox_xywh)
    center = torch.tensor([x + w / 2, y + h / 2])
    scale = max(w, h * size[1] / size[0]) * cfg.padding / size[1]  # image pixels per crop pixel
    angle = 0.0
    if cfg.train and cfg.half_body_prob > 0:
        half = half_body_box(keypoints, cfg)
        if half is not None:
            x, y, w, h = half
            center = torch.tensor([x + w / 2, y + h / 2])
            scale = max(w, h * size[1] / size[0]) * cfg.half_body_padding / size[1]
    if cfg.train:
        if float(torch.rand(())) < cfg.shift_prob:
            center = center + torch.tensor([w, h]) * cfg.shift_factor * (torch.rand(2) * 2 - 1)
        if float(torch.rand(())) < cfg.scale_prob:
            lo, hi = cfg.scale_range
            scale *= (hi + lo) / 2 + _truncated_normal() * (hi - lo) / 2
        if float(torch.rand(())) < cfg.rotate_prob:
            angle = _truncated_normal() * cfg.rotate_factor
    crop = affine_crop(image, center, scale, angle, size)
    kps = keypoints.clone()
    visible = kps[:, 2] > 0
    kps[:, :2] = torch.where(visible[:, None], image_to_crop(kps[:, :2], center, scale, angle, size), 0.0)
    if cfg.train and float(torch.rand(())) < cfg.flip_prob:
        crop = crop.flip(-1)
        kps = flip_keypoints(kps, size[1], flip_perm)
    return {"image": crop, "keypoints": kps, "image_id": image_id}


def topdown_collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"images": (N, 3, H, W), "targets": [{"keypoints": (K, 3)}, ...], "image_id": (N,)}``."""
    return {"images": torch.stack([b["image"] for b in batch]),
            "targets": [{"keypoints": b["keypoints"]} for b in batch],
            "image_id": torch.tensor([b["image_id"] for b in batch])}
