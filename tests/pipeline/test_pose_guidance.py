"""Pose guidance: keypoint dot colours and positions, person crops and part boxes back in the frame."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from partparse.pipeline.pose_guidance import (
    KEYPOINT_COLOURS,
    CropWindow,
    crop_person,
    dot_radius,
    draw_keypoint_dots,
    keypoints_to_crop,
    parts_to_frame,
    select_top1_per_part,
)
from partparse.structures import COCO_KEYPOINTS


def test_colours_are_17_distinct_rgb_triples():
    assert len(KEYPOINT_COLOURS) == len(COCO_KEYPOINTS) == 17
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in KEYPOINT_COLOURS)
    dist = min(np.linalg.norm(np.subtract(a, b)) for a, b in itertools.combinations(KEYPOINT_COLOURS, 2))
    assert dist >= 80


def test_dots_are_drawn_in_their_colour_at_their_pixels():
    crop = np.full((200, 120, 3), 7, dtype=np.uint8)
    kps = np.array([[20.0 + 5 * k, 10.0 + 11 * k] for k in range(17)])
    scores = np.ones(17)
    scores[3] = 0.1  # not drawn
    out = draw_keypoint_dots(crop, kps, scores, score_thr=0.3, radius=2)
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert (crop == 7).all()  # the input is not modified
    for k, (x, y) in enumerate(kps.astype(int)):
        expected = (7, 7, 7) if k == 3 else KEYPOINT_COLOURS[k]
        assert tuple(out[y, x]) == expected, k
        assert tuple(out[y, x + 1]) == expected  # a disc, not a single pixel
    assert (out[:, 110:] == 7).all()  # far from every dot nothing changes
    assert (out != 7).any(axis=2).sum() < 17 * 30  # discs of radius 2 (13 pixels each in PIL), no more


def test_dots_on_a_torch_chw_tensor_and_default_radius():
    crop = torch.zeros(3, 300, 100, dtype=torch.uint8)
    out = draw_keypoint_dots(crop, torch.tensor([[50.0, 150.0]]))
    assert out.shape == crop.shape and out.dtype == torch.uint8
    assert tuple(out[:, 150, 50].tolist()) == KEYPOINT_COLOURS[0]
    r = dot_radius(300, 100)
    assert r == 4  # 1.5 % of 300 px
    assert tuple(out[:, 150, 50 + r].tolist()) == KEYPOINT_COLOURS[0]
    assert tuple(out[:, 150, 50 + r + 2].tolist()) == (0, 0, 0)
    with pytest.raises(ValueError, match="uint8"):
        draw_keypoint_dots(crop.float(), torch.zeros(1, 2))


def test_crop_person_and_parts_back_to_frame():
    frame = np.arange(240 * 320 * 3, dtype=np.uint32).reshape(240, 320, 3).astype(np.uint8)
    crop, window = crop_person(frame, (100, 50, 159, 199), margin=0.1)  # 60 x 150 box, +6 / +15 px
    assert window == CropWindow(94, 35, 72, 180)
    assert crop.shape == (180, 72, 3)
    np.testing.assert_array_equal(crop[0, 0], frame[35, 94])
    kp = keypoints_to_crop(np.array([[110.0, 60.0]]), window)
    np.testing.assert_allclose(kp, [[16.0, 25.0]])
    parts = np.array([[10.0, 20.0, 30.0, 40.0], [-5.0, 170.0, 80.0, 200.0]])
    np.testing.assert_allclose(parts_to_frame(parts, window), [[104.0, 55.0, 124.0, 75.0], [94.0, 205.0, 165.0, 214.0]])
    tensor_crop, tensor_window = crop_person(torch.from_numpy(frame).permute(2, 0, 1), (300, 200, 400, 300))
    assert tensor_window == CropWindow(300, 200, 20, 40) and tensor_crop.shape == (3, 40, 20)
    with pytest.raises(ValueError, match="outside"):
        crop_person(frame, (400, 10, 500, 20))


def test_select_top1_per_part():
    det = {"boxes": torch.arange(24, dtype=torch.float32).view(6, 4),
           "scores": torch.tensor([0.3, 0.9, 0.5, 0.7, 0.95, 0.1]),
           "labels": torch.tensor([2, 0, 2, 0, 5, 2])}
    top = select_top1_per_part(det)
    assert top["labels"].tolist() == [0, 2, 5]
    torch.testing.assert_close(top["scores"], torch.tensor([0.9, 0.5, 0.95]))
    torch.testing.assert_close(top["boxes"], det["boxes"][[1, 2, 4]])
    empty = select_top1_per_part({k: v[:0] for k, v in det.items()})
    assert empty["boxes"].shape == (0, 4)
