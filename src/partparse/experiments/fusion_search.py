"""The search for fusion weights: per head, the grid of model weights with the best validation top-1.

``partparse fuse`` writes what it finds into a recipe's ``fusion.weights``; the parser only applies them
(:func:`partparse.pipeline.score_fusion.fuse_scores`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from partparse.io import InputError
from partparse.pipeline.score_fusion import fuse_scores, load_scores


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


def search_head_weights(files: Sequence, grid: Sequence[float] = tuple(range(11))) -> dict[str, dict]:
    """Per head, the fusion weights of several models' validation score files and their accuracies.

    Returns ``{head: {"weights": [...], "fused": acc, "single": [acc per model]}}`` for the heads every
    file has (the pose stream's file has only ``action``: with the CSNs' files, only the action is fused).
    The files must cover the same videos (any order) and carry labels.
    """
    loaded = [load_scores(f) for f in files]
    ids0 = loaded[0][0]
    out: dict[str, dict] = {}
    common = [h for h in loaded[0][1] if all(h in scores for _, scores, _ in loaded)]
    if not common:
        raise InputError(f"{files[0]}: no head in common with the other score files")
    for head in common:
        mats = []
        for f, (ids, scores, labels) in zip(files, loaded, strict=True):
            if head not in scores or head not in labels:
                raise InputError(f"{f}: no scores or labels for head {head!r}")
            if sorted(ids) != sorted(ids0):
                raise InputError(f"{f}: covers other videos than {files[0]}")
            if scores[head].shape[1] != loaded[0][1][head].shape[1]:
                raise InputError(f"{f}: {scores[head].shape[1]} classes for head {head!r}, {files[0]} has "
                                 f"{loaded[0][1][head].shape[1]}")
            order = np.argsort(ids)[np.argsort(np.argsort(ids0))]
            mats.append((scores[head][order], labels[head][order]))
            if not np.array_equal(mats[-1][1], mats[0][1]):
                raise InputError(f"{f}: labels of head {head!r} differ from those of {files[0]}")
        y = mats[0][1]
        keep = y >= 0
        s = [m[0][keep] for m in mats]
        weights, acc = search_fusion_weights(s, y[keep], grid)
        out[head] = {"weights": weights, "fused": acc, "single": [top1_accuracy(m, y[keep]) for m in s]}
    return out
