"""Which frames make a clip: mmaction2's ``SampleFrames`` rules, with an explicit random generator.

A clip is ``clip_len`` (T) frames taken every ``frame_interval`` (tau) frames: ``offset + tau * [0..T)``.
The report's CSN models use 32x2 clips (T = 32, tau = 2), one random clip for training and 7 uniformly
spaced clips for testing (their scores are averaged).

Short videos (fewer frames than a clip spans) follow mmaction2: the clip starts at frame 0 and indices
past the end are wrapped (``out_of_bound='loop'``: index ``i`` becomes ``i mod num_frames``, so a 40-frame
video read as 32x2 gives 0, 2, ..., 38, 0, 2, ..., 22: the action replays) or clamped
(``'repeat_last'``: every index past the end becomes the clip's last valid index, 38, a frozen ending).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

OutOfBound = Literal["loop", "repeat_last"]


@dataclass(frozen=True)
class ClipSampler:
    """Frame indices of ``num_clips`` clips of ``clip_len`` frames, ``frame_interval`` apart.

    Training (``test_mode=False``), as mmaction2 ``SampleFrames._get_train_clips`` without tail frames:
    the video minus one clip span (``T * tau``) is cut into ``num_clips`` equal segments and each clip
    starts at a random offset in its segment. With fewer start positions than clips, starts are drawn
    anywhere (sorted) or spread evenly; a video shorter than a clip starts at 0.

    Testing (``test_mode=True``), as ``_get_test_clips`` without ``twice_sample``: deterministic starts
    ``round(i * max_offset / (num_clips - 1))`` for ``i < num_clips``, with
    ``max_offset = max(num_frames - ((T - 1) * tau + 1), 0)`` (first clip at frame 0, last one ending on
    the last frame; NumPy rounds halves to even, as mmaction2 does); one clip sits at ``max_offset // 2``.
    """

    clip_len: int
    frame_interval: int = 1
    num_clips: int = 1
    test_mode: bool = False
    out_of_bound: OutOfBound = "loop"

    def __post_init__(self) -> None:
        for name in ("clip_len", "frame_interval", "num_clips"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.out_of_bound not in ("loop", "repeat_last"):
            raise ValueError(f"out_of_bound must be 'loop' or 'repeat_last', got {self.out_of_bound!r}")

    def __call__(self, num_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """int64 ``(num_clips, clip_len)`` frame indices in ``[0, num_frames)``. ``rng`` is needed for
        training and ignored in test mode."""
        if num_frames < 1:
            raise ValueError(f"cannot sample clips from a video with {num_frames} frames")
        offsets = self._test_offsets(num_frames) if self.test_mode else self._train_offsets(num_frames, rng)
        inds = offsets[:, None] + np.arange(self.clip_len, dtype=np.int64)[None, :] * self.frame_interval
        if self.out_of_bound == "loop":
            return inds % num_frames
        last_valid = np.where(inds < num_frames, inds, -1).max(axis=1, keepdims=True)
        return np.where(inds < num_frames, inds, last_valid)

    def _train_offsets(self, num_frames: int, rng: np.random.Generator | None) -> np.ndarray:
        if rng is None:
            raise ValueError("training clip sampling needs a numpy Generator (rng=np.random.default_rng(seed))")
        span = self.clip_len * self.frame_interval
        starts = num_frames - span + 1  # number of start positions keeping the clip inside the video
        segment = starts // self.num_clips
        if segment > 0:
            return np.arange(self.num_clips, dtype=np.int64) * segment + rng.integers(segment, size=self.num_clips)
        if num_frames > max(self.num_clips, span):
            return np.sort(rng.integers(starts, size=self.num_clips)).astype(np.int64)
        if segment == 0:
            return np.around(np.arange(self.num_clips) * (starts / self.num_clips)).astype(np.int64)
        return np.zeros(self.num_clips, dtype=np.int64)

    def _test_offsets(self, num_frames: int) -> np.ndarray:
        max_offset = max(num_frames - ((self.clip_len - 1) * self.frame_interval + 1), 0)
        if self.num_clips == 1:
            return np.array([max_offset // 2], dtype=np.int64)
        step = max_offset / (self.num_clips - 1)
        return np.round(np.arange(self.num_clips) * step).astype(np.int64)
