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
from partparse.evaluation.coco_eval import COCODetectionEvaluator
from partparse.io import InputError
from partparse.models.weights import load_mapped, read_checkpoint
from partparse.models.yolof import YOLOF, YOLOFConfig, load_mmdet_yolof


def build_detection_datasets(recipe: DetectionRecipe) -> tuple[Dataset, COCODetectionDataset]:
    """Training (augmented, resized to the recipe size; a COCO export or a SynTPS stream) and validation
    (a COCO export, images as stored) datasets."""
    root, d, i = Path(recipe.data.root), recipe.data, recipe.input
    names = recipe.model.class_names
    train_tf = DetectionTransformConfig(train=True, min_size=i.min_size, max_size=i.max_size, flip_prob=i.flip_prob,
                                        shift_prob=i.shift_prob, max_shift_px=i.max_shift_px)
    if d.train_source == "coco":
        train: Dataset = COCODetectionDataset(root / d.train_ann, root / d.image_dir, names, train_tf,
                                              pose_guidance=d.pose_guidance, keypoint_noise=d.keypoint_noise)
    elif d.train_source == "syntps_stream" and d.stream_view == "persons":
        if names != ["person"]:
            raise InputError(f"data.stream_view persons trains class_names [person], got {names}")
        train = SynTPSPersonStream(d.stream, train_tf)
    elif d.train_source == "syntps_stream" and d.stream_view == "parts":
        try:
            train = SynTPSPartStream(d.stream, train_tf, names, margin=d.crop_margin, crop_jitter=d.crop_jitter,
                                     pose_guidance=d.pose_guidance, keypoint_noise=d.keypoint_noise)
        except ValueError as err:
            raise InputError(f"model.class_names: {err}") from None
    else:
        raise InputError(f"data.train_source must be coco or syntps_stream and data.stream_view persons or parts, "
                         f"got {d.train_source!r} / {d.stream_view!r}")
    val = COCODetectionDataset(root / d.val_ann, root / (d.val_image_dir or d.image_dir), names,
                               DetectionTransformConfig(train=False), pose_guidance=d.pose_guidance,
                               max_images=d.val_max_images)
    return train, val


def yolof_config(recipe: DetectionRecipe) -> YOLOFConfig:
    m, i = recipe.model, recipe.input
    return YOLOFConfig(num_classes=len(m.class_names), depth=m.depth, style=m.style, frozen_stages=m.frozen_stages,
                       backbone_width=m.backbone_width, backbone_norm=m.backbone_norm,
                       backbone_stride=m.backbone_stride,
                       encoder_channels=m.encoder_channels, encoder_mid_channels=m.encoder_mid_channels,
                       dilations=tuple(m.dilations), anchor_sizes=tuple(m.anchor_sizes), min_size=i.min_size,
                       max_size=i.max_size, image_mean=tuple(m.image_mean), image_std=tuple(m.image_std),
                       score_thresh=m.score_thresh, nms_thresh=m.nms_thresh,
                       detections_per_img=m.detections_per_img)


def _torchvision_backbone_key(key: str) -> str | None:
    return None if key.startswith("fc.") else f"backbone.{key}"


def build_detection_model(recipe: DetectionRecipe, load_pretrained: bool = True) -> YOLOF:
    """The recipe's YOLOF; with ``load_pretrained``, its starting weights: an ImageNet backbone, an
    mmdetection YOLOF, and/or ``load_from`` a partparse detection run (e.g. the part detector from the
    person detector: every tensor of the same name and shape, so not the class scores).

    A file from which nothing loads is an error (a wrong file must not train from scratch silently).
    """
    m = recipe.model
    model = YOLOF(yolof_config(recipe))
    if not load_pretrained:
        return model
    if m.backbone_pretrained:
        report = load_mapped(model, read_checkpoint(m.backbone_pretrained, trusted=m.trust_checkpoint),
                             _torchvision_backbone_key)
        if not report.loaded:
            raise InputError(f"{m.backbone_pretrained}: no tensor fits the ResNet-{m.depth} backbone ({report.summary()})")
    if m.pretrained:
        state = read_checkpoint(m.pretrained, trusted=m.trust_checkpoint)
        report = load_mmdet_yolof(model, state, bgr_to_rgb=m.style == "caffe", classes=m.pretrained_classes)
        if not report.loaded:
            raise InputError(f"{m.pretrained}: no tensor fits the YOLOF model ({report.summary()})")
    if m.load_from:
        # imported here: trained_models imports this module
        from partparse.engine.trained_models import checkpoint_of, read_model_state

        _, checkpoint = checkpoint_of(m.load_from)
        report = load_mapped(model, read_model_state(checkpoint))
        if not report.loaded:
            raise InputError(f"{checkpoint}: no tensor fits the YOLOF model ({report.summary()})")
    return model


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
                for t, d in zip(targets, dets)]
    return out


def detection_eval(model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """COCO box AP / AP50 / ... overall and per class of ``loader.dataset`` (a :class:`COCODetectionDataset`)."""
    dataset: COCODetectionDataset = loader.dataset
    evaluator = COCODetectionEvaluator(dataset.ann_file, dataset.class_names)
    for image_id, det in predict_detections(model, loader, device):
        evaluator.process(image_id, det)
    return evaluator.evaluate()
