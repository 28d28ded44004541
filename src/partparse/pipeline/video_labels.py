"""A video's action and per-coarse-part states from video-level class scores (the report's transform).

Sources of a coarse part's state, by ``mode``:

- ``"video"`` (the report): the top-1 class of the part's video-level head (``<action>_<Part>_<state>``,
  :func:`~partparse.data.part_labels.state_of_label`); a part with no head falls back to the class prior
  of the predicted action when one is given, else to ``missing_state``.
- ``"class_prior"`` (the report's baseline): the state most frequent for the predicted action in the
  training data (:class:`~partparse.pipeline.part_state_transfer.ClassPriorPartStates`), else
  ``missing_state``.

``missing_state`` (default ``"unknown"``, a state no ground truth uses) keeps the part's boxes in the
output and scores 0 like an absent part; ``None`` leaves such parts out. Without an ``action`` head the
action is :data:`UNKNOWN_ACTION`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from partparse.data.part_labels import part_state_label, state_of_label
from partparse.pipeline.part_state_transfer import ClassPriorPartStates

UNKNOWN_ACTION = "unknown"
StateMode = Literal["video", "class_prior"]


@dataclass
class VideoLabels:
    """``action`` and its probability (``None`` without an action head); ``states[coarse]`` (``None`` =
    leave the part out) and where each came from: ``sources[coarse]`` in ``video | class_prior | missing``."""

    action: str
    action_score: float | None
    states: dict[str, str | None] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def _state_from_head(probs: np.ndarray, names: Sequence[str], action: str, coarse: str,
                     given_action: bool) -> str:
    """Top-1 state of a part head; with ``given_action`` only labels of the predicted action compete
    (when the head has any), so the state agrees with the action."""
    order = np.argsort(-np.asarray(probs), kind="stable")
    if given_action:
        prefix = part_state_label(action, coarse, "")
        for i in order:
            if names[i].startswith(prefix):
                return state_of_label(names[i])
    return state_of_label(names[int(order[0])])


def video_labels(scores: Mapping[str, np.ndarray], class_names: Mapping[str, Sequence[str]],
                 coarse_parts: Iterable[str], mode: StateMode = "video",
                 prior: ClassPriorPartStates | None = None, missing_state: str | None = "unknown",
                 state_given_action: bool = False) -> VideoLabels:
    """The action and the state of each of ``coarse_parts`` (see the module docstring)."""
    if mode not in ("video", "class_prior"):
        raise ValueError(f"part-state mode must be 'video' or 'class_prior', got {mode!r}")
    if mode == "class_prior" and prior is None:
        raise ValueError("part-state mode 'class_prior' needs a class prior (models.class_prior in the recipe)")
    if "action" in scores:
        best = int(np.argmax(scores["action"]))
        action, action_score = str(class_names["action"][best]), float(scores["action"][best])
    else:
        action, action_score = UNKNOWN_ACTION, None
    prior_states = prior.predict(action) if prior is not None else {}
    labels = VideoLabels(action, action_score)
    for coarse in coarse_parts:
        if mode == "video" and coarse in scores:
            state, source = _state_from_head(scores[coarse], class_names[coarse], action, coarse,
                                             state_given_action), "video"
        elif coarse in prior_states:
            state, source = prior_states[coarse], "class_prior"
        else:
            state, source = missing_state, "missing"
        labels.states[coarse], labels.sources[coarse] = state, source
    return labels
