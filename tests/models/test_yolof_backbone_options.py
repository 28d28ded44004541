"""YOLOF backbone options of the CPU recipes: thinner ResNet-18 widths and trained BatchNorm."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from partparse.engine.optim import OptimConfig, build_optimizer
from partparse.models.yolof import YOLOF, ResNetC5, YOLOFConfig


def _norms(module: nn.Module) -> set[type]:
    return {type(m) for m in module.modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))}


def test_width_scales_every_stage_and_keeps_stride_32():
    net = ResNetC5(18, width=16, norm="bn", frozen_stages=-1)
    assert net.out_channels == 128
    assert net(torch.rand(2, 3, 64, 96)).shape == (2, 128, 2, 3)
    assert [getattr(net, f"layer{i}")[0].conv1.out_channels for i in range(1, 5)] == [16, 32, 64, 128]
    thin = sum(p.numel() for p in net.parameters())
    full = sum(p.numel() for p in ResNetC5(18).parameters())
    assert thin < full / 12                                  # ~ (64/16)^2 fewer weights


def test_width_64_is_torchvisions_resnet_and_thinner_needs_depth_18():
    names = {k for k in ResNetC5(18).state_dict()}
    assert "layer2.0.downsample.0.weight" in names and "layer4.1.conv2.weight" in names
    assert names == set(ResNetC5(18, width=32).state_dict())
    with pytest.raises(ValueError, match="width"):
        ResNetC5(50, width=32)
    with pytest.raises(ValueError, match="norm"):
        ResNetC5(18, norm="group")


def test_norm_field_chooses_trained_or_frozen_batchnorm():
    assert _norms(ResNetC5(18, norm="frozen_bn")) == {FrozenBatchNorm2d}
    net = ResNetC5(18, width=16, norm="bn", frozen_stages=-1)
    assert _norms(net) == {nn.BatchNorm2d}
    net.train()
    before = net.layer3[0].bn1.running_mean.clone()
    net(torch.rand(2, 3, 64, 64) * 5)
    assert not torch.equal(before, net.layer3[0].bn1.running_mean)       # statistics learn
    assert net.layer3[0].bn1.weight.requires_grad


def test_frozen_stages_keep_their_bn_statistics_in_training_mode():
    net = ResNetC5(18, width=16, norm="bn", frozen_stages=1).train()
    assert not net.bn1.training and not net.layer1[0].bn1.training and net.layer2[0].bn1.training
    before = net.layer1[0].bn1.running_mean.clone()
    net(torch.rand(2, 3, 64, 64))
    assert torch.equal(before, net.layer1[0].bn1.running_mean)
    assert not any(p.requires_grad for p in net.layer1.parameters())


def test_thin_trained_bn_yolof_trains_a_step():
    model = YOLOF(YOLOFConfig(num_classes=2, depth=18, backbone_width=16, backbone_norm="bn", frozen_stages=-1,
                              encoder_channels=32, encoder_mid_channels=16, min_size=96, max_size=128))
    opt = build_optimizer(model, OptimConfig(name="adamw", lr=1e-3, weight_decay=0.05, norm_weight_decay=0.0))
    assert isinstance(opt, torch.optim.AdamW) and [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    targets = [{"boxes": torch.tensor([[10.0, 10.0, 60.0, 90.0]]), "labels": torch.tensor([1])}]
    losses = model([torch.rand(3, 96, 128)], targets)
    sum(losses.values()).backward()
    assert model.backbone.conv1.weight.grad is not None and model.backbone.bn1.weight.grad is not None
    opt.step()
    model.eval()
    out = model([torch.rand(3, 96, 128)])[0]
    assert set(out) == {"boxes", "scores", "labels"}


def test_frozen_stages_minus_one_trains_the_stem_and_zero_freezes_it():
    assert all(p.requires_grad for p in ResNetC5(18, width=16, norm="bn", frozen_stages=-1).parameters())
    stem_fixed = ResNetC5(18, width=16, norm="bn", frozen_stages=0)
    assert not stem_fixed.conv1.weight.requires_grad and stem_fixed.layer1[0].conv1.weight.requires_grad
    with pytest.raises(ValueError, match="frozen_stages"):
        ResNetC5(18, frozen_stages=5)


def test_out_stride_16_doubles_the_c5_resolution_with_the_same_weights():
    s32 = ResNetC5(18, width=16, norm="bn", frozen_stages=-1)
    s16 = ResNetC5(18, width=16, norm="bn", frozen_stages=-1, out_stride=16)
    s16.load_state_dict(s32.state_dict())                           # same keys and shapes
    assert s16(torch.rand(1, 3, 64, 96)).shape == (1, 128, 4, 6)
    with pytest.raises(ValueError, match="out_stride"):
        ResNetC5(18, out_stride=8)


def test_stride_16_yolof_lays_anchors_on_the_finer_map():
    cfg = dict(num_classes=1, depth=18, backbone_width=16, backbone_norm="bn", frozen_stages=-1, encoder_channels=32,
               encoder_mid_channels=16, min_size=96, max_size=128)
    targets = [{"boxes": torch.tensor([[10.0, 10.0, 30.0, 40.0]]), "labels": torch.tensor([0])}]
    for stride in (32, 16):
        model = YOLOF(YOLOFConfig(backbone_stride=stride, **cfg))
        logits, _ = model.head(model.encoder(model.backbone(torch.rand(1, 3, 96, 128))))
        assert logits.shape[1] == (96 // stride) * (128 // stride) * 5
        assert torch.isfinite(sum(model([torch.rand(3, 96, 128)], targets).values()))
