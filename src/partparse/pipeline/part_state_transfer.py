"""The report's video-level transform and its class-prior baseline.

Part-state parsing becomes video classification: each coarse part of a video gets one predicted state,
and that state is given to the part in every frame and for every person. The *class-prior baseline*
predicts, for each coarse part, the state most frequent for the predicted action in the training data
(frame-level part annotations counted over all training frames and persons).
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping

from partparse.data.part_labels import coarse_state_counts, majority_state, video_part_states
from partparse.data.vocabulary import NO_STATE, coarse_part


class ClassPriorPartStates:
    """Per action, the most frequent training state of each coarse part (same tie rule as the labels)."""

    def __init__(self, table: Mapping[str, Mapping[str, str]]):
        self.table = {a: dict(states) for a, states in table.items()}

    @classmethod
    def fit(cls, gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping]) -> "ClassPriorPartStates":
        counts: dict[str, dict[str, Counter]] = {}
        for vid, action in gt_vid.items():
            per_part = counts.setdefault(action, {})
            for coarse, cnt in coarse_state_counts(gt_part.get(vid, {})).items():
                per_part.setdefault(coarse, Counter()).update(cnt)
        return cls({a: {c: majority_state(cnt) for c, cnt in parts.items()} for a, parts in counts.items()})

    def predict(self, action: str) -> dict[str, str]:
        """``{coarse_part: state}`` for a (predicted) action; an unseen action gets no states."""
        return dict(self.table.get(action, {}))

    def to_dict(self) -> dict:
        return {a: dict(s) for a, s in self.table.items()}


def apply_video_states(part_boxes: Mapping[str, Mapping], states: Mapping[str, str],
                       default: str | None = NO_STATE) -> dict:
    """Give each part the state of its coarse part, in every frame and for every person.

    Args:
        part_boxes: ``{frame_key: {"humans": [{"box": [...], "parts": {part: {"box": [[...], ...]}}}]}}``
            (a submission video whose parts have boxes; existing ``verb`` lists are replaced).
        states: ``{coarse_part: state}``.
        default: state of parts whose coarse part has none in ``states`` (``None``: leave them out).
    Returns:
        The frames in submission layout with one state per proposal.
    """
    out = {}
    for key, frame in part_boxes.items():
        humans = []
        for h in frame["humans"]:
            parts = {}
            for name, part in h["parts"].items():
                state = states.get(coarse_part(name), default)
                if state is not None:
                    parts[name] = {"box": [list(b) for b in part["box"]], "verb": [state] * len(part["box"])}
            humans.append({**{k: v for k, v in h.items() if k != "parts"}, "parts": parts})
        out[key] = {"humans": humans}
    return out


def gt_boxes_as_submission(gt_frames: Mapping[str, Mapping]) -> dict:
    """A video's GT persons and parts in submission layout (one proposal per part, states dropped):
    the *oracle boxes* used to measure part-state predictors apart from detection."""
    return {key: {"humans": [{"box": list(h["box"]),
                              "parts": {n: {"box": [list(p["box"])], "verb": []} for n, p in h["parts"].items()}}
                             for h in frame["humans"]]}
            for key, frame in gt_frames.items()}


def oracle_box_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping],
                          actions: Mapping[str, str], states: Mapping[str, Mapping[str, str]]) -> tuple[dict, dict]:
    """``(pred_vid, pred_part)`` with GT boxes, the given actions and per-video ``{coarse: state}``."""
    pred_part = {vid: apply_video_states(gt_boxes_as_submission(gt_part[vid]), states.get(vid, {}))
                 for vid in gt_vid}
    return {vid: actions[vid] for vid in gt_vid}, pred_part


def class_prior_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping],
                           prior: ClassPriorPartStates) -> tuple[dict, dict]:
    """The class-prior baseline with GT boxes and GT actions (isolates the part-state term)."""
    return oracle_box_submission(gt_vid, gt_part, gt_vid, {v: prior.predict(a) for v, a in gt_vid.items()})


def video_oracle_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping]) -> tuple[dict, dict]:
    """The upper bound of the video-level transform: each video's true majority state per coarse part,
    GT boxes and GT actions."""
    return oracle_box_submission(gt_vid, gt_part, gt_vid, {v: video_part_states(gt_part[v]) for v in gt_vid})


def ground_truth_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping]) -> tuple[dict, dict]:
    """The ground truth written as a submission: GT actions, boxes and each part's own state."""
    pred_part = {vid: {key: {"humans": [{"box": list(h["box"]),
                                         "parts": {n: {"box": [list(p["box"])], "verb": [p["verb"]]}
                                                   for n, p in h["parts"].items()}}
                                        for h in frame["humans"]]}
                       for key, frame in gt_part[vid].items()}
                 for vid in gt_vid}
    return dict(gt_vid), pred_part
