"""YOLOF: You Only Look One-level Feature (Chen et al., CVPR 2021), a single-level anchor detector.

ResNet C5 (torchvision; frozen BN as mmdetection, or trained BN and thinner widths for from-scratch CPU
models) -> :class:`DilatedEncoder` -> :class:`YOLOFHead` at stride 32 with 5 square anchors (32..512 px),
trained with :class:`UniformMatcher`, sigmoid focal loss and GIoU on decoded boxes. Hyper-parameters follow
mmdetection's ``yolof_r50-c5_8xb8-1x_coco.py``.

Calling convention (torchvision detection models): ``model(images, targets)`` with ``images`` a list
of ``(3, H, W)`` float RGB tensors in ``[0, 1]`` of any size. The model's ``transform`` (torchvision's
``GeneralizedRCNNTransform``) resizes them (shorter side ``min_size``, longer at most ``max_size``),
normalises with ``image_mean/std`` and pads to a multiple of 32; it also rescales target boxes and maps
detections back to the input sizes. Training mode needs ``targets``: one dict per image with
``boxes (G, 4)`` float xyxy pixels (continuous: width ``x2 - x1``) and ``labels (G,)`` int64 in
``[0, num_classes)``; it returns ``{"classification", "bbox_regression"}`` losses. Eval mode returns
one dict per image: ``boxes (N, 4)`` xyxy in input pixels, ``scores (N,)``, ``labels (N,)`` (0-based).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.models import resnet18, resnet50, resnet101
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops import batched_nms, generalized_box_iou_loss, sigmoid_focal_loss
from torchvision.ops.misc import FrozenBatchNorm2d

from partparse.models.box_coder import DeltaBoxCoder
from partparse.models.dilated_encoder import DilatedEncoder
from partparse.models.imagenet import IMAGENET_MEAN, IMAGENET_STD
from partparse.models.uniform_matcher import IGNORE, UniformMatcher
from partparse.models.weights import LoadReport, load_mapped
from partparse.models.yolof_head import YOLOFHead


@dataclass
class YOLOFConfig:
    """Every setting of a YOLOF model; defaults are mmdetection's COCO recipe."""

    num_classes: int
    depth: int = 50
    style: str = "pytorch"          # "caffe": stride on the 1x1 conv, as mmdetection's YOLOF checkpoints
    frozen_stages: int = 1          # stem and layer1 are not trained (mmdetection ``frozen_stages=1``); 0: the
                                    # stem only; -1: nothing (from scratch)
    backbone_width: int = 64        # channels of the stem and layer1 (stages: x1, x2, x4, x8); 64 = ResNet
    backbone_norm: str = "frozen_bn"  # frozen_bn (mmdetection, for ImageNet weights) | bn (trained BN)
    backbone_stride: int = 32       # 32: C5 as YOLOF; 16: layer4 keeps layer3's resolution (small objects)
    encoder_channels: int = 512
    encoder_mid_channels: int = 128
    dilations: Sequence[int] = (2, 4, 6, 8)
    anchor_sizes: Sequence[int] = (32, 64, 128, 256, 512)  # scales [1, 2, 4, 8, 16] x stride 32
    min_size: int | tuple[int, ...] = 800
    max_size: int = 1333
    image_mean: Sequence[float] = IMAGENET_MEAN
    image_std: Sequence[float] = IMAGENET_STD
    ctr_clamp: float = 32.0
    match_times: int = 4
    pos_ignore_thr: float = 0.15
    neg_ignore_thr: float = 0.7
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    score_thresh: float = 0.05
    nms_thresh: float = 0.6
    pre_nms_top_k: int = 1000
    detections_per_img: int = 100


BACKBONE_NORMS = ("frozen_bn", "bn")


def _thin_resnet18(width: int, norm_layer: type[nn.Module]) -> nn.Module:
    """A ResNet-18 whose stages have ``width * (1, 2, 4, 8)`` channels (torchvision's has width 64).

    Built from torchvision's ``BasicBlock`` with torchvision's module names (``conv1``, ``layer1.0.conv1``,
    ``layer2.0.downsample.0``, ...), so state dicts look like a ResNet's; ``fc`` is a placeholder that
    only records the C5 width (``fc.in_features``).
    """
    net = nn.Module()
    net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = norm_layer(width)
    net.relu = nn.ReLU(inplace=True)
    net.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    inplanes = width
    for i, stride in enumerate((1, 2, 2, 2)):
        planes = width * 2 ** i
        downsample = None
        if stride != 1 or inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), norm_layer(planes))
        layer = nn.Sequential(BasicBlock(inplanes, planes, stride, downsample, norm_layer=norm_layer),
                              BasicBlock(planes, planes, norm_layer=norm_layer))
        setattr(net, f"layer{i + 1}", layer)
        inplanes = planes
    for m in net.modules():  # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    net.fc = nn.Linear(inplanes, 1)
    return net


class ResNetC5(nn.Module):
    """torchvision ResNet up to ``layer4`` (stride 32); keys match mmdetection's ResNet.

    ``norm``: ``frozen_bn`` (mmdetection's YOLOF: BN statistics and affine fixed, right for ImageNet
    weights) or ``bn`` (ordinary BatchNorm, trained with the model: what a from-scratch model needs,
    since a frozen BN of a random model normalises nothing). ``width``: channels of the stem and first
    stage (64: the standard ResNet); only depth 18 may be thinner. ``out_stride`` 16: the first block of
    ``layer4`` does not downsample (C5 at 1/16 of the input, same weights and keys; the dilated encoder
    restores the receptive field), for objects of a few pixels such as hands on a person crop.
    """

    def __init__(self, depth: int, style: str = "pytorch", frozen_stages: int = 1, width: int = 64,
                 norm: str = "frozen_bn", out_stride: int = 32) -> None:
        super().__init__()
        builders = {18: resnet18, 50: resnet50, 101: resnet101}
        if depth not in builders:
            raise ValueError(f"ResNet depth must be one of {sorted(builders)}, got {depth}")
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"ResNet style must be 'pytorch' or 'caffe', got {style!r}")
        if norm not in BACKBONE_NORMS:
            raise ValueError(f"backbone norm must be one of {BACKBONE_NORMS}, got {norm!r}")
        if width < 1 or (width != 64 and depth != 18):
            raise ValueError(f"backbone width must be 64 for ResNet-{depth} (other widths: depth 18 only), got {width}")
        norm_layer = FrozenBatchNorm2d if norm == "frozen_bn" else nn.BatchNorm2d
        net = (builders[depth](weights=None, norm_layer=norm_layer) if width == 64
               else _thin_resnet18(width, norm_layer))
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.out_channels = net.fc.in_features
        if out_stride not in (16, 32):
            raise ValueError(f"backbone out_stride must be 16 or 32, got {out_stride}")
        if out_stride == 16:
            for m in self.layer4[0].modules():
                if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
                    m.stride = (1, 1)
        if style == "caffe":
            for layer in (self.layer2, self.layer3, self.layer4):
                block = layer[0]
                if isinstance(block, Bottleneck):  # BasicBlock has no 1x1 conv: style is moot
                    block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
        if frozen_stages < -1 or frozen_stages > 4:
            raise ValueError(f"frozen_stages must be -1..4, got {frozen_stages}")
        # mmdetection's convention: 0 freezes the stem, k also layer1..k, -1 nothing (from-scratch training)
        stem = [self.conv1, self.bn1] if frozen_stages >= 0 else []
        self.frozen = stem + [getattr(self, f"layer{i}") for i in range(1, frozen_stages + 1)]
        for module in self.frozen:
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> ResNetC5:
        # Frozen stages keep their BN statistics too (mmdetection's ``norm_eval`` for the frozen part).
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class YOLOF(nn.Module):
    """See the module docstring for inputs and outputs."""

    def __init__(self, config: YOLOFConfig) -> None:
        super().__init__()
        if config.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {config.num_classes}")
        self.config = config
        self.transform = GeneralizedRCNNTransform(config.min_size, config.max_size, list(config.image_mean),
                                                  list(config.image_std), size_divisible=32)
        self.backbone = ResNetC5(config.depth, config.style, config.frozen_stages, config.backbone_width,
                                 config.backbone_norm, config.backbone_stride)
        self.encoder = DilatedEncoder(self.backbone.out_channels, config.encoder_channels,
                                      config.encoder_mid_channels, config.dilations)
        self.head = YOLOFHead(config.encoder_channels, config.num_classes, num_anchors=len(config.anchor_sizes))
        self.anchor_generator = AnchorGenerator(sizes=(tuple(config.anchor_sizes),), aspect_ratios=((1.0,),))
        self.box_coder = DeltaBoxCoder(ctr_clamp=config.ctr_clamp)
        self.matcher = UniformMatcher(config.match_times, config.pos_ignore_thr, config.neg_ignore_thr)

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
                ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        if self.training:
            _check_targets(targets, len(images), self.config.num_classes)
        original_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        image_list, targets = self.transform(images, targets)
        feature = self.encoder(self.backbone(image_list.tensors))
        cls_logits, deltas = self.head(feature)
        anchors = self.anchor_generator(image_list, [feature])[0]  # identical for every image
        if self.training:
            return self.compute_loss(cls_logits, deltas, anchors, targets)
        detections = self.postprocess(cls_logits, deltas, anchors, image_list.image_sizes)
        return self.transform.postprocess(detections, image_list.image_sizes, original_sizes)

    def compute_loss(self, cls_logits: Tensor, deltas: Tensor, anchors: Tensor,
                     targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """Focal loss over non-ignored anchors and GIoU over matched pairs, both / number of positives."""
        cls_loss = cls_logits.new_zeros(())
        box_loss = cls_logits.new_zeros(())
        num_pos = 0
        for logits, delta, target in zip(cls_logits, deltas, targets, strict=True):
            pred_boxes = self.box_coder.decode(anchors, delta)
            match = self.matcher(anchors, pred_boxes.detach(), target["boxes"])
            fg = match.matched_gt >= 0
            cared = match.matched_gt != IGNORE
            cls_target = torch.zeros_like(logits)
            cls_target[fg, target["labels"][match.matched_gt[fg]]] = 1.0
            cls_loss = cls_loss + sigmoid_focal_loss(logits[cared], cls_target[cared], self.config.focal_alpha,
                                                     self.config.focal_gamma, reduction="sum")
            pairs = match.pos_valid
            box_loss = box_loss + generalized_box_iou_loss(pred_boxes[match.pos_anchor[pairs]],
                                                           target["boxes"][match.pos_gt[pairs]], reduction="sum")
            num_pos += int(fg.sum())
        norm = max(num_pos, 1)
        return {"classification": cls_loss / norm, "bbox_regression": box_loss / norm}

    @torch.no_grad()
    def postprocess(self, cls_logits: Tensor, deltas: Tensor, anchors: Tensor,
                    image_sizes: list[tuple[int, int]]) -> list[dict[str, Tensor]]:
        """Score threshold, top-k, decode + clip, class-wise NMS (``batched_nms``), keep the best N."""
        cfg, num_classes = self.config, self.config.num_classes
        results = []
        for logits, delta, size in zip(cls_logits, deltas, image_sizes, strict=True):
            scores = logits.sigmoid().flatten()
            candidates = torch.nonzero(scores > cfg.score_thresh).squeeze(1)
            scores = scores[candidates]
            scores, order = scores.topk(min(cfg.pre_nms_top_k, scores.numel()))
            candidates = candidates[order]
            anchor_idx, labels = candidates // num_classes, candidates % num_classes
            boxes = self.box_coder.decode(anchors[anchor_idx], delta[anchor_idx], image_size=size)
            nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            boxes, scores, labels = boxes[nonempty], scores[nonempty], labels[nonempty]
            keep = batched_nms(boxes, scores, labels, cfg.nms_thresh)[: cfg.detections_per_img]
            results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return results


def _check_targets(targets: list[dict[str, Tensor]] | None, num_images: int, num_classes: int) -> None:
    if targets is None:
        raise ValueError("targets are required in training mode (call model.eval() for inference)")
    if len(targets) != num_images:
        raise ValueError(f"got {num_images} images but {len(targets)} targets")
    for i, t in enumerate(targets):
        boxes, labels = t.get("boxes"), t.get("labels")
        if not isinstance(boxes, Tensor) or boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"target {i}: 'boxes' must be a (G, 4) tensor, got {getattr(boxes, 'shape', boxes)}")
        if not isinstance(labels, Tensor) or labels.shape != boxes.shape[:1]:
            raise ValueError(f"target {i}: 'labels' must be a (G,) tensor matching 'boxes'")
        if boxes.numel() and bool((boxes[:, 2:] <= boxes[:, :2]).any()):
            raise ValueError(f"target {i}: degenerate box (x2 <= x1 or y2 <= y1)")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(f"target {i}: labels must lie in [0, {num_classes}), got {labels.tolist()}")


# ---- mmdetection checkpoints -------------------------------------------------------------------------

_MMDET_RULES = [
    (re.compile(r"^backbone\.(.+)$"), r"backbone.\1"),
    (re.compile(r"^neck\.lateral_conv\.(weight|bias)$"), r"encoder.lateral.0.\1"),
    (re.compile(r"^neck\.lateral_norm\.(.+)$"), r"encoder.lateral.1.\1"),
    (re.compile(r"^neck\.fpn_conv\.(weight|bias)$"), r"encoder.fpn.0.\1"),
    (re.compile(r"^neck\.fpn_norm\.(.+)$"), r"encoder.fpn.1.\1"),
    (re.compile(r"^neck\.dilated_encoder_blocks\.(\d+)\.(conv\d)\.conv\.(.+)$"), r"encoder.blocks.\1.\2.0.\3"),
    (re.compile(r"^neck\.dilated_encoder_blocks\.(\d+)\.(conv\d)\.bn\.(.+)$"), r"encoder.blocks.\1.\2.1.\3"),
    (re.compile(r"^bbox_head\.(cls_subnet|bbox_subnet)\.(\d+)\.conv\.(.+)$"), r"head.\1.\2.0.\3"),
    (re.compile(r"^bbox_head\.(cls_subnet|bbox_subnet)\.(\d+)\.bn\.(.+)$"), r"head.\1.\2.1.\3"),
    (re.compile(r"^bbox_head\.(cls_score|bbox_pred|object_pred)\.(weight|bias)$"), r"head.\1.\2"),
]


def mmdet_yolof_key(key: str) -> str | None:
    """Our parameter name for an mmdetection YOLOF checkpoint key, or ``None`` for keys we do not hold."""
    if key.startswith("backbone.") and key.endswith("num_batches_tracked"):
        return None  # FrozenBatchNorm2d keeps no batch counter
    for pattern, replacement in _MMDET_RULES:
        if pattern.match(key):
            return pattern.sub(replacement, key)
    return None


def load_mmdet_yolof(model: YOLOF, state_dict: Mapping[str, Tensor], bgr_to_rgb: bool = True,
                     classes: Sequence[int] | None = None) -> LoadReport:
    """Load an mmdetection YOLOF state dict (from :func:`~partparse.models.weights.read_checkpoint`).

    ``bgr_to_rgb``: mmdetection's Caffe-style models read BGR pixels; reversing conv1's input channels
    lets them read our RGB images (then build the model with ``style="caffe"`` and ``image_std`` 1/255:
    :mod:`partparse.models.imagenet`).
    ``classes``: keep only these of the checkpoint's classes in ``cls_score`` (``(0,)`` = COCO person),
    for a model built with ``num_classes=len(classes)``.
    """
    sd = {k: v for k, v in state_dict.items() if not (k.startswith("backbone.") and k.endswith("num_batches_tracked"))}
    if bgr_to_rgb and "backbone.conv1.weight" in sd:
        sd["backbone.conv1.weight"] = sd["backbone.conv1.weight"].flip(1)
    if classes is not None:
        anchors = len(model.config.anchor_sizes)
        for name in ("bbox_head.cls_score.weight", "bbox_head.cls_score.bias"):
            if name in sd:
                t = sd[name]
                t = t.reshape(anchors, t.shape[0] // anchors, *t.shape[1:])[:, list(classes)]
                sd[name] = t.reshape(-1, *t.shape[2:])
    return load_mapped(model, sd, mmdet_yolof_key)


# ---- builders --------------------------------------------------------------------------------------------

def yolof_r18(num_classes: int, **kwargs) -> YOLOF:
    """YOLOF with ResNet-18 (C5 has 512 channels); no mmdetection checkpoint exists for this depth."""
    return YOLOF(YOLOFConfig(num_classes=num_classes, depth=18, **kwargs))


def yolof_r50(num_classes: int, **kwargs) -> YOLOF:
    """YOLOF-R50-C5; for mmdetection checkpoints pass ``style="caffe"`` and ``image_std`` 1/255
    (:mod:`partparse.models.imagenet`)."""
    return YOLOF(YOLOFConfig(num_classes=num_classes, depth=50, **kwargs))
