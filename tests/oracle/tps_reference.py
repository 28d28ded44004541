"""Loop-based reference of the Kinetics-TPS metric, written straight from the official definition.

It is slow on purpose (a Python loop per box pair, per part and per curve step) and has no shortcut,
so it serves as the oracle for the vectorised evaluator in tests and in ``benchmarks/bench_metric.py``.
Definition: the official ``eval_detection.py`` of ``xiadingZ/Kinetics-TPS-evaluation`` (latest commit).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def box_iou(a, b):
    """Inclusive-pixel IoU; -1.0 when the boxes do not overlap. Works on Python floats or NumPy scalars."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    w, h = x2 - x1 + 1, y2 - y1 + 1
    if w <= 0 or h <= 0:
        return -1.0
    inter = w * h
    union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return inter / float(union)


def match_humans(gt_humans, pred_humans, thresh, corrected=False):
    """{gt index: pred index} of the official padded Hungarian matching (IoU strictly above thresh)."""
    gt = np.float32([h["box"] for h in gt_humans])
    pred = np.float32([h["box"] for h in pred_humans])
    n_gt, n_pred = gt.shape[0], pred.shape[0]
    m = np.zeros((n_gt, n_pred), dtype=np.float32)
    for i in range(n_gt):
        for j in range(n_pred):
            m[i, j] = box_iou(gt[i, :], pred[j, :])
    if corrected:
        m[m < 0] = 0
    if n_pred > n_gt:
        m = np.concatenate((m, np.full((n_pred - n_gt, n_pred), 0.0)), axis=0)
    if n_gt > n_pred:
        m = np.concatenate((m, np.full((n_gt, n_gt - n_pred), 0.0)), axis=1)
    rows, cols = linear_sum_assignment(1 - m)
    out = {}
    for r, c in zip(rows, cols, strict=True):
        if c < n_pred and m[r, c] > thresh:
            out[int(r)] = int(c)
    return out


def human_part_sum(gt_human, pred_human, part_thresh):
    total = 0
    for name, gt_part in gt_human["parts"].items():
        score = 0
        if name in pred_human["parts"]:
            verbs = pred_human["parts"][name]["verb"]
            boxes = pred_human["parts"][name]["box"]
            assert len(verbs) <= 5
            hit = 0
            for j in range(len(boxes)):
                if box_iou(gt_part["box"], boxes[j]) >= part_thresh and gt_part["verb"] == verbs[j]:
                    hit = 1
                    break
            score = 1.0 * hit / len(verbs) if len(verbs) > 0 else 0
        total += score
    return total


def video_psc(gt_frames, pred_frames, human_thresh, part_thresh, corrected=False):
    counted = len(gt_frames)
    acc = 0
    for key, frame in gt_frames.items():
        gt_humans = frame["humans"]
        if len(gt_humans) == 0:
            counted -= 1
            continue
        if key not in pred_frames:
            continue
        pred_humans = pred_frames[key]["humans"]
        matches = match_humans(gt_humans, pred_humans, human_thresh, corrected)
        assert len(pred_humans) <= 10
        n_parts, frame_sum = 0, 0
        for i, gt_human in enumerate(gt_humans):
            n_parts += len(gt_human["parts"])
            s = 0
            if i in matches:
                s = human_part_sum(gt_human, pred_humans[matches[i]], part_thresh)
            frame_sum += s
        if n_parts == 0:
            counted -= 1
        else:
            acc += 1.0 * frame_sum / n_parts
    return 1.0 if counted == 0 else 1.0 * acc / counted


def video_scores(gt_vid, gt_part, pred_vid, pred_part, human_thresh=0.5, part_thresh=0.3, corrected=False):
    """[(video, psc, action correct)] in GT order."""
    return [(vid, video_psc(gt_part[vid], pred_part[vid], human_thresh, part_thresh, corrected),
             1 if gt_vid[vid] == pred_vid[vid] else 0) for vid in gt_vid]


def accuracy_at(scores, t):
    return sum(1 for _, psc, ok in scores if psc >= t and ok == 1) / len(scores)


def area(scores, steps=10000):
    total = 0
    for k in range(1, steps):
        total += 1.0 / steps * accuracy_at(scores, k / steps)
    return total


def reference_score(gt_vid, gt_part, pred_vid, pred_part, human_thresh=0.5, part_thresh=0.3, corrected=False):
    """The official Kinetics-TPS number (fraction; perfect predictions give 0.9999)."""
    return area(video_scores(gt_vid, gt_part, pred_vid, pred_part, human_thresh, part_thresh, corrected))
