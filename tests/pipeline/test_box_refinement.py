"""refine_person_box: boxes grow to hold confident keypoints with a margin, never shrink, clip to the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partparse.pipeline.box_refinement import refine_person_box


def test_keypoint_outside_grows_the_box_with_a_pixel_margin():
    boxes = torch.tensor([[100.0, 100.0, 200.0, 300.0]])
    kps = torch.tensor([[[250.0, 150.0], [150.0, 90.0], [150.0, 200.0]]])  # right of and above the box
    scores = torch.tensor([[0.9, 0.8, 0.9]])
    out = refine_person_box(boxes, kps, scores, score_thr=0.5, margin=5, margin_mode="pixels")
    torch.testing.assert_close(out, torch.tensor([[100.0, 85.0, 255.0, 300.0]]))


def test_fraction_margin_scales_with_the_box():
    boxes = torch.tensor([[0.0, 0.0, 100.0, 200.0]])
    kps = torch.tensor([[[120.0, -10.0]]])
    out = refine_person_box(boxes, kps, torch.ones(1, 1), margin=0.1)  # 10 px in x, 20 px in y
    torch.testing.assert_close(out, torch.tensor([[0.0, -30.0, 130.0, 200.0]]))


def test_low_confidence_keypoints_are_ignored_and_no_keypoint_keeps_the_box():
    boxes = torch.tensor([[100.0, 100.0, 200.0, 300.0], [10.0, 10.0, 50.0, 50.0]])
    kps = torch.tensor([[[400.0, 150.0], [150.0, 500.0]], [[0.0, 0.0], [90.0, 90.0]]])
    scores = torch.tensor([[0.1, 0.9], [0.2, 0.29]])
    out = refine_person_box(boxes, kps, scores, score_thr=0.3, margin=0, margin_mode="pixels")
    torch.testing.assert_close(out, torch.tensor([[100.0, 100.0, 200.0, 500.0], [10.0, 10.0, 50.0, 50.0]]))


def test_never_shrinks_and_is_vectorised_over_persons():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(50, 2, generator=g) * 300
    boxes = torch.cat([xy, xy + 20 + torch.rand(50, 2, generator=g) * 200], dim=1)
    kps = torch.rand(50, 17, 2, generator=g) * 600 - 50
    scores = torch.rand(50, 17, generator=g)
    out = refine_person_box(boxes, kps, scores, score_thr=0.5, margin=3, margin_mode="pixels")
    assert bool((out[:, :2] <= boxes[:, :2]).all() and (out[:, 2:] >= boxes[:, 2:]).all())
    conf = scores >= 0.5
    for n in range(50):
        k = kps[n][conf[n]]
        assert bool((k >= out[n, :2] + 3 - 1e-4).all() and (k <= out[n, 2:] - 3 + 1e-4).all())


def test_clips_to_the_image_and_keeps_numpy_type():
    boxes = np.array([[10.0, 10.0, 50.0, 50.0]], dtype=np.float32)
    kps = np.array([[[-20.0, 30.0], [700.0, 400.0]]], dtype=np.float32)
    out = refine_person_box(boxes, kps, np.ones((1, 2)), margin=4, margin_mode="pixels", image_size=(360, 640))
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [[0.0, 10.0, 639.0, 359.0]])


def test_shape_errors_are_reported():
    with pytest.raises(ValueError, match=r"keypoints \(N, K, 2\)"):
        refine_person_box(torch.zeros(2, 4), torch.zeros(3, 17, 2), torch.zeros(3, 17))
    with pytest.raises(ValueError, match="margin_mode"):
        refine_person_box(torch.zeros(1, 4), torch.zeros(1, 17, 2), torch.zeros(1, 17), margin_mode="percent")
