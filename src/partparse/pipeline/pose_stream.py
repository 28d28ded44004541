"""The pose stream: each person track's keypoints -> the video's action and each body part's state in
every keyframe of the track (the skeleton model of :mod:`partparse.models.skeleton_gcn`).

The parser hands it, per keyframe, the persons' keypoints, keypoint scores and track ids
(:mod:`partparse.pipeline.tracking`). Each track becomes one input (:func:`~partparse.data.skeleton_features.
track_features`, the keyframes it misses masked out); the video's action probabilities are the tracks'
averaged with weights ``seen keyframes x mean person score``, so the main, long-seen person counts most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from partparse.data.skeleton_features import NUM_JOINTS, track_features


@dataclass
class PoseStreamScores:
    """``action (A,)`` video-level probabilities over ``class_names["action"]``; ``states[k][i]`` the
    ``{body part: probabilities (S_p,)}`` of person ``i`` of keyframe ``k`` (empty without keypoints)."""

    action: np.ndarray
    states: list[list[dict[str, np.ndarray]]]


class PoseStream:
    """A trained skeleton model with its class names (``{"action": [...], body part: [states]}``)."""

    def __init__(self, model: nn.Module, class_names: dict[str, Sequence[str]]):
        self.model = model.eval()
        self.class_names = {h: list(n) for h, n in class_names.items()}
        self.parts = [h for h in self.class_names if h != "action"]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def score(self, keypoints: Sequence[np.ndarray | None], keypoint_scores: Sequence[np.ndarray | None],
              person_scores: Sequence[np.ndarray], track_ids: Sequence[np.ndarray]) -> PoseStreamScores:
        """Per keyframe ``k``: ``keypoints[k] (N_k, 17, 2)`` and ``keypoint_scores[k] (N_k, 17)`` (or
        ``None``), the persons' scores ``(N_k,)`` and track ids ``(N_k,)``."""
        t = len(track_ids)
        tracks = sorted({int(i) for ids, kp in zip(track_ids, keypoints, strict=True) if kp is not None for i in ids})
        states: list[list[dict[str, np.ndarray]]] = [[{} for _ in ids] for ids in track_ids]
        num_actions = len(self.class_names["action"])
        if not tracks:
            return PoseStreamScores(np.full(num_actions, 1.0 / num_actions, np.float32), states)
        row = {tid: r for r, tid in enumerate(tracks)}
        kp = np.zeros((len(tracks), t, NUM_JOINTS, 2), np.float32)
        conf = np.zeros((len(tracks), t, NUM_JOINTS), np.float32)
        present = np.zeros((len(tracks), t), bool)
        weight = np.zeros(len(tracks), np.float64)
        where: dict[tuple[int, int], int] = {}                      # (keyframe, person) -> track row
        for k in range(t):
            if keypoints[k] is None:
                continue
            for i, tid in enumerate(track_ids[k]):
                r = row[int(tid)]
                kp[r, k], conf[r, k], present[r, k] = keypoints[k][i], keypoint_scores[k][i], True
                weight[r] += float(person_scores[k][i])
                where[(k, i)] = r
        x = torch.from_numpy(np.stack([track_features(kp[r], conf[r], present[r]) for r in range(len(tracks))]))
        action, parts = self.model(x.to(self.device), torch.from_numpy(present).to(self.device))
        action = action.softmax(1).double().cpu().numpy()
        probs = [p.softmax(-1).cpu().numpy() for p in parts]           # (R, T, S_p) each
        video = (action * weight[:, None]).sum(0) / max(weight.sum(), 1e-12)
        for (k, i), r in where.items():
            states[k][i] = {name: probs[j][r, k] for j, name in enumerate(self.parts)}
        return PoseStreamScores(video.astype(np.float32), states)


def smooth_along_tracks(values: list[list[dict[str, np.ndarray]]], track_ids: Sequence[np.ndarray],
                        window: int) -> list[list[dict[str, np.ndarray]]]:
    """Per-keyframe state probabilities averaged over ``window`` keyframes of the same track (centred;
    keyframes where the track is not seen do not count). ``window`` 1: unchanged."""
    if window <= 1:
        return values
    half = window // 2
    seen: dict[int, list[tuple[int, int]]] = {}
    for k, ids in enumerate(track_ids):
        for i, tid in enumerate(ids):
            if values[k][i]:
                seen.setdefault(int(tid), []).append((k, i))
    out = [[dict(v) for v in frame] for frame in values]
    for members in seen.values():
        for k, i in members:
            near = [values[kk][ii] for kk, ii in members if abs(kk - k) <= half]
            out[k][i] = {p: np.mean([n[p] for n in near if p in n], axis=0) for p in values[k][i]}
    return out
