"""Person tracks of SynTPS ground truth for the skeleton model: keypoint trajectories, action, part states.

A SynTPS split holds ``keypoints_{split}.json`` (COCO keypoints of every annotated person, with a
``track_id`` that follows the person through the video, in the order of the frame's ``humans``) and
``gt_{split}/`` (the action of each video, the state of each visible body part in each annotated frame).
:func:`read_tracks` joins them into one :class:`SkeletonTrack` per person.

Training on ground-truth keypoints would teach the model clean inputs it never gets in the parser, so
:class:`SkeletonTrackDataset` corrupts them the way the pose stage does (:class:`SkeletonAugmentConfig`):
position jitter (larger on covered joints), confidences drawn below 1, dropped joints and frames, a
wrong scale, and mirrored people (joints and left/right part labels swapped together).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from partparse.data.skeleton_augment_config import SkeletonAugmentConfig
from partparse.data.skeleton_features import NUM_JOINTS, track_features
from partparse.data.vocabulary import BODY_PARTS, coarse_part
from partparse.io import InputError, read_json

#: COCO left/right joint pairs (a mirrored person swaps them).
FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


def _flip_permutation(n: int, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    perm = np.arange(n)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


JOINT_FLIP = _flip_permutation(NUM_JOINTS, FLIP_PAIRS)


def part_flip(parts: Sequence[str]) -> np.ndarray:
    """Index permutation that swaps ``left_x`` and ``right_x`` among ``parts``."""
    index = {p: i for i, p in enumerate(parts)}
    perm = np.arange(len(parts))
    for i, p in enumerate(parts):
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if p.startswith(a) and b + p[len(a):] in index:
                perm[i] = index[b + p[len(a):]]
    return perm


@dataclass
class SkeletonLabels:
    """The label spaces of a skeleton model: actions, and the states of each body part (a body part has
    the states its coarse part takes in the training data)."""

    actions: list[str]
    parts: dict[str, list[str]]

    @classmethod
    def from_ground_truth(cls, gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping],
                          body_parts: Sequence[str] = BODY_PARTS) -> SkeletonLabels:
        states: dict[str, set[str]] = defaultdict(set)
        for frames in gt_part.values():
            for frame in frames.values():
                for human in frame["humans"]:
                    for name, part in human["parts"].items():
                        states[coarse_part(name)].add(str(part["verb"]))
        return cls(sorted(set(gt_vid.values())),
                   {p: sorted(states[coarse_part(p)]) for p in body_parts if states.get(coarse_part(p))})

    def to_dict(self) -> dict[str, list[str]]:
        """``{head: class names}`` (``label_spaces.json``, the layout of the video models' heads):
        ``action`` and one head per body part."""
        return {"action": list(self.actions), **{p: list(s) for p, s in self.parts.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[str]]) -> SkeletonLabels:
        if not isinstance(data, Mapping) or "action" not in data:
            raise InputError("skeleton label spaces need an 'action' head")
        return cls(list(data["action"]), {p: list(s) for p, s in data.items() if p != "action"})


@dataclass
class SkeletonTrack:
    """One person through a video's annotated frames: ``keypoints (T, 17, 2)`` pixels, ``visibility
    (T, 17)`` COCO v (0 outside the frame, 1 covered, 2 visible), ``present (T,)``, ``states (T, P)``
    state indices per body part (-1: not annotated) and the video's action index."""

    video_id: str
    track_id: int
    action: int
    keypoints: np.ndarray
    visibility: np.ndarray
    present: np.ndarray
    states: np.ndarray


def read_tracks(root: str | Path, split: str, labels: SkeletonLabels | None = None,
                max_videos: int | None = None) -> tuple[list[SkeletonTrack], SkeletonLabels]:
    """The person tracks of a SynTPS split (``root/keypoints_{split}.json`` + ``root/gt_{split}``), and the
    label spaces (fitted on this split when ``labels`` is ``None``)."""
    root = Path(root)
    gt_vid = read_json(root / f"gt_{split}" / "gt_vid_result.json")
    gt_part = read_json(root / f"gt_{split}" / "gt_part_result.json")
    coco = read_json(root / f"keypoints_{split}.json")
    if labels is None:
        labels = SkeletonLabels.from_ground_truth(gt_vid, gt_part)
    action_index = {a: i for i, a in enumerate(labels.actions)}
    parts = list(labels.parts)
    state_index = [{s: i for i, s in enumerate(labels.parts[p])} for p in parts]
    per_image = defaultdict(list)
    for ann in coco["annotations"]:
        per_image[ann["image_id"]].append(ann)
    frames_of = defaultdict(list)                 # video -> [(frame index, frame key, annotations)]
    for image in coco["images"]:
        frames_of[image["video_id"]].append((image["frame_index"], image["frame_key"], per_image[image["id"]]))
    videos = sorted(frames_of)[:max_videos] if max_videos else sorted(frames_of)
    tracks = []
    for vid in videos:
        if vid not in gt_vid or gt_vid[vid] not in action_index:
            continue
        frames = sorted(frames_of[vid], key=lambda f: f[0])
        t = len(frames)
        by_track: dict[int, SkeletonTrack] = {}
        for ti, (_, key, anns) in enumerate(frames):
            humans = gt_part.get(vid, {}).get(key, {}).get("humans", [])
            if len(humans) != len(anns):
                raise InputError(f"{root}: {vid} {key}: {len(anns)} keypoint annotations but {len(humans)} humans")
            for ann, human in zip(anns, humans, strict=True):
                tid = int(ann["track_id"])
                if tid not in by_track:
                    by_track[tid] = SkeletonTrack(
                        vid, tid, action_index[gt_vid[vid]], np.zeros((t, NUM_JOINTS, 2), np.float32),
                        np.zeros((t, NUM_JOINTS), np.float32), np.zeros(t, bool),
                        np.full((t, len(parts)), -1, np.int64))
                track = by_track[tid]
                kp = np.asarray(ann["keypoints"], np.float32).reshape(NUM_JOINTS, 3)
                track.keypoints[ti], track.visibility[ti], track.present[ti] = kp[:, :2], kp[:, 2], True
                for pi, p in enumerate(parts):
                    if p in human["parts"]:
                        track.states[ti, pi] = state_index[pi].get(str(human["parts"][p]["verb"]), -1)
        tracks += [by_track[k] for k in sorted(by_track)]
    return tracks, labels


def corrupt(track: SkeletonTrack, cfg: SkeletonAugmentConfig, rng: np.random.Generator,
            parts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(keypoints, confidences, present, states)`` of a track as a pose estimator might give them."""
    kp, vis = track.keypoints.copy(), track.visibility
    present, states = track.present.copy(), track.states.copy()
    known = vis > 0
    lo, hi = cfg.confidence
    conf = np.where(vis >= 2, rng.uniform(lo, hi, vis.shape), rng.uniform(lo, (lo + hi) / 2, vis.shape)) * known
    size = max(float(np.ptp(kp[known], axis=0).max()) if known.any() else 1.0, 1.0)
    sigma = np.where(vis >= 2, rng.uniform(0, cfg.jitter), rng.uniform(0, cfg.covered_jitter)) * size
    kp += rng.normal(size=kp.shape).astype(np.float32) * sigma[..., None]
    if cfg.scale:
        centre = kp[known].mean(0) if known.any() else np.zeros(2, np.float32)
        factor = 1 + rng.uniform(-cfg.scale, cfg.scale, (len(kp), 1, 1))
        kp = (kp - centre) * factor + centre
    conf *= rng.random(conf.shape) >= cfg.drop_joint
    present &= rng.random(present.shape) >= cfg.drop_frame
    if rng.random() < cfg.flip:
        kp = kp[:, JOINT_FLIP] * np.array([-1, 1], np.float32)
        conf = conf[:, JOINT_FLIP]
        states = states[:, part_flip(parts)]
    states[~present] = -1
    return kp.astype(np.float32), conf.astype(np.float32), present, states


class SkeletonTrackDataset(Dataset):
    """Items ``{"x": (C, T, 17), "mask": (T,), "action": (), "states": (T, P)}``; corrupted when
    ``augment`` is given and enabled, else ground-truth keypoints with confidence 1 (0 outside the frame)."""

    def __init__(self, tracks: list[SkeletonTrack], labels: SkeletonLabels,
                 augment: SkeletonAugmentConfig | None = None, seed: int = 0):
        self.tracks, self.labels, self.augment = tracks, labels, augment
        self.parts = list(labels.parts)
        self.seed = seed
        self._calls = 0

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        track = self.tracks[i]
        if self.augment is not None and self.augment.enabled:
            self._calls += 1
            rng = np.random.default_rng([self.seed, i, self._calls, int(torch.initial_seed() % 2**31)])
            kp, conf, present, states = corrupt(track, self.augment, rng, self.parts)
        else:
            kp, conf = track.keypoints, (track.visibility > 0).astype(np.float32)
            present, states = track.present, track.states
        return {"x": torch.from_numpy(track_features(kp, conf, present)), "mask": torch.from_numpy(present.copy()),
                "action": torch.tensor(track.action), "states": torch.from_numpy(states.copy())}


def skeleton_collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad tracks to the longest in the batch (padding is masked out and labelled -1)."""
    t = max(it["x"].shape[1] for it in items)
    n, c, v = len(items), items[0]["x"].shape[0], items[0]["x"].shape[2]
    p = items[0]["states"].shape[1]
    x = torch.zeros(n, c, t, v)
    mask = torch.zeros(n, t, dtype=torch.bool)
    states = torch.full((n, t, p), -1, dtype=torch.long)
    for i, it in enumerate(items):
        k = it["x"].shape[1]
        x[i, :, :k], mask[i, :k], states[i, :k] = it["x"], it["mask"], it["states"]
    return {"x": x, "mask": mask, "action": torch.stack([it["action"] for it in items]), "states": states}
