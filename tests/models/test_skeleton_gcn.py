"""The skeleton model: shapes, per-keyframe outputs, masked keyframes do not leak."""

from __future__ import annotations

import torch

from partparse.models.skeleton_gcn import SkeletonGCN, normalised_adjacency


def _model():
    torch.manual_seed(0)
    return SkeletonGCN(num_actions=10, part_states=[4, 4, 5, 5, 4, 4, 6, 6, 5, 5], channels=(8, 16), hidden=16).eval()


def test_action_per_track_and_states_per_keyframe_and_part():
    model = _model()
    action, parts = model(torch.randn(3, 5, 13, 17), torch.ones(3, 13, dtype=torch.bool))
    assert action.shape == (3, 10)
    assert [p.shape for p in parts] == [(3, 13, s) for s in [4, 4, 5, 5, 4, 4, 6, 6, 5, 5]]


def test_masked_keyframes_do_not_change_the_other_outputs():
    model = _model()
    x = torch.randn(1, 5, 13, 17)
    mask = torch.ones(1, 13, dtype=torch.bool)
    mask[0, 4] = False
    y = x.clone()
    y[:, :, 4] = 100.0                                                  # garbage in the unseen keyframe
    with torch.no_grad():
        a1, p1 = model(x, mask)
        a2, p2 = model(y, mask)
    torch.testing.assert_close(a1, a2)
    torch.testing.assert_close(p1[0], p2[0])


def test_a_track_of_any_length_works_and_is_light():
    model = _model()
    action, parts = model(torch.randn(2, 5, 4, 17), torch.ones(2, 4, dtype=torch.bool))
    assert action.shape == (2, 10) and parts[0].shape == (2, 4, 4)
    full = SkeletonGCN(10, [4] * 10)
    assert sum(p.numel() for p in full.parameters()) < 500_000


def test_adjacency_is_symmetric_and_normalised():
    a = normalised_adjacency()
    torch.testing.assert_close(a, a.T)
    assert a.shape == (17, 17) and float(a.diagonal().min()) > 0
