"""Spatial transforms for video clips, on torch tensors with torchvision.transforms.v2.

Layout contract: a decoded clip is uint8 ``(T, H, W, 3)`` RGB (numpy or torch, as
:class:`~partparse.data.video_reader.VideoReader` returns it). :class:`ClipToTensor` turns it into
uint8 ``(T, 3, H, W)``, the layout torchvision's functional ops take (leading dims are frames, so one
crop/flip is drawn per call and applied to every frame alike). Multi-crop testing inserts a view
dimension: ``(V, T, 3, h, w)``. :class:`NormalizeClip` ends a pipeline: float32 ``(..., 3, T, h, w)``
(channels before time, what 3D CNNs take), ``(x - mean) / std`` with mean/std in 0-255 units.

The recipes follow mmaction2's CSN configs (32x2 clips): training = short side 256, random resized
crop (area 0.08-1, aspect 3/4-4/3) resized to 224x224, horizontal flip with p = 0.5; validation =
short side 256, centre crop 224; testing = short side 256, three 256x256 crops along the long side.
Random draws use torch's global generator (what torchvision uses; DataLoader seeds it per worker).
Horizontal flips swap left and right: a label that names a side (``left_hand``) must be swapped with
it, or flipping turned off (``flip_prob=0``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

#: mmaction2's CSN data preprocessor, RGB, in 0-255 units.
CSN_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
CSN_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)

ClipTransform = Callable[[torch.Tensor], torch.Tensor]


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """``(new_height, new_width)`` with the shorter side equal to ``short_side``, aspect kept; the longer
    side is rounded half up, as mmcv's ``rescale_size`` does (mmaction2 ``Resize(scale=(-1, s))``)."""
    if short_side <= 0:
        raise ValueError(f"short_side must be positive, got {short_side}")
    scale = short_side / min(height, width)
    if height <= width:
        return short_side, int(width * scale + 0.5)
    return int(height * scale + 0.5), short_side


class ClipToTensor:
    """uint8 ``(T, H, W, 3)`` numpy/torch -> uint8 tensor ``(T, 3, H, W)`` (a view when possible)."""

    def __call__(self, clip: np.ndarray | torch.Tensor) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(clip)) if isinstance(clip, np.ndarray) else clip
        if t.ndim != 4 or t.shape[-1] != 3:
            raise ValueError(f"a clip is (T, H, W, 3), got shape {tuple(t.shape)}")
        return t.permute(0, 3, 1, 2)


@dataclass(frozen=True)
class ShortSideResize:
    """Resize ``(..., H, W)`` so the shorter side is ``size`` (bilinear, antialiased); a clip already at
    that size (resized while decoding) passes through untouched."""

    size: int = 256

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        h, w = clip.shape[-2:]
        new = short_side_size(h, w, self.size)
        if new == (h, w):
            return clip
        return F.resize(clip, list(new), interpolation=v2.InterpolationMode.BILINEAR, antialias=True)


@dataclass(frozen=True)
class ThreeCrop:
    """Three ``size x size`` crops along the longer side (start, centre, end), centred on the shorter
    one: ``(..., T, C, H, W)`` -> ``(..., 3, T, C, size, size)``. mmaction2's test-time ThreeCrop."""

    size: int = 256

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        h, w = clip.shape[-2:]
        s = self.size
        if s > h or s > w:
            raise ValueError(f"ThreeCrop({s}) needs frames of at least {s}x{s}, got {h}x{w}")
        if w >= h:
            top = (h - s) // 2
            boxes = [(top, left) for left in (0, (w - s) // 2, w - s)]
        else:
            left = (w - s) // 2
            boxes = [(top, left) for top in (0, (h - s) // 2, h - s)]
        return torch.stack([F.crop(clip, top, left, s, s) for top, left in boxes], dim=-5)


@dataclass(frozen=True)
class NormalizeClip:
    """uint8 ``(..., T, C, H, W)`` -> float32 ``(..., C, T, H, W)``, ``(x - mean) / std`` per channel,
    mean and std in 0-255 units."""

    mean: tuple[float, ...] = CSN_MEAN
    std: tuple[float, ...] = CSN_STD

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        x = F.normalize(clip.to(torch.float32), list(self.mean), list(self.std))
        return x.transpose(-4, -3)


@dataclass(frozen=True)
class TrainClipTransformConfig:
    """Training augmentation. ``crop='random_resized'``: crop a random area fraction in ``area_range``
    with aspect in ``aspect_ratio_range`` and resize it to ``crop_size``; ``crop='random'``: a plain
    random ``crop_size`` crop. Then a horizontal flip with probability ``flip_prob``."""

    short_side: int = 256
    crop: Literal["random_resized", "random"] = "random_resized"
    crop_size: int = 224
    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    flip_prob: float = 0.5
    mean: tuple[float, ...] = CSN_MEAN
    std: tuple[float, ...] = CSN_STD


@dataclass(frozen=True)
class EvalClipTransformConfig:
    """Evaluation transform: ``crop='center'`` gives one ``(C, T, s, s)`` view, ``crop='three'`` three
    views ``(3, C, T, s, s)`` (mmaction2: centre 224 for validation, three 256 crops for testing)."""

    short_side: int = 256
    crop: Literal["center", "three"] = "three"
    crop_size: int = 256
    mean: tuple[float, ...] = CSN_MEAN
    std: tuple[float, ...] = CSN_STD


def build_train_transform(cfg: TrainClipTransformConfig = TrainClipTransformConfig()) -> ClipTransform:
    """Clip ``(T, H, W, 3)`` uint8 -> float32 ``(3, T, crop_size, crop_size)``."""
    if cfg.crop == "random_resized":
        crop: ClipTransform = v2.RandomResizedCrop(cfg.crop_size, scale=cfg.area_range,
                                                   ratio=cfg.aspect_ratio_range, antialias=True)
    elif cfg.crop == "random":
        crop = v2.RandomCrop(cfg.crop_size)
    else:
        raise ValueError(f"unknown training crop {cfg.crop!r} (random_resized, random)")
    return v2.Compose([ClipToTensor(), ShortSideResize(cfg.short_side), crop,
                       v2.RandomHorizontalFlip(cfg.flip_prob), NormalizeClip(cfg.mean, cfg.std)])


def build_eval_transform(cfg: EvalClipTransformConfig = EvalClipTransformConfig()) -> ClipTransform:
    """Clip ``(T, H, W, 3)`` uint8 -> float32 ``(3, T, s, s)`` (centre) or ``(3 views, 3, T, s, s)``."""
    crops: dict[str, ClipTransform] = {"center": v2.CenterCrop(cfg.crop_size), "three": ThreeCrop(cfg.crop_size)}
    if cfg.crop not in crops:
        raise ValueError(f"unknown test crop {cfg.crop!r} ({', '.join(crops)})")
    return v2.Compose([ClipToTensor(), ShortSideResize(cfg.short_side), crops[cfg.crop],
                       NormalizeClip(cfg.mean, cfg.std)])

