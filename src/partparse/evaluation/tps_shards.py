"""Flatten a large evaluation on several cores: consecutive video shards in forked workers.

Videos are independent in the metric, so shard ``i`` flattens a contiguous slice of the GT videos and
the parent joins the shards in order (:meth:`FlatEvaluation.concatenate`); the result is identical to a
single-process run. Workers are forked so they read the already-parsed JSON without copying it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from typing import Mapping

from partparse.evaluation.tps_flatten import FlatEvaluation, flatten_for_tps

#: Below this many GT frames one process is faster than forking.
MIN_FRAMES_FOR_WORKERS = 20000

_SHARED: tuple | None = None


def _flatten_shard(bounds: tuple[int, int]) -> FlatEvaluation:
    gt_vid, gt_part, pred_vid, pred_part, corrected = _SHARED  # type: ignore[misc]
    lo, hi = bounds
    sub = dict(list(gt_vid.items())[lo:hi])
    return flatten_for_tps(sub, gt_part, pred_vid, pred_part, corrected=corrected)


def default_workers(gt_part: Mapping, gt_vid: Mapping) -> int:
    """2+ workers only for big inputs on machines with several cores and fork support."""
    if "fork" not in mp.get_all_start_methods():
        return 1
    n_frames = sum(len(gt_part.get(v, ())) for v in gt_vid)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, 4) if n_frames >= MIN_FRAMES_FOR_WORKERS else 1


def flatten_parallel(gt_vid: Mapping, gt_part: Mapping, pred_vid: Mapping, pred_part: Mapping,
                     corrected: bool = False, workers: int | None = None) -> FlatEvaluation:
    """:func:`flatten_for_tps` over ``workers`` processes (``None``: :func:`default_workers`)."""
    global _SHARED
    workers = default_workers(gt_part, gt_vid) if workers is None else max(1, workers)
    n = len(gt_vid)
    if workers == 1 or n < 2 * workers:
        return flatten_for_tps(gt_vid, gt_part, pred_vid, pred_part, corrected=corrected)
    edges = [round(i * n / workers) for i in range(workers + 1)]
    _SHARED = (gt_vid, gt_part, pred_vid, pred_part, corrected)
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            shards = pool.map(_flatten_shard, list(zip(edges[:-1], edges[1:])))
    finally:
        _SHARED = None
    return FlatEvaluation.concatenate(shards)
