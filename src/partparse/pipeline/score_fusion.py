"""Ensembles of video classifiers: weighted averages of class scores, and a search for the weights.

The report fuses ir-CSN and ip-CSN with fusion weights 7.0 / 1.0: ``fused = sum_i w_i s_i / sum_i w_i``,
where ``s_i`` are each model's (softmax) class scores averaged over test clips. Each classifier head
(the action and every coarse part) can have its own weights.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np


def fuse_scores(scores: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """Weighted average of ``(N, C)`` score arrays (same N and C); weights must not all be zero."""
    if len(scores) != len(weights) or not scores:
        raise ValueError(f"{len(scores)} score arrays but {len(weights)} weights")
    shapes = {s.shape for s in scores}
    if len(shapes) != 1:
        raise ValueError(f"score arrays differ in shape: {sorted(shapes)}")
    w = np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0 or (w < 0).any():
        raise ValueError(f"fusion weights must be >= 0 and not all 0, got {list(weights)}")
    return np.tensordot(w, np.stack(scores).astype(np.float64), axes=1) / w.sum()


def top1_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float((scores.argmax(1) == labels).mean()) if len(labels) else 0.0


def search_fusion_weights(scores: Sequence[np.ndarray], labels: np.ndarray,
                          grid: Sequence[float] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)) -> tuple[list[float], float]:
    """Exhaustive search of per-model weights on a grid, maximising top-1 accuracy.

    Weight vectors that are multiples of each other give the same fusion, so each direction is tried
    once. Ties go to the vector closest to uniform, then to the first in grid order (deterministic).
    """
    best_w: list[float] | None = None
    best_key: tuple | None = None
    seen: set[tuple] = set()
    for w in itertools.product(grid, repeat=len(scores)):
        total = sum(w)
        if total <= 0:
            continue
        direction = tuple(round(x / total, 9) for x in w)
        if direction in seen:
            continue
        seen.add(direction)
        acc = top1_accuracy(fuse_scores(scores, w), labels)
        spread = float(np.std(direction))
        key = (acc, -spread)
        if best_key is None or key > best_key:
            best_key, best_w = key, [float(x) for x in w]
    assert best_w is not None and best_key is not None
    return best_w, best_key[0]


def fuse_heads(per_model: Sequence[Mapping[str, np.ndarray]], weights: Mapping[str, Sequence[float]],
               default: Sequence[float] | None = None) -> dict[str, np.ndarray]:
    """Fuse every head (``"action"``, ``"hand"``, ...) of several models with per-head weights."""
    heads = per_model[0].keys()
    out = {}
    for h in heads:
        w = weights.get(h, default if default is not None else [1.0] * len(per_model))
        out[h] = fuse_scores([m[h] for m in per_model], w)
    return out
