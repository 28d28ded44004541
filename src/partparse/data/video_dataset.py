"""Video clips for action / part-state recognition: a torch Dataset over video files.

Videos are listed as ``(path, label)`` pairs; a label is anything ``default_collate`` can batch (an
int class index, or a dict of them, e.g. one part state per coarse part). Each item decodes only the
frames its clips need (:class:`VideoReader`), optionally resized while decoding.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from partparse.data.clip_modality import ClipModality
from partparse.data.clip_sampling import ClipSampler
from partparse.data.person_window import crop_to_window, person_window
from partparse.data.video_reader import VideoReader
from partparse.data.video_transforms import ClipTransform
from partparse.io import InputError

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mkv", ".webm", ".mov")


class VideoClipDataset(Dataset):
    """Clips of videos with their labels.

    Item ``i`` is a dict: ``inputs`` (float tensor), ``label`` (as given), ``frame_inds`` (int64
    ``(num_clips, T)``, the decoded frames) and ``path`` (str). ``inputs`` is what ``transform`` makes of
    one clip, ``(C, T, H, W)`` in training; in test mode every clip and view is stacked:
    ``(num_clips * V, C, T, H, W)`` with ``V`` the transform's views (1, or 3 for three-crop), clip-major,
    so a model's scores over dim 0 average to the video's score.

    Training draws come from torch's generator (a numpy Generator for the frame sampler is seeded from
    it): DataLoader workers get distinct, reproducible streams under ``torch.manual_seed``.

    Args:
        videos: ``(path, label)`` pairs.
        sampler: which frames; its ``test_mode`` decides the item layout.
        transform: uint8 ``(T, H, W, 3)`` clip -> float ``(C, T, H, W)`` or ``(V, C, T, H, W)``.
        decode_short_side: scale frames while decoding so their short side has this size (faster than
            resizing afterwards; keep the transform's short side equal so its resize is a no-op).
        cache_frames: decode each video whole the first time it is asked for and keep its frames (uint8,
            at ``decode_short_side``) in this process; later items only sample and transform. For short
            videos at small sizes, where decoding costs more than the model (SynTPS at 64 px: 1 MB a
            video; the decode time is in docs/benchmarks.md, "Timings behind design choices"); every
            DataLoader worker holds its own copy, so pair it with ``persistent_workers`` or
            ``num_workers=0``. The frames delivered are the same as without it.
        modality: rgb frames or RGB differences (:class:`~partparse.data.clip_modality.ClipModality`).
        person_boxes: per video, the person boxes ``(N_k, 4)`` xyxy of its keyframes (ground truth: no
            scores, the largest box anchors): frames are decoded at full size, cropped to the video's
            person window (:func:`~partparse.data.person_window.person_window` with ``person_margin``)
            and resized to ``window_size`` squared: person-centred clips. ``None``: whole frames.
    """

    def __init__(self, videos: Sequence[tuple[str | os.PathLike, Any]], sampler: ClipSampler,
                 transform: ClipTransform, decode_short_side: int | None = None, cache_frames: bool = False,
                 modality: ClipModality = ClipModality(),
                 person_boxes: Sequence[Sequence[np.ndarray]] | None = None, person_margin: float = 1.2,
                 window_size: int | None = None) -> None:
        self.videos = [(Path(p), label) for p, label in videos]
        if person_boxes is not None and (len(person_boxes) != len(self.videos) or window_size is None):
            raise ValueError("person_boxes needs one list of keyframe boxes per video and a window_size")
        self.person_boxes = None if person_boxes is None else list(person_boxes)
        self.person_margin = person_margin
        self.window_size = window_size
        self.modality = modality
        self.sampler = sampler
        self.transform = transform
        self.decode_short_side = decode_short_side
        self.cache_frames = cache_frames
        self._frames: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path, label = self.videos[i]
        rng = None
        if not self.sampler.test_mode:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        if self.cache_frames:
            if i not in self._frames:
                self._frames[i] = self._decode_all(i)
            video = self._frames[i]
            inds = self._indices(len(video), rng)
            frames = video[inds.reshape(-1)]
        elif self.person_boxes is not None:
            video = self._decode_all(i)
            inds = self._indices(len(video), rng)
            frames = video[inds.reshape(-1)]
        else:
            with VideoReader(path, short_side=self.decode_short_side) as reader:
                inds = self._indices(reader.num_frames, rng)
                frames = reader.read_frames(inds.reshape(-1))
        frames = frames.reshape(*inds.shape, *frames.shape[1:])  # (num_clips, T, H, W, 3)
        if self.sampler.test_mode:
            views = [self.modality.apply(self.transform(clip)) for clip in frames]
            inputs = torch.cat([v if v.ndim == 5 else v[None] for v in views])
        else:
            inputs = self.modality.apply(self.transform(frames[0]))
        return {"inputs": inputs, "label": label, "frame_inds": torch.from_numpy(inds), "path": str(path)}

    def _indices(self, num_frames: int, rng: np.random.Generator | None) -> np.ndarray:
        """Frames to decode ``(num_clips, T')``: the sampler's clips, expanded by the modality."""
        return self.modality.expand(self.sampler(self.modality.base_frames(num_frames), rng), num_frames)

    def _decode_all(self, i: int) -> np.ndarray:
        """Every frame of video ``i``: at ``decode_short_side``, or cropped to its person window."""
        path = self.videos[i][0]
        if self.person_boxes is None:
            with VideoReader(path, short_side=self.decode_short_side) as reader:
                return reader.read_all()
        with VideoReader(path) as reader:
            window = person_window(self.person_boxes[i], None, reader.width, reader.height, self.person_margin)
            return crop_to_window(reader.read_all(), window, self.window_size)


def list_videos(root: str | os.PathLike, split: str | None = None,
                extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[tuple[Path, str]]:
    """``(video_path, class_name)`` for every video of a Kinetics-TPS style tree
    ``<root>/<split>_videos/<class>/<video>.mp4`` (``split=None``: ``root`` is the ``*_videos`` folder),
    sorted by class then file name. Missing folder or no video -> :class:`InputError`."""
    folder = Path(root) if split is None else Path(root) / f"{split}_videos"
    if not folder.is_dir():
        raise InputError(f"{folder}: video folder not found")
    exts = {e.lower() for e in extensions}
    videos = sorted(((p, cls.name) for cls in folder.iterdir() if cls.is_dir()
                     for p in cls.iterdir() if p.is_file() and p.suffix.lower() in exts),
                    key=lambda v: (v[1], v[0].name))
    if not videos:
        raise InputError(f"{folder}: no videos ({', '.join(sorted(exts))}) in <class>/ subfolders")
    return videos
