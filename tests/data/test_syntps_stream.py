"""SynTPS streams: deterministic per (seed, index), fresh across indices and seeds, items shaped as the
COCO datasets' with boxes, part labels and keypoints that agree with the rendered frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partparse.data.coco_detection import DetectionTransformConfig
from partparse.data.coco_keypoints import TopDownTransformConfig, topdown_sample
from partparse.data.syntps_stream import (
    SynTPSPartStream,
    SynTPSPersonStream,
    SynTPSPoseStream,
    SynTPSStreamConfig,
    jittered_crop,
    render_stream_frame,
)
from partparse.data.vocabulary import BODY_PARTS

EVAL = DetectionTransformConfig(train=False)


def _frame_with_person(cfg: SynTPSStreamConfig) -> int:
    return next(i for i in range(50) if render_stream_frame(cfg, i).persons)


def test_a_frame_is_a_pure_function_of_seed_and_index():
    cfg = SynTPSStreamConfig(seed=11)
    a, b = render_stream_frame(cfg, 5), render_stream_frame(cfg, 5)
    assert a.rgb.shape == (240, 320, 3) and a.rgb.dtype == np.uint8
    assert np.array_equal(a.rgb, b.rgb)
    assert [p.box for p in a.persons] == [p.box for p in b.persons]
    assert not np.array_equal(a.rgb, render_stream_frame(cfg, 6).rgb)
    assert not np.array_equal(a.rgb, render_stream_frame(SynTPSStreamConfig(seed=12), 5).rgb)


def test_jpeg_round_trip_changes_pixels_only_when_asked():
    clean = render_stream_frame(SynTPSStreamConfig(seed=3, jpeg_quality=[]), 0)
    lossy = render_stream_frame(SynTPSStreamConfig(seed=3, jpeg_quality=[20, 20]), 0)
    assert [p.box for p in clean.persons] == [p.box for p in lossy.persons]     # same scene
    diff = np.abs(clean.rgb.astype(int) - lossy.rgb.astype(int))
    assert diff.mean() > 0.5 and diff.mean() < 20
    with pytest.raises(ValueError):
        SynTPSStreamConfig(jpeg_quality=[90, 40])


def test_person_stream_items_hold_the_frame_persons_as_continuous_boxes():
    cfg = SynTPSStreamConfig(seed=4, width=160, height=120)
    i = _frame_with_person(cfg)
    item = SynTPSPersonStream(cfg, EVAL)[i]
    persons = render_stream_frame(cfg, i).persons
    assert item["image"].shape == (3, 120, 160) and 0 <= float(item["image"].min()) <= float(item["image"].max()) <= 1
    expected = torch.tensor([[x1, y1, x2 + 1, y2 + 1] for x1, y1, x2, y2 in (p.box for p in persons)],
                            dtype=torch.float32)
    assert torch.equal(item["target"]["boxes"], expected)
    assert item["target"]["labels"].tolist() == [0] * len(persons) and item["target"]["image_id"] == i
    assert len(SynTPSPersonStream(cfg, EVAL)) == cfg.length


def test_person_stream_training_resizes_to_the_recipe_size():
    cfg = SynTPSStreamConfig(seed=4, width=160, height=120)
    tf = DetectionTransformConfig(train=True, min_size=240, max_size=320, flip_prob=0.0, shift_prob=0.0)
    i = _frame_with_person(cfg)
    item, plain = SynTPSPersonStream(cfg, tf)[i], SynTPSPersonStream(cfg, EVAL)[i]
    assert item["image"].shape == (3, 240, 320)
    assert torch.allclose(item["target"]["boxes"], plain["target"]["boxes"] * 2)


def test_part_stream_crops_one_person_with_its_parts_inside_the_crop():
    cfg = SynTPSStreamConfig(seed=5)
    ds = SynTPSPartStream(cfg, EVAL)
    for i in range(6):
        item = ds[i]
        h, w = item["image"].shape[1:]
        boxes, labels = item["target"]["boxes"], item["target"]["labels"]
        assert h < 240 or w < 320                                   # a crop, not the frame
        assert len(boxes) == len(labels) and len(labels) > 0
        assert int(labels.min()) >= 0 and int(labels.max()) < len(BODY_PARTS)
        assert bool((boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all())
        assert bool((boxes[:, 2:] - boxes[:, :2] >= 1).all())


def test_part_stream_pose_guidance_draws_dots_and_nothing_else_changes():
    cfg = SynTPSStreamConfig(seed=5)
    plain, dotted = SynTPSPartStream(cfg, EVAL)[2], SynTPSPartStream(cfg, EVAL, pose_guidance=True)[2]
    assert plain["image"].shape == dotted["image"].shape
    assert torch.equal(plain["target"]["boxes"], dotted["target"]["boxes"])
    changed = (plain["image"] != dotted["image"]).any(0)
    assert 0 < float(changed.float().mean()) < 0.2                  # a few dots, not a new image


def test_part_stream_draws_the_dots_of_its_keypoint_source():
    cfg = SynTPSStreamConfig(seed=5)
    calls = []

    def nose_at_box_centre(frame, box):                  # a source that finds one joint, at the box centre
        calls.append((frame.shape, box))
        kp = np.zeros((17, 3), np.float32)
        x1, y1, x2, y2 = box
        kp[0] = [(x1 + x2) / 2, (y1 + y2) / 2, 1]
        return kp

    plain = SynTPSPartStream(cfg, EVAL)[2]
    truth = SynTPSPartStream(cfg, EVAL, pose_guidance=True)[2]
    one = SynTPSPartStream(cfg, EVAL, pose_guidance=True, keypoint_source=nose_at_box_centre)[2]
    assert len(calls) == 1 and calls[0][0] == (cfg.height, cfg.width, 3) and len(calls[0][1]) == 4
    assert torch.equal(one["target"]["boxes"], plain["target"]["boxes"])
    changed = (plain["image"] != one["image"]).any(0)
    assert 0 < int(changed.sum()) < int((plain["image"] != truth["image"]).any(0).sum())   # one dot, not 17
    ys, xs = torch.nonzero(changed, as_tuple=True)
    h, w = changed.shape                                 # the box centre is near the crop's (15 % margins)
    assert abs(float(xs.float().mean()) - w / 2) < 0.2 * w and abs(float(ys.float().mean()) - h / 2) < 0.2 * h
    assert not SynTPSPartStream(cfg, EVAL, keypoint_source=nose_at_box_centre)[2]["image"].ne(plain["image"]).any()


def test_part_stream_class_names_pick_and_order_the_labels():
    cfg = SynTPSStreamConfig(seed=5)
    full, heads = SynTPSPartStream(cfg, EVAL)[1], SynTPSPartStream(cfg, EVAL, class_names=["head"])[1]
    head_index = BODY_PARTS.index("head")
    assert heads["target"]["labels"].tolist() == [0] * int((full["target"]["labels"] == head_index).sum())
    with pytest.raises(ValueError, match="body part"):
        SynTPSPartStream(cfg, EVAL, class_names=["tail"])


def test_jittered_crop_stays_inside_the_frame_and_moves_with_jitter():
    rng = np.random.default_rng(0)
    assert jittered_crop((10, 20, 49, 99), 0.0, 0.0, 320, 240, rng) == (10, 20, 49, 99)
    crops = {jittered_crop((10, 20, 49, 99), 0.15, 0.1, 320, 240, rng) for _ in range(20)}
    assert len(crops) > 10
    for x1, y1, x2, y2 in crops:
        assert 0 <= x1 < x2 <= 319 and 0 <= y1 < y2 <= 239
    assert jittered_crop((300, 220, 319, 239), 0.5, 0.0, 320, 240, rng)[2:] == (319, 239)


def test_pose_stream_items_are_topdown_crops_with_keypoints_in_crop_pixels():
    cfg = SynTPSStreamConfig(seed=6)
    ds = SynTPSPoseStream(cfg, TopDownTransformConfig(train=False, input_size=[128, 96]))
    item = ds[0]
    assert item["image"].shape == (3, 128, 96) and item["keypoints"].shape == (17, 3)
    kp = item["keypoints"]
    labelled = kp[:, 2] > 0
    assert bool(labelled.any())
    # the person box is padded by 1.25: its keypoints lie inside the crop
    assert bool((kp[labelled, 0] >= -1).all() and (kp[labelled, 0] <= 97).all())
    assert bool((kp[labelled, 1] >= -1).all() and (kp[labelled, 1] <= 129).all())
    assert torch.equal(ds[0]["image"], item["image"])                 # no augmentation: deterministic


def test_half_body_crops_zoom_on_half_of_the_joints():
    from partparse.data.coco_keypoints import half_body_box

    kps = torch.zeros(17, 3)
    kps[:, 0] = torch.linspace(10, 30, 17)
    kps[:, 1] = torch.arange(17, dtype=torch.float32) * 10           # upper joints at the top
    kps[:, 2] = 2
    always = TopDownTransformConfig(half_body_prob=1.0, half_body_upper_prob=1.0)
    x, y, w, h = half_body_box(kps, always)
    assert (y, y + h) == (0.0, 100.0)                                # joints 0..10
    x, y, w, h = half_body_box(kps, TopDownTransformConfig(half_body_prob=1.0, half_body_upper_prob=0.0))
    assert (y, y + h) == (110.0, 160.0)                              # joints 11..16
    assert half_body_box(kps, TopDownTransformConfig(half_body_prob=0.0)) is None
    few = kps.clone()
    few[:9, 2] = 0
    assert half_body_box(few, always) is None                        # 8 labelled joints < 9
    image = torch.rand(3, 200, 100)
    full = topdown_sample(image, [0, 0, 40, 170], kps, 0, TopDownTransformConfig(train=True, input_size=[64, 48],
                          flip_prob=0, shift_prob=0, scale_prob=0, rotate_prob=0), list(range(17)))
    half = topdown_sample(image, [0, 0, 40, 170], kps, 0, TopDownTransformConfig(
        train=True, input_size=[64, 48], flip_prob=0, shift_prob=0, scale_prob=0, rotate_prob=0, half_body_prob=1.0,
        half_body_upper_prob=1.0), list(range(17)))
    spread = lambda item: float(item["keypoints"][:11, 1].max() - item["keypoints"][:11, 1].min())  # noqa: E731
    assert spread(half) > 1.3 * spread(full)        # 100 px of joints x 1.5 vs a 170 px box x 1.25 in 64 px
