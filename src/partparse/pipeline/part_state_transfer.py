"""The report's video-level transform and its class-prior baseline.

Part-state parsing becomes video classification: each coarse part of a video gets one predicted state,
and that state is given to the part in every frame and for every person. The *class-prior baseline*
predicts, for each coarse part, the state most frequent for the predicted action in the training data
(frame-level part annotations counted over all training frames and persons).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from partparse.data.part_labels import coarse_state_counts, majority_state
from partparse.data.vocabulary import NO_STATE, coarse_part


class ClassPriorPartStates:
    """Per action, the most frequent training state of each coarse part (same tie rule as the labels)."""

    def __init__(self, table: Mapping[str, Mapping[str, str]]):
        self.table = {a: dict(states) for a, states in table.items()}

    @classmethod
    def fit(cls, gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping]) -> ClassPriorPartStates:
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
