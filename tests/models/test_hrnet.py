"""HRNet top-down pose: shapes, crops, heatmap coding, flip test, training step, mmpose import."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from partparse.models.hrnet import (
    HRNET_STAGES,
    estimate_poses,
    hrnet_w18_small,
    hrnet_w32,
    load_mmpose_hrnet,
    mmpose_hrnet_key,
)
from partparse.models.keypoint_codec import (
    COCO_FLIP_PAIRS,
    HeatmapCodec,
    box_crop_transform,
    crop_boxes,
    flip_back,
    flip_permutation,
    keypoint_mse_loss,
)
from partparse.structures import COCO_KEYPOINTS


def small_hrnet(**kwargs):
    torch.manual_seed(0)
    return hrnet_w18_small(**kwargs)


# ---- codec ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,tol_px", [("dark", 0.05), ("quarter", 0.5)])
def test_heatmap_encode_decode_recovers_keypoints(mode, tol_px):
    codec = HeatmapCodec(decode_mode=mode)
    g = torch.Generator().manual_seed(0)
    # keypoints away from the border (DARK needs two pixels either side), at arbitrary sub-pixel places
    xy = torch.rand(3, 17, 2, generator=g) * torch.tensor([192 - 40, 256 - 40]) + 20
    keypoints = torch.cat([xy, torch.ones(3, 17, 1)], dim=-1)
    heatmaps, weights = codec.encode(keypoints)
    assert heatmaps.shape == (3, 17, 64, 48) and weights.shape == (3, 17) and bool((weights == 1).all())
    decoded, scores = codec.decode(heatmaps)
    error_heatmap_px = (decoded - xy).abs().max() / codec.stride
    assert float(error_heatmap_px) < tol_px
    assert float(scores.min()) > 0.5


def test_invisible_or_outside_keypoints_have_zero_weight_and_empty_heatmap():
    codec = HeatmapCodec()
    kps = torch.tensor([[[50.0, 60.0, 2.0], [50.0, 60.0, 0.0], [-100.0, 60.0, 2.0], [191.0, 255.0, 1.0]]])
    heatmaps, weights = codec.encode(kps)
    assert weights.tolist() == [[1.0, 0.0, 0.0, 1.0]]
    assert float(heatmaps[0, 1].abs().max()) == 0.0 and float(heatmaps[0, 2].abs().max()) == 0.0
    assert float(heatmaps[0, 0].max()) > 0.9


def test_quantized_centre_puts_the_peak_on_a_pixel():
    codec = HeatmapCodec(quantize_center=True)
    heatmaps, _ = codec.encode(torch.tensor([[[41.0, 81.0, 1.0]]]))  # 10.25, 20.25 heatmap px -> (10, 20)
    assert float(heatmaps[0, 0, 20, 10]) == pytest.approx(1.0)


def test_mse_loss_ignores_zero_weight_joints():
    pred, target = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    pred[0, 1] = 5.0
    assert float(keypoint_mse_loss(pred, target, torch.tensor([[1.0, 0.0]]))) == 0.0
    assert float(keypoint_mse_loss(pred, target, torch.tensor([[1.0, 1.0]]))) == pytest.approx(12.5)


def test_crop_transform_pads_to_aspect_ratio_and_round_trips():
    boxes = torch.tensor([[10.0, 20.0, 110.0, 420.0], [0.0, 0.0, 300.0, 100.0]])
    t = box_crop_transform(boxes, (256, 192), padding=1.25)
    # tall box: height 400 * 1.25 = 500 px over 256 rows; wide box: width 300 * 1.25 = 375 px over 192 cols
    torch.testing.assert_close(t.scale, torch.tensor([500 / 256, 375 / 192]))
    corners = torch.tensor([[[0.0, 0.0], [192.0, 256.0]]]).repeat(2, 1, 1)
    image_corners = t.to_image(corners)
    torch.testing.assert_close((image_corners[:, 0] + image_corners[:, 1]) / 2, (boxes[:, :2] + boxes[:, 2:]) / 2)
    pts = torch.rand(2, 5, 2) * 300
    torch.testing.assert_close(t.to_image(t.to_crop(pts)), pts, atol=1e-4, rtol=1e-5)


def test_crop_boxes_samples_the_image_where_the_transform_says():
    h, w = 300, 400
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    image = torch.stack([xs, ys, xs + ys])  # a linear image: bilinear sampling reads coordinates exactly
    boxes = torch.tensor([[100.0, 50.0, 180.0, 250.0], [30.0, 40.0, 90.0, 100.0]])
    crops, t = crop_boxes(image, boxes, (64, 48))
    assert crops.shape == (2, 3, 64, 48)
    grid = torch.tensor([[[5.0, 7.0], [40.0, 60.0], [20.0, 30.0]]]).repeat(2, 1, 1)  # (x, y) crop pixels
    expected = t.to_image(grid)
    for n in range(2):
        for (cx, cy), (ix, iy) in zip(grid[n].long().tolist(), expected[n].tolist(), strict=True):
            assert float(crops[n, 0, cy, cx]) == pytest.approx(ix, abs=1e-3)
            assert float(crops[n, 1, cy, cx]) == pytest.approx(iy, abs=1e-3)


def test_image_to_crop_to_image_round_trip_through_heatmaps():
    codec = HeatmapCodec()
    boxes = torch.tensor([[40.0, 30.0, 140.0, 330.0]])
    image_kps = torch.tensor([[[60.0, 50.0], [120.0, 300.0], [90.0, 170.5]]])
    t = box_crop_transform(boxes, codec.input_size)
    crop_kps = t.to_crop(image_kps)
    heatmaps, _ = codec.encode(torch.cat([crop_kps, torch.ones(1, 3, 1)], dim=-1))
    decoded, _ = codec.decode(heatmaps)
    assert float((t.to_image(decoded) - image_kps).abs().max()) < 0.5


# ---- flip test -----------------------------------------------------------------------------------

def test_flip_pairs_swap_left_and_right_names():
    perm = flip_permutation(17)
    for i, j in enumerate(perm):
        name = COCO_KEYPOINTS[i]
        assert COCO_KEYPOINTS[j] == name.replace("left", "@").replace("right", "left").replace("@", "right")
    assert len(COCO_FLIP_PAIRS) == 8


def test_flip_back_undoes_a_flip_of_the_crop():
    codec = HeatmapCodec(decode_mode="dark")
    g = torch.Generator().manual_seed(1)
    xy = torch.rand(2, 17, 2, generator=g) * torch.tensor([150.0, 200.0]) + 20
    kps = torch.cat([xy, torch.ones(2, 17, 1)], dim=-1)
    # the same person in the mirrored crop: x -> W - 1 - x (pixel indices), left and right joints swapped
    mirrored = kps[:, flip_permutation(17)].clone()
    mirrored[..., 0] = codec.input_size[1] - 1 - mirrored[..., 0]
    heatmaps, _ = codec.encode(mirrored)
    exact = flip_back(heatmaps, shift=False)
    decoded, _ = codec.decode(flip_back(heatmaps, shift=True))
    # mirroring indices lands (stride - 1) / stride = 0.75 heatmap px (3 crop px) left of the truth;
    # mmpose's one-pixel shift over-corrects by 0.25 heatmap px = 1 crop px
    torch.testing.assert_close(decoded[..., 1], xy[..., 1], atol=0.2, rtol=0)
    err_x = decoded[..., 0] - xy[..., 0]
    assert float((err_x - 1.0).abs().max()) < 0.2, err_x
    unshifted, _ = codec.decode(exact)
    assert float((unshifted[..., 0] - xy[..., 0] + 3.0).abs().max()) < 0.2
    torch.testing.assert_close(flip_back(exact, shift=False), heatmaps)  # an involution


def test_flip_test_output_is_symmetric_for_a_mirrored_input():
    model = small_hrnet(shift_heatmap=False).eval()
    crops = torch.rand(1, 3, 256, 192)
    with torch.no_grad():
        a = model.heatmaps(crops)
        b = model.heatmaps(crops.flip(-1))
        fused = (a + flip_back(b, shift=False)) / 2
        fused_mirror = (b + flip_back(a, shift=False)) / 2
    # flip-test heatmaps of the mirrored crop are the mirrored (and left/right swapped) ones
    torch.testing.assert_close(flip_back(fused_mirror, shift=False), fused)


# ---- model ---------------------------------------------------------------------------------------

def test_output_shapes_and_contract():
    model = small_hrnet().eval()
    crops = torch.rand(2, 3, 256, 192)
    with torch.no_grad():
        assert model.heatmaps(crops).shape == (2, 17, 64, 48)
        out = model(crops)
    assert len(out) == 2 and out[0]["keypoints"].shape == (17, 2) and out[0]["scores"].shape == (17,)
    with pytest.raises(ValueError, match="256, 192"):
        model(torch.rand(1, 3, 128, 128))
    model.train()
    with pytest.raises(ValueError, match="keypoints"):
        model(crops)


def test_training_step_reduces_the_heatmap_loss():
    model = small_hrnet()
    model.train()
    crops = torch.rand(1, 3, 256, 192)
    targets = [{"keypoints": torch.cat([torch.rand(17, 2) * torch.tensor([192.0, 256.0]), torch.ones(17, 1)], 1)}]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        loss = model(crops, targets)["heatmap"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_estimate_poses_returns_image_coordinates():
    model = small_hrnet().eval()
    image = torch.rand(3, 240, 320)
    boxes = torch.tensor([[50.0, 20.0, 130.0, 220.0], [200.0, 40.0, 300.0, 230.0]])
    kps, scores = estimate_poses(model, image, boxes)
    assert kps.shape == (2, 17, 2) and scores.shape == (2, 17)
    t = box_crop_transform(boxes, (256, 192))
    lo, hi = t.to_image(torch.zeros(2, 1, 2)), t.to_image(torch.tensor([[[192.0, 256.0]]]).repeat(2, 1, 1))
    assert bool(((kps >= lo) & (kps <= hi)).all())  # every keypoint inside its person's crop region
    empty_k, empty_s = estimate_poses(model, image, torch.zeros(0, 4))
    assert empty_k.shape == (0, 17, 2) and empty_s.shape == (0, 17)


# ---- mmpose checkpoints --------------------------------------------------------------------------

def test_mmpose_checkpoint_round_trip():
    source, target = small_hrnet(), small_hrnet()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for t in source.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) / t[0].numel() ** 0.5 if t.ndim > 1
                        else torch.rand(t.shape, generator=g) * 0.1 + 0.95)
    mmpose = {("keypoint_head." + k if k.startswith("final_layer.") else k): v.clone()
              for k, v in source.state_dict().items()}
    assert any(k.startswith("backbone.stage2.0.branches.") for k in mmpose)
    assert "keypoint_head.final_layer.weight" in mmpose
    report = load_mmpose_hrnet(target, mmpose)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    source.eval(), target.eval()
    x = torch.rand(1, 3, 256, 192)
    with torch.no_grad():
        torch.testing.assert_close(target.heatmaps(x), source.heatmaps(x))
    assert mmpose_hrnet_key("head.final_layer.bias") == "final_layer.bias"  # mmpose 1.x naming
    assert mmpose_hrnet_key("keypoint_head.deconv_layers.0.weight") is None


def test_w32_matches_mmpose_size_and_key_names():
    model = hrnet_w32()
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(28.54e6, rel=0.002)  # mmpose: 28.54 M
    assert HRNET_STAGES["w48"][3].num_channels == (48, 96, 192, 384)
    # a few keys exactly as they appear in mmpose's hrnet_w32_coco_256x192 checkpoint
    names = set(model.state_dict())
    for key in ("backbone.conv2.weight", "backbone.layer1.0.downsample.0.weight",
                "backbone.transition1.1.0.0.weight", "backbone.stage2.0.branches.1.3.bn2.running_var",
                "backbone.stage3.3.fuse_layers.2.0.1.0.weight", "backbone.stage4.2.fuse_layers.0.3.0.weight",
                "backbone.transition3.3.0.0.weight"):
        assert key in names, key
    assert not any(k.startswith("backbone.stage4.2.fuse_layers.1.") for k in names)  # single-scale output
    assert isinstance(model.final_layer, nn.Conv2d) and model.final_layer.out_channels == 17


def _mmpose_quarter_reference(heatmaps: np.ndarray) -> np.ndarray:
    """mmpose 1.3.2's ``get_heatmap_maximum`` + ``refine_keypoints`` written out as plain loops (the
    oracle): heatmap pixels ``(K, 2)`` of ``(K, H, W)`` heatmaps."""
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx, vals = flat.argmax(1), flat.max(1)
    out = np.stack([idx % w, idx // w], axis=1).astype(np.float32)
    out[vals <= 0] = -1
    for j in range(k):
        x, y = out[j].astype(int)
        dx = heatmaps[j, y, x + 1] - heatmaps[j, y, x - 1] if 1 < x < w - 1 and 0 < y < h else 0.0
        dy = heatmaps[j, y + 1, x] - heatmaps[j, y - 1, x] if 1 < y < h - 1 and 0 < x < w else 0.0
        out[j] += np.sign(np.array([dx, dy], dtype=np.float32)) * 0.25
    return out


def test_quarter_decoding_matches_mmpose_at_every_position_borders_included():
    h, w = 6, 8
    rng = np.random.default_rng(0)
    maps = rng.uniform(0.0, 0.5, size=(h * w, h, w)).astype(np.float32)
    for i in range(h * w):
        maps[i, i // w, i % w] = 1.0                     # one keypoint per position, random neighbours
    codec = HeatmapCodec(input_size=(h * 4, w * 4), heatmap_size=(h, w), decode_mode="quarter")
    decoded, scores = codec.decode(torch.from_numpy(maps)[None])
    expected = _mmpose_quarter_reference(maps)
    np.testing.assert_array_equal(decoded[0].numpy() / codec.stride, expected)
    assert torch.all(scores == 1.0)
    # the asymmetric bounds matter: column 1 and row 0 never move in x, row 1 and column 0 never in y
    moved = decoded[0].numpy() / codec.stride - np.stack([np.arange(h * w) % w, np.arange(h * w) // w], 1)
    xs, ys = np.arange(h * w) % w, np.arange(h * w) // w
    assert np.all(moved[(xs == 1) | (ys == 0), 0] == 0) and np.all(moved[(ys == 1) | (xs == 0), 1] == 0)
    assert np.any(moved[(xs == 2) & (ys == 1), 0] != 0)


@pytest.mark.parametrize("mode", ["quarter", "dark"])
def test_a_heatmap_without_a_positive_value_gives_no_keypoint(mode):
    codec = HeatmapCodec(decode_mode=mode)
    maps = torch.zeros(1, 2, 64, 48)
    maps[0, 1] = -0.2
    decoded, scores = codec.decode(maps)
    torch.testing.assert_close(decoded, torch.full((1, 2, 2), -codec.stride))
    torch.testing.assert_close(scores, torch.tensor([[0.0, -0.2]]))
