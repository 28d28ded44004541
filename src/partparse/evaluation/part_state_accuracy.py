"""Per-coarse-part video-level state accuracy: does the submission get each video's main part states?

For every GT video and coarse part (head, hand, arm, hip, leg, foot) the GT label is the majority state
over all its annotated frames and persons (:mod:`partparse.data.part_labels`, same tie rule). The
predicted label is the majority of the top-ranked proposal's state over the predicted parts that the
metric scores, i.e. parts of predicted persons matched to GT persons at the human IoU threshold. A video
with no such prediction for a coarse part counts as wrong. This is the report's per-part video accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from partparse.data.part_labels import video_part_states
from partparse.data.vocabulary import coarse_part
from partparse.evaluation.flat_evaluation import CodedValues, FlatEvaluation
from partparse.io import InputError, gc_paused


def part_state_accuracy(gt_part: Mapping | None, flat: FlatEvaluation, human_iou: float) -> dict[str, float]:
    """``{coarse_part: accuracy}`` over the GT videos that have that coarse part, plus ``"mean"``.

    ``gt_part`` (the GT dict) is read only when ``flat`` does not carry the GT states (general walk).
    Coarse parts come in the order they first appear in the ground truth. States must be strings (the
    table reader guarantees it; the general walk takes anything the official script compares): where
    they are not and cannot be counted, :class:`InputError` names the first such part.
    """
    with gc_paused():
        try:
            predicted = _predicted_majorities(flat, human_iou)
            gt = _gt_majorities(flat) if flat.gt_states is not None else _gt_majorities_of_dicts(gt_part, flat)
        except (TypeError, RecursionError, AttributeError, KeyError):   # states that are lists or numbers,
            raise _state_error(gt_part, flat) from None                 # GT parts the metric never reads
        hits: dict[str, list[bool]] = {}
        for vi, coarse, state in gt:
            hits.setdefault(coarse, []).append(predicted.get((vi, coarse)) == state)
    out = {c: sum(v) / len(v) for c, v in hits.items()}
    n_hits, n = sum(sum(v) for v in hits.values()), sum(len(v) for v in hits.values())
    out["mean"] = n_hits / n if n else 0.0
    return out


def _state_error(gt_part: Mapping | None, flat: FlatEvaluation) -> InputError:
    """The first part whose state is not a string: predicted (top proposal of a scored part), then GT."""
    why = "state ('verb') must be a string to count the part-state accuracy"
    for k, state in enumerate(flat.part_top_state):
        if state is not None and not isinstance(state, str):
            vid, key, person, part = flat.part_where(k)
            return InputError(f"pred_part_result.json [video {vid} / frame {key} / person {person} / part {part}]: "
                              f"{why}, got {_short(state)}")
    for vid in flat.video_ids if gt_part is not None else ():
        for key, frame in gt_part[vid].items():
            for person, human in enumerate(frame["humans"]):
                parts = human.get("parts") if isinstance(human, dict) else None
                for part, entry in parts.items() if isinstance(parts, dict) else [(None, human)]:
                    verb = entry.get("verb") if isinstance(entry, dict) else entry
                    if not isinstance(verb, str):
                        place = f"person {person}" + (f" / part {part}" if part is not None else "")
                        return InputError(f"gt_part_result.json [video {vid} / frame {key} / {place}]: "
                                          f"{why}, got {_short(verb)}")
    return InputError(f"malformed part states: {why}; run `partparse validate`")


def _short(value, limit: int = 40) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return "a value nested too deeply to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _gt_majorities_of_dicts(gt_part: Mapping, flat: FlatEvaluation) -> list[tuple[int, str, str]]:
    return [(vi, coarse, state) for vi, vid in enumerate(flat.video_ids)
            for coarse, state in video_part_states(gt_part[vid]).items()]


def _gt_majorities(flat: FlatEvaluation) -> list[tuple[int, str, str]]:
    """``(video index, coarse part, majority GT state)`` as :func:`_gt_majorities_of_dicts` lists them
    (videos in order, coarse parts in first-seen order within the video), from the GT state table."""
    g = flat.gt_states
    coarse_names = list(dict.fromkeys(coarse_part(n) for n in g.names))
    coarse_of = np.array([coarse_names.index(coarse_part(n)) for n in g.names], dtype=np.int64)
    group = g.part_video * len(coarse_names) + coarse_of[g.part_name]
    winners = _majority(group, g.part_state, g.states)
    rows = _first_seen(group)                        # videos in order, then coarse parts as first seen
    return [(k // len(coarse_names), coarse_names[k % len(coarse_names)], g.states[winners[k]]) for k in rows]


def _predicted_majorities(flat: FlatEvaluation, human_iou: float) -> dict[tuple[int, str], object]:
    """``{(video index, coarse part): majority top-1 state}`` over the matched parts."""
    names, states = _coded(flat.part_name), _coded(flat.part_top_state)
    sel = np.flatnonzero(flat.human_matched(human_iou)[flat.part_human])
    sel = sel[states.codes[sel] >= 0]
    if not len(sel):
        return {}
    coarse_names = list(dict.fromkeys(coarse_part(n) for n in names.vocab))
    coarse_of = np.array([coarse_names.index(coarse_part(n)) for n in names.vocab], dtype=np.int64)
    group = flat.part_video[sel] * len(coarse_names) + coarse_of[names.codes[sel]]
    winners = _majority(group, states.codes[sel], states.vocab)
    return {(k // len(coarse_names), coarse_names[k % len(coarse_names)]): states.vocab[s] for k, s in winners.items()}


def _majority(group: np.ndarray, state: np.ndarray, vocab: list) -> dict[int, int]:
    """``{group: state code}``: the most frequent state of each group; ties go to the state that sorts
    first (as :func:`partparse.data.part_labels.majority_state`). Counted in one ``bincount`` over
    (group, state rank) where that table is small (it is: videos x 6 coarse parts x states), else sorted."""
    if not len(group):
        return {}
    present = np.flatnonzero(np.bincount(state, minlength=len(vocab)))
    by_name = sorted(present.tolist(), key=vocab.__getitem__)
    rank = np.zeros(len(vocab), dtype=np.int64)
    rank[by_name] = np.arange(len(by_name))
    n, n_groups = len(by_name), int(group.max()) + 1
    if n_groups * n <= MAJORITY_TABLE:
        counts = np.bincount(group * n + rank[state], minlength=n_groups * n).reshape(n_groups, n)
        seen = np.flatnonzero(counts.any(axis=1))
        top = counts[seen].argmax(axis=1).tolist()  # the first of equal maxima
        return dict(zip(seen.tolist(), [by_name[r] for r in top], strict=True))
    keys, counts = np.unique(group * n + rank[state], return_counts=True)
    g, r = keys // n, keys % n
    order = np.lexsort((r, -counts, g))           # per group: highest count, then first state name
    first = order[np.r_[True, g[order][1:] != g[order][:-1]]]
    return {int(gg): by_name[int(rr)] for gg, rr in zip(g[first], r[first], strict=True)}


MAJORITY_TABLE = 1 << 24  # (group, state) cells up to which _majority counts with a table


def _first_seen(group: np.ndarray) -> list[int]:
    """The distinct values of ``group`` (small non-negative integers) in the order they first occur."""
    first = np.full(int(group.max()) + 1 if len(group) else 0, len(group))
    np.minimum.at(first, group, np.arange(len(group)))
    seen = np.flatnonzero(first < len(group))
    return seen[np.argsort(first[seen])].tolist()


def _coded(values) -> CodedValues:
    return values if isinstance(values, CodedValues) else CodedValues.encode(list(values))
