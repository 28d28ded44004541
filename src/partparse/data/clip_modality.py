"""What a clip shows: RGB frames, or TSN's RGB-difference modality (motion).

``rgb``: the sampled frames as they are. ``rgb_diff``: each sampled frame ``t`` becomes
``scale * (x[t + offset] - x[t])`` on normalised frames (Wang et al., TSN, ECCV 2016: stacked RGB
differences as a cheap motion input). On SynTPS a from-scratch CSN fed differences recognises actions it
cannot learn from RGB (it memorises the backgrounds instead; docs/benchmarks.md).

The two frames of a difference go through the same spatial transform as one clip of ``2T`` frames
(interleaved ``t, t + offset``), so crops and flips match; the difference is taken after normalisation,
where the mean cancels and the values are in units of the channel's std.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MODALITIES: tuple[str, ...] = ("rgb", "rgb_diff")


@dataclass(frozen=True)
class ClipModality:
    """``kind``: rgb | rgb_diff; ``diff_offset``: frames between the two of a difference (>= 1);
    ``diff_scale``: multiplies the difference (motion pixels are sparse and small)."""

    kind: str = "rgb"
    diff_offset: int = 2
    diff_scale: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in MODALITIES:
            raise ValueError(f"modality must be one of {', '.join(MODALITIES)}, got {self.kind!r}")
        if self.diff_offset < 1:
            raise ValueError(f"diff_offset must be >= 1, got {self.diff_offset}")

    @property
    def is_diff(self) -> bool:
        return self.kind == "rgb_diff"

    def base_frames(self, num_frames: int) -> int:
        """How many frames the clip sampler may start from: the last ``offset`` frames have no partner."""
        return max(1, num_frames - self.diff_offset) if self.is_diff else num_frames

    def expand(self, inds: np.ndarray, num_frames: int) -> np.ndarray:
        """Sampled indices ``(..., T)`` -> the frames to decode: ``(..., T)`` for rgb, ``(..., 2T)``
        interleaved ``t, t + offset`` (clipped to the last frame) for rgb_diff."""
        if not self.is_diff:
            return inds
        pair = np.minimum(inds + self.diff_offset, num_frames - 1)
        return np.stack([inds, pair], axis=-1).reshape(*inds.shape[:-1], -1)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``(..., C, T', H, W)`` from the transform -> the model input ``(..., C, T, H, W)``."""
        if not self.is_diff:
            return x
        return (x[..., 1::2, :, :] - x[..., 0::2, :, :]) * self.diff_scale
