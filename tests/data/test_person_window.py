"""Person-centred clips: the main-person rule shared by training (GT boxes) and parsing (detections)."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.data.person_window import crop_to_window, follow_main_person, person_window


def test_the_anchor_is_the_best_scored_box_and_it_is_followed_by_overlap():
    a = [np.array([[10, 10, 50, 90], [200, 20, 250, 110]]),      # two people far apart
         np.array([[205, 22, 245, 102], [14, 12, 54, 92]]),       # order swapped: follow by IoU, not index
         np.zeros((0, 4)),                                        # nobody detected
         np.array([[18, 10, 58, 90]])]
    scores = [np.array([0.9, 0.5]), np.array([0.6, 0.7]), np.zeros(0), np.array([0.8])]
    followed = follow_main_person(a, scores)
    assert [b.tolist() for b in followed] == [[10, 10, 50, 90], [14, 12, 54, 92], [18, 10, 58, 90]]
    # without scores the largest box anchors: the right-hand person is larger
    right = follow_main_person(a[:2])
    assert [b.tolist() for b in right] == [[200, 20, 250, 110], [205, 22, 245, 102]]


def test_the_window_is_a_square_around_the_followed_extent_inside_the_frame():
    boxes = [np.array([[10, 10, 50, 90]]), np.array([[30, 12, 70, 92]])]
    x0, y0, x1, y1 = person_window(boxes, None, 320, 240, margin=1.2)
    assert x1 - x0 == y1 - y0 == round(82 * 1.2)              # longer side of the union 60x82, grown 1.2x
    assert x0 == 0 and y0 >= 0                                # pushed inside, not cut: stays square
    assert x0 <= 10 and x1 >= 70 and y0 <= 10 and y1 >= 92
    assert person_window([np.zeros((0, 4))], None, 320, 240) is None
    big = person_window([np.array([[0, 0, 320, 240]])], None, 320, 240, margin=1.5)
    assert big == (0, 0, 320, 240)                            # larger than the frame: the whole frame


def test_crop_to_window_resizes_to_a_square_and_keeps_uint8():
    frames = np.zeros((3, 240, 320, 3), np.uint8)
    frames[:, 100:140, 200:240] = 255
    out = crop_to_window(frames, (180, 80, 260, 160), 32)
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
    assert out[:, 12:20, 12:20].min() == 255 and out[:, :3, :3].max() == 0
    assert crop_to_window(frames, None, 16).shape == (3, 16, 16, 3)


def test_scores_must_match_boxes():
    with pytest.raises(ValueError, match="one score per box"):
        follow_main_person([np.zeros((2, 4))], [np.zeros(1)])
