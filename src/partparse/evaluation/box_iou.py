"""IoU with the Kinetics-TPS conventions: inclusive pixels (``w = x2 - x1 + 1``) and ``-1.0`` for boxes
that do not overlap (a width or height of the intersection ``<= 0``).

The official evaluator works on scalars: ``max``/``min`` of Python (``max(a, b)`` is ``b if b > a else a``,
which matters only for NaN) and, for humans, NumPy float32 scalars. The array versions below perform the
same operations in the same order and dtype, so every value is bit-identical.
"""

from __future__ import annotations

import numpy as np


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise IoU of box rows ``a`` (GT) and ``b`` (prediction), in their dtype."""
    one = a.dtype.type(1)
    x_a = np.where(b[:, 0] > a[:, 0], b[:, 0], a[:, 0])
    y_a = np.where(b[:, 1] > a[:, 1], b[:, 1], a[:, 1])
    x_b = np.where(b[:, 2] < a[:, 2], b[:, 2], a[:, 2])
    y_b = np.where(b[:, 3] < a[:, 3], b[:, 3], a[:, 3])
    inter_w = x_b - x_a + one
    inter_h = y_b - y_a + one
    disjoint = (inter_w <= 0) | (inter_h <= 0)
    inter = inter_w * inter_h
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area_a + area_b - inter)
    return np.where(disjoint, a.dtype.type(-1.0), iou)


CHUNK = 1 << 15  # rows per block: the temporaries stay in cache instead of faulting in fresh pages


def part_iou_pairs(gt: np.ndarray, pred: np.ndarray, gt_rows: np.ndarray | None = None,
                   pred_rows: np.ndarray | None = None) -> np.ndarray:
    """Float64 IoU of paired rows ``gt[i]``, ``pred[i]`` (the official part IoU on JSON numbers), or of
    ``gt[gt_rows[i]]``, ``pred[pred_rows[i]]`` when row indices are given (gathered block by block)."""
    gt, pred = np.asarray(gt, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    n = len(gt) if gt_rows is None else len(gt_rows)
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, CHUNK):
        block = slice(start, start + CHUNK)
        # (np.take gathers rows several times faster than fancy indexing does)
        a = gt[block] if gt_rows is None else np.take(gt, gt_rows[block], axis=0)
        b = pred[block] if pred_rows is None else np.take(pred, pred_rows[block], axis=0)
        out[block] = _iou(a, b)
    return out


def human_iou_matrix_pairs(gt: np.ndarray, pred: np.ndarray, g0: np.ndarray, gn: np.ndarray,
                           p0: np.ndarray, pn: np.ndarray) -> np.ndarray:
    """Float32 IoU of every (GT, prediction) pair inside each frame, frames concatenated.

    Frame ``f`` owns GT rows ``g0[f]:g0[f]+gn[f]`` and prediction rows ``p0[f]:p0[f]+pn[f]``; its block of
    ``gn[f] * pn[f]`` values is the row-major IoU matrix (GT x predictions).
    """
    n_pairs = gn * pn
    total = int(n_pairs.sum())
    if total == 0:
        return np.zeros(0, dtype=np.float32)
    frame = np.repeat(np.arange(len(gn)), n_pairs)
    local = np.arange(total) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    cols = pn[frame]
    gi = g0[frame] + local // cols
    pj = p0[frame] + local % cols
    return _iou(np.take(gt, gi, axis=0).astype(np.float32), np.take(pred, pj, axis=0).astype(np.float32))


def iou_matrix(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Float64 Kinetics-TPS IoU matrix (GT x predictions) of two box arrays."""
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gi, pj = np.meshgrid(np.arange(len(gt)), np.arange(len(pred)), indexing="ij")
    return _iou(gt[gi.ravel()], pred[pj.ravel()]).reshape(len(gt), len(pred))
