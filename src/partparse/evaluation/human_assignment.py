"""The official per-frame human assignment, solved for many frames at once where that is exact.

The official script pads each frame's IoU matrix (GT x predictions) with zeros to square and runs
``scipy.optimize.linear_sum_assignment`` on ``1 - IoU``. When every GT row has a *unique* cheapest
column, that column is a real prediction cheaper than any padding, and these columns are all different,
then giving each row its cheapest column reaches every row's own minimum: it is the one optimal
assignment, so the solver must return it. Such frames (most frames of a reasonable submission) are
resolved with array operations; the rest go to the solver, frame by frame, with the same matrix as the
official script (in float64, the type the solver converts it to), so its tie-breaking is kept.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import numpy as np

from partparse.evaluation.box_iou import human_iou_matrix_pairs
from partparse.evaluation.flat_evaluation import segment_positions, segment_starts
from partparse.io import InputError


def load_solver():
    """``scipy.optimize.linear_sum_assignment``, loaded on first use.

    That function is the built-in of SciPy's extension module ``scipy.optimize._lsap`` (``scipy.optimize``
    exports the same object). Importing ``scipy.optimize`` costs ~0.35-0.45 s of CPU, more than the rest
    of the CLI's start-up, for the whole optimisation package; loading the extension module's file on its
    own costs ~0.01 s. Where that file is not found (another SciPy layout) the public import is used.
    """
    global _SOLVER
    if _SOLVER is None:
        _SOLVER = _lsap_solver()
        if _SOLVER is None:
            from scipy.optimize import linear_sum_assignment

            _SOLVER = linear_sum_assignment
    return _SOLVER


_SOLVER = None


def _lsap_solver():
    """``linear_sum_assignment`` of ``scipy/optimize/_lsap*.so`` loaded by file, or ``None``."""
    name = "scipy.optimize._lsap"
    if name in sys.modules:                     # (scipy.optimize already imported: take its module)
        return sys.modules[name].linear_sum_assignment
    try:
        scipy_spec = importlib.util.find_spec("scipy")          # (finds the package; imports nothing)
        if scipy_spec is None or not scipy_spec.submodule_search_locations:
            return None
        folder = Path(scipy_spec.submodule_search_locations[0]) / "optimize"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            if (folder / f"_lsap{suffix}").is_file():
                spec = importlib.util.spec_from_file_location(name, folder / f"_lsap{suffix}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module.linear_sum_assignment
    except (ImportError, OSError, AttributeError):
        return None
    return None


def assign_humans(gt_boxes: np.ndarray, pred_boxes: np.ndarray, g_start: np.ndarray, g_counts: np.ndarray,
                  p_start: np.ndarray, p_counts: np.ndarray,
                  corrected: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official assignment of every frame; per GT human (prediction row or -1, IoU, square).

    Frame ``f`` owns GT rows ``g_start[f]:g_start[f]+g_counts[f]`` of ``gt_boxes`` (float32 ``(N, 4)``)
    and prediction rows ``p_start[f]:...`` of ``pred_boxes``. Returns, for its GT humans (frames
    concatenated): the assigned prediction row of ``pred_boxes`` (-1 if none), the float32 IoU of the
    pair, and whether the frame's matrix was square (thresholds then compare in float32).
    """
    pair_iou = human_iou_matrix_pairs(gt_boxes, pred_boxes, g_start, g_counts, p_start, p_counts)
    if corrected:
        pair_iou = np.where(pair_iou < 0, np.float32(0.0), pair_iou)
    if np.isnan(pair_iou).any():
        raise InputError("a human box has NaN coordinates; the official evaluator fails in the assignment")
    column, iou = assign_frames(pair_iou, g_counts, p_counts)
    human_frame = np.repeat(np.arange(len(g_counts)), g_counts)
    pred = np.where(column >= 0, p_start[human_frame] + column, -1)
    return pred, iou, (g_counts == p_counts)[human_frame]


def nan_box_error(gt_boxes: np.ndarray, pred_boxes: np.ndarray, g_start, g_counts, p_start, p_counts,
                  where) -> InputError | None:
    """:func:`assign_humans`'s NaN error with its place: the first NaN box of a frame with humans on both
    sides (only those enter the assignment); ``where[f]`` is frame ``f``'s (video, frame key). Called
    only once the assignment failed, so the metric's path pays nothing for it."""
    columns = (np.asarray(a).tolist() for a in (g_start, g_counts, p_start, p_counts))
    for f, (g0, gn, p0, pn) in enumerate(zip(*columns, strict=True)):
        if not (gn and pn):
            continue
        for boxes, start, count, file in ((gt_boxes, g0, gn, "gt_part_result.json"),
                                          (pred_boxes, p0, pn, "pred_part_result.json")):
            bad = np.flatnonzero(np.isnan(boxes[start:start + count]).any(axis=1))
            if len(bad):
                vid, key = where[f]
                return InputError(f"{file} [video {vid} / frame {key} / person {int(bad[0])}]: a human box has "
                                  "NaN coordinates; the official evaluator fails in the assignment")
    return None


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

    hard = np.flatnonzero(~frame_easy & (p_counts > 0) & (g_counts > 0))
    if len(hard):
        _solve_frames(hard, cost, pair_iou, g_counts, p_counts, column, iou)
    return column, iou


def _solve_frames(frames: np.ndarray, cost: np.ndarray, pair_iou: np.ndarray, g_counts: np.ndarray,
                  p_counts: np.ndarray, column: np.ndarray, iou: np.ndarray) -> None:
    """Solve ``frames`` exactly as the official script, writing into ``column`` and ``iou``.

    The official matrix is the IoU block padded with zeros to square, and the solver gets ``1 - m``,
    which it converts to float64 (float32 when no padding was needed): that is ``cost`` padded with 1.0.
    Frames of one size are laid out in one ``(k, n, n)`` array, so the per-frame Python work is a
    solver call. A square solution assigns every row, rows in order; padding rows and columns never
    reach a real pair.
    """
    solve = load_solver()
    pair_start, g_start = segment_starts(g_counts * p_counts), segment_starts(g_counts)
    size = np.maximum(g_counts, p_counts)
    for n in np.unique(size[frames]).tolist():
        fs = frames[size[frames] == n]
        g, p = g_counts[fs], p_counts[fs]
        local = segment_positions(g * p)
        which = np.repeat(np.arange(len(fs)), g * p)
        p_of_pair = np.repeat(p, g * p)
        batch = np.ones((len(fs), n, n))
        batch[which, local // p_of_pair, local % p_of_pair] = cost[np.repeat(pair_start[fs], g * p) + local]
        cols = np.stack([solve(c)[1] for c in batch])
        row = segment_positions(g)
        col = cols[np.repeat(np.arange(len(fs)), g), row]
        p_of_row = np.repeat(p, g)
        real = col < p_of_row
        gt = (np.repeat(g_start[fs], g) + row)[real]
        column[gt] = col[real]
        iou[gt] = pair_iou[(np.repeat(pair_start[fs], g) + row * p_of_row + col)[real]]
