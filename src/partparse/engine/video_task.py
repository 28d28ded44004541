"""Training and scoring of CSN video classifiers with the shared engine.

Labels (the report's transform): ``action`` is the video class; each coarse part's label is
``<action>_<Part>_<most frequent state>`` (:func:`partparse.data.part_labels.video_labels`). Label
spaces come from the training split; a validation label never seen in training is -1 (ignored by the
loss and counted wrong by the accuracy, since no class can predict it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from partparse.data.clip_modality import ClipModality
from partparse.data.clip_sampling import ClipSampler
from partparse.data.part_labels import LabelSpace, build_label_spaces, video_labels
from partparse.data.tps_format import GT_PART_FILE, GT_VID_FILE, ground_truth_to_json, load_annotation_tree
from partparse.data.video_dataset import VideoClipDataset, list_videos
from partparse.data.video_transforms import (
    EvalClipTransformConfig,
    TrainClipTransformConfig,
    build_eval_transform,
    build_train_transform,
)
from partparse.engine.trainer import EvalFn
from partparse.engine.video_recipe import ClipConfig, VideoRecipe
from partparse.io import InputError, read_json
from partparse.structures import frame_index


def split_annotations(root: Path, split: str) -> tuple[dict, dict]:
    """``(vid_result, part_result)`` of a split: ``gt_{split}/`` if present, else the annotation tree."""
    gt = root / f"gt_{split}"
    if (gt / GT_VID_FILE).exists():
        return read_json(gt / GT_VID_FILE), read_json(gt / GT_PART_FILE)
    tree = root / f"{split}_annotations"
    if not tree.is_dir():
        raise InputError(f"{root}: no gt_{split}/ folder and no {split}_annotations/ tree")
    videos = load_annotation_tree(tree)
    return ground_truth_to_json(videos.values())


def video_label_table(vid: Mapping[str, str], part: Mapping[str, Mapping], coarse: list[str]
                      ) -> dict[str, dict[str, str]]:
    """``{video: {head: label name}}`` of a split's ``(vid_result, part_result)``."""
    return {v: video_labels(a, part.get(v, {}), coarse) for v, a in vid.items()}


def keyframe_person_boxes(part: Mapping[str, Mapping]) -> dict[str, list[np.ndarray]]:
    """``{video: [(N_k, 4) GT person boxes of each annotated frame, in frame order]}`` of a split's
    ``part_result``: what the person-centred clips of training and validation are cut around."""
    return {vid: [np.asarray([h["box"] for h in frames[k].get("humans", [])], np.float64).reshape(-1, 4)
                  for k in sorted(frames, key=frame_index)]
            for vid, frames in part.items()}


def encode_labels(names: Mapping[str, str], spaces: Mapping[str, LabelSpace]) -> dict[str, int]:
    return {h: spaces[h].get(names[h]) for h in spaces}


def check_clip_sizes(clips: ClipConfig) -> None:
    """Refuse crops larger than the frames they are cut from (the frames' short side is ``short_side``):
    a plain random crop or three test crops would fail only when first used, mid-training."""
    if clips.train_crop == "random" and clips.crop_size > clips.short_side:
        raise InputError(f"clips.crop_size {clips.crop_size} is larger than clips.short_side {clips.short_side} "
                         "(train_crop: random crops inside the resized frames)")
    if clips.test_crop == "three" and clips.test_crop_size > clips.short_side:
        raise InputError(f"clips.test_crop_size {clips.test_crop_size} is larger than clips.short_side "
                         f"{clips.short_side} (test_crop: three crops inside the resized frames)")


def build_video_datasets(recipe: VideoRecipe) -> tuple[VideoClipDataset, VideoClipDataset, dict[str, LabelSpace]]:
    """Train and validation datasets (labels as ``{head: index}``) and the training label spaces."""
    check_clip_sizes(recipe.clips)
    root = Path(recipe.data.root)
    val_root = Path(recipe.data.val_root) if recipe.data.val_root else root
    coarse = [h for h in recipe.data.heads if h != "action"]
    train_gt = split_annotations(root, recipe.data.train_split)      # (vid_result, part_result), read once
    val_gt = split_annotations(val_root, recipe.data.val_split)
    train_labels = video_label_table(*train_gt, coarse)
    val_labels = video_label_table(*val_gt, coarse)
    spaces = {h: s for h, s in build_label_spaces(train_labels, coarse).items() if h in recipe.data.heads}
    c = recipe.clips
    modality = ClipModality(c.modality, c.diff_offset, c.diff_scale)

    def items(where: Path, split: str, table: dict) -> list[tuple[Path, dict[str, int]]]:
        out = []
        for path, _cls in list_videos(where, split):
            vid = path.stem
            if vid not in table:
                raise InputError(f"{path}: video has no annotation in split {split!r}")
            out.append((path, encode_labels(table[vid], spaces)))
        return out

    def person_options(part: Mapping[str, Mapping], videos: list[tuple[Path, Any]]) -> dict[str, Any]:
        if not c.person_centred:
            return {"decode_short_side": c.short_side}
        boxes = keyframe_person_boxes(part)
        return {"person_boxes": [boxes.get(p.stem, []) for p, _ in videos], "person_margin": c.person_margin,
                "window_size": c.short_side}

    train_items = items(root, recipe.data.train_split, train_labels)
    val_items = items(val_root, recipe.data.val_split, val_labels)
    train = VideoClipDataset(train_items,
                             ClipSampler(c.clip_len, c.frame_interval, 1, test_mode=False),
                             build_train_transform(TrainClipTransformConfig(
                                 short_side=c.short_side, crop=c.train_crop, crop_size=c.crop_size,
                                 area_range=tuple(c.area_range), flip_prob=c.flip_prob,
                                 mean=tuple(c.mean), std=tuple(c.std))),
                             cache_frames=recipe.data.cache_frames, modality=modality,
                             **person_options(train_gt[1], train_items))
    val = VideoClipDataset(val_items,
                           ClipSampler(c.clip_len, c.frame_interval, c.num_test_clips, test_mode=True),
                           build_eval_transform(EvalClipTransformConfig(
                               short_side=c.short_side, crop=c.test_crop, crop_size=c.test_crop_size,
                               mean=tuple(c.mean), std=tuple(c.std))),
                           cache_frames=recipe.data.cache_frames, modality=modality,
                           **person_options(val_gt[1], val_items))
    return train, val, spaces


def video_step(model: nn.Module, batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """Cross-entropy of every head (labels -1 ignored)."""
    logits = model(batch["inputs"].to(device, non_blocking=True))
    losses = {}
    for head, out in logits.items():
        target = batch["label"][head].to(device)
        if (target >= 0).any():
            losses[f"loss_{head}"] = nn.functional.cross_entropy(out.float(), target, ignore_index=-1)
        else:
            losses[f"loss_{head}"] = out.sum() * 0.0
    return losses


@torch.no_grad()
def predict_video_scores(model: nn.Module, loader: DataLoader, device: torch.device
                         ) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Softmax scores per head averaged over every test clip and crop; ``(video ids, scores, labels)``."""
    model.eval()
    ids: list[str] = []
    scores: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[np.ndarray]] = {}
    for batch in loader:
        x = batch["inputs"]                                   # (B, views, C, T, H, W)
        b, v = x.shape[:2]
        out = model(x.flatten(0, 1).to(device))
        for head, logit in out.items():
            p = logit.float().softmax(-1).view(b, v, -1).mean(1).cpu().numpy()
            scores.setdefault(head, []).append(p)
            labels.setdefault(head, []).append(batch["label"][head].numpy())
        ids += [Path(p).stem for p in batch["path"]]
    return ids, {h: np.concatenate(s) for h, s in scores.items()}, {h: np.concatenate(v) for h, v in labels.items()}


def video_eval(model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """Top-1 accuracy of each head (multi-clip averaged), and their mean."""
    _, scores, labels = predict_video_scores(model, loader, device)
    acc = {f"top1_{h}": float((scores[h].argmax(1) == labels[h]).mean()) for h in scores}
    acc["top1_mean"] = float(np.mean(list(acc.values())))
    return acc


def make_video_eval(recipe: VideoRecipe) -> EvalFn:
    """:func:`video_eval` (the task table's evaluation of a video recipe)."""
    return video_eval
