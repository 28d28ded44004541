"""The official per-frame human assignment, solved for many frames at once where that is exact.

The official script pads each frame's IoU matrix (GT x predictions) with zeros to square and runs
``scipy.optimize.linear_sum_assignment`` on ``1 - IoU``. When every GT row has a *unique* cheapest
column, that column is a real prediction cheaper than any padding, and these columns are all different,
then giving each row its cheapest column reaches every row's own minimum: it is the one optimal
assignment, so the solver must return it. Such frames (most frames of a reasonable submission) are
resolved with array operations; the rest go to the solver, frame by frame, with the same matrix and
dtypes as the official script, so its tie-breaking is kept.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def _official_cost(pair_iou: np.ndarray, square_pair: np.ndarray) -> np.ndarray:
    """``1 - IoU`` as the official script computes it: float32 for square matrices, else float64."""
    c32 = (np.float32(1) - pair_iou).astype(np.float64)
    c64 = 1.0 - pair_iou.astype(np.float64)
    return np.where(square_pair, c32, c64)


def assign_frames(pair_iou: np.ndarray, g_counts: np.ndarray, p_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Assignment of every GT human of every frame.

    Args:
        pair_iou: float32 IoUs, frame after frame, each frame's ``g x p`` block row-major.
        g_counts, p_counts: GT humans and predictions per frame.
    Returns:
        ``(column, iou)`` per GT human (frames concatenated): the frame-local index of the assigned
        prediction (-1 if none or padding) and the float32 IoU of that pair.
    """
    n_gt = int(g_counts.sum())
    column = np.full(n_gt, -1, dtype=np.int64)
    iou = np.zeros(n_gt, dtype=np.float32)
    n_frames = len(g_counts)
    if n_gt == 0:
        return column, iou
    row_frame = np.repeat(np.arange(n_frames), g_counts)
    row_len = p_counts[row_frame]                                   # pairs per GT row
    pair_row = np.repeat(np.arange(n_gt), row_len)
    square_pair = (g_counts == p_counts)[row_frame][pair_row]
    cost = _official_cost(pair_iou, square_pair)

    # rows whose cheapest real column is unique and cheaper than padding (cost 1.0) when there is padding
    has = row_len > 0
    row_start = np.cumsum(row_len) - row_len
    row_min = np.full(n_gt, np.inf)
    row_min[has] = np.minimum.reduceat(cost, row_start[has]) if len(cost) else row_min[has]
    is_min = cost == row_min[pair_row]
    n_min = np.bincount(pair_row[is_min], minlength=n_gt)
    padded_cols = (g_counts > p_counts)[row_frame]
    easy_row = has & (n_min == 1) & (~padded_cols | (row_min < 1.0))
    best_pair = np.flatnonzero(is_min & easy_row[pair_row])
    best_col = np.full(n_gt, -1, dtype=np.int64)
    best_col[pair_row[best_pair]] = best_pair - row_start[pair_row[best_pair]]

    # a frame is easy if all its rows are easy and their columns are distinct
    frame_easy = np.bincount(row_frame, weights=~easy_row, minlength=n_frames) == 0
    frame_easy &= p_counts > 0
    ef = frame_easy[row_frame]
    key = row_frame[ef] * (int(p_counts.max()) + 1) + best_col[ef]
    uniq, counts = np.unique(key, return_counts=True)
    clash_frames = np.unique(uniq[counts > 1] // (int(p_counts.max()) + 1))
    frame_easy[clash_frames] = False
    easy = frame_easy[row_frame]
    column[easy] = best_col[easy]
    iou[easy] = pair_iou[best_pair[easy[pair_row[best_pair]]]]

    pair_start = np.cumsum(g_counts * p_counts) - g_counts * p_counts
    g_start = np.cumsum(g_counts) - g_counts
    for f in np.flatnonzero(~frame_easy & (p_counts > 0) & (g_counts > 0)).tolist():
        g, p, s = int(g_counts[f]), int(p_counts[f]), int(pair_start[f])
        m = pair_iou[s:s + g * p].reshape(g, p)
        rows, cols, padded = _solve(m, g, p)
        keep = (cols < p) & (rows < g)          # padding rows/columns never reach a real pair
        column[g_start[f] + rows[keep]] = cols[keep]
        iou[g_start[f] + rows[keep]] = padded[rows[keep], cols[keep]]
    return column, iou


def _solve(m: np.ndarray, g: int, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame exactly as the official script: zero padding to square, solver on ``1 - IoU``."""
    if p > g:
        m = np.concatenate((m, np.full((p - g, p), 0.0)), axis=0)
    elif g > p:
        m = np.concatenate((m, np.full((g, g - p), 0.0)), axis=1)
    rows, cols = linear_sum_assignment(1 - m)
    return rows, cols, m
