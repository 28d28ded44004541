"""The ``skeleton`` training task: datasets, model, loss and validation of the skeleton model.

Loss: cross-entropy of the track's action plus the mean cross-entropy of every annotated body-part
state in every keyframe. Validation: action top-1 per track and per video (tracks' probabilities
averaged, weighted by their length, as the parser does) and the per-keyframe part-state accuracy. After
training, ``val_scores.npz`` holds the per-video action scores on corrupted validation keypoints, the
pose stream's file for ``partparse fuse`` (with the CSNs' files: the action weights of the parser).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from partparse.data.skeleton_dataset import (
    SkeletonAugmentConfig,
    SkeletonLabels,
    SkeletonTrackDataset,
    read_tracks,
    skeleton_collate,
)
from partparse.engine import model_builders
from partparse.engine.skeleton_recipe import SkeletonRecipe
from partparse.io import InputError
from partparse.models.skeleton_gcn import SkeletonGCN

LABEL_FILE = "label_spaces.json"


def build_skeleton_datasets(
        cfg: SkeletonRecipe) -> tuple[SkeletonTrackDataset, SkeletonTrackDataset | None, SkeletonLabels]:
    d = cfg.data
    labels, tracks = None, []
    for root in d.train_roots:
        found, labels = read_tracks(root, d.train_split, labels, d.max_train_videos)
        tracks += found
    if not tracks:
        raise InputError(f"data.train_roots: no person tracks in {', '.join(d.train_roots)} ({d.train_split})")
    train = SkeletonTrackDataset(tracks, labels, cfg.augment, seed=cfg.train.seed)
    val = None
    if d.val_root:
        val_tracks, _ = read_tracks(d.val_root, d.val_split, labels, d.max_val_videos)
        val = SkeletonTrackDataset(val_tracks, labels, None) if val_tracks else None
    return train, val, labels


def build_skeleton_model(cfg: SkeletonRecipe, labels: SkeletonLabels) -> SkeletonGCN:
    """The model of ``cfg`` for ``labels`` (:func:`partparse.engine.model_builders.build_skeleton_model`)."""
    return model_builders.build_skeleton_model(cfg, labels.to_dict())


def make_skeleton_step(cfg: SkeletonRecipe):
    def step(model: nn.Module, batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
        x, mask = batch["x"].to(device), batch["mask"].to(device)
        action, parts = model(x, mask)
        states = batch["states"].to(device)
        part_loss = sum(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), states[..., i].reshape(-1),
                                        ignore_index=-1, reduction="sum") for i, logits in enumerate(parts))
        part_loss = part_loss / (states >= 0).sum().clamp(min=1)
        return {"loss_action": cfg.loss.action_weight * F.cross_entropy(action, batch["action"].to(device)),
                "loss_parts": cfg.loss.part_weight * part_loss}
    return step


def video_action_scores(model: nn.Module, tracks: list, labels: SkeletonLabels, augment: SkeletonAugmentConfig | None,
                        seed: int = 0, batch_size: int = 256,
                        device: torch.device = torch.device("cpu")) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(video ids, action probabilities (N, A), true action (N,))`` per video, the tracks' probabilities
    averaged with their seen keyframes as weights (as the parser does). ``augment``: keypoints corrupted
    like predicted ones (a fixed ``seed``), so the scores rank the pose stream as the parser will see it
    and ``partparse fuse`` does not overrate it."""
    dataset = SkeletonTrackDataset(tracks, labels, augment, seed=seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=skeleton_collate)
    model.eval()
    probs = []
    with torch.no_grad():
        for batch in loader:
            probs.append(model(batch["x"].to(device), batch["mask"].to(device))[0].softmax(1).double().cpu())
    p = torch.cat(probs).numpy()
    sums: dict[str, np.ndarray] = {}
    truth: dict[str, int] = {}
    for track, row in zip(tracks, p, strict=True):
        sums[track.video_id] = sums.get(track.video_id, 0) + row * max(int(track.present.sum()), 1)
        truth[track.video_id] = track.action
    ids = sorted(sums)
    scores = np.stack([sums[v] / sums[v].sum() for v in ids]).astype(np.float32)
    return ids, scores, np.array([truth[v] for v in ids], np.int64)


@torch.no_grad()
def skeleton_eval(model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
    dataset: SkeletonTrackDataset = loader.dataset
    probs, actions, correct, total = [], [], 0, 0
    for batch in loader:
        action, parts = model(batch["x"].to(device), batch["mask"].to(device))
        probs.append(action.softmax(1).cpu())
        actions.append(batch["action"])
        states = batch["states"].to(device)
        for i, logits in enumerate(parts):
            known = states[..., i] >= 0
            correct += int((logits.argmax(-1) == states[..., i])[known].sum())
            total += int(known.sum())
    p, a = torch.cat(probs).numpy(), torch.cat(actions).numpy()
    per_video: dict[str, np.ndarray] = defaultdict(lambda: 0)
    truth = {}
    for track, row in zip(dataset.tracks, p, strict=True):
        per_video[track.video_id] = per_video[track.video_id] + row * track.present.sum()
        truth[track.video_id] = track.action
    video_top1 = np.mean([int(np.argmax(v)) == truth[k] for k, v in per_video.items()])
    return {"top1_action_track": float((p.argmax(1) == a).mean()), "top1_action_video": float(video_top1),
            "part_state_acc": correct / max(total, 1)}


def build_skeleton_task_datasets(cfg: SkeletonRecipe) -> tuple[SkeletonTrackDataset, SkeletonTrackDataset | None,
                                                               dict[str, list[str]]]:
    """The task table's view of :func:`build_skeleton_datasets`: the labels as ``{head: class names}``."""
    train, val, labels = build_skeleton_datasets(cfg)
    return train, val, labels.to_dict()


def skeleton_evaluation(cfg: SkeletonRecipe):
    """The task table's validation factory (the metrics need nothing of the recipe)."""
    return skeleton_eval
