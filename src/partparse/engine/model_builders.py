"""Every model a recipe describes, built in one place with its starting-weights policy.

One function per task (``build_<task>_model(recipe, class_names, load_pretrained)``) builds the model and,
with ``load_pretrained``, loads what the recipe names (ImageNet backbones, mmdetection / mmpose /
mmaction2 checkpoints, a partparse run through :func:`partparse.engine.checkpoint.checkpoint_of`). A trained
model is built with ``load_pretrained=False`` (its checkpoint holds every weight). Nothing here imports a
dataset or the trainer: loading a model for ``partparse parse`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from torch import nn

from partparse.data.part_labels import read_label_spaces
from partparse.data.skeleton_features import NUM_CHANNELS, NUM_JOINTS
from partparse.engine.checkpoint import checkpoint_of, read_model_state
from partparse.engine.detection_recipe import DetectionRecipe
from partparse.engine.pose_recipe import PoseRecipe
from partparse.engine.skeleton_recipe import SkeletonRecipe
from partparse.engine.video_recipe import VideoRecipe
from partparse.io import InputError
from partparse.model_zoo import is_zoo_name
from partparse.models.csn import VideoClassifier, build_csn
from partparse.models.csn_checkpoint import load_mmaction2_csn
from partparse.models.hrnet import PoseHRNet, hrnet_w18, hrnet_w18_small, hrnet_w32, hrnet_w48, load_mmpose_hrnet
from partparse.models.keypoint_codec import HeatmapCodec
from partparse.models.skeleton_gcn import SkeletonGCN
from partparse.models.weights import LoadReport, load_mapped, read_checkpoint
from partparse.models.yolof import YOLOF, YOLOFConfig, load_mmdet_yolof
from partparse.run_layout import RunLayout


def load_run(model: nn.Module, path: str | Path, what: str) -> LoadReport:
    """Every tensor of a partparse run (work dir, ``.pth`` or ``zoo:<name>``) whose name and shape fit
    ``model`` (``model.load_from`` of the detection and pose recipes); none fitting is an error."""
    _, checkpoint = checkpoint_of(path)
    report = load_mapped(model, read_model_state(checkpoint))
    if not report.loaded:
        raise InputError(f"{checkpoint}: no tensor fits {what} ({report.summary()})")
    return report


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


def build_detection_model(recipe: DetectionRecipe, class_names: Mapping[str, Sequence[str]] | None = None,
                          load_pretrained: bool = True) -> YOLOF:
    """The recipe's YOLOF; with ``load_pretrained``, its starting weights: an ImageNet backbone, an
    mmdetection YOLOF, and/or ``load_from`` a partparse detection run (e.g. the part detector from the
    person detector: every tensor of the same name and shape, so not the class scores).

    A file from which nothing loads is an error (a wrong file must not train from scratch silently).
    ``class_names`` is not used: the detector's classes are the recipe's ``model.class_names``.
    """
    m = recipe.model
    model = YOLOF(yolof_config(recipe))
    if not load_pretrained:
        return model
    if m.backbone_pretrained:
        report = load_mapped(model, read_checkpoint(m.backbone_pretrained, trusted=m.trust_checkpoint),
                             _torchvision_backbone_key)
        if not report.loaded:
            raise InputError(f"{m.backbone_pretrained}: no tensor fits the ResNet-{m.depth} backbone "
                             f"({report.summary()})")
    if m.pretrained:
        state = read_checkpoint(m.pretrained, trusted=m.trust_checkpoint)
        report = load_mmdet_yolof(model, state, bgr_to_rgb=m.style == "caffe", classes=m.pretrained_classes)
        if not report.loaded:
            raise InputError(f"{m.pretrained}: no tensor fits the YOLOF model ({report.summary()})")
    if m.load_from:
        load_run(model, m.load_from, "the YOLOF model")
    return model


POSE_BUILDERS = {"hrnet_w18_small": hrnet_w18_small, "hrnet_w18": hrnet_w18, "hrnet_w32": hrnet_w32,
                 "hrnet_w48": hrnet_w48}


def build_pose_model(recipe: PoseRecipe, class_names: Mapping[str, Sequence[str]] | None = None,
                     load_pretrained: bool = True) -> PoseHRNet:
    """The recipe's HRNet; with ``load_pretrained``, its mmpose weights and/or ``load_from`` a partparse
    pose run (an error if nothing fits).
    ``class_names`` is not used (the keypoints are the recipe's)."""
    m, i = recipe.model, recipe.input
    if m.arch not in POSE_BUILDERS:
        raise InputError(f"model.arch must be one of {', '.join(POSE_BUILDERS)}, got {m.arch!r}")
    codec = HeatmapCodec(input_size=(int(i.input_size[0]), int(i.input_size[1])),
                         heatmap_size=(int(m.heatmap_size[0]), int(m.heatmap_size[1])), sigma=m.sigma,
                         quantize_center=m.quantize_center, decode_mode=m.decode_mode, blur_kernel=m.blur_kernel)
    model = POSE_BUILDERS[m.arch](m.num_keypoints, codec=codec, image_mean=tuple(m.image_mean),
                                  image_std=tuple(m.image_std), flip_test=m.flip_test, shift_heatmap=m.shift_heatmap)
    if not load_pretrained:
        return model
    if m.backbone_pretrained:
        # ImageNet HRNet classifiers (official code, mmpose's open-mmlab://msra/hrnet_*) name the backbone
        # modules as we do, without the prefix; their classification head finds no match and is dropped
        report = load_mapped(model, read_checkpoint(m.backbone_pretrained, trusted=m.trust_checkpoint),
                             lambda key: f"backbone.{key}")
        if not report.loaded:
            raise InputError(f"{m.backbone_pretrained}: no tensor fits the {m.arch} backbone ({report.summary()})")
    if m.pretrained:
        report = load_mmpose_hrnet(model, read_checkpoint(m.pretrained, trusted=m.trust_checkpoint))
        if not report.loaded:
            raise InputError(f"{m.pretrained}: no tensor fits the {m.arch} model ({report.summary()})")
    if m.load_from:
        load_run(model, m.load_from, f"the {m.arch} model")
    return model


def build_video_model(recipe: VideoRecipe, spaces: Mapping[str, Sequence[str]],
                      load_pretrained: bool = True) -> VideoClassifier:
    """The recipe's CSN with one head per entry of ``spaces`` (``{head: class names}``, e.g. the training
    label spaces or a run's ``label_spaces.json``); with ``load_pretrained``, its ``model.pretrained``
    backbone (:func:`load_pretrained_backbone`), then its ``model.load_from`` run (:func:`load_video_run`)."""
    m = recipe.model
    model = build_csn(m.variant, m.depth, {h: len(s) for h, s in spaces.items()}, dropout=m.dropout,
                      frozen_bn=m.frozen_bn, frozen_stages=m.frozen_stages,
                      gradient_checkpointing=m.gradient_checkpointing, zero_init_residual=m.zero_init_residual,
                      base_channels=m.base_channels)
    if load_pretrained and m.pretrained:
        load_pretrained_backbone(model, m.pretrained, trusted=m.trust_checkpoint)
    if load_pretrained and m.load_from:
        load_video_run(model, m.load_from, spaces)
    return model


def load_video_run(model: VideoClassifier, path: str | Path, spaces: Mapping[str, Sequence[str]]) -> LoadReport:
    """Initialise ``model`` from a partparse video run (work dir, ``.pth`` or ``zoo:<name>``): the whole
    backbone, and every head row whose class name exists in the run's label space. Label spaces are
    built from each run's training split, so a small fine-tuning set may lack classes the run knew, or
    hold a few it did not: matching by name keeps every known class's weights in its new row, and a
    class new to this run keeps its fresh initialisation."""
    work, checkpoint = checkpoint_of(path)
    theirs = read_label_spaces(RunLayout(work).label_spaces)
    state = read_model_state(checkpoint)
    ours = model.state_dict()
    mapped = {k: v for k, v in state.items() if k.startswith("backbone.")}
    for head, names in spaces.items():
        index = {name: i for i, name in enumerate(theirs.get(head, ()))}
        rows = [(new, index[name]) for new, name in enumerate(getattr(names, "names", names)) if name in index]
        for key in (f"heads.{head}.fc.weight", f"heads.{head}.fc.bias"):
            if not rows or key not in state or key not in ours or state[key].shape[1:] != ours[key].shape[1:]:
                continue
            merged = ours[key].clone()
            merged[[n for n, _ in rows]] = state[key][[o for _, o in rows]].to(merged.dtype)
            mapped[key] = merged
    report = load_mapped(model, mapped)
    if not report.loaded:
        raise InputError(f"{checkpoint}: no weight of this video run fits the model ({report.summary()})")
    return report


def load_pretrained_backbone(model: VideoClassifier, path: str | Path, trusted: bool = False) -> LoadReport:
    """Initialise ``model``'s backbone from ``path``: an mmaction2 CSN checkpoint, or one of ours (a
    ``.pth`` written by ``partparse train`` or its work dir: ``best.pth``, else ``latest.pth``). Heads
    stay as built (their classes differ between datasets). Raises :class:`InputError` naming the file
    when no backbone weight matches."""
    if is_zoo_name(path) or Path(path).is_dir() or RunLayout(Path(path).parent).recipe.is_file():
        _, path = checkpoint_of(path)                         # ours: a zoo name or a `partparse train` run
        backbone = {k: v for k, v in read_model_state(path).items() if k.startswith("backbone.")}
        report = load_mapped(model, backbone, lambda k: k)
    else:
        path = Path(path)
        report = load_mmaction2_csn(model, read_checkpoint(path, trusted=trusted), head=None)
    if not report.loaded:
        raise InputError(f"{path}: no CSN backbone weight matches the model")
    return report


def build_skeleton_model(recipe: SkeletonRecipe, class_names: Mapping[str, Sequence[str]],
                         load_pretrained: bool = True) -> SkeletonGCN:
    """The recipe's skeleton model with an ``action`` head and one state head per other entry of
    ``class_names`` (the training label spaces, or a run's ``label_spaces.json``). It trains from scratch:
    ``load_pretrained`` has nothing to load."""
    if "action" not in class_names:
        raise InputError("a skeleton model's label spaces need an 'action' head")
    m = recipe.model
    parts = [len(names) for head, names in class_names.items() if head != "action"]
    return SkeletonGCN(len(class_names["action"]), parts, NUM_CHANNELS, NUM_JOINTS, m.channels, m.kernel_t,
                       m.hidden, m.dropout)
