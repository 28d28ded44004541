"""Video-level scores of trained video models: action top-1, and per coarse part the accuracy of the
predicted video-level state, from the part heads (the report's transform) or from the class prior.

Input: the validation score files ``partparse train`` writes (``val_scores.npz``: softmax scores per head,
averaged over the test clips, :func:`~partparse.pipeline.score_fusion.save_scores`), the class names of
each head (``label_spaces.json``) and the ground truth. The target of a part is the video's majority
state of that coarse part over every annotated frame and person
(:func:`~partparse.data.part_labels.video_part_states`); videos where a part is never annotated are not
counted for it. Sources of a predicted state, as in :func:`~partparse.pipeline.video_labels.video_labels`:

- ``heads``: the top-1 label of the part's head (``<action>_<Part>_<state>``) -> its state;
- ``prior``: the state most frequent in training for the *predicted* action (the report's baseline);
- ``prior_gt_action``: the same prior given the *true* action (what the baseline reaches with a perfect
  action classifier).

Several models are fused per head with per-model weights (equal unless given) before any of this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from partparse.data.part_labels import read_label_spaces, state_of_label, video_part_states
from partparse.io import InputError
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from partparse.pipeline.score_fusion import fuse_heads, load_scores

STATE_SOURCES = ("heads", "prior", "prior_gt_action")


@dataclass
class ModelScores:
    """One model's (or one fusion's) validation scores: ``scores[head]`` is ``(N, C_head)`` over
    ``video_ids``; ``class_names[head]`` names the columns."""

    video_ids: list[str]
    scores: dict[str, np.ndarray]
    class_names: dict[str, list[str]]

    def aligned(self, video_ids: Sequence[str]) -> ModelScores:
        """The same scores in the order of ``video_ids`` (which must all be present)."""
        row = {v: i for i, v in enumerate(self.video_ids)}
        missing = [v for v in video_ids if v not in row]
        if missing:
            raise InputError(f"no scores for video {missing[0]!r} ({len(missing)} missing)")
        order = np.array([row[v] for v in video_ids], dtype=np.int64)
        return ModelScores(list(video_ids), {h: s[order] for h, s in self.scores.items()}, self.class_names)


def load_model_scores(run: str | Path) -> ModelScores:
    """The validation scores of a ``partparse train`` video run dir (``val_scores.npz`` and
    ``label_spaces.json``)."""
    run = Path(run)
    ids, scores, _labels = load_scores(run / "val_scores.npz")
    spaces = read_label_spaces(run / "label_spaces.json")
    for head, s in scores.items():
        if len(spaces.get(head, [])) != s.shape[1]:
            raise InputError(f"{run / 'label_spaces.json'}: head {head!r} names {len(spaces.get(head, []))} "
                             f"classes, the scores have {s.shape[1]}")
    return ModelScores(ids, scores, {h: list(spaces[h]) for h in scores})


@dataclass
class VideoRecognitionResult:
    """``action_top1`` over the videos; ``part_accuracy[source][coarse]`` the fraction of videos (with that
    part annotated) whose predicted state equals the majority state; ``videos`` counted per part."""

    action_top1: float
    part_accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    videos: dict[str, int] = field(default_factory=dict)

    def mean_part_accuracy(self, source: str) -> float:
        values = list(self.part_accuracy.get(source, {}).values())
        return float(np.mean(values)) if values else float("nan")


def fuse_models(models: Sequence[ModelScores], weights: Mapping[str, Sequence[float]] | None = None) -> ModelScores:
    """The models' scores averaged per head (:func:`~partparse.pipeline.score_fusion.fuse_heads`) with
    ``weights`` ``{head: [w per model]}`` (heads not named: equal weights), over the heads every model
    has with the same class names, in the first model's video order."""
    if not models:
        raise ValueError("no model to fuse")
    aligned = [m.aligned(models[0].video_ids) for m in models]
    names = {h: list(n) for h, n in models[0].class_names.items()
             if all(h in m.scores and m.class_names.get(h) == n for m in aligned)}
    fused = fuse_heads([{h: m.scores[h] for h in names} for m in aligned], weights or {})
    return ModelScores(list(models[0].video_ids), fused, names)


def evaluate_video_recognition(model: ModelScores, gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping],
                               prior: ClassPriorPartStates, coarse_parts: Sequence[str]) -> VideoRecognitionResult:
    """Action top-1 and per-part state accuracy of ``model`` on the videos of ``gt_vid`` (see module doc)."""
    model = model.aligned(list(gt_vid))
    names = model.class_names
    if "action" not in model.scores:
        raise InputError("the scores have no 'action' head")
    predicted = [names["action"][i] for i in model.scores["action"].argmax(1)]
    truth = list(gt_vid.values())
    result = VideoRecognitionResult(
        float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])) if truth else 0.0)
    targets = [video_part_states(gt_part.get(v, {})) for v in gt_vid]
    for source in STATE_SOURCES:
        result.part_accuracy[source] = {}
    for coarse in coarse_parts:
        rows = [k for k, t in enumerate(targets) if t.get(coarse) is not None]
        result.videos[coarse] = len(rows)
        if not rows:
            continue
        want = [targets[k][coarse] for k in rows]
        guesses = {
            "prior": [prior.predict(predicted[k]).get(coarse) for k in rows],
            "prior_gt_action": [prior.predict(truth[k]).get(coarse) for k in rows],
        }
        if coarse in model.scores:
            top = model.scores[coarse].argmax(1)
            guesses["heads"] = [state_of_label(names[coarse][top[k]]) for k in rows]
        for source, got in guesses.items():
            result.part_accuracy[source][coarse] = float(np.mean([g == w for g, w in zip(got, want, strict=True)]))
    return result
