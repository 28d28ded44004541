"""RGB differences (TSN) as a clip modality."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partparse.data.clip_modality import ClipModality


def test_rgb_passes_through():
    m = ClipModality("rgb")
    inds = np.array([[0, 4, 8]])
    assert m.expand(inds, 10) is inds and m.base_frames(10) == 10
    x = torch.randn(3, 3, 4, 4)
    assert m.apply(x) is x


def test_differences_pair_each_frame_with_a_later_one():
    m = ClipModality("rgb_diff", diff_offset=2, diff_scale=3.0)
    assert m.base_frames(10) == 8 and m.base_frames(1) == 1
    assert m.expand(np.array([[0, 4, 7]]), 10).tolist() == [[0, 2, 4, 6, 7, 9]]
    assert m.expand(np.array([[8]]), 10).tolist() == [[8, 9]]                # clipped to the last frame
    x = torch.arange(2 * 3 * 6 * 2 * 2, dtype=torch.float32).reshape(2, 3, 6, 2, 2)   # (V, C, 2T, H, W)
    out = m.apply(x)
    assert out.shape == (2, 3, 3, 2, 2)
    torch.testing.assert_close(out, (x[:, :, 1::2] - x[:, :, 0::2]) * 3.0)
    assert torch.all(out == 3.0 * 4)                                          # consecutive frames differ by 4


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="modality must be one of rgb, rgb_diff"):
        ClipModality("flow")
    with pytest.raises(ValueError, match="diff_offset"):
        ClipModality("rgb_diff", diff_offset=0)
