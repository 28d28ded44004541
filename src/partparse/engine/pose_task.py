"""Training and COCO keypoint evaluation of top-down HRNet pose estimators with the shared engine.

Training batches are augmented person crops (:class:`~partparse.data.coco_keypoints.COCOTopDownDataset`).
Validation runs the inference path itself: whole images with their ground-truth person boxes
(:class:`~partparse.data.coco_detection.COCODetectionDataset`), cropped and decoded back to image pixels
by :func:`partparse.models.hrnet.estimate_poses` (flip test as the model's config says), scored with OKS
AP by :class:`~partparse.evaluation.coco_eval.COCOKeypointEvaluator`.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from partparse.data.coco_detection import COCODetectionDataset, DetectionTransformConfig, detection_collate
from partparse.data.coco_keypoints import COCOTopDownDataset, TopDownTransformConfig, topdown_collate
from partparse.data.syntps_stream import SynTPSPoseStream
from partparse.engine.pose_recipe import PoseRecipe
from partparse.engine.trainer import EvalFn
from partparse.evaluation.coco_eval import COCOKeypointEvaluator
from partparse.io import InputError
from partparse.models.hrnet import PoseHRNet, estimate_poses


def build_pose_datasets(recipe: PoseRecipe) -> tuple[Dataset, COCODetectionDataset]:
    """Augmented training crops (a COCO export or a SynTPS stream), and validation images with their
    ground-truth person boxes."""
    root, d, i = Path(recipe.data.root), recipe.data, recipe.input
    tf = TopDownTransformConfig(train=True, **asdict(i))        # PoseInputConfig is a TopDownCropConfig
    if d.train_source == "coco":
        train: Dataset = COCOTopDownDataset(root / d.train_ann, root / d.image_dir, tf)
    elif d.train_source == "syntps_stream":
        train = SynTPSPoseStream(d.stream, tf)
    else:
        raise InputError(f"data.train_source must be coco or syntps_stream, got {d.train_source!r}")
    val = COCODetectionDataset(root / d.val_ann, root / (d.val_image_dir or d.image_dir), None,
                               DetectionTransformConfig(train=False), max_images=d.val_max_images)
    return train, val


def pose_collate(batch: list[dict[str, Any]]) -> Any:
    """One collate for both loaders: training crops (:func:`topdown_collate`), validation images with
    their person boxes (:func:`detection_collate`)."""
    return detection_collate(batch) if "target" in batch[0] else topdown_collate(batch)


def pose_step(model: nn.Module, batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    """The heatmap MSE loss (visible joints weighted 1) of one batch of crops."""
    targets = [{"keypoints": t["keypoints"].to(device)} for t in batch["targets"]]
    return model(batch["images"].to(device, non_blocking=True), targets)


@torch.no_grad()
def predict_poses(model: PoseHRNet, loader: DataLoader, device: torch.device, padding: float = 1.25,
                  keypoint_thr: float = 0.2) -> list[tuple[int, dict[str, torch.Tensor]]]:
    """``[(image_id, {"keypoints" (N, K, 2), "keypoint_scores" (N, K), "scores" (N,)}), ...]`` for the
    ground-truth person boxes of every image; a person's score is the mean of its keypoint scores above
    ``keypoint_thr`` (mmpose's rescoring, with box score 1)."""
    model.eval()
    out = []
    for images, targets in loader:
        for image, target in zip(images, targets, strict=True):
            kps, scores = estimate_poses(model, image.to(device), target["boxes"].to(device), padding)
            kps, scores = kps.float().cpu(), scores.float().cpu()
            valid = scores > keypoint_thr
            person = (scores * valid).sum(1) / valid.sum(1).clamp(min=1)
            out.append((target["image_id"], {"keypoints": kps, "keypoint_scores": scores, "scores": person}))
    return out


def pose_eval(model: nn.Module, loader: DataLoader, device: torch.device, padding: float = 1.25) -> dict[str, float]:
    """COCO keypoint AP (OKS) of ``loader.dataset`` (a :class:`COCODetectionDataset` of person keypoints)."""
    evaluator = COCOKeypointEvaluator(loader.dataset.ann_file)
    for image_id, pred in predict_poses(model, loader, device, padding):
        evaluator.process(image_id, pred)
    return evaluator.evaluate()


def make_pose_eval(recipe: PoseRecipe) -> EvalFn:
    """:func:`pose_eval` with the recipe's crop padding."""
    return partial(pose_eval, padding=recipe.input.padding)
