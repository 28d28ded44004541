"""Crop geometry and training augmentation of a top-down pose crop (the ``input`` section of a pose recipe).

Its own module so that reading a pose recipe does not import the COCO keypoint dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from partparse.config import MAX_SIDE, above, at_least, between, each, length


@dataclass
class TopDownCropConfig:
    """Crop geometry and training augmentation of a top-down pose crop (what a pose recipe sets)."""

    input_size: Annotated[list[int], length(2), each(between(8, MAX_SIDE))] = field(  # crop (H, W)
        default_factory=lambda: [256, 192])
    padding: Annotated[float, above(0)] = 1.25
    flip_prob: Annotated[float, between(0, 1)] = 0.5
    shift_factor: Annotated[float, at_least(0)] = 0.16
    shift_prob: Annotated[float, between(0, 1)] = 0.3
    scale_range: Annotated[list[float], length(2), each(above(0))] = field(default_factory=lambda: [0.5, 1.5])
    scale_prob: Annotated[float, between(0, 1)] = 1.0
    rotate_factor: Annotated[float, between(0, 180)] = 80.0  # degrees
    rotate_prob: Annotated[float, between(0, 1)] = 0.6
    half_body_prob: Annotated[float, between(0, 1)] = 0.0  # mmpose RandomHalfBody: prob 0.3 (0: off, the old behaviour)
    half_body_min_keypoints: Annotated[int, between(0, 17)] = 9  # labelled joints a person needs for a half-body crop
    half_body_padding: Annotated[float, above(0)] = 1.5  # the half-body box (grown to the aspect ratio) times this
    half_body_upper_prob: Annotated[float, between(0, 1)] = 0.7  # upper body first with this probability
