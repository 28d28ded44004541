"""Per-coarse-part video-level state accuracy: does the submission get each video's main part states?

For every GT video and coarse part (head, hand, arm, hip, leg, foot) the GT label is the majority state
over all its annotated frames and persons (:mod:`partparse.data.part_labels`, same tie rule). The
predicted label is the majority of the top-ranked proposal's state over the predicted parts that the
metric scores, i.e. parts of predicted persons matched to GT persons at the human IoU threshold. A video
with no such prediction for a coarse part counts as wrong. This is the report's per-part video accuracy.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from partparse.data.part_labels import video_part_states
from partparse.data.vocabulary import coarse_part
from partparse.evaluation.tps_flatten import FlatEvaluation
from partparse.io import gc_paused


def part_state_accuracy(gt_part: Mapping, flat: FlatEvaluation, human_iou: float) -> dict[str, float]:
    """``{coarse_part: accuracy}`` over the GT videos that have that coarse part, plus ``"mean"``."""
    with gc_paused():
        predicted = _predicted_majorities(flat, human_iou)
        hits: dict[str, list[bool]] = {}
        for vi, vid in enumerate(flat.video_ids):
            for coarse, state in video_part_states(gt_part[vid]).items():
                hits.setdefault(coarse, []).append(predicted.get((vi, coarse)) == state)
    out = {c: float(np.mean(v)) for c, v in hits.items()}
    all_hits = [h for v in hits.values() for h in v]
    out["mean"] = float(np.mean(all_hits)) if all_hits else 0.0
    return out


def _predicted_majorities(flat: FlatEvaluation, human_iou: float) -> dict[tuple[int, str], str]:
    """``{(video index, coarse part): majority top-1 state}`` over the matched parts (vectorised count;
    ties go to the alphabetically first state, as :func:`majority_state`)."""
    sel = np.flatnonzero(flat.human_matched(human_iou)[flat.part_human])
    top = [flat.part_top_state[k] for k in sel.tolist()]
    keep = np.array([s is not None for s in top], dtype=bool)
    sel = sel[keep]
    top = [s for s in top if s is not None]
    if not top:
        return {}
    states = sorted(set(top))
    index = {s: i for i, s in enumerate(states)}
    state_id = np.array([index[s] for s in top])
    coarse_names = sorted({coarse_part(n) for n in set(flat.part_name)})
    coarse_of = {n: coarse_names.index(coarse_part(n)) for n in set(flat.part_name)}
    coarse_id = np.array([coarse_of[flat.part_name[k]] for k in sel.tolist()])
    group = flat.part_video[sel] * len(coarse_names) + coarse_id
    keys, counts = np.unique(group * len(states) + state_id, return_counts=True)
    g, s = keys // len(states), keys % len(states)
    order = np.lexsort((s, -counts, g))           # per group: highest count, then first state name
    first = order[np.r_[True, g[order][1:] != g[order][:-1]]]
    return {(int(gg) // len(coarse_names), coarse_names[int(gg) % len(coarse_names)]): states[int(ss)]
            for gg, ss in zip(g[first], s[first])}
