"""Per-coarse-part video-level state accuracy: does the submission get each video's main part states?

For every GT video and coarse part (head, hand, arm, hip, leg, foot) the GT label is the majority state
over all its annotated frames and persons (:mod:`partparse.data.part_labels`, same tie rule). The
predicted label is the majority of the top-ranked proposal's state over the predicted parts that the
metric scores, i.e. parts of predicted persons matched to GT persons at the human IoU threshold. A video
with no such prediction for a coarse part counts as wrong. This is the report's per-part video accuracy.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping

import numpy as np

from partparse.data.part_labels import majority_state, video_part_states
from partparse.data.vocabulary import coarse_part
from partparse.evaluation.tps_flatten import FlatEvaluation


def part_state_accuracy(gt_part: Mapping, flat: FlatEvaluation, human_iou: float) -> dict[str, float]:
    """``{coarse_part: accuracy}`` over the GT videos that have that coarse part, plus ``"mean"``."""
    predicted: dict[tuple[int, str], Counter] = {}
    matched = flat.human_matched(human_iou)[flat.part_human]
    for k in np.flatnonzero(matched).tolist():
        state = flat.part_top_state[k]
        if state is not None:
            key = (int(flat.part_video[k]), coarse_part(flat.part_name[k]))
            predicted.setdefault(key, Counter())[state] += 1
    hits: dict[str, list[bool]] = {}
    for vi, vid in enumerate(flat.video_ids):
        for coarse, state in video_part_states(gt_part[vid]).items():
            guess = majority_state(predicted.get((vi, coarse), Counter()))
            hits.setdefault(coarse, []).append(guess == state)
    out = {c: float(np.mean(v)) for c, v in hits.items()}
    all_hits = [h for v in hits.values() for h in v]
    out["mean"] = float(np.mean(all_hits)) if all_hits else 0.0
    return out
