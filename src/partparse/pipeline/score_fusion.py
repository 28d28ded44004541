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


# ------------------------------------------------------------------------------ validation score files
def save_scores(path, video_ids: Sequence[str], scores: Mapping[str, np.ndarray],
                labels: Mapping[str, np.ndarray] | None = None) -> None:
    """Write one model's per-head class scores (``(N, C)`` each, rows = ``video_ids``) to an ``.npz``.

    ``labels`` (true class index per head, -1 = unknown) makes the file usable by ``partparse fuse``.
    """
    import io

    from partparse.io import atomic_write

    arrays = {f"scores/{h}": np.asarray(s, dtype=np.float32) for h, s in scores.items()}
    arrays.update({f"labels/{h}": np.asarray(v, dtype=np.int64) for h, v in (labels or {}).items()})
    arrays["video_ids"] = np.asarray(list(video_ids))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(path, lambda fh: fh.write(buf.getvalue()), mode="wb")


def load_scores(path) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(video_ids, scores, labels)`` of a file written by :func:`save_scores`.

    The file is checked, every failure an :class:`InputError` naming it: an ``.npz`` (not truncated,
    no pickled objects) whose ``video_ids`` are N distinct names, every ``scores/<head>`` an ``(N, C)``
    array of finite numbers and every ``labels/<head>`` N integers in ``[-1, C)``.
    """
    import zipfile
    import zlib
    from pathlib import Path

    from partparse.io import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: score file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            ids = [str(v) for v in np.asarray(data["video_ids"]).reshape(-1)]
            scores = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("scores/")}
            labels = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("labels/")}
    except (OSError, ValueError, KeyError, EOFError, NotImplementedError, zipfile.BadZipFile,
            zlib.error) as err:  # truncated, empty or foreign files
        detail = " ".join(str(err).split())[:150]
        raise InputError(f"{path}: not a partparse score file ({type(err).__name__}: {detail})") from None
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: video_ids repeat a video")
    if not scores:
        raise InputError(f"{path}: no scores/<head> arrays")
    for head, s in scores.items():
        if s.ndim != 2 or s.shape[0] != len(ids) or s.shape[1] < 1 or s.dtype.kind not in "fiu":
            raise InputError(f"{path}: scores/{head} is {s.dtype} {s.shape}, expected numbers ({len(ids)}, classes)")
        if not np.isfinite(s).all():
            raise InputError(f"{path}: scores/{head} holds NaN or infinite values")
        y = labels.get(head)
        if y is not None and (y.shape != (len(ids),) or y.dtype.kind not in "iu" or (y < -1).any()
                              or (y >= s.shape[1]).any()):
            raise InputError(f"{path}: labels/{head} must be {len(ids)} class indices in [-1, {s.shape[1]})")
    return ids, scores, labels


def search_head_weights(files: Sequence, grid: Sequence[float] = tuple(range(11))) -> dict[str, dict]:
    """Per head, the fusion weights of several models' validation score files and their accuracies.

    Returns ``{head: {"weights": [...], "fused": acc, "single": [acc per model]}}`` for the heads every
    file has (the pose stream's file has only ``action``: with the CSNs' files, only the action is fused).
    The files must cover the same videos (any order) and carry labels.
    """
    from partparse.io import InputError

    loaded = [load_scores(f) for f in files]
    ids0 = loaded[0][0]
    out: dict[str, dict] = {}
    common = [h for h in loaded[0][1] if all(h in scores for _, scores, _ in loaded)]
    if not common:
        raise InputError(f"{files[0]}: no head in common with the other score files")
    for head in common:
        mats = []
        for f, (ids, scores, labels) in zip(files, loaded):
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
