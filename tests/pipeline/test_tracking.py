"""ByteTrack ids across keyframes (partparse.pipeline.tracking)."""

from __future__ import annotations

import numpy as np

from partparse.pipeline.tracking import TrackerConfig, track_persons


def _two_walkers(frames: int = 13, swap_order: bool = True):
    """Two persons walking towards each other (never overlapping), detected in alternating order."""
    boxes, scores = [], []
    for k in range(frames):
        a = [20 + 4 * k, 50, 80 + 4 * k, 200]
        b = [250 - 6 * k, 40, 310 - 6 * k, 210]
        pair = [b, a] if swap_order and k % 2 else [a, b]
        boxes.append(np.array(pair, np.float32))
        scores.append(np.array([0.9, 0.8], np.float32))
    return boxes, scores


def _identity(boxes, ids):
    """Track id of the left-starting walker (``a``) in each frame."""
    return [int(i[np.argmin(b[:, 0])]) if len(b) else None for b, i in zip(boxes, ids, strict=True)]


def test_ids_are_stable_for_two_persons_whatever_their_order_in_the_frame():
    boxes, scores = _two_walkers()
    ids = track_persons(boxes, scores, list(range(0, 65, 5)), fps=15.0)
    assert [len(i) for i in ids] == [2] * 13
    assert sorted({int(v) for i in ids for v in i}) == [1, 2]       # from 1, first seen first
    assert _identity(boxes, ids) == [1] * 13                         # walker a keeps id 1 throughout
    assert all(sorted(i.tolist()) == [1, 2] for i in ids)


def test_a_person_missed_in_one_keyframe_keeps_its_id():
    boxes, scores = _two_walkers(swap_order=False)
    boxes[6], scores[6] = boxes[6][:1], scores[6][:1]               # walker b not detected at keyframe 6
    ids = track_persons(boxes, scores, list(range(0, 65, 5)), fps=15.0)
    assert ids[6].tolist() == [1]
    assert ids[7].tolist() == [1, 2] and ids[12].tolist() == [1, 2]


def test_low_scoring_detections_that_start_no_track_get_ids_of_their_own():
    boxes = [np.array([[0, 0, 10, 10], [100, 100, 120, 130]], np.float32)] * 2
    scores = [np.array([0.9, 0.1], np.float32)] * 2
    ids = track_persons(boxes, scores, [0, 5], fps=15.0, cfg=TrackerConfig(high_score=0.5))
    assert ids[0][0] == ids[1][0]                                    # the sure person is tracked
    others = [int(ids[0][1]), int(ids[1][1])]
    assert len(set(others)) == 2 and ids[0][0] not in others         # unique ids, never shared


def test_empty_keyframes_are_fine():
    empty = np.zeros((0, 4), np.float32)
    ids = track_persons([empty, np.array([[0, 0, 10, 20]], np.float32), empty],
                        [np.zeros(0), np.array([0.9]), np.zeros(0)], [0, 5, 10], fps=15.0)
    assert [i.tolist() for i in ids] == [[], [1], []]
