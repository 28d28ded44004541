"""YOLOF: box coding, uniform matching, head shapes, training/eval contract, overfitting, mmdet import."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torchvision.ops import box_iou

from partparse.models.box_coder import DeltaBoxCoder
from partparse.models.uniform_matcher import BACKGROUND, IGNORE, UniformMatcher
from partparse.models.yolof import YOLOF, YOLOFConfig, load_mmdet_yolof, mmdet_yolof_key, yolof_r18


def small_yolof(num_classes: int = 1, **kwargs) -> YOLOF:
    torch.manual_seed(0)
    return yolof_r18(num_classes, min_size=128, max_size=128, **kwargs)


def bn_eval(model: nn.Module) -> None:
    # One 128x128 image gives BN 16 values per channel at stride 32: batch statistics would be noise.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


# ---- box coder ---------------------------------------------------------------------------------------

def test_box_coder_round_trip():
    g = torch.Generator().manual_seed(0)
    anchors = torch.rand(50, 2, generator=g) * 200
    anchors = torch.cat([anchors, anchors + 16 + torch.rand(50, 2, generator=g) * 300], dim=1)
    shift = (torch.rand(50, 2, generator=g) - 0.5) * 40  # centre shifts within +-20 px < ctr_clamp
    wh = (anchors[:, 2:] - anchors[:, :2]) * (0.5 + torch.rand(50, 2, generator=g))
    centre = (anchors[:, :2] + anchors[:, 2:]) / 2 + shift
    boxes = torch.cat([centre - wh / 2, centre + wh / 2], dim=1)
    coder = DeltaBoxCoder()
    torch.testing.assert_close(coder.decode(anchors, coder.encode(anchors, boxes)), boxes, atol=1e-3, rtol=1e-5)


def test_box_coder_clamps_centre_shift_and_clips_to_image():
    coder = DeltaBoxCoder(ctr_clamp=32)
    anchor = torch.tensor([[0.0, 0.0, 64.0, 64.0]])
    far = coder.decode(anchor, torch.tensor([[10.0, -10.0, 0.0, 0.0]]))  # would move 640 px
    torch.testing.assert_close(far, torch.tensor([[32.0, -32.0, 96.0, 32.0]]))
    clipped = coder.decode(anchor, torch.tensor([[10.0, -10.0, 0.0, 0.0]]), image_size=(50, 90))
    torch.testing.assert_close(clipped, torch.tensor([[32.0, 0.0, 90.0, 32.0]]))
    unclamped = DeltaBoxCoder(ctr_clamp=None).decode(anchor, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(unclamped, torch.tensor([[64.0, 0.0, 128.0, 64.0]]))


# ---- uniform matcher -------------------------------------------------------------------------------

def grid_anchors(size: float = 32.0, n: int = 8, stride: float = 32.0) -> torch.Tensor:
    c = torch.arange(n, dtype=torch.float32) * stride + stride / 2
    cy, cx = torch.meshgrid(c, c, indexing="ij")
    centre = torch.stack([cx.flatten(), cy.flatten()], dim=1)
    return torch.cat([centre - size / 2, centre + size / 2], dim=1)


def cxcywh_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    ca = torch.cat([(a[:, :2] + a[:, 2:]) / 2, a[:, 2:] - a[:, :2]], 1)
    cb = torch.cat([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)
    return (ca[:, None] - cb[None]).abs().sum(-1)


def test_uniform_matcher_gives_k_anchors_per_box():
    anchors = grid_anchors()  # 64 anchors of 32 px on a 256 px image
    gts = torch.tensor([[16.0, 16.0, 80.0, 80.0], [160.0, 100.0, 240.0, 200.0]])
    # Predictions far from everything, except those of anchors 60..63 (on box 0) and 56..59 (on box 1).
    preds = torch.tensor([[1000.0, 1000.0, 1010.0, 1010.0]]) + torch.arange(64.0)[:, None]
    preds[60:64] = gts[0] + torch.arange(4.0)[:, None]
    preds[56:60] = gts[1] + torch.arange(4.0)[:, None]
    match = UniformMatcher(match_times=4, pos_ignore_thr=0.0, neg_ignore_thr=0.99)(anchors, preds, gts)
    # pairs are laid out (k, [prediction side, anchor side], G), as mmdetection's UniformAssigner
    pairs = match.pos_anchor.view(4, 2, 2)
    assert (match.pos_gt.view(4, 2, 2) == torch.tensor([0, 1])).all()
    nearest = cxcywh_l1(anchors, gts).topk(4, dim=0, largest=False).indices  # (4, G)
    for g in range(2):
        assert set(pairs[:, 1, g].tolist()) == set(nearest[:, g].tolist())
        assert (match.matched_gt[pairs[:, 1, g]] == g).all()
    assert set(pairs[:, 0, 0].tolist()) == {60, 61, 62, 63}
    assert (match.matched_gt[60:64] == 0).all()
    assert set(pairs[:, 0, 1].tolist()) == {56, 57, 58, 59}
    # exactly 4 + 4 anchors per box, nothing else positive
    positives = set(pairs.flatten().tolist())
    assert match.num_positive_anchors == len(positives) == 16
    assert int((match.matched_gt == BACKGROUND).sum()) == 64 - 16


def test_uniform_matcher_ignore_thresholds():
    anchors = grid_anchors()
    gt = torch.tensor([[16.0, 16.0, 80.0, 80.0]])
    preds = anchors.clone()
    preds[63] = torch.tensor([18.0, 18.0, 78.0, 82.0])  # a far anchor whose prediction hits the box
    matcher = UniformMatcher(match_times=4, pos_ignore_thr=0.2, neg_ignore_thr=0.7)
    match = matcher(anchors, preds, gt)
    anchor_iou = box_iou(anchors, gt)[:, 0]
    # anchor 63 is chosen by its prediction but its anchor has IoU 0 < pos_ignore_thr: ignored
    assert 63 in match.pos_anchor.tolist()
    assert match.matched_gt[63] == IGNORE
    assert not bool(match.pos_valid[match.pos_anchor == 63].any())
    # every chosen anchor is positive iff its anchor IoU >= pos_ignore_thr
    for a, valid in zip(match.pos_anchor.tolist(), match.pos_valid.tolist(), strict=True):
        assert valid == bool(anchor_iou[a] >= 0.2)
    # a prediction that overlaps the box by > neg_ignore_thr, but was not selected, is ignored, not negative
    preds2 = anchors.clone()
    preds2[40] = torch.tensor([20.0, 20.0, 80.0, 80.0])  # IoU 0.88 with the box, L1 cost 12
    preds2[:4] = gt  # cost 0: these four take the prediction-side top-k
    match2 = UniformMatcher(match_times=4, pos_ignore_thr=0.2, neg_ignore_thr=0.7)(anchors, preds2, gt)
    assert 40 not in match2.pos_anchor.tolist()
    assert match2.matched_gt[40] == IGNORE
    assert match2.matched_gt[50] == BACKGROUND


def test_uniform_matcher_without_boxes_is_all_background():
    match = UniformMatcher()(grid_anchors(), grid_anchors(), torch.zeros(0, 4))
    assert (match.matched_gt == BACKGROUND).all() and match.pos_anchor.numel() == 0


# ---- model contract -----------------------------------------------------------------------------

def test_head_output_shapes_follow_anchor_layout():
    model = small_yolof(num_classes=10)
    images = torch.rand(2, 3, 128, 96)
    feature = model.encoder(model.backbone(images))
    assert feature.shape == (2, 512, 4, 3)
    logits, deltas = model.head(feature)
    assert logits.shape == (2, 4 * 3 * 5, 10) and deltas.shape == (2, 4 * 3 * 5, 4)
    # objectness is multiplied in: sigmoid(logit) = sigmoid(cls) * sigmoid(obj)
    cls = model.head.cls_score(model.head.cls_subnet(feature))[0, :10, 0, 0]
    obj = model.head.object_pred(model.head.bbox_subnet(feature))[0, 0, 0, 0]
    torch.testing.assert_close(logits[0, 0].sigmoid(), cls.sigmoid() * obj.sigmoid())


def test_backbone_is_frozen_up_to_layer1_and_uses_frozen_bn():
    model = small_yolof()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(re.match(r"backbone\.(conv1|bn1|layer1)\.", n) for n in frozen)
    assert all(p.requires_grad for n, p in model.named_parameters() if n.startswith("backbone.layer2"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())


def test_training_returns_losses_and_eval_returns_detections_in_input_size():
    model = small_yolof(num_classes=3)
    images = [torch.rand(3, 100, 150), torch.rand(3, 120, 90)]
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 80.0, 90.0]]), "labels": torch.tensor([2])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    model.train()
    losses = model(images, targets)
    assert set(losses) == {"classification", "bbox_regression"}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    model.eval()
    model.config.score_thresh = 0.0  # untrained scores are ~0.005: keep everything to check shapes
    with torch.no_grad():
        out = model(images)
    assert len(out) == 2
    for det, img in zip(out, images, strict=True):
        n = det["boxes"].shape[0]
        assert 0 < n <= model.config.detections_per_img
        assert det["scores"].shape == (n,) and det["labels"].shape == (n,)
        assert int(det["labels"].max()) < 3
        assert float(det["boxes"][:, 2].max()) <= img.shape[2] + 1e-3
        assert float(det["boxes"][:, 3].max()) <= img.shape[1] + 1e-3


def test_bad_targets_are_rejected():
    model = small_yolof()
    model.train()
    with pytest.raises(ValueError, match="targets are required"):
        model([torch.rand(3, 64, 64)])
    with pytest.raises(ValueError, match="degenerate"):
        model([torch.rand(3, 64, 64)],
              [{"boxes": torch.tensor([[10.0, 10.0, 5.0, 20.0]]), "labels": torch.tensor([0])}])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\)"):
        model([torch.rand(3, 64, 64)], [{"boxes": torch.tensor([[1.0, 1.0, 5.0, 20.0]]), "labels": torch.tensor([1])}])


def test_overfits_one_image_with_one_box():
    model = small_yolof()
    image = torch.full((3, 128, 128), 0.2)
    image[:, 20:110, 30:90] = 0.9
    box = torch.tensor([[30.0, 20.0, 90.0, 110.0]])
    targets = [{"boxes": box, "labels": torch.tensor([0])}]
    model.train()
    bn_eval(model)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    history = []
    for _ in range(20):
        losses = model([image], targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert min(history[-3:]) < 0.5 * history[0], history
    model.eval()
    with torch.no_grad():
        det = model([image])[0]
    assert det["boxes"].shape[0] >= 1
    assert float(box_iou(det["boxes"][:1], box)[0, 0]) > 0.5, (det["boxes"][:3], det["scores"][:3])


def test_postprocess_applies_class_wise_nms():
    model = small_yolof(num_classes=2)
    model.eval()
    anchors = torch.tensor([[0.0, 0.0, 64.0, 64.0], [2.0, 2.0, 66.0, 66.0], [2.0, 2.0, 66.0, 66.0],
                            [100.0, 100.0, 120.0, 120.0]])
    logits = torch.full((1, 4, 2), -10.0)
    logits[0, 0, 0], logits[0, 1, 0], logits[0, 2, 1], logits[0, 3, 0] = 3.0, 2.0, 1.0, 0.0
    out = model.postprocess(logits, torch.zeros(1, 4, 4), anchors, [(128, 128)])[0]
    # anchor 1 overlaps anchor 0 (same class, IoU 0.89 > 0.6): suppressed; anchor 2 has another class
    assert out["labels"].tolist() == [0, 1, 0]
    torch.testing.assert_close(out["boxes"], anchors[[0, 2, 3]])
    torch.testing.assert_close(out["scores"], torch.tensor([3.0, 1.0, 0.0]).sigmoid())


# ---- mmdetection checkpoints -------------------------------------------------------------------------

def to_mmdet_layout(ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename our keys to mmdetection's, written independently of the forward key map."""
    out = {}
    for key, value in ours.items():
        k = key.replace("encoder.lateral.0.", "neck.lateral_conv.").replace("encoder.lateral.1.", "neck.lateral_norm.")
        k = k.replace("encoder.fpn.0.", "neck.fpn_conv.").replace("encoder.fpn.1.", "neck.fpn_norm.")
        k = re.sub(r"^encoder\.blocks\.(\d+)\.(conv\d)\.0\.", r"neck.dilated_encoder_blocks.\1.\2.conv.", k)
        k = re.sub(r"^encoder\.blocks\.(\d+)\.(conv\d)\.1\.", r"neck.dilated_encoder_blocks.\1.\2.bn.", k)
        k = re.sub(r"^head\.(cls_subnet|bbox_subnet)\.(\d+)\.0\.", r"bbox_head.\1.\2.conv.", k)
        k = re.sub(r"^head\.(cls_subnet|bbox_subnet)\.(\d+)\.1\.", r"bbox_head.\1.\2.bn.", k)
        k = re.sub(r"^head\.(cls_score|bbox_pred|object_pred)\.", r"bbox_head.\1.", k)
        out[k] = value.clone()
    return out


def randomise(model: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point() and t.ndim > 1:  # variance-preserving random convs
                t.copy_(torch.randn(t.shape, generator=g) / t[0].numel() ** 0.5)
            elif t.is_floating_point():  # BN statistics and biases near their neutral values
                t.copy_(torch.rand(t.shape, generator=g) * 0.1 + 0.95)


def test_mmdet_checkpoint_round_trip():
    source, target = small_yolof(num_classes=2), small_yolof(num_classes=2)
    randomise(source, 1)
    mmdet = to_mmdet_layout(source.state_dict())
    mmdet["backbone.bn1.num_batches_tracked"] = torch.tensor(5)  # mmdet's BN counts batches; we drop them
    assert all(k.split(".")[0] in ("backbone", "neck", "bbox_head") for k in mmdet)
    report = load_mmdet_yolof(target, mmdet, bgr_to_rgb=False)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    source.eval(), target.eval()
    x = torch.rand(1, 3, 128, 128)
    source_out = source.head(source.encoder(source.backbone(x)))
    target_out = target.head(target.encoder(target.backbone(x)))
    for a, b in zip(source_out, target_out, strict=True):
        torch.testing.assert_close(a, b)
    # BGR -> RGB: the imported model on RGB input equals the original on the channel-reversed input
    rgb = small_yolof(num_classes=2)
    load_mmdet_yolof(rgb, mmdet, bgr_to_rgb=True)
    rgb.eval()
    torch.testing.assert_close(rgb.backbone(x), source.backbone(x.flip(1)))


def test_mmdet_import_keeps_selected_classes_and_reports_foreign_keys():
    coco, person = small_yolof(num_classes=3), small_yolof(num_classes=1)
    randomise(coco, 2)
    mmdet = to_mmdet_layout(coco.state_dict())
    mmdet["bbox_head.extra_layer.weight"] = torch.zeros(1)
    report = load_mmdet_yolof(person, mmdet, bgr_to_rgb=False, classes=(1,))
    assert report.missing == [] and report.unexpected == ["bbox_head.extra_layer.weight"]
    torch.testing.assert_close(person.head.cls_score.weight, coco.head.cls_score.weight.view(5, 3, 512, 3, 3)[:, 1])
    key = "neck.dilated_encoder_blocks.3.conv2.bn.running_var"
    assert mmdet_yolof_key(key) == "encoder.blocks.3.conv2.1.running_var"
    assert mmdet_yolof_key("backbone.layer1.0.bn1.num_batches_tracked") is None


def test_caffe_style_moves_stride_to_the_1x1_conv():
    model = YOLOF(YOLOFConfig(num_classes=1, depth=50, style="caffe", min_size=64, max_size=64))
    block = model.backbone.layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    assert model.backbone(torch.rand(1, 3, 64, 64)).shape == (1, 2048, 2, 2)
    with pytest.raises(ValueError, match="depth"):
        YOLOF(YOLOFConfig(num_classes=1, depth=34))
