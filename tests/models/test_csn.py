"""CSN backbones: shapes, frozen BN, mmaction2 checkpoint import, and size against the published figures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from partparse.io import InputError
from partparse.models.complexity import count_gflops, count_parameters, measure_complexity
from partparse.models.csn import (
    ResNet3dCSN,
    build_csn,
    ip_csn_26,
    ip_csn_50,
    ip_csn_152,
    ir_csn_26,
    ir_csn_50,
    ir_csn_152,
)
from partparse.models.csn_checkpoint import load_mmaction2_csn, mmaction2_csn_key_map
from partparse.models.weights import save_checkpoint

BUILDERS = {("ir", 26): ir_csn_26, ("ip", 26): ip_csn_26, ("ir", 50): ir_csn_50, ("ip", 50): ip_csn_50}


def batch_norms(model: nn.Module) -> list[nn.BatchNorm3d]:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm3d)]


def randomize_bn_statistics(model: nn.Module, seed: int) -> None:
    """Give every BN non-trivial statistics and affine weights, so a round trip that drops them shows."""
    g = torch.Generator().manual_seed(seed)
    for bn in batch_norms(model):
        for t in (bn.running_mean, bn.weight, bn.bias):
            t.data.copy_(torch.randn(t.shape, generator=g) * 0.1 + (1.0 if t is bn.weight else 0.0))
        bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=g) + 0.5)
        bn.num_batches_tracked.fill_(7)


def to_mmaction2_key(key: str, variant: str) -> str:
    """Our key -> mmaction2's, written independently of the module under test (its inverse)."""
    if key.startswith("heads.action.fc."):
        return "cls_head.fc_cls." + key.rsplit(".", 1)[1]
    key = key.removeprefix("backbone.")
    if key.startswith("stem."):
        return "backbone.conv1." + key.removeprefix("stem.")
    renames = {"reduce": "conv1", "pointwise": "conv2.0", "depthwise": "conv2.1" if variant == "ip" else "conv2.0",
               "expand": "conv3", "shortcut": "downsample"}
    stage, block, part, rest = key.split(".", 3)
    return f"backbone.{stage}.{block}.{renames[part]}.{rest}"


def as_mmaction2(model: nn.Module, variant: str) -> dict[str, torch.Tensor]:
    return {to_mmaction2_key(k, variant): v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("variant,depth", sorted(BUILDERS))
def test_output_shapes(variant, depth):
    torch.manual_seed(0)
    model = BUILDERS[variant, depth](num_classes=7).eval()
    clips = torch.randn(2, 3, 8, 64, 64)
    with torch.no_grad():
        features = model.backbone(clips)
        logits = model(clips)
    # stem /4 spatially; stages 2-4 halve T, H and W: 8x64x64 -> 1x2x2 with 4 * 512 channels
    assert features.shape == (2, 2048, 1, 2, 2)
    assert list(logits) == ["action"] and logits["action"].shape == (2, 7)
    assert torch.isfinite(logits["action"]).all()
    assert all(bn.eps == 1e-3 for bn in batch_norms(model))  # Caffe2's epsilon, as in the public checkpoints


def test_odd_clip_length_rounds_up_and_bad_rank_is_rejected():
    model = ir_csn_26(num_classes=3).eval()
    with torch.no_grad():
        assert model.backbone(torch.randn(1, 3, 5, 48, 48)).shape == (1, 2048, 1, 2, 2)  # T 5 -> 3 -> 2 -> 1
    with pytest.raises(ValueError, match=r"\[N, C, T, H, W\]"):
        model(torch.randn(3, 8, 64, 64))


def test_multi_head_classifier_shares_one_backbone():
    heads = {"action": 24, "head": 4, "hand": 6, "leg": 5}
    model = build_csn("ir", 26, heads).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 8, 32, 32))
    assert {k: v.shape[1] for k, v in out.items()} == heads
    assert len([m for m in model.modules() if isinstance(m, ResNet3dCSN)]) == 1


def test_invalid_configuration_is_rejected():
    with pytest.raises(ValueError, match="depth"):
        ResNet3dCSN(depth=34)
    with pytest.raises(ValueError, match="variant"):
        ResNet3dCSN(depth=26, variant="dw")
    with pytest.raises(ValueError, match="base_channels"):
        ResNet3dCSN(depth=26, base_channels=0)


def test_base_channels_thin_every_stage():
    thin = ResNet3dCSN(depth=26, base_channels=16)
    assert thin.stem.conv.out_channels == 16 and thin.out_channels == 512
    assert [s[0].reduce.conv.out_channels for s in thin.stages] == [16, 32, 64, 128]
    assert thin.eval()(torch.randn(1, 3, 4, 32, 32)).shape == (1, 512, 1, 1, 1)
    params = sum(p.numel() for p in thin.parameters())
    assert params * 10 < sum(p.numel() for p in ResNet3dCSN(depth=26).parameters())  # ~1/16 of the weights


def test_frozen_bn_stays_frozen_in_train_mode():
    torch.manual_seed(0)
    model = ir_csn_26(num_classes=5, frozen_bn=True)
    model.train()
    bns = batch_norms(model)
    assert bns and all(not bn.training for bn in bns)               # train() did not flip BN back
    assert all(not p.requires_grad for bn in bns for p in bn.parameters())
    assert model.backbone.stem.conv.weight.requires_grad and model.heads["action"].training
    before = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in bns]
    model(torch.randn(2, 3, 8, 32, 32) * 3 + 1)["action"].sum().backward()
    assert all(torch.equal(m, bn.running_mean) and torch.equal(v, bn.running_var)
               for (m, v), bn in zip(before, bns, strict=True))
    assert model.backbone.stem.conv.weight.grad is not None and all(bn.weight.grad is None for bn in bns)


def test_unfrozen_bn_updates_statistics():  # the control for the test above
    model = ir_csn_26(num_classes=5).train()
    bn = model.backbone.stem.bn
    before = bn.running_mean.clone()
    model(torch.randn(2, 3, 8, 32, 32) * 3 + 1)
    assert bn.training and bn.weight.requires_grad and not torch.equal(before, bn.running_mean)


def test_frozen_stages_freeze_stem_and_first_stages():
    model = ir_csn_26(num_classes=5, frozen_stages=2).train()
    backbone = model.backbone
    for frozen in (backbone.stem, backbone.layer1, backbone.layer2):
        assert not any(p.requires_grad for p in frozen.parameters())
        assert not any(m.training for m in frozen.modules())
    for trained in (backbone.layer3, backbone.layer4):
        assert all(p.requires_grad for p in trained.parameters()) and trained.training


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = ir_csn_26(num_classes=3, frozen_bn=True, dropout=0.0)
    ckpt = ir_csn_26(num_classes=3, frozen_bn=True, dropout=0.0, gradient_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    clips = torch.randn(1, 3, 8, 32, 32)
    for model in (plain, ckpt):
        model.train()(clips)["action"].square().sum().backward()
    for name in ("backbone.layer2.0.depthwise.conv.weight", "backbone.stem.conv.weight"):
        g1, g2 = plain.get_parameter(name).grad, ckpt.get_parameter(name).grad
        assert g1.abs().sum() > 0 and torch.allclose(g1, g2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("variant", ["ir", "ip"])
def test_mmaction2_checkpoint_round_trip(tmp_path, variant):
    torch.manual_seed(1)
    source = build_csn(variant, 26, 9)
    randomize_bn_statistics(source, seed=2)
    path = tmp_path / f"{variant}csn_r26.pth"
    save_checkpoint(path, {"meta": {"mmaction2_version": "1.2.0"}, "state_dict": as_mmaction2(source, variant)})

    torch.manual_seed(3)
    target = build_csn(variant, 26, 9)
    report = load_mmaction2_csn(target, path)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    assert len(report.loaded) == len(source.state_dict())
    clips = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.equal(source.eval()(clips)["action"], target.eval()(clips)["action"])


def test_key_map_names_match_mmaction2_layout():
    assert mmaction2_csn_key_map("backbone.conv1.bn.running_var") == "backbone.stem.bn.running_var"
    assert (mmaction2_csn_key_map("backbone.layer3.17.conv2.0.conv.weight")
            == "backbone.layer3.17.depthwise.conv.weight")
    assert (mmaction2_csn_key_map("backbone.layer3.17.conv2.0.conv.weight", variant="ip")
            == "backbone.layer3.17.pointwise.conv.weight")
    assert mmaction2_csn_key_map("backbone.layer1.0.conv2.1.bn.bias", variant="ir") is None
    assert (mmaction2_csn_key_map("module.backbone.layer4.0.downsample.bn.weight")
            == "backbone.layer4.0.shortcut.bn.weight")
    assert mmaction2_csn_key_map("cls_head.fc_cls.weight", head="verb") == "heads.verb.fc.weight"
    assert mmaction2_csn_key_map("cls_head.fc_cls.weight", head=None) is None
    assert mmaction2_csn_key_map("data_preprocessor.mean") is None


def test_other_class_count_is_reported_not_loaded():
    source = ir_csn_26(num_classes=400)
    target = ir_csn_26(num_classes=10)
    fc_before = target.heads["action"].fc.weight.clone()
    report = load_mmaction2_csn(target, as_mmaction2(source, "ir"))
    assert sorted(report.mismatched) == [("heads.action.fc.bias", (400,), (10,)),
                                         ("heads.action.fc.weight", (400, 2048), (10, 2048))]
    assert report.missing == ["heads.action.fc.bias", "heads.action.fc.weight"]
    assert torch.equal(target.heads["action"].fc.weight, fc_before)
    assert torch.equal(target.backbone.stem.conv.weight, source.backbone.stem.conv.weight)


def test_backbone_only_checkpoint_loads_into_bare_backbone():
    source = ip_csn_26(num_classes=5)
    backbone_only = {k.removeprefix("backbone."): v for k, v in as_mmaction2(source, "ip").items()
                     if k.startswith("backbone.")}
    target = ResNet3dCSN(26, "ip")
    report = load_mmaction2_csn(target, backbone_only)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    assert torch.equal(target.layer4[1].pointwise.conv.weight, source.backbone.layer4[1].pointwise.conv.weight)


def test_corrupt_or_wrong_variant_checkpoint_is_an_input_error(tmp_path):
    bad = tmp_path / "ircsn_r152.pth"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with pytest.raises(InputError, match="ircsn_r152.pth") as err:
        load_mmaction2_csn(ir_csn_26(num_classes=5), bad)
    assert "\n" not in str(err.value)
    ip_file = tmp_path / "ipcsn_r26.pth"
    save_checkpoint(ip_file, as_mmaction2(ip_csn_26(num_classes=5), "ip"))
    with pytest.raises(InputError, match=r"ipcsn_r26.pth: holds ip-CSN blocks but the model is ir-CSN"):
        load_mmaction2_csn(ir_csn_26(num_classes=5), ip_file)


# Published sizes of the Kinetics-400 models (400-class fc included): mmaction2 configs/recognition/csn/
# metafile.yml ("Parameters"), and the CSN paper (Tran et al. 2019, Table 9: GFLOPs = multiply-adds of
# one 32-frame clip; they match a 256x256 crop: at 224x224 the figures are (224/256)^2 smaller).
@pytest.mark.parametrize("builder,params,gflops", [(ir_csn_152, 29_703_568, 96.7), (ip_csn_152, 33_016_592, 108.8),
                                                   (ir_csn_50, 13_131_152, None)])
def test_size_matches_published_figures(builder, params, gflops):
    with torch.device("meta"):
        model = builder(num_classes=400)
    assert count_parameters(model) == params
    if gflops is not None:
        assert count_gflops(model, (1, 3, 32, 256, 256)) == pytest.approx(gflops, rel=0.01)
        at_224 = count_gflops(model, (1, 3, 32, 224, 224))
        assert at_224 == pytest.approx(gflops * (224 / 256) ** 2, rel=0.01)


def test_gflops_are_multiply_adds_and_leave_the_model_alone():
    conv = nn.Conv3d(3, 8, 3, padding=1, bias=False)
    macs = 8 * (4 * 5 * 5) * (3 * 27)                       # outputs x (inputs per output)
    result = measure_complexity(conv, (1, 3, 4, 5, 5))
    assert result.gflops * 1e9 == pytest.approx(macs) and result.params == 8 * 3 * 27
    assert conv.weight.device.type == "cpu"                 # counted on a meta copy
