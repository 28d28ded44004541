"""Training and COCO evaluation of YOLOF detectors (persons, or parts on person crops) with the shared engine.

Batches are ``(images, targets)`` lists (:func:`partparse.data.coco_detection.detection_collate`). The
validation images are fed as stored: the detector resizes them and maps its boxes back to their pixels,
as at inference, and :class:`~partparse.evaluation.coco_eval.COCODetectionEvaluator` scores them against
the validation COCO file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from partparse.data.coco_detection import COCODetectionDataset, DetectionTransformConfig
from partparse.data.syntps_stream import SynTPSPartStream, SynTPSPersonStream
from partparse.engine.detection_recipe import DetectionRecipe
from partparse.engine.estimated_keypoints import PoseModelKeypoints
from partparse.engine.trainer import EvalFn
from partparse.evaluation.coco_eval import COCODetectionEvaluator
from partparse.io import InputError


def build_detection_datasets(recipe: DetectionRecipe) -> tuple[Dataset, COCODetectionDataset]:
    """Training (augmented, resized to the recipe size; a COCO export or a SynTPS stream) and validation
    (a COCO export, images as stored) datasets."""
    root, d, i = Path(recipe.data.root), recipe.data, recipe.input
    names = recipe.model.class_names
    train_tf = DetectionTransformConfig(train=True, min_size=i.min_size, max_size=i.max_size, flip_prob=i.flip_prob,
                                        shift_prob=i.shift_prob, max_shift_px=i.max_shift_px)
    if d.dots_from != "ground_truth" and not (d.train_source == "syntps_stream" and d.stream_view == "parts"):
        raise InputError(f"data.dots_from {d.dots_from} needs a parts stream (data.train_source syntps_stream, "
                         "data.stream_view parts)")
    if d.train_source == "coco":
        train: Dataset = COCODetectionDataset(root / d.train_ann, root / d.image_dir, names, train_tf,
                                              pose_guidance=d.pose_guidance, keypoint_noise=d.keypoint_noise)
    elif d.train_source == "syntps_stream" and d.stream_view == "persons":
        if names != ["person"]:
            raise InputError(f"data.stream_view persons trains class_names [person], got {names}")
        train = SynTPSPersonStream(d.stream, train_tf)
    elif d.train_source == "syntps_stream" and d.stream_view == "parts":
        source = _keypoint_source(recipe)
        try:
            train = SynTPSPartStream(d.stream, train_tf, names, margin=d.crop_margin, crop_jitter=d.crop_jitter,
                                     pose_guidance=d.pose_guidance, keypoint_noise=d.keypoint_noise,
                                     keypoint_source=source)
        except ValueError as err:
            raise InputError(f"model.class_names: {err}") from None
    else:
        raise InputError(f"data.train_source must be coco or syntps_stream and data.stream_view persons or parts, "
                         f"got {d.train_source!r} / {d.stream_view!r}")
    val = COCODetectionDataset(root / d.val_ann, root / (d.val_image_dir or d.image_dir), names,
                               DetectionTransformConfig(train=False), pose_guidance=d.pose_guidance,
                               max_images=d.val_max_images)
    return train, val


def _keypoint_source(recipe: DetectionRecipe) -> PoseModelKeypoints | None:
    """The parts stream's source of dots: ``None`` (the ground truth) or the recipe's pose model."""
    d = recipe.data
    if d.dots_from == "ground_truth":
        return None
    if not d.pose_guidance:
        raise InputError("data.dots_from pose_model draws dots: it needs data.pose_guidance true")
    if not d.dots_pose_model:
        raise InputError("data.dots_from pose_model needs data.dots_pose_model (a pose run or zoo:NAME)")
    source = PoseModelKeypoints(d.dots_pose_model, d.dots_score_thr)
    try:
        source.check()
    except ValueError as err:
        raise InputError(f"data.dots_pose_model: {err}") from None
    return source


def detection_step(model: nn.Module, batch: tuple[list, list], device: torch.device) -> dict[str, torch.Tensor]:
    """YOLOF's focal (``classification``) and GIoU (``bbox_regression``) losses of one batch."""
    images, targets = batch
    images = [img.to(device, non_blocking=True) for img in images]
    targets = [{"boxes": t["boxes"].to(device), "labels": t["labels"].to(device)} for t in targets]
    return model(images, targets)


@torch.no_grad()
def predict_detections(model: nn.Module, loader: DataLoader, device: torch.device) -> list[tuple[int, dict[str, Any]]]:
    """``[(image_id, {"boxes", "scores", "labels"} on the CPU), ...]`` for every image of ``loader``."""
    model.eval()
    out = []
    for images, targets in loader:
        dets = model([img.to(device) for img in images])
        out += [(t["image_id"], {k: v.float().cpu() if v.is_floating_point() else v.cpu() for k, v in d.items()})
                for t, d in zip(targets, dets, strict=True)]
    return out


def detection_eval(model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """COCO box AP / AP50 / ... overall and per class of ``loader.dataset`` (a :class:`COCODetectionDataset`)."""
    dataset: COCODetectionDataset = loader.dataset
    evaluator = COCODetectionEvaluator(dataset.ann_file, dataset.class_names)
    for image_id, det in predict_detections(model, loader, device):
        evaluator.process(image_id, det)
    return evaluator.evaluate()


def make_detection_eval(recipe: DetectionRecipe) -> EvalFn:
    """:func:`detection_eval` (the task table's evaluation of a detection recipe)."""
    return detection_eval
